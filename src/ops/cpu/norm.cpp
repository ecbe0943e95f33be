// RMSNorm on the CPU (rows in parallel, the weight gradient by chunked reduction) and its reference
// kernels (ops/norm.h).
#include <cmath>
#include <vector>

#include "ops/cpu/cpu_backend.h"
#include "ops/norm.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void rmsnorm_forward(S* y, const S* x, const S* w, int64_t T, int64_t n, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const S* xr = x + t * n;
    S* yr = y + t * n;
    double ss = 0;  // double sums: order-independent enough to match torch to ~1e-7
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    S r = S(1) / std::sqrt(S(ss / double(n)) + S(eps));
    for (int64_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * r);
  }
}

// With r = rsqrt(mean(x²) + eps) and x̂ = x·r: dx = r·(w⊙dy − x̂·mean(x̂⊙w⊙dy)), dw = Σ_t dy⊙x̂.
template <typename S>
void rmsnorm_backward(S* dx, S* dw, const S* dy, const S* x, const S* w, int64_t T, int64_t n, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const S* xr = x + t * n;
    const S* g = dy + t * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    S r = S(1) / std::sqrt(S(ss / double(n)) + S(eps));
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += double(g[i]) * w[i] * xr[i] * r;
    S m = S(dot / double(n));
    for (int64_t i = 0; i < n; ++i) {
      S xh = xr[i] * r;
      dx[t * n + i] += r * (w[i] * g[i] - xh * m);
      dw[i] += g[i] * xh;
    }
  }
}

template void rmsnorm_forward<float>(float*, const float*, const float*, int64_t, int64_t, float);
template void rmsnorm_forward<double>(double*, const double*, const double*, int64_t, int64_t, float);
template void rmsnorm_backward<float>(float*, float*, const float*, const float*, const float*, int64_t, int64_t,
                                      float);
template void rmsnorm_backward<double>(double*, double*, const double*, const double*, const double*, int64_t, int64_t,
                                       float);
}  // namespace ops::ref

namespace ops::cpu {

void CpuBackend::rmsnorm_forward(float* y, const float* x, const float* w, int64_t T, int64_t n, float eps) {
  ZAYA_OP_SCOPE("rmsnorm_forward");
#pragma omp parallel for schedule(static) if (T * n > 16384)
  for (int64_t t = 0; t < T; ++t) ref::rmsnorm_forward(y + t * n, x + t * n, w, 1, n, eps);
}

void CpuBackend::rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int64_t T,
                                  int64_t n, float eps) {
  ZAYA_OP_SCOPE("rmsnorm_backward");
  const float* acc = reduce_rows(T, n, [&](int64_t t0, int64_t t1, float* p) {
    for (int64_t t = t0; t < t1; ++t) ref::rmsnorm_backward(dx + t * n, p, dy + t * n, x + t * n, w, 1, n, eps);
  });
  for (int64_t i = 0; i < n; ++i) dw[i] += acc[i];
}

}  // namespace ops::cpu
}  // namespace zaya
