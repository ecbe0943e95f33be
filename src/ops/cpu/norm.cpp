#include <cmath>

#include "ops/norm.h"

namespace zaya::ops {

void rmsnorm_forward(float* y, const float* x, const float* w, int64_t T, int64_t n, float eps) {
#pragma omp parallel for schedule(static) if (T * n > 32768)
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    float* yr = y + t * n;
    double ss = 0;  // accumulate in double: order-independent enough to match torch to ~1e-7
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    float r = 1.0f / std::sqrt(float(ss / double(n)) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * r);
  }
}

}  // namespace zaya::ops
