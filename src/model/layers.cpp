// Activation plans of a pair and the per-layer view of a batch of sequences (src/model/layers.h).
#include "model/layers.h"

namespace zaya {

const SeqSlice* SeqBatch::layer(int j) {
  scratch_ = seqs;
  if (decode())
    for (size_t i = 0; i < seqs.size(); ++i) {
      LayerState& l = states[i]->layers[size_t(j)];
      scratch_[i].conv = l.conv.as<float>();
      scratch_[i].vdel = l.vdel.as<float>();
      scratch_[i].kcache = l.k.data();
      scratch_[i].vcache = l.v.data();
    }
  return scratch_.data();
}

void plan_pair_acts(ActArena& ar, const std::string& pre, const ModelConfig& c, int64_t T, bool training,
                    PairActs& a) {
  const int64_t H = c.hidden, C = c.conv_channels(), kv = int64_t(c.nk) * c.head_dim, qd = int64_t(c.nq) * c.head_dim;
  const int64_t Dr = c.router_hidden, S = c.n_slots(), I = c.expert_inter;
  ar.plan(pre + ".attn.y1", T * H, &a.y1);
  ar.plan(pre + ".attn.u", T * C, &a.u);
  ar.plan(pre + ".attn.vcd", T * kv, &a.vcd);
  ar.plan(pre + ".attn.qk_conv", T * C, &a.qk);
  ar.plan(pre + ".attn.qk_rope", T * C, &a.qkr);
  ar.plan(pre + ".attn.v", T * kv, &a.v);
  ar.plan(pre + ".attn.out", T * qd, &a.att);
  if (training) ar.plan(pre + ".attn.softmax_stats", T * c.nq * 2, &a.stats);
  ar.plan(pre + ".attn.o_proj", T * H, &a.ao);
  if (training) ar.plan(pre + ".r1", T * H, &a.r1);
  ar.plan(pre + ".moe.y2", T * H, &a.y2);
  ar.plan(pre + ".router.a", T * Dr, &a.a);
  ar.plan(pre + ".router.z", T * Dr, &a.z);
  ar.plan(pre + ".router.fc1", T * Dr, &a.g1pre);
  ar.plan(pre + ".router.fc2", T * Dr, &a.g2pre);
  if (training) {
    ar.plan(pre + ".router.gelu1", T * Dr, &a.g1);
    ar.plan(pre + ".router.gelu2", T * Dr, &a.g2);
  }
  ar.plan(pre + ".router.probs", T * S, &a.p);
  ar.plan(pre + ".router.choice", T, &a.choice);
  ar.plan(pre + ".router.weight", T, &a.w);
  ar.plan(pre + ".moe.perm", T, &a.perm);
  ar.plan(pre + ".moe.x", T * H, &a.xe);
  ar.plan(pre + ".moe.gate_up", T * 2 * I, &a.gu);
  ar.plan(pre + ".moe.swiglu", T * I, &a.act);
  ar.plan(pre + ".moe.expert_out", T * H, &a.eo);
  ar.plan(pre + ".moe.out", T * H, &a.M);
  a.off.assign(size_t(c.n_experts + 1), 0);
}

void plan_pair_grads(ActArena& ar, const ModelConfig& c, int64_t T, PairGrads& g) {
  const int64_t H = c.hidden, C = c.conv_channels(), kv = int64_t(c.nk) * c.head_dim, qd = int64_t(c.nq) * c.head_dim;
  const int64_t Dr = c.router_hidden, S = c.n_slots(), I = c.expert_inter;
  ar.plan("grad.moe.out", T * H, &g.dM);
  ar.plan("grad.r1", T * H, &g.dr1);
  ar.plan("grad.moe.y2", T * H, &g.dy2);
  ar.plan("grad.moe.expert_out", T * H, &g.deo);
  ar.plan("grad.moe.swiglu", T * I, &g.dact);
  ar.plan("grad.moe.gate_up", T * 2 * I, &g.dgu);
  ar.plan("grad.moe.x", T * H, &g.dxe);
  ar.plan("grad.router.probs", T * S, &g.dp);
  ar.plan("grad.router.logits", T * S, &g.dlog);
  ar.plan("grad.router.gelu2", T * Dr, &g.dg2);
  ar.plan("grad.router.fc2", T * Dr, &g.dg2pre);
  ar.plan("grad.router.gelu1", T * Dr, &g.dg1);
  ar.plan("grad.router.fc1", T * Dr, &g.dg1pre);
  ar.plan("grad.router.z", T * Dr, &g.dz);
  ar.plan("grad.router.a", T * Dr, &g.da);
  ar.plan("grad.router.carry", T * Dr, &g.carry);
  ar.plan("grad.attn.o_proj", T * H, &g.dA);
  ar.plan("grad.attn.out", T * qd, &g.datt);
  ar.plan("grad.attn.qk_rope", T * C, &g.dqk);
  ar.plan("grad.attn.qk_conv", T * C, &g.dqkpre);
  ar.plan("grad.attn.u", T * C, &g.du);
  ar.plan("grad.attn.v", T * kv, &g.dv);
  ar.plan("grad.attn.vcd", T * kv, &g.dvcd);
  ar.plan("grad.attn.y1", T * H, &g.dy1);
}

}  // namespace zaya
