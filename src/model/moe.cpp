// The MoE sublayer of a pair: the ZAYA1 router (spec §4: down-projection, EDA, RMSNorm, 3-layer GELU
// MLP, softmax over E experts + the skip slot, top-1 on p + β with the unbiased weight) and the top-1
// SwiGLU experts (spec §5) as grouped GEMMs over the tokens sorted by expert. The router's GEMMs run in
// fp32 on every backend (GemmPrec::F32): top-1 routing amplifies small differences (spec §7).
#include <algorithm>
#include <vector>

#include "dist/comm.h"
#include "model/layers.h"

namespace zaya {

namespace {
bool passthrough(const ModelConfig& c) { return c.skip_mode == SkipMode::PassThrough; }

std::vector<int64_t> times(const std::vector<int64_t>& v, int64_t k) {
  std::vector<int64_t> o(v);
  for (auto& x : o) x *= k;
  return o;
}

// Expert parallelism (docs/parallel.md): xe holds this rank's Ne expert tokens sorted by global expert,
// so the tokens of rank p's experts [p·El, (p+1)·El) are one contiguous block. They go to p by
// all-to-all; each rank runs its El experts on what it received (reordered expert-major, one grouped
// GEMM per projection), and the outputs come back by the reverse all-to-all into eo, in xe's order.
void expert_parallel_forward(Backend& be, const ModelConfig& c, const MoEParams& w, PairActs& a) {
  Comm& ep = *c.ep;
  const int K = ep.size(), El = c.local_experts();
  const int64_t H = c.hidden, I = c.expert_inter;
  ExpertDispatch& d = a.ep;
  std::vector<int64_t> cs(size_t(K * El)), cr(size_t(K * El)), per(size_t(K), El);
  for (int e = 0; e < K * El; ++e) cs[size_t(e)] = a.off[size_t(e + 1)] - a.off[size_t(e)];
  ep.all_to_all(cs.data(), per, cr.data(), per, CommType::I64, "expert count all-to-all");
  d.send.assign(size_t(K), 0);
  d.recv.assign(size_t(K), 0);
  for (int p = 0; p < K; ++p)
    for (int e = 0; e < El; ++e) {
      d.send[size_t(p)] += cs[size_t(p * El + e)];
      d.recv[size_t(p)] += cr[size_t(p * El + e)];
    }
  d.R = 0;
  for (int64_t r : d.recv) d.R += r;
  const int64_t R = d.R;
  d.buf.resize(size_t(std::max<int64_t>(R, a.Ne) * H + 1));
  ep.all_to_all(a.xe, times(d.send, H), d.buf.data(), times(d.recv, H), CommType::F32, "expert dispatch all-to-all");
  // Expert-major order over the received rows (source-major: rank p's rows, by local expert).
  d.idx.resize(size_t(R + 1));
  d.inv.resize(size_t(R + 1));
  d.loff.assign(size_t(El + 1), 0);
  std::vector<int64_t> base(size_t(K), 0);
  for (int p = 1; p < K; ++p) base[size_t(p)] = base[size_t(p - 1)] + d.recv[size_t(p - 1)];
  int64_t i = 0;
  for (int e = 0; e < El; ++e) {
    d.loff[size_t(e)] = i;
    for (int p = 0; p < K; ++p) {
      int64_t start = base[size_t(p)];
      for (int f = 0; f < e; ++f) start += cr[size_t(p * El + f)];
      for (int64_t r = 0; r < cr[size_t(p * El + e)]; ++r) d.idx[size_t(i++)] = start + r;
    }
  }
  d.loff[size_t(El)] = i;
  for (int64_t k = 0; k < R; ++k) d.inv[size_t(d.idx[size_t(k)])] = k;
  d.xl.resize(size_t(R * H + 1));
  d.gu.resize(size_t(R * 2 * I + 1));
  d.act.resize(size_t(R * I + 1));
  d.eo.resize(size_t(R * H + 1));
  be.gather_rows(d.xl.data(), d.buf.data(), d.idx.data(), R, H);
  be.grouped_linear_forward(d.gu.data(), d.xl.data(), w.gate_up.w.data(), d.loff.data(), El);
  be.swiglu_forward(d.act.data(), d.gu.data(), R, I);
  be.grouped_linear_forward(d.eo.data(), d.act.data(), w.down_e.w.data(), d.loff.data(), El);
  be.gather_rows(d.buf.data(), d.eo.data(), d.inv.data(), R, H);  // back to source-major
  ep.all_to_all(d.buf.data(), times(d.recv, H), a.eo, times(d.send, H), CommType::F32, "expert combine all-to-all");
}

// The backward of expert_parallel_forward: deo goes to the experts' ranks, their weight gradients are
// accumulated there (every token of the group that chose them), and dxe comes back in xe's order.
void expert_parallel_backward(Backend& be, const ModelConfig& c, const MoEParams& w, const PairActs& a, PairGrads& g) {
  Comm& ep = *c.ep;
  const int El = c.local_experts();
  const int64_t H = c.hidden, I = c.expert_inter;
  const ExpertDispatch& d = a.ep;
  const int64_t R = d.R;
  g.ep_a.resize(size_t(std::max<int64_t>(R, a.Ne) * H + 1));
  g.ep_b.resize(size_t(R * I + 1));
  g.ep_c.resize(size_t(R * 2 * I + 1));
  g.ep_d.resize(size_t(R * H + 1));
  float* rows = g.ep_d.data();
  ep.all_to_all(g.deo, times(d.send, H), rows, times(d.recv, H), CommType::F32,
                "expert gradient dispatch all-to-all");
  be.gather_rows(g.ep_a.data(), rows, d.idx.data(), R, H);  // deo, expert-major
  be.zero(g.ep_b.data(), size_t(R * I) * 4);
  be.grouped_linear_backward(g.ep_b.data(), w.down_e.g, g.ep_a.data(), d.act.data(), w.down_e.w.data(), d.loff.data(),
                             El);
  be.zero(g.ep_c.data(), size_t(R * 2 * I) * 4);
  be.swiglu_backward(g.ep_c.data(), g.ep_b.data(), d.gu.data(), R, I);
  be.zero(rows, size_t(R * H) * 4);
  be.grouped_linear_backward(rows, w.gate_up.g, g.ep_c.data(), d.xl.data(), w.gate_up.w.data(), d.loff.data(),
                             El);
  be.gather_rows(g.ep_a.data(), rows, d.inv.data(), R, H);  // dxe of the received rows, source-major
  ep.all_to_all(g.ep_a.data(), times(d.recv, H), g.dxe, times(d.send, H), CommType::F32,
                "expert gradient combine all-to-all");
}
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
  if (c.ep) {
    expert_parallel_forward(be, c, w, a);
  } else {
    be.grouped_linear_forward(a.gu, a.xe, w.gate_up.w.data(), a.off.data(), E);
    be.swiglu_forward(a.act, a.gu, a.Ne, I);
    be.grouped_linear_forward(a.eo, a.act, w.down_e.w.data(), a.off.data(), E);
  }
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
  if (c.ep) {
    expert_parallel_backward(be, c, w, a, g);
  } else {
    be.zero(g.dact, size_t(Ne * I) * 4);
    be.grouped_linear_backward(g.dact, w.down_e.g, g.deo, a.act, w.down_e.w.data(), a.off.data(), E);
    be.zero(g.dgu, size_t(Ne * 2 * I) * 4);
    be.swiglu_backward(g.dgu, g.dact, a.gu, Ne, I);
    be.zero(g.dxe, size_t(Ne * H) * 4);
    be.grouped_linear_backward(g.dxe, w.gate_up.g, g.dgu, a.xe, w.gate_up.w.data(), a.off.data(), E);
  }
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
