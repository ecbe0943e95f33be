// CCA ops on the CPU (ops/cca.h): the two causal convolutions as one im2col GEMM per head (heads in
// parallel; the grouped weight is used in its checkpoint layout [C, d, k1]), the q-k mean skip and the
// L2 normalization with the key temperature; and their reference kernels.
#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "ops/cca.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void cca_conv_forward(S* out, const S* u, int64_t ld, S* state, const S* w0, const S* b0, const S* w1, const S* b1,
                      int64_t n, int C, int d, int k0, int k1) {
  const int K = (k0 - 1) + (k1 - 1);
  auto x = [&](int64_t r, int c) -> S { return r < K ? (state ? state[r * C + c] : S(0)) : u[(r - K) * ld + c]; };
  const int64_t nm = n + k1 - 1;
  std::vector<S> m(size_t(nm * C));
  for (int64_t i = 0; i < nm; ++i)
    for (int c = 0; c < C; ++c) {
      S s = b0[c];
      for (int a = 0; a < k0; ++a) s += w0[c * k0 + a] * x(i + a, c);
      m[size_t(i * C + c)] = s;
    }
  for (int64_t t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c) {
      const int g = c / d;
      S s = b1[c];
      for (int j = 0; j < d; ++j)
        for (int b = 0; b < k1; ++b) s += w1[(int64_t(c) * d + j) * k1 + b] * m[size_t((t + b) * C + g * d + j)];
      out[t * ld + c] = s;
    }
  if (state && K > 0) {
    std::vector<S> ns(size_t(K * C));
    for (int r = 0; r < K; ++r)
      for (int c = 0; c < C; ++c) ns[size_t(r * C + c)] = x(n + r, c);
    std::copy(ns.begin(), ns.end(), state);
  }
}

template <typename S>
void cca_conv_backward(S* du, S* dw0, S* db0, S* dw1, S* db1, const S* dout, const S* u, int64_t ld, const S* w0,
                       const S* b0, const S* w1, int64_t n, int C, int d, int k0, int k1) {
  const int K = (k0 - 1) + (k1 - 1);
  auto x = [&](int64_t r, int c) -> S { return r < K ? S(0) : u[(r - K) * ld + c]; };
  const int64_t nm = n + k1 - 1;
  std::vector<S> m(size_t(nm * C)), dm(size_t(nm * C), S(0));
  for (int64_t i = 0; i < nm; ++i)
    for (int c = 0; c < C; ++c) {
      S s = b0[c];
      for (int a = 0; a < k0; ++a) s += w0[c * k0 + a] * x(i + a, c);
      m[size_t(i * C + c)] = s;
    }
  for (int64_t t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c) {
      const int g = c / d;
      const S go = dout[t * ld + c];
      db1[c] += go;
      for (int j = 0; j < d; ++j)
        for (int b = 0; b < k1; ++b) {
          const size_t mi = size_t((t + b) * C + g * d + j);
          dw1[(int64_t(c) * d + j) * k1 + b] += go * m[mi];
          dm[mi] += go * w1[(int64_t(c) * d + j) * k1 + b];
        }
    }
  for (int64_t i = 0; i < nm; ++i)
    for (int c = 0; c < C; ++c) {
      const S g = dm[size_t(i * C + c)];
      db0[c] += g;
      for (int a = 0; a < k0; ++a) {
        dw0[c * k0 + a] += g * x(i + a, c);
        if (i + a >= K) du[(i + a - K) * ld + c] += w0[c * k0 + a] * g;
      }
    }
}

template <typename S>
void cca_qk_mean_add(S* qk, const S* u, int64_t ld, int64_t T, int nq, int nk, int d) {
  const int G = nq / nk;
  std::vector<S> rk(static_cast<size_t>(d));
  for (int64_t t = 0; t < T; ++t) {
    const S* qt = u + t * ld;            // q̃ heads
    const S* kt = qt + int64_t(nq) * d;  // k̃ heads
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
void cca_qk_normalize(S* out, const S* in, int64_t ld, const S* temp, int64_t T, int nq, int nk, int d) {
  const S sd = std::sqrt(S(d));
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      const S* x = in + t * ld + int64_t(h) * d;
      S* y = out + t * ld + int64_t(h) * d;
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(x[j]) * x[j];
      S s = sd / std::max(S(std::sqrt(ss)), S(FLT_EPSILON));
      for (int j = 0; j < d; ++j) y[j] = x[j] * s;
      if (h >= nq)
        for (int j = 0; j < d; ++j) y[j] *= temp[h - nq];
    }
}

// y = τ·√d·x/max(‖x‖, ε): dx = τ√d/‖x‖ (dy − x̂ (x̂·dy)) (or τ√d/ε·dy when clamped); dτ += √d x̂·dy.
template <typename S>
void cca_qk_normalize_backward(S* dx, S* dtemp, const S* dy, const S* x, int64_t ld, const S* temp, int64_t T, int nq,
                               int nk, int d) {
  const S sd = std::sqrt(S(d));
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      const S* xv = x + t * ld + int64_t(h) * d;
      const S* g = dy + t * ld + int64_t(h) * d;
      S* o = dx + t * ld + int64_t(h) * d;
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(xv[j]) * xv[j];
      S norm = S(std::sqrt(ss));
      const bool clamped = norm <= S(FLT_EPSILON);
      const S nrm = clamped ? S(FLT_EPSILON) : norm;
      const S tau = h >= nq ? temp[h - nq] : S(1);
      double xdy = 0;
      for (int j = 0; j < d; ++j) xdy += double(xv[j]) * g[j];
      if (h >= nq) dtemp[h - nq] += sd * S(xdy) / nrm;
      const S s = tau * sd / nrm;
      for (int j = 0; j < d; ++j) o[j] += clamped ? s * g[j] : s * (g[j] - xv[j] * S(xdy) / (norm * norm));
    }
}

#define ZAYA_INSTANTIATE(S)                                                                                        \
  template void cca_conv_forward<S>(S*, const S*, int64_t, S*, const S*, const S*, const S*, const S*, int64_t,    \
                                    int, int, int, int);                                                           \
  template void cca_conv_backward<S>(S*, S*, S*, S*, S*, const S*, const S*, int64_t, const S*, const S*, const S*, \
                                     int64_t, int, int, int, int);                                                 \
  template void cca_qk_mean_add<S>(S*, const S*, int64_t, int64_t, int, int, int);                                \
  template void cca_qk_mean_add_backward<S>(S*, const S*, int64_t, int64_t, int, int, int);                       \
  template void cca_qk_normalize<S>(S*, const S*, int64_t, const S*, int64_t, int, int, int);                     \
  template void cca_qk_normalize_backward<S>(S*, S*, const S*, const S*, int64_t, const S*, int64_t, int, int, int);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

namespace {

struct ConvShape {
  int C, d, k0, k1, K;
};

// Stage 0 of head g over one sequence: m[i, j] = b0[c] + Σ_a w0[c, a]·x_{i+a}[c], c = g·d + j, for
// i < n + k1 − 1, with x = [state ; u] (state null: zeros).
void stage0_head(float* m, const float* u, int64_t ld, const float* state, const float* w0, const float* b0, int64_t n,
                 int g, const ConvShape& s) {
  const int64_t nm = n + s.k1 - 1;
  const int c0 = g * s.d;
  for (int64_t i = 0; i < nm; ++i) {
    float* mr = m + i * s.d;
    for (int j = 0; j < s.d; ++j) mr[j] = b0[c0 + j];
    for (int a = 0; a < s.k0; ++a) {
      const int64_t r = i + a;
      if (r < s.K && !state) continue;
      const float* xr = r < s.K ? state + r * s.C + c0 : u + (r - s.K) * ld + c0;
      for (int j = 0; j < s.d; ++j) mr[j] += w0[(c0 + j) * s.k0 + a] * xr[j];
    }
  }
}

// im2col of one sequence: X[t, j·k1 + b] = m[t + b, j].
void im2col(float* X, const float* m, int64_t n, const ConvShape& s) {
  const int64_t w = int64_t(s.d) * s.k1;
  for (int64_t t = 0; t < n; ++t)
    for (int j = 0; j < s.d; ++j)
      for (int b = 0; b < s.k1; ++b) X[t * w + j * s.k1 + b] = m[(t + b) * s.d + j];
}

int64_t total_rows(const SeqSlice* seqs, int nseq) {
  int64_t T = 0;
  for (int i = 0; i < nseq; ++i) T = std::max(T, seqs[i].row + seqs[i].len);
  return T;
}

}  // namespace

void CpuBackend::cca_conv_forward(float* out, const float* u, int64_t ld, const SeqSlice* seqs, int nseq,
                                  const float* w0, const float* b0, const float* w1, const float* b1, int C, int d,
                                  int k0, int k1) {
  ZAYA_OP_SCOPE("cca_conv_forward");
  const ConvShape s{C, d, k0, k1, (k0 - 1) + (k1 - 1)};
  const int G = C / d;
  const int64_t T = total_rows(seqs, nseq), w = int64_t(d) * k1;
  int64_t maxn = 0;
  for (int i = 0; i < nseq; ++i) maxn = std::max(maxn, seqs[i].len);
  const bool par = G > 1 && T * C >= 4096;
  // One task per head: stage 0 and im2col of every sequence, then one GEMM over all rows.
  maybe_parallel(G, par, [&](int64_t gi) {
    const int g = int(gi);
    float* m = scratch(12, size_t((maxn + k1) * d));
    float* X = scratch(13, size_t(T * w));
    for (int i = 0; i < nseq; ++i) {
      stage0_head(m, u + seqs[i].row * ld, ld, seqs[i].conv, w0, b0, seqs[i].len, g, s);
      im2col(X + seqs[i].row * w, m, seqs[i].len, s);
    }
    float* o = out + int64_t(g) * d;
    for (int64_t t = 0; t < T; ++t) std::memcpy(o + t * ld, b1 + int64_t(g) * d, sizeof(float) * size_t(d));
    gemm(prec_, false, true, T, d, w, 1.0f, X, w, w1 + int64_t(g) * d * w, DType::F32, w, 1.0f, o, ld);
  });
  // New states: the last K rows of [state ; u].
  if (s.K > 0)
    for (int i = 0; i < nseq; ++i) {
      float* st = seqs[i].conv;
      if (!st) continue;
      const int64_t n = seqs[i].len;
      const float* ur = u + seqs[i].row * ld;
      float* tmp = scratch(14, size_t(s.K * C));
      for (int r = 0; r < s.K; ++r) {
        const int64_t x = n + r;
        std::memcpy(tmp + r * C, x < s.K ? st + x * C : ur + (x - s.K) * ld, sizeof(float) * size_t(C));
      }
      std::memcpy(st, tmp, sizeof(float) * size_t(s.K * C));
    }
}

void CpuBackend::cca_conv_backward(float* du, float* dw0, float* db0, float* dw1, float* db1, const float* dout,
                                   const float* u, int64_t ld, const SeqSlice* seqs, int nseq, const float* w0,
                                   const float* b0, const float* w1, int C, int d, int k0, int k1) {
  ZAYA_OP_SCOPE("cca_conv_backward");
  const ConvShape s{C, d, k0, k1, (k0 - 1) + (k1 - 1)};
  const int G = C / d;
  const int64_t T = total_rows(seqs, nseq), w = int64_t(d) * k1;
  int64_t maxn = 0;
  for (int i = 0; i < nseq; ++i) {
    ZAYA_CHECK(!seqs[i].conv, "cca_conv_backward: only training segments (zero initial state) are supported");
    maxn = std::max(maxn, seqs[i].len);
  }
  column_sums(db1, dout, ld, T, C);
  maybe_parallel(G, true, [&](int64_t gi) {
    const int g = int(gi);
    const int c0 = g * d;
    float* m = scratch(12, size_t((maxn + k1) * d));
    float* X = scratch(13, size_t(T * w));
    float* dX = scratch(14, size_t(T * w));
    float* dm = scratch(15, size_t((maxn + k1) * d));
    for (int i = 0; i < nseq; ++i) {
      stage0_head(m, u + seqs[i].row * ld, ld, nullptr, w0, b0, seqs[i].len, g, s);
      im2col(X + seqs[i].row * w, m, seqs[i].len, s);
    }
    const float* dog = dout + c0;
    // dW_g += dout_gᵀ · X_g;  dX_g = dout_g · W_g
    gemm(prec_, true, false, d, w, T, 1.0f, dog, ld, X, DType::F32, w, 1.0f, dw1 + int64_t(c0) * w, w);
    gemm(prec_, false, false, T, w, d, 1.0f, dog, ld, w1 + int64_t(c0) * w, DType::F32, w, 0.0f, dX, w);
    for (int i = 0; i < nseq; ++i) {
      const int64_t n = seqs[i].len, nm = n + k1 - 1;
      const float* dXs = dX + seqs[i].row * w;
      const float* us = u + seqs[i].row * ld;
      float* dus = du + seqs[i].row * ld;
      std::fill(dm, dm + nm * d, 0.0f);
      for (int64_t t = 0; t < n; ++t)
        for (int j = 0; j < d; ++j)
          for (int b = 0; b < k1; ++b) dm[(t + b) * d + j] += dXs[t * w + j * k1 + b];
      for (int64_t ii = 0; ii < nm; ++ii)
        for (int j = 0; j < d; ++j) {
          const float gm = dm[ii * d + j];
          const int c = c0 + j;
          db0[c] += gm;
          for (int a = 0; a < k0; ++a) {
            const int64_t r = ii + a;
            if (r < s.K) continue;  // the zero initial state
            dw0[c * k0 + a] += gm * us[(r - s.K) * ld + c];
            dus[(r - s.K) * ld + c] += w0[c * k0 + a] * gm;
          }
        }
    }
  });
}

void CpuBackend::cca_qk_mean_add(float* qk, const float* u, int64_t ld, int64_t T, int nq, int nk, int d) {
  ZAYA_OP_SCOPE("cca_qk_mean_add");
#pragma omp parallel for schedule(static) if (T * ld > 65536)
  for (int64_t t = 0; t < T; ++t) ref::cca_qk_mean_add(qk + t * ld, u + t * ld, ld, 1, nq, nk, d);
}

void CpuBackend::cca_qk_mean_add_backward(float* du, const float* dqk, int64_t ld, int64_t T, int nq, int nk, int d) {
  ZAYA_OP_SCOPE("cca_qk_mean_add_backward");
#pragma omp parallel for schedule(static) if (T * ld > 65536)
  for (int64_t t = 0; t < T; ++t) ref::cca_qk_mean_add_backward(du + t * ld, dqk + t * ld, ld, 1, nq, nk, d);
}

void CpuBackend::cca_qk_normalize(float* out, const float* in, int64_t ld, const float* temp, int64_t T, int nq, int nk,
                                  int d) {
  ZAYA_OP_SCOPE("cca_qk_normalize");
#pragma omp parallel for schedule(static) if (T * ld > 65536)
  for (int64_t t = 0; t < T; ++t) ref::cca_qk_normalize(out + t * ld, in + t * ld, ld, temp, 1, nq, nk, d);
}

void CpuBackend::cca_qk_normalize_backward(float* dx, float* dtemp, const float* dy, const float* x, int64_t ld,
                                           const float* temp, int64_t T, int nq, int nk, int d) {
  ZAYA_OP_SCOPE("cca_qk_normalize_backward");
  const float* acc = reduce_rows(T, nk, [&](int64_t t0, int64_t t1, float* p) {
    ref::cca_qk_normalize_backward(dx + t0 * ld, p, dy + t0 * ld, x + t0 * ld, ld, temp, t1 - t0, nq, nk, d);
  });
  for (int h = 0; h < nk; ++h) dtemp[h] += acc[h];
}

}  // namespace ops::cpu
}  // namespace zaya
