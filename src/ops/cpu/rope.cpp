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

namespace {
template <typename S>
void rotate(S* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot, const float* inv_freq,
            float sign) {
  const int half = rot / 2;
  for (int64_t t = 0; t < T; ++t) {
    float p = float(pos[t]);
    for (int j = 0; j < half; ++j) {
      float phi = p * inv_freq[j];
      S c = std::cos(phi), s = sign * std::sin(phi);
      for (int h = 0; h < heads; ++h) {
        S* v = x + t * ld + int64_t(h) * d;
        S a = v[j], b = v[j + half];
        v[j] = a * c - b * s;
        v[j + half] = b * c + a * s;
      }
    }
  }
}
}  // namespace

template <typename S>
void rope_forward(S* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot, const float* inv_freq) {
  rotate(x, ld, pos, T, heads, d, rot, inv_freq, 1.0f);
}

template <typename S>
void rope_backward(S* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                   const float* inv_freq) {
  rotate(dx, ld, pos, T, heads, d, rot, inv_freq, -1.0f);
}

template void rope_forward<float>(float*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_forward<double>(double*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_backward<float>(float*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_backward<double>(double*, int64_t, const int64_t*, int64_t, int, int, int, const float*);

}  // namespace zaya::ops
