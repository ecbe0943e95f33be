#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention.h"

namespace zaya::ops {

namespace {
// Probabilities of query row qv (at position pos) over keys j0..pos of kv head kh; returns j0.
template <typename S>
int64_t probs(std::vector<S>& p, const S* qv, const S* kc, int64_t kvw, int kh, int d, int64_t pos, int window,
              S scale) {
  const int64_t j0 = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  S mx = -INFINITY;
  for (int64_t j = j0; j <= pos; ++j) {
    const S* kv = kc + j * kvw + int64_t(kh) * d;
    S s = 0;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < d; ++c) s += qv[c] * kv[c];
    s *= scale;
    p[size_t(j)] = s;
    mx = std::max(mx, s);
  }
  double sum = 0;
  for (int64_t j = j0; j <= pos; ++j) {
    p[size_t(j)] = std::exp(p[size_t(j)] - mx);
    sum += p[size_t(j)];
  }
  S inv = S(1.0 / sum);
  for (int64_t j = j0; j <= pos; ++j) p[size_t(j)] *= inv;
  return j0;
}
}  // namespace

template <typename S>
void attention_forward(S* out, int64_t ldo, const S* q, int64_t ldq, const S* kc, const S* vc, int64_t n, int64_t Sk,
                       int nq, int nk, int d, int window) {
  const int G = nq / nk;
  const S scale = S(1) / std::sqrt(S(d));
  const int64_t kvw = int64_t(nk) * d;
#pragma omp parallel
  {
    std::vector<S> p(static_cast<size_t>(Sk));
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int64_t t = 0; t < n; ++t)
      for (int h = 0; h < nq; ++h) {
        const int64_t pos = Sk - n + t;
        const int kh = h / G;
        int64_t j0 = probs(p, q + t * ldq + int64_t(h) * d, kc, kvw, kh, d, pos, window, scale);
        S* o = out + t * ldo + int64_t(h) * d;
        std::fill(o, o + d, S(0));
        for (int64_t j = j0; j <= pos; ++j) {
          const S* vv = vc + j * kvw + int64_t(kh) * d;
          S w = p[size_t(j)];
          for (int c = 0; c < d; ++c) o[c] += w * vv[c];
        }
      }
  }
}

// o = Σ_j p_j v_j, p = softmax(s), s_j = scale·q·k_j:
// dv_j += p_j·do; dp_j = do·v_j; ds_j = p_j (dp_j − Σ p·dp); dq += scale Σ ds_j k_j; dk_j += scale ds_j q.
// Parallel over kv heads: every dk/dv row of a kv head is written by one thread only.
template <typename S>
void attention_backward(S* dq, S* dk, S* dv, const S* dout, int64_t ldo, const S* q, int64_t ldq, const S* kc,
                        const S* vc, int64_t n, int64_t Sk, int nq, int nk, int d, int window) {
  const int G = nq / nk;
  const S scale = S(1) / std::sqrt(S(d));
  const int64_t kvw = int64_t(nk) * d;
#pragma omp parallel for schedule(static)
  for (int kh = 0; kh < nk; ++kh) {
    std::vector<S> p(static_cast<size_t>(Sk)), dp(static_cast<size_t>(Sk));
    for (int64_t t = 0; t < n; ++t)
      for (int h = kh * G; h < (kh + 1) * G; ++h) {
        const int64_t pos = Sk - n + t;
        const S* qv = q + t * ldq + int64_t(h) * d;
        const S* go = dout + t * ldo + int64_t(h) * d;
        int64_t j0 = probs(p, qv, kc, kvw, kh, d, pos, window, scale);
        double pdp = 0;
        for (int64_t j = j0; j <= pos; ++j) {
          const S* vv = vc + j * kvw + int64_t(kh) * d;
          S* dvv = dv + j * kvw + int64_t(kh) * d;
          S a = 0;
          for (int c = 0; c < d; ++c) {
            a += go[c] * vv[c];
            dvv[c] += p[size_t(j)] * go[c];
          }
          dp[size_t(j)] = a;
          pdp += double(p[size_t(j)]) * a;
        }
        S* dqv = dq + t * ldq + int64_t(h) * d;
        for (int64_t j = j0; j <= pos; ++j) {
          S ds = p[size_t(j)] * (dp[size_t(j)] - S(pdp)) * scale;
          const S* kv = kc + j * kvw + int64_t(kh) * d;
          S* dkv = dk + j * kvw + int64_t(kh) * d;
          for (int c = 0; c < d; ++c) {
            dqv[c] += ds * kv[c];
            dkv[c] += ds * qv[c];
          }
        }
      }
  }
}

#define ZAYA_INSTANTIATE(S)                                                                                        \
  template void attention_forward<S>(S*, int64_t, const S*, int64_t, const S*, const S*, int64_t, int64_t, int, int, \
                                     int, int);                                                                     \
  template void attention_backward<S>(S*, S*, S*, const S*, int64_t, const S*, int64_t, const S*, const S*, int64_t, \
                                      int64_t, int, int, int, int);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)

}  // namespace zaya::ops
