// The MoE sublayer of a pair: the ZAYA1 router (spec §4: down-projection, EDA, RMSNorm, 3-layer GELU
// MLP, softmax over E experts + the skip slot, top-1 on p + β with the unbiased weight) and the top-1
// SwiGLU experts (spec §5) as grouped GEMMs over the tokens sorted by expert. The router's GEMMs run in
// fp32 on every backend (GemmPrec::F32): top-1 routing amplifies small differences (spec §7).
#include "model/layers.h"

namespace zaya {

namespace {
bool passthrough(const ModelConfig& c) { return c.skip_mode == SkipMode::PassThrough; }
}  // namespace

void moe_forward(Backend& be, const ModelConfig& c, int j, const MoEParams& w, int64_t T, PairActs& a,
                 const float* a_prev) {
  (void)j;
  const int64_t H = c.hidden, Dr = c.router_hidden, I = c.expert_inter;
  const int S = c.n_slots(), E = c.n_experts;
  const GemmPrec f32 = GemmPrec::F32;
  be.rmsnorm_forward(a.y2, a.r1, w.norm.f(), T, H, float(c.norm_eps));
  // Router: a = W_down·y + b (+ s ⊙ a_prev, §4.2); the pre-norm a is carried to the next MoE layer.
  be.linear_forward(a.a, Dr, a.y2, H, w.down.m, w.down_b.f(), T, f32);
  if (a_prev && w.eda.present()) be.eda_forward(a.a, a_prev, w.eda.f(), T, Dr);
  be.rmsnorm_forward(a.z, a.a, w.rnorm.f(), T, Dr, float(c.router_norm_eps));
  be.linear_forward(a.g1pre, Dr, a.z, Dr, w.fc1.m, w.fc1_b.f(), T, f32);
  be.gelu_forward(a.g1, a.g1pre, T * Dr);
  be.linear_forward(a.g2pre, Dr, a.g1, Dr, w.fc2.m, w.fc2_b.f(), T, f32);
  be.gelu_forward(a.g2, a.g2pre, T * Dr);
  be.linear_forward(a.p, S, a.g2, Dr, w.out.m, nullptr, T, f32);
  be.softmax_forward(a.p, a.p, T, S);
  // Top-1 on p + β (β only selects, §4.4); experts on their tokens; skip tokens per SkipMode (§4.3).
  be.router_top1(a.choice, a.w, a.p, w.beta.f(), T, S);
  a.Ne = be.moe_permute(a.perm, a.off.data(), a.choice, T, E);
  be.gather_rows(a.xe, a.y2, a.perm, a.Ne, H);
  be.grouped_linear_forward(a.gu, a.xe, w.gate_up.w.data(), a.off.data(), E);
  be.swiglu_forward(a.act, a.gu, a.Ne, I);
  be.grouped_linear_forward(a.eo, a.act, w.down_e.w.data(), a.off.data(), E);
  be.moe_combine(a.M, a.eo, a.perm, a.Ne, a.w, a.choice, a.y2, T, H, E, passthrough(c));
}

void moe_backward(Backend& be, const ModelConfig& c, int j, const MoEParams& w, int64_t T, const PairActs& a,
                  const float* a_prev, PairGrads& g) {
  const int64_t H = c.hidden, Dr = c.router_hidden, I = c.expert_inter, Ne = a.Ne;
  const int S = c.n_slots(), E = c.n_experts;
  const GemmPrec f32 = GemmPrec::F32;
  // M_t = w_t·expert(y2_t): the weight's gradient goes to the chosen probability only.
  be.zero(g.dy2, size_t(T * H) * 4);
  be.moe_combine_backward(g.deo, g.dp, g.dy2, g.dM, a.eo, a.perm, Ne, a.w, a.choice, a.y2, T, H, E, S,
                          passthrough(c));
  be.zero(g.dact, size_t(Ne * I) * 4);
  be.grouped_linear_backward(g.dact, w.down_e.g, g.deo, a.act, w.down_e.w.data(), a.off.data(), E);
  be.zero(g.dgu, size_t(Ne * 2 * I) * 4);
  be.swiglu_backward(g.dgu, g.dact, a.gu, Ne, I);
  be.zero(g.dxe, size_t(Ne * H) * 4);
  be.grouped_linear_backward(g.dxe, w.gate_up.g, g.dgu, a.xe, w.gate_up.w.data(), a.off.data(), E);
  be.scatter_add_rows(g.dy2, g.dxe, a.perm, Ne, H);
  // Router MLP back to the pre-norm state a (β gets no gradient).
  be.zero(g.dlog, size_t(T * S) * 4);
  be.softmax_backward(g.dlog, g.dp, a.p, T, S);
  be.zero(g.dg2, size_t(T * Dr) * 4);
  be.linear_backward(g.dg2, Dr, w.out.g, nullptr, g.dlog, S, a.g2, Dr, w.out.m, T, f32);
  be.zero(g.dg2pre, size_t(T * Dr) * 4);
  be.gelu_backward(g.dg2pre, g.dg2, a.g2pre, T * Dr);
  be.zero(g.dg1, size_t(T * Dr) * 4);
  be.linear_backward(g.dg1, Dr, w.fc2.g, w.fc2_b.g, g.dg2pre, Dr, a.g1, Dr, w.fc2.m, T, f32);
  be.zero(g.dg1pre, size_t(T * Dr) * 4);
  be.gelu_backward(g.dg1pre, g.dg1, a.g1pre, T * Dr);
  be.zero(g.dz, size_t(T * Dr) * 4);
  be.linear_backward(g.dz, Dr, w.fc1.g, w.fc1_b.g, g.dg1pre, Dr, a.z, Dr, w.fc1.m, T, f32);
  be.zero(g.da, size_t(T * Dr) * 4);
  be.rmsnorm_backward(g.da, w.rnorm.g, g.dz, a.a, w.rnorm.f(), T, Dr, float(c.router_norm_eps));
  if (g.carry_valid) be.axpy(g.da, g.carry, 1.0f, T * Dr);  // from the next pair's EDA term
  be.linear_backward(g.dy2, H, w.down.g, w.down_b.g, g.da, Dr, a.y2, H, w.down.m, T, f32);
  g.carry_valid = false;
  if (j > 0 && a_prev && w.eda.present()) {  // a_j = ... + s ⊙ a_{j-1}
    be.zero(g.carry, size_t(T * Dr) * 4);
    be.eda_backward(g.carry, w.eda.g, g.da, a_prev, w.eda.f(), T, Dr);
    g.carry_valid = true;
  }
  be.rmsnorm_backward(g.dr1, w.norm.g, g.dy2, a.r1, w.norm.f(), T, H, float(c.norm_eps));
}

}  // namespace zaya
