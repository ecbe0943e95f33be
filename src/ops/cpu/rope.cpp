#include <cmath>

#include "ops/rope.h"

namespace zaya::ops {

std::vector<float> rope_inv_freq(double theta, int rot) {
  std::vector<float> f(size_t(rot / 2));
  for (int j = 0; j < rot / 2; ++j) {
    float e = float(2 * j) / float(rot);
    f[size_t(j)] = 1.0f / std::pow(float(theta), e);
  }
  return f;
}

void rope_forward(float* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                  const float* inv_freq) {
  const int half = rot / 2;
  for (int64_t t = 0; t < T; ++t) {
    float p = float(pos[t]);
    for (int j = 0; j < half; ++j) {
      float phi = p * inv_freq[j];
      float c = std::cos(phi), s = std::sin(phi);
      for (int h = 0; h < heads; ++h) {
        float* v = x + t * ld + int64_t(h) * d;
        float a = v[j], b = v[j + half];
        v[j] = a * c - b * s;
        v[j + half] = b * c + a * s;
      }
    }
  }
}

}  // namespace zaya::ops
