// Activations and the row softmax on the CPU (vectorized exp, rows in parallel) and their reference
// kernels (ops/activation.h).
#include <algorithm>
#include <cmath>

#include "ops/activation.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/vecmath.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void gelu_forward(S* y, const S* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = S(0.5) * x[i] * (S(1) + std::erf(x[i] * S(M_SQRT1_2)));
}
// d/dx [x·Φ(x)] = Φ(x) + x·φ(x)
template <typename S>
void gelu_backward(S* dx, const S* dy, const S* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    S cdf = S(0.5) * (S(1) + std::erf(x[i] * S(M_SQRT1_2)));
    S pdf = std::exp(S(-0.5) * x[i] * x[i]) * S(0.3989422804014327);
    dx[i] += dy[i] * (cdf + x[i] * pdf);
  }
}
template <typename S>
void swiglu_forward(S* out, const S* gu, int64_t T, int64_t I) {
  for (int64_t t = 0; t < T; ++t) {
    const S* g = gu + t * 2 * I;
    const S* u = g + I;
    for (int64_t i = 0; i < I; ++i) out[t * I + i] = g[i] / (S(1) + std::exp(-g[i])) * u[i];
  }
}
// out = silu(g)·u: d/dg = u·σ(g)(1 + g(1 − σ(g))), d/du = silu(g)
template <typename S>
void swiglu_backward(S* dgu, const S* dout, const S* gu, int64_t T, int64_t I) {
  for (int64_t t = 0; t < T; ++t) {
    const S* g = gu + t * 2 * I;
    const S* u = g + I;
    S* dg = dgu + t * 2 * I;
    S* du = dg + I;
    for (int64_t i = 0; i < I; ++i) {
      S sig = S(1) / (S(1) + std::exp(-g[i]));
      S d = dout[t * I + i];
      dg[i] += d * u[i] * sig * (S(1) + g[i] * (S(1) - sig));
      du[i] += d * g[i] * sig;
    }
  }
}
template <typename S>
void softmax_forward(S* y, const S* x, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    const S* r = x + t * n;
    S* o = y + t * n;
    S m = *std::max_element(r, r + n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      o[i] = std::exp(r[i] - m);
      s += o[i];
    }
    S inv = S(1.0 / s);
    for (int64_t i = 0; i < n; ++i) o[i] *= inv;
  }
}
// dx = y ⊙ (dy − Σ y·dy)
template <typename S>
void softmax_backward(S* dx, const S* dy, const S* y, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += double(y[t * n + i]) * dy[t * n + i];
    for (int64_t i = 0; i < n; ++i) dx[t * n + i] += y[t * n + i] * (dy[t * n + i] - S(dot));
  }
}

#define ZAYA_INSTANTIATE(S)                                                   \
  template void gelu_forward<S>(S*, const S*, int64_t);                       \
  template void gelu_backward<S>(S*, const S*, const S*, int64_t);            \
  template void swiglu_forward<S>(S*, const S*, int64_t, int64_t);            \
  template void swiglu_backward<S>(S*, const S*, const S*, int64_t, int64_t); \
  template void softmax_forward<S>(S*, const S*, int64_t, int64_t);           \
  template void softmax_backward<S>(S*, const S*, const S*, int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

namespace {
constexpr int64_t kPar = 32768;  // elements below which an op stays on one thread
}

void CpuBackend::gelu_forward(float* y, const float* x, int64_t n) {
  ZAYA_OP_SCOPE("gelu_forward");
#pragma omp parallel for schedule(static) if (n > kPar)
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(M_SQRT1_2)));
}

void CpuBackend::gelu_backward(float* dx, const float* dy, const float* x, int64_t n) {
  ZAYA_OP_SCOPE("gelu_backward");
#pragma omp parallel for schedule(static) if (n > kPar)
  for (int64_t i = 0; i < n; ++i) ref::gelu_backward(dx + i, dy + i, x + i, 1);
}

namespace {
// SiLU(g)·u over one row, vectorized; the scalar tail uses the same exp.
void swiglu_row(float* o, const float* g, const float* u, int64_t I) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (; i + 8 <= I; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i);
    __m256 e = exp256(_mm256_sub_ps(zero, gv));
    _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
  }
  for (; i < I; ++i) o[i] = g[i] / (1.0f + exp1(-g[i])) * u[i];
}
}  // namespace

void CpuBackend::swiglu_forward(float* out, const float* gu, int64_t T, int64_t I) {
  ZAYA_OP_SCOPE("swiglu_forward");
#pragma omp parallel for schedule(static) if (T * I > kPar)
  for (int64_t t = 0; t < T; ++t) swiglu_row(out + t * I, gu + t * 2 * I, gu + t * 2 * I + I, I);
}

void CpuBackend::swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t T, int64_t I) {
  ZAYA_OP_SCOPE("swiglu_backward");
#pragma omp parallel for schedule(static) if (T * I > kPar)
  for (int64_t t = 0; t < T; ++t) {
    const float* g = gu + t * 2 * I;
    const float* u = g + I;
    float* dg = dgu + t * 2 * I;
    float* du = dg + I;
    for (int64_t i = 0; i < I; ++i) {
      const float sig = 1.0f / (1.0f + exp1(-g[i]));
      const float d = dout[t * I + i];
      dg[i] += d * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
      du[i] += d * g[i] * sig;
    }
  }
}

void CpuBackend::softmax_forward(float* y, const float* x, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("softmax_forward");
#pragma omp parallel for schedule(static) if (T * n > kPar)
  for (int64_t t = 0; t < T; ++t) ref::softmax_forward(y + t * n, x + t * n, 1, n);
}

void CpuBackend::softmax_backward(float* dx, const float* dy, const float* y, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("softmax_backward");
#pragma omp parallel for schedule(static) if (T * n > kPar)
  for (int64_t t = 0; t < T; ++t) ref::softmax_backward(dx + t * n, dy + t * n, y + t * n, 1, n);
}

}  // namespace ops::cpu
}  // namespace zaya
