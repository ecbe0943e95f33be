// One CCA attention sublayer (spec §3) for a batch of sequences: input ws.y [T, H] (normalized),
// output ws.h [T, H]. Updates each sequence's KV cache, conv state and delayed-value state.
#include <cstring>

#include "model/model.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/matmul.h"
#include "ops/rope.h"

namespace zaya {

void Model::attention_block(int j, std::span<const SeqChunk> batch, Workspace& ws, int64_t T) const {
  const AttentionWeights& a = w_.pairs[size_t(j)].attn;
  const PairSpec& ps = cfg_.pairs[size_t(j)];
  const int nq = cfg_.nq, nk = cfg_.nk, d = cfg_.head_dim, C = cfg_.conv_channels();
  const int64_t qd = int64_t(nq) * d, kv = int64_t(nk) * d, vh = cfg_.value_half();

  // §3.1 down-projections into u = [q̃ | k̃]; values from the same normalized input (§3.4).
  ops::matmul_forward(ws.u, ws.y, a.q, T, nullptr, C);
  ops::matmul_forward(ws.u + qd, ws.y, a.k, T, nullptr, C);
  ops::matmul_forward(ws.vc, ws.y, a.v_cur, T);
  ops::matmul_forward(ws.vd, ws.y, a.v_del, T);

  // §3.2 causal convolutions per sequence (each continues its own conv state).
  int64_t off = 0;
  for (auto& s : batch) {
    LayerState& st = s.state->layers[size_t(j)];
    ops::cca_conv_forward(ws.qk + off * C, ws.u + off * C, C, st.conv.data(), a.conv0_w.data(), a.conv0_b.data(),
                          a.conv1_wt.data(), a.conv1_b.data(), s.n, C, d, cfg_.cca_time0, cfg_.cca_time1,
                          ws.conv_scratch);
    off += s.n;
  }
  // §3.3 q-k mean skip, §3.5 L2 normalization + key temperature, §3.6 partial RoPE.
  ops::cca_qk_mean_add(ws.qk, ws.u, C, T, nq, nk, d);
  ops::cca_qk_normalize(ws.qk, C, a.temp.data(), T, nq, nk, d);
  ops::rope_forward(ws.qk, C, ws.pos.data(), T, nq + nk, d, ps.rot_dim, inv_freq_[size_t(j)].data());

  // §3.4 value shift: v = [Wv1·y_t | Wv2·y_{t-1}], the delayed half continuing the sequence's state.
  off = 0;
  for (auto& s : batch) {
    LayerState& st = s.state->layers[size_t(j)];
    for (int64_t i = 0; i < s.n; ++i) {
      float* v = ws.v + (off + i) * kv;
      std::memcpy(v, ws.vc + (off + i) * vh, sizeof(float) * size_t(vh));
      const float* del = i == 0 ? st.vdel.data() : ws.vd + (off + i - 1) * vh;
      std::memcpy(v + vh, del, sizeof(float) * size_t(vh));
    }
    std::memcpy(st.vdel.data(), ws.vd + (off + s.n - 1) * vh, sizeof(float) * size_t(vh));
    // Append keys and values to the cache, then attend (§3.7).
    for (int64_t i = 0; i < s.n; ++i) {
      const float* k = ws.qk + (off + i) * C + qd;
      st.k.insert(st.k.end(), k, k + kv);
      const float* v = ws.v + (off + i) * kv;
      st.v.insert(st.v.end(), v, v + kv);
    }
    int64_t S = int64_t(st.k.size()) / kv;
    ops::attention_forward(ws.att + off * qd, qd, ws.qk + off * C, C, st.k.data(), st.v.data(), s.n, S, nq, nk, d,
                           ps.window);
    off += s.n;
  }
  // §3.8 output projection.
  ops::matmul_forward(ws.h, ws.att, a.o, T);
}

}  // namespace zaya
