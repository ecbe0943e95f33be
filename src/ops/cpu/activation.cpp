#include <algorithm>
#include <cmath>

#include "ops/activation.h"

namespace zaya::ops {

void gelu_forward(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(M_SQRT1_2)));
}

void swiglu_forward(float* out, const float* gu, int64_t T, int64_t I) {
#pragma omp parallel for schedule(static) if (T * I > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const float* g = gu + t * 2 * I;
    const float* u = g + I;
    float* o = out + t * I;
    for (int64_t i = 0; i < I; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

void softmax_forward(float* x, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    float* r = x + t * n;
    float m = *std::max_element(r, r + n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      r[i] = std::exp(r[i] - m);
      s += r[i];
    }
    float inv = float(1.0 / s);
    for (int64_t i = 0; i < n; ++i) r[i] *= inv;
  }
}

}  // namespace zaya::ops
