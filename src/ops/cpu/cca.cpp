#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cca.h"
#include "ops/cpu/blas.h"

namespace zaya::ops {

using cpu::gemm;

namespace {
// Stage 0 over the window [state ; u]: m_i for i = 0 .. n+k1-2.
template <typename S>
void conv_stage0(S* m, const S* u, int64_t ld, const S* state, const S* w0, const S* b0, int64_t n, int C, int k0,
                 int k1) {
  const int K = (k0 - 1) + (k1 - 1);
  const int64_t nm = n + k1 - 1;
#pragma omp parallel for schedule(static) if (nm * C > 65536)
  for (int64_t i = 0; i < nm; ++i) {
    S* mr = m + i * C;
    for (int c = 0; c < C; ++c) mr[c] = b0[c];
    for (int a = 0; a < k0; ++a) {
      int64_t r = i + a;
      const S* xr = r < K ? state + r * C : u + (r - K) * ld;
      for (int c = 0; c < C; ++c) mr[c] += w0[c * k0 + a] * xr[c];
    }
  }
}
}  // namespace

template <typename S>
void cca_conv_forward(S* out, const S* u, int64_t ld, S* state, const S* w0, const S* b0, const S* w1t, const S* b1,
                      int64_t n, int C, int d, int k0, int k1, S* m) {
  const int K = (k0 - 1) + (k1 - 1);
  conv_stage0(m, u, ld, state, w0, b0, n, C, k0, k1);
  for (int64_t t = 0; t < n; ++t) std::memcpy(out + t * ld, b1, sizeof(S) * size_t(C));
  const int G = C / d;
  for (int b = 0; b < k1; ++b)
    for (int g = 0; g < G; ++g)
      gemm(CblasNoTrans, CblasTrans, n, d, d, m + int64_t(b) * C + g * d, C, w1t + (int64_t(b) * C + int64_t(g) * d) * d,
           d, S(1), out + g * d, ld);
  // New state: the last K rows of x = [state ; u].
  if (K > 0) {
    std::vector<S> ns(size_t(K) * C);
    for (int r = 0; r < K; ++r) {
      int64_t x = n + r;
      const S* src = x < K ? state + x * C : u + (x - K) * ld;
      std::memcpy(ns.data() + size_t(r) * C, src, sizeof(S) * size_t(C));
    }
    std::memcpy(state, ns.data(), ns.size() * sizeof(S));
  }
}

template <typename S>
void cca_conv_backward(S* du, S* dw0, S* db0, S* dw1t, S* db1, const S* dout, const S* u, int64_t ld, const S* state0,
                       const S* w0, const S* b0, const S* w1t, int64_t n, int C, int d, int k0, int k1, S* scratch) {
  const int K = (k0 - 1) + (k1 - 1);
  const int64_t nm = n + k1 - 1;
  S* m = scratch;
  S* dm = scratch + nm * C;
  conv_stage0(m, u, ld, state0, w0, b0, n, C, k0, k1);
  std::fill(dm, dm + nm * C, S(0));
  for (int64_t t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c) db1[c] += dout[t * ld + c];
  const int G = C / d;
  for (int b = 0; b < k1; ++b)
    for (int g = 0; g < G; ++g) {
      const S* W = w1t + (int64_t(b) * C + int64_t(g) * d) * d;
      // dW_{g,b} += do_gᵀ · m_g(shifted by b);  dm_g(shifted by b) += do_g · W_{g,b}
      gemm(CblasTrans, CblasNoTrans, d, d, n, dout + g * d, ld, m + int64_t(b) * C + g * d, C, S(1),
           dw1t + (int64_t(b) * C + int64_t(g) * d) * d, d);
      gemm(CblasNoTrans, CblasNoTrans, n, d, d, dout + g * d, ld, W, d, S(1), dm + int64_t(b) * C + g * d, C);
    }
  for (int64_t i = 0; i < nm; ++i)
    for (int c = 0; c < C; ++c) {
      S g = dm[i * C + c];
      db0[c] += g;
      for (int a = 0; a < k0; ++a) {
        int64_t r = i + a;
        const S* xr = r < K ? state0 + r * C : u + (r - K) * ld;
        dw0[c * k0 + a] += g * xr[c];
        if (r >= K) du[(r - K) * ld + c] += w0[c * k0 + a] * g;
      }
    }
}

template <typename S>
void cca_qk_mean_add(S* qk, const S* u, int64_t ld, int64_t T, int nq, int nk, int d) {
  const int G = nq / nk;
  std::vector<S> rk(static_cast<size_t>(d));
  for (int64_t t = 0; t < T; ++t) {
    const S* qt = u + t * ld;               // q̃ heads
    const S* kt = qt + int64_t(nq) * d;     // k̃ heads
    S* q = qk + t * ld;
    S* k = q + int64_t(nq) * d;
    for (int h = 0; h < nk; ++h) {
      std::fill(rk.begin(), rk.end(), S(0));
      for (int i = h * G; i < (h + 1) * G; ++i)
        for (int j = 0; j < d; ++j) {
          S r = (qt[i * d + j] + kt[h * d + j]) * S(0.5);
          q[i * d + j] += r;
          rk[size_t(j)] += r;
        }
      for (int j = 0; j < d; ++j) k[h * d + j] += rk[size_t(j)] / S(G);
    }
  }
}

// q_i += ½(q̃_i + k̃_h), k_h += ½k̃_h + ½·mean_i q̃_i  ⇒  dq̃_i += ½dq_i + dk_h/(2G), dk̃_h += ½Σ_i dq_i + ½dk_h
template <typename S>
void cca_qk_mean_add_backward(S* du, const S* dqk, int64_t ld, int64_t T, int nq, int nk, int d) {
  const int G = nq / nk;
  for (int64_t t = 0; t < T; ++t) {
    const S* dq = dqk + t * ld;
    const S* dk = dq + int64_t(nq) * d;
    S* dqt = du + t * ld;
    S* dkt = dqt + int64_t(nq) * d;
    for (int h = 0; h < nk; ++h)
      for (int j = 0; j < d; ++j) {
        S gk = dk[h * d + j];
        S sum_q = 0;
        for (int i = h * G; i < (h + 1) * G; ++i) {
          dqt[i * d + j] += S(0.5) * dq[i * d + j] + gk / S(2 * G);
          sum_q += dq[i * d + j];
        }
        dkt[h * d + j] += S(0.5) * sum_q + S(0.5) * gk;
      }
  }
}

template <typename S>
void cca_qk_normalize(S* qk, int64_t ld, const S* temp, int64_t T, int nq, int nk, int d) {
  const S sd = std::sqrt(S(d));
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      S* x = qk + t * ld + int64_t(h) * d;
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(x[j]) * x[j];
      S s = sd / std::max(S(std::sqrt(ss)), S(FLT_EPSILON));
      for (int j = 0; j < d; ++j) x[j] *= s;
      if (h >= nq)
        for (int j = 0; j < d; ++j) x[j] *= temp[h - nq];
    }
}

// y = τ·√d·x/max(‖x‖, ε): dx = τ√d/‖x‖ (dy − x̂ (x̂·dy)) (or τ√d/ε·dy when clamped); dτ += √d x̂·dy.
template <typename S>
void cca_qk_normalize_backward(S* dqk_in, S* dtemp, const S* dqk_out, const S* qk_in, int64_t ld, const S* temp,
                               int64_t T, int nq, int nk, int d) {
  const S sd = std::sqrt(S(d));
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      const S* x = qk_in + t * ld + int64_t(h) * d;
      const S* dy = dqk_out + t * ld + int64_t(h) * d;
      S* dx = dqk_in + t * ld + int64_t(h) * d;
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(x[j]) * x[j];
      S norm = S(std::sqrt(ss));
      const bool clamped = norm <= S(FLT_EPSILON);
      const S nrm = clamped ? S(FLT_EPSILON) : norm;
      const S tau = h >= nq ? temp[h - nq] : S(1);
      double xdy = 0;
      for (int j = 0; j < d; ++j) xdy += double(x[j]) * dy[j];
      if (h >= nq) dtemp[h - nq] += sd * S(xdy) / nrm;
      const S s = tau * sd / nrm;
      for (int j = 0; j < d; ++j) dx[j] += clamped ? s * dy[j] : s * (dy[j] - x[j] * S(xdy) / (norm * norm));
    }
}

#define ZAYA_INSTANTIATE(S)                                                                                          \
  template void cca_conv_forward<S>(S*, const S*, int64_t, S*, const S*, const S*, const S*, const S*, int64_t, int, \
                                    int, int, int, S*);                                                              \
  template void cca_qk_mean_add<S>(S*, const S*, int64_t, int64_t, int, int, int);                                  \
  template void cca_qk_normalize<S>(S*, int64_t, const S*, int64_t, int, int, int);                                 \
  template void cca_conv_backward<S>(S*, S*, S*, S*, S*, const S*, const S*, int64_t, const S*, const S*, const S*, \
                                     const S*, int64_t, int, int, int, int, S*);                                     \
  template void cca_qk_mean_add_backward<S>(S*, const S*, int64_t, int64_t, int, int, int);                         \
  template void cca_qk_normalize_backward<S>(S*, S*, const S*, const S*, int64_t, const S*, int64_t, int, int, int);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)

}  // namespace zaya::ops
