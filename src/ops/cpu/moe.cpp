// The router glue and the expert dispatch on the CPU (ops/moe.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/cpu/cpu_backend.h"
#include "ops/moe.h"

namespace zaya::ops::cpu {

void CpuBackend::eda_forward(float* a, const float* a_prev, const float* s, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("eda_forward");
#pragma omp parallel for schedule(static) if (T * n > 65536)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) a[t * n + i] += s[i] * a_prev[t * n + i];
}

void CpuBackend::eda_backward(float* da_prev, float* ds, const float* da, const float* a_prev, const float* s,
                              int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("eda_backward");
  column_dot(ds, da, a_prev, T, n);
  if (da_prev) {
#pragma omp parallel for schedule(static) if (T * n > 65536)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < n; ++i) da_prev[t * n + i] += s[i] * da[t * n + i];
  }
}

void CpuBackend::router_top1(int32_t* choice, float* weight, const float* p, const float* beta, int64_t T, int S) {
  ZAYA_OP_SCOPE("router_top1");
#pragma omp parallel for schedule(static) if (T > 4096)
  for (int64_t t = 0; t < T; ++t) {
    const float* pr = p + t * S;
    int best = 0;
    float bv = pr[0] + beta[0];
    for (int e = 1; e < S; ++e) {
      const float v = pr[e] + beta[e];
      if (v > bv) {
        bv = v;
        best = e;
      }
    }
    choice[t] = best;
    weight[t] = pr[best];
  }
}

int64_t CpuBackend::moe_permute(int64_t* perm, int64_t* off, const int32_t* choice, int64_t T, int E) {
  ZAYA_OP_SCOPE("moe_permute");
  std::fill(off, off + E + 1, 0);
  for (int64_t t = 0; t < T; ++t)
    if (choice[t] < E) ++off[choice[t] + 1];
  for (int e = 0; e < E; ++e) off[e + 1] += off[e];
  std::vector<int64_t>& fill = fill_;
  fill.assign(off, off + E);
  for (int64_t t = 0; t < T; ++t)
    if (choice[t] < E) perm[fill[size_t(choice[t])]++] = t;
  return off[E];
}

void CpuBackend::moe_combine(float* M, const float* eo, const int64_t* perm, int64_t Ne, const float* weight,
                             const int32_t* choice, const float* y, int64_t T, int64_t H, int E,
                             bool skip_passthrough) {
  ZAYA_OP_SCOPE("moe_combine");
#pragma omp parallel for schedule(static) if (T * H > 65536)
  for (int64_t t = 0; t < T; ++t) {
    float* m = M + t * H;
    if (choice[t] < E || !skip_passthrough) {
      std::fill(m, m + H, 0.0f);
    } else {
      for (int64_t c = 0; c < H; ++c) m[c] = weight[t] * y[t * H + c];
    }
  }
#pragma omp parallel for schedule(static) if (Ne * H > 65536)
  for (int64_t i = 0; i < Ne; ++i) {
    const int64_t t = perm[i];
    for (int64_t c = 0; c < H; ++c) M[t * H + c] = weight[t] * eo[i * H + c];
  }
}

void CpuBackend::moe_combine_backward(float* deo, float* dp, float* dy, const float* dM, const float* eo,
                                      const int64_t* perm, int64_t Ne, const float* weight, const int32_t* choice,
                                      const float* y, int64_t T, int64_t H, int E, int S, bool skip_passthrough) {
  ZAYA_OP_SCOPE("moe_combine_backward");
  std::fill(dp, dp + T * S, 0.0f);
#pragma omp parallel for schedule(static) if (Ne * H > 65536)
  for (int64_t i = 0; i < Ne; ++i) {
    const int64_t t = perm[i];
    double dw = 0;
    for (int64_t c = 0; c < H; ++c) {
      dw += double(eo[i * H + c]) * dM[t * H + c];
      deo[i * H + c] = weight[t] * dM[t * H + c];
    }
    dp[t * S + choice[t]] = float(dw);
  }
  if (!skip_passthrough) return;
#pragma omp parallel for schedule(static) if (T * H > 65536)
  for (int64_t t = 0; t < T; ++t) {
    if (choice[t] < E) continue;
    double dw = 0;
    for (int64_t c = 0; c < H; ++c) {
      dw += double(y[t * H + c]) * dM[t * H + c];
      dy[t * H + c] += weight[t] * dM[t * H + c];
    }
    dp[t * S + choice[t]] = float(dw);
  }
}

}  // namespace zaya::ops::cpu
