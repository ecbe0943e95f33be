// The ZAYA1 router's glue and the expert dispatch (spec §4.1–§4.3, §5).
//   eda_forward     a += s ⊙ a_prev   (EDA, §4.2: the previous MoE layer's pre-norm router state)
//   eda_backward    ADDS da_prev += s ⊙ da, ds += Σ_t da ⊙ a_prev
//   router_top1     choice[t] = argmax_e (p[t,e] + β_e) (first maximum), weight[t] = p[t, choice]
//                   (β only selects; the weight is the unbiased probability, not renormalized)
//   moe_permute     the tokens whose slot is an expert (< E), sorted by expert, stable: perm[0..Ne),
//                   off[0..E] (host) with expert e's tokens at perm[off[e] .. off[e+1])
//   moe_combine     M[t] = w_t · eo[i] for t = perm[i]; tokens in the skip slot (§4.3): 0 (SkipMode
//                   Zero, upstream) or w_t · y[t] (PassThrough, Zyphra fork)
//   moe_combine_backward  deo[i] = w_t·dM[t] (set), dp[t, choice] = dM[t]·(eo or y) (set, other
//                   entries 0: the weight's gradient reaches the chosen probability only),
//                   dy[t] += w_t·dM[t] for pass-through skip tokens (ADDS)
// Backends: src/ops/cpu/moe.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>
