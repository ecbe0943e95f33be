#include <algorithm>
#include <cmath>

#include "ops/activation.h"

namespace zaya::ops {

template <typename S>
void gelu_forward(S* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = S(0.5) * x[i] * (S(1) + std::erf(x[i] * S(M_SQRT1_2)));
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
#pragma omp parallel for schedule(static) if (T * I > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const S* g = gu + t * 2 * I;
    const S* u = g + I;
    S* o = out + t * I;
    for (int64_t i = 0; i < I; ++i) o[i] = g[i] / (S(1) + std::exp(-g[i])) * u[i];
  }
}

// out = silu(g)·u: d/dg = u·σ(g)(1 + g(1 − σ(g))), d/du = silu(g)
template <typename S>
void swiglu_backward(S* dgu, const S* dout, const S* gu, int64_t T, int64_t I) {
#pragma omp parallel for schedule(static) if (T * I > 65536)
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
void softmax_forward(S* x, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    S* r = x + t * n;
    S m = *std::max_element(r, r + n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      r[i] = std::exp(r[i] - m);
      s += r[i];
    }
    S inv = S(1.0 / s);
    for (int64_t i = 0; i < n; ++i) r[i] *= inv;
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
  template void gelu_forward<S>(S*, int64_t);                                 \
  template void gelu_backward<S>(S*, const S*, const S*, int64_t);            \
  template void swiglu_forward<S>(S*, const S*, int64_t, int64_t);            \
  template void swiglu_backward<S>(S*, const S*, const S*, int64_t, int64_t); \
  template void softmax_forward<S>(S*, int64_t, int64_t);                     \
  template void softmax_backward<S>(S*, const S*, const S*, int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)

}  // namespace zaya::ops
