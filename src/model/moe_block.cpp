// One MoE sublayer: the ZAYA1 router (spec §4) and top-1 SwiGLU experts (§5).
// Input ws.y [T, H] (normalized), output ws.h [T, H]. The router's pre-norm state is carried across
// MoE layers in ws.rprev (EDA, §4.2).
#include <cstring>

#include "model/model.h"
#include "ops/activation.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace zaya {

void Model::moe_block(int j, Workspace& ws, int64_t T, bool has_prev, int32_t* choice_out) const {
  const MoEWeights& m = w_.pairs[size_t(j)].moe;
  const int64_t H = cfg_.hidden, Dr = cfg_.router_hidden, I = cfg_.expert_inter;
  const int S = cfg_.n_slots(), E = cfg_.n_experts;

  // Router: a = W_down·y + b (+ s ⊙ a_prev); the pre-norm a is carried to the next MoE layer.
  ops::matmul_forward(ws.ra, ws.y, m.down, T, m.down_b.data());
  if (has_prev && !m.eda_scale.empty())
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < Dr; ++i) ws.ra[t * Dr + i] += m.eda_scale[size_t(i)] * ws.rprev[t * Dr + i];
  std::memcpy(ws.rprev, ws.ra, sizeof(float) * size_t(T * Dr));
  ops::rmsnorm_forward(ws.rz, ws.ra, m.router_norm.data(), T, Dr, float(cfg_.router_norm_eps));
  ops::matmul_forward(ws.rg1, ws.rz, m.fc1, T, m.fc1_b.data());
  ops::gelu_forward(ws.rg1, T * Dr);
  ops::matmul_forward(ws.rg2, ws.rg1, m.fc2, T, m.fc2_b.data());
  ops::gelu_forward(ws.rg2, T * Dr);
  ops::matmul_forward(ws.rlog, ws.rg2, m.out, T);
  ops::softmax_forward(ws.rlog, T, S);

  // Top-1 on p + β (β only selects); the weight is the unbiased probability.
  std::vector<std::vector<int64_t>> tokens(static_cast<size_t>(E));
  std::vector<float> weight(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const float* p = ws.rlog + t * S;
    int best = 0;
    float bv = p[0] + m.balancing_bias[0];
    for (int e = 1; e < S; ++e) {
      float v = p[e] + m.balancing_bias[size_t(e)];
      if (v > bv) {
        bv = v;
        best = e;
      }
    }
    ws.choice[size_t(t)] = best;
    weight[size_t(t)] = p[best];
    if (choice_out) choice_out[t * cfg_.n_pairs] = best;
    if (best < E) tokens[size_t(best)].push_back(t);
  }

  // Skip-slot tokens: zero (upstream) or w·y (Zyphra fork).
  for (int64_t t = 0; t < T; ++t) {
    if (ws.choice[size_t(t)] < E) continue;
    float* o = ws.h + t * H;
    if (cfg_.skip_mode == SkipMode::Zero) {
      std::memset(o, 0, sizeof(float) * size_t(H));
    } else {
      for (int64_t i = 0; i < H; ++i) o[i] = weight[size_t(t)] * ws.y[t * H + i];
    }
  }
  // Experts: gather each expert's tokens, SwiGLU MLP, scatter scaled by the router weight.
  for (int e = 0; e < E; ++e) {
    const auto& tok = tokens[size_t(e)];
    const int64_t n = int64_t(tok.size());
    if (n == 0) continue;
    for (int64_t i = 0; i < n; ++i) std::memcpy(ws.x_e + i * H, ws.y + tok[size_t(i)] * H, sizeof(float) * size_t(H));
    ops::matmul_forward(ws.gu_e, ws.x_e, m.gate_up[size_t(e)], n);
    ops::swiglu_forward(ws.act_e, ws.gu_e, n, I);
    ops::matmul_forward(ws.out_e, ws.act_e, m.down_e[size_t(e)], n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t t = tok[size_t(i)];
      float w = weight[size_t(t)];
      for (int64_t c = 0; c < H; ++c) ws.h[t * H + c] = w * ws.out_e[i * H + c];
    }
  }
}

}  // namespace zaya
