// The CCA attention sublayer of a pair (spec §3), forward and backward. Channel layout: u, qk, qkr
// rows are [q heads | k heads] (C = (nq+nk)·d); vcd rows are [Wv1·y | Wv2·y]; v rows are
// [current half | delayed half] (§3.4).
#include "model/layers.h"

namespace zaya {

void attention_forward(Backend& be, const ModelConfig& c, int j, const AttnParams& w, const float* inv_freq,
                       SeqBatch& sb, const float* r_in, PairActs& a) {
  const PairSpec& ps = c.pairs[size_t(j)];
  const int nq = c.nq, nk = c.nk, d = c.head_dim, C = c.conv_channels();
  const int64_t T = sb.T, H = c.hidden, qd = int64_t(nq) * d, kv = int64_t(nk) * d, vh = c.value_half();
  be.rmsnorm_forward(a.y1, r_in, w.norm.f(), T, H, float(c.norm_eps));
  // §3.1 down-projections into u = [q̃ | k̃]; values from the same normalized input (§3.4): one GEMM
  // each with the fused weights [q; k] and [v_cur; v_del].
  be.linear_forward(a.u, C, a.y1, H, w.qk.m, nullptr, T);
  be.linear_forward(a.vcd, kv, a.y1, H, w.vcd.m, nullptr, T);
  // §3.2 causal convolutions per sequence (each continues its own conv state), §3.3 q-k mean skip,
  // §3.5 L2 normalization + key temperature, §3.6 partial RoPE.
  const SeqSlice* seqs = sb.layer(j);
  be.cca_conv_forward(a.qk, a.u, C, seqs, sb.n(), w.conv0_w.f(), w.conv0_b.f(), w.conv1_w.f(), w.conv1_b.f(), C, d,
                      c.cca_time0, c.cca_time1);
  be.cca_qk_mean_add(a.qk, a.u, C, T, nq, nk, d);
  be.cca_qk_normalize(a.qkr, a.qk, C, w.temp.f(), T, nq, nk, d);
  be.rope_forward(a.qkr, C, sb.pos, T, nq + nk, d, ps.rot_dim, inv_freq);
  // §3.4 value shift, §3.9 cache append, §3.7 attention, §3.8 output projection.
  be.value_shift(a.v, a.vcd, seqs, sb.n(), vh);
  if (sb.decode()) be.kv_append(seqs, sb.n(), a.qkr + qd, C, a.v, kv, kv);
  be.attention_forward(a.att, qd, a.qkr, C, a.qkr + qd, C, a.v, kv, seqs, sb.n(), nq, nk, d, ps.window, a.stats);
  be.linear_forward(a.ao, H, a.att, qd, w.o.m, nullptr, T);
}

void attention_backward(Backend& be, const ModelConfig& c, int j, const AttnParams& w, const float* inv_freq,
                        SeqBatch& sb, const float* r_in, const PairActs& a, PairGrads& g, float* dr_in) {
  const PairSpec& ps = c.pairs[size_t(j)];
  const int nq = c.nq, nk = c.nk, d = c.head_dim, C = c.conv_channels();
  const int64_t T = sb.T, H = c.hidden, qd = int64_t(nq) * d, kv = int64_t(nk) * d, vh = c.value_half();
  const SeqSlice* seqs = sb.layer(j);
  be.zero(g.datt, size_t(T * qd) * 4);
  be.linear_backward(g.datt, qd, w.o.g, nullptr, g.dA, H, a.att, qd, w.o.m, T);
  // Attention → d(q, k after RoPE) in dqk, dv.
  be.zero(g.dqk, size_t(T * C) * 4);
  be.zero(g.dv, size_t(T * kv) * 4);
  be.attention_backward(g.dqk, C, g.dqk + qd, C, g.dv, kv, g.datt, qd, a.qkr, C, a.qkr + qd, C, a.v, kv, a.att, a.stats,
                        seqs, sb.n(), nq, nk, d, ps.window);
  be.rope_backward(g.dqk, C, sb.pos, T, nq + nk, d, ps.rot_dim, inv_freq);
  be.zero(g.dqkpre, size_t(T * C) * 4);
  be.cca_qk_normalize_backward(g.dqkpre, w.temp.g, g.dqk, a.qk, C, w.temp.f(), T, nq, nk, d);
  be.zero(g.du, size_t(T * C) * 4);
  be.cca_qk_mean_add_backward(g.du, g.dqkpre, C, T, nq, nk, d);
  be.cca_conv_backward(g.du, w.conv0_w.g, w.conv0_b.g, w.conv1_w.g, w.conv1_b.g, g.dqkpre, a.u, C, seqs, sb.n(),
                       w.conv0_w.f(), w.conv0_b.f(), w.conv1_w.f(), C, d, c.cca_time0, c.cca_time1);
  be.zero(g.dvcd, size_t(T * kv) * 4);
  be.value_shift_backward(g.dvcd, g.dv, seqs, sb.n(), vh);
  // Projections back to the normalized input y1, then input_layernorm.
  be.zero(g.dy1, size_t(T * H) * 4);
  be.linear_backward(g.dy1, H, w.qk.g, nullptr, g.du, C, a.y1, H, w.qk.m, T);
  be.linear_backward(g.dy1, H, w.vcd.g, nullptr, g.dvcd, kv, a.y1, H, w.vcd.m, T);
  be.rmsnorm_backward(dr_in, w.norm.g, g.dy1, r_in, w.norm.f(), T, H, float(c.norm_eps));
}

}  // namespace zaya
