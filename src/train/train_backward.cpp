// TrainModel::backward — the explicit backward pass, layer by layer in reverse, from the saved
// activations of forward(). Every op's backward ADDS into the gradient arena (zeroed here first).
#include <algorithm>
#include <cstring>

#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"
#include "train/train_impl.h"

namespace zaya {

void TrainModel::backward(const int32_t* ids, int64_t B, int64_t T, bool accumulate) {
  TrainActs& A = *acts_;
  const int64_t N = B * T, H = cfg_.hidden, V = cfg_.vocab_size, Dr = cfg_.router_hidden, I = cfg_.expert_inter;
  const int nq = cfg_.nq, nk = cfg_.nk, d = cfg_.head_dim, C = cfg_.conv_channels(), E = cfg_.n_experts;
  const int S = cfg_.n_slots(), k0 = cfg_.cca_time0, k1 = cfg_.cca_time1, K = cfg_.conv_state_len();
  const int64_t qd = int64_t(nq) * d, kv = int64_t(nk) * d, vh = cfg_.value_half();
  const float eps = float(cfg_.norm_eps), reps = float(cfg_.router_norm_eps);
  if (!accumulate) std::fill(g_.begin(), g_.end(), 0.0f);
  GlobalView gw = TrainImpl::global(*this, w_), gg = TrainImpl::global(*this, g_);
  const float* head = cfg_.tie_embeddings ? gw.embed : param("lm_head.weight");
  float* dhead = cfg_.tie_embeddings ? gg.embed : grad("lm_head.weight");
  auto zeros = [](int64_t n) { return std::vector<float>(size_t(n), 0.0f); };
  const float* null = nullptr;

  // LM head and final norm. logits_ holds d(loss)/d(logits) after cross_entropy.
  std::vector<float> dyf = zeros(N * H), dr = zeros(N * H);
  ops::linear_backward(dyf.data(), dhead, static_cast<float*>(nullptr), logits_.data(), A.y_final.data(), head, N, V, H);
  ops::rmsnorm_backward(dr.data(), gg.final_norm, dyf.data(), A.r_final.data(), gw.final_norm, N, H, eps);

  std::vector<float> carry;  // d(loss)/d(a) flowing back through the next pair's EDA term
  std::vector<float> state0(size_t(K * C), 0.0f), scratch(size_t(2 * (T + k1) * C));
  for (int j = cfg_.n_pairs - 1; j >= 0; --j) {
    PairView p = TrainImpl::pair(*this, w_, j), g = TrainImpl::pair(*this, g_, j);
    PairActs& a = A.pairs[size_t(j)];
    if (recompute_) {  // rebuild this pair's activations from its saved input
      std::vector<float> r = a.r0;
      forward_pair(j, r);
    }
    const PairSpec& ps = cfg_.pairs[size_t(j)];

    // Post-MoE merge: r2 = (M + hb)⊙hs + (r1 + rb)⊙rs.
    std::vector<float> dM = zeros(N * H), dr1 = zeros(N * H), dy2 = zeros(N * H);
    ops::residual_merge_backward(dM.data(), dr1.data(), g.pm_hs, g.pm_hb, g.pm_rs, g.pm_rb, dr.data(), a.M.data(),
                                 a.r1.data(), p.pm_hs, p.pm_hb, p.pm_rs, p.pm_rb, N, H);
    // MoE: M_t = w_t·expert(y2_t); the weight's gradient goes to the chosen probability only.
    std::vector<float> dp = zeros(N * S);
    const int64_t Ne = a.start[size_t(E)];
    std::vector<float> deo = zeros(Ne * H), dact = zeros(Ne * I), dgu = zeros(Ne * 2 * I), dxe = zeros(Ne * H);
    for (int64_t i = 0; i < Ne; ++i) {
      int64_t t = a.perm[size_t(i)];
      double dw = 0;
      for (int64_t c = 0; c < H; ++c) {
        dw += double(a.eo[size_t(i * H + c)]) * dM[size_t(t * H + c)];
        deo[size_t(i * H + c)] = a.w[size_t(t)] * dM[size_t(t * H + c)];
      }
      dp[size_t(t * S + a.choice[size_t(t)])] = float(dw);
    }
    if (cfg_.skip_mode == SkipMode::PassThrough)
      for (int64_t t = 0; t < N; ++t)
        if (a.choice[size_t(t)] >= E) {
          double dw = 0;
          for (int64_t c = 0; c < H; ++c) {
            dw += double(a.y2[size_t(t * H + c)]) * dM[size_t(t * H + c)];
            dy2[size_t(t * H + c)] += a.w[size_t(t)] * dM[size_t(t * H + c)];
          }
          dp[size_t(t * S + a.choice[size_t(t)])] = float(dw);
        }
    for (int e = 0; e < E; ++e) {
      const int64_t s0 = a.start[size_t(e)], n = a.start[size_t(e + 1)] - s0;
      if (n == 0) continue;
      ops::linear_backward(&dact[size_t(s0 * I)], g.down_e + int64_t(e) * H * I, static_cast<float*>(nullptr),
                           &deo[size_t(s0 * H)], &a.act[size_t(s0 * I)], p.down_e + int64_t(e) * H * I, n, H, I);
      ops::swiglu_backward(&dgu[size_t(s0 * 2 * I)], &dact[size_t(s0 * I)], &a.gu[size_t(s0 * 2 * I)], n, I);
      ops::linear_backward(&dxe[size_t(s0 * H)], g.gate_up + int64_t(e) * 2 * I * H, static_cast<float*>(nullptr),
                           &dgu[size_t(s0 * 2 * I)], &a.xe[size_t(s0 * H)], p.gate_up + int64_t(e) * 2 * I * H, n,
                           2 * I, H);
    }
    for (int64_t i = 0; i < Ne; ++i) {
      int64_t t = a.perm[size_t(i)];
      for (int64_t c = 0; c < H; ++c) dy2[size_t(t * H + c)] += dxe[size_t(i * H + c)];
    }
    // Router MLP back to the pre-norm state a (β gets no gradient).
    std::vector<float> dlog = zeros(N * S), dg2 = zeros(N * Dr), dg2pre = zeros(N * Dr), dg1 = zeros(N * Dr),
                       dg1pre = zeros(N * Dr), dz = zeros(N * Dr), da = zeros(N * Dr);
    ops::softmax_backward(dlog.data(), dp.data(), a.p.data(), N, S);
    ops::linear_backward(dg2.data(), g.out, static_cast<float*>(nullptr), dlog.data(), a.g2.data(), p.out, N, S, Dr);
    ops::gelu_backward(dg2pre.data(), dg2.data(), a.g2pre.data(), N * Dr);
    ops::linear_backward(dg1.data(), g.fc2, g.fc2_b, dg2pre.data(), a.g1.data(), p.fc2, N, Dr, Dr);
    ops::gelu_backward(dg1pre.data(), dg1.data(), a.g1pre.data(), N * Dr);
    ops::linear_backward(dz.data(), g.fc1, g.fc1_b, dg1pre.data(), a.z.data(), p.fc1, N, Dr, Dr);
    ops::rmsnorm_backward(da.data(), g.rnorm, dz.data(), a.a.data(), p.rnorm, N, Dr, reps);
    if (!carry.empty())
      for (int64_t i = 0; i < N * Dr; ++i) da[size_t(i)] += carry[size_t(i)];
    ops::linear_backward(dy2.data(), g.down, g.down_b, da.data(), a.y2.data(), p.down, N, Dr, H);
    carry.clear();
    if (j > 0 && p.eda) {  // a_j = ... + s ⊙ a_{j-1}
      const std::vector<float>& prev = A.pairs[size_t(j - 1)].a;
      carry.assign(size_t(N * Dr), 0.0f);
      for (int64_t t = 0; t < N; ++t)
        for (int64_t i = 0; i < Dr; ++i) {
          float gi = da[size_t(t * Dr + i)];
          g.eda[i] += gi * prev[size_t(t * Dr + i)];
          carry[size_t(t * Dr + i)] = gi * p.eda[i];
        }
    }
    ops::rmsnorm_backward(dr1.data(), g.post_norm, dy2.data(), a.r1.data(), p.post_norm, N, H, eps);

    // Post-attention merge: r1 = (A + hb)⊙hs + (r0 + rb)⊙rs.
    std::vector<float> dA = zeros(N * H), dr0 = zeros(N * H), datt = zeros(N * qd);
    ops::residual_merge_backward(dA.data(), dr0.data(), g.pa_hs, g.pa_hb, g.pa_rs, g.pa_rb, dr1.data(), a.A.data(),
                                 a.r0.data(), p.pa_hs, p.pa_hb, p.pa_rs, p.pa_rb, N, H);
    ops::linear_backward(datt.data(), g.o, static_cast<float*>(nullptr), dA.data(), a.att.data(), p.o, N, H, qd);
    // Attention per sequence → d(q after RoPE) in dqk (q columns), dk, dv.
    std::vector<float> dqk = zeros(N * C), dk = zeros(N * kv), dv = zeros(N * kv);
    for (auto [s0, len] : A.segs)
      ops::attention_backward(dqk.data() + s0 * C, dk.data() + s0 * kv, dv.data() + s0 * kv, datt.data() + s0 * qd,
                              qd, a.qkr.data() + s0 * C, C, a.kr.data() + s0 * kv, a.v.data() + s0 * kv, len, len, nq,
                              nk, d, ps.window);
    for (int64_t t = 0; t < N; ++t)
      for (int64_t c = 0; c < kv; ++c) dqk[size_t(t * C + qd + c)] += dk[size_t(t * kv + c)];
    auto inv = ops::rope_inv_freq(ps.rope_theta, ps.rot_dim);
    ops::rope_backward(dqk.data(), C, A.pos.data(), N, nq + nk, d, ps.rot_dim, inv.data());
    std::vector<float> dqkpre = zeros(N * C), du = zeros(N * C), dw1t = zeros(int64_t(k1) * C * d);
    ops::cca_qk_normalize_backward(dqkpre.data(), g.temp, dqk.data(), a.qkpre.data(), C, p.temp, N, nq, nk, d);
    ops::cca_qk_mean_add_backward(du.data(), dqkpre.data(), C, N, nq, nk, d);
    for (auto [s0, len] : A.segs)
      ops::cca_conv_backward(du.data() + s0 * C, g.conv0_w, g.conv0_b, dw1t.data(), g.conv1_b, dqkpre.data() + s0 * C,
                             a.u.data() + s0 * C, C, state0.data(), p.conv0_w, p.conv0_b, a.conv1_wt.data(), len, C, d,
                             k0, k1, scratch.data());
    for (int c = 0; c < C; ++c)
      for (int jj = 0; jj < d; ++jj)
        for (int b = 0; b < k1; ++b) g.conv1_w[(size_t(c) * d + jj) * k1 + b] += dw1t[(size_t(b) * C + c) * d + jj];
    // Projections back to the normalized input y1: q̃, k̃ from du; values [current | delayed].
    std::vector<float> dy1 = zeros(N * H), dq_ = zeros(N * qd), dk_ = zeros(N * kv), dvc = zeros(N * vh),
                       dvd = zeros(N * vh);
    for (int64_t t = 0; t < N; ++t) {
      std::memcpy(&dq_[size_t(t * qd)], &du[size_t(t * C)], sizeof(float) * size_t(qd));
      std::memcpy(&dk_[size_t(t * kv)], &du[size_t(t * C + qd)], sizeof(float) * size_t(kv));
      std::memcpy(&dvc[size_t(t * vh)], &dv[size_t(t * kv)], sizeof(float) * size_t(vh));
      if (!A.seg_start[size_t(t)])
        for (int64_t c = 0; c < vh; ++c) dvd[size_t((t - 1) * vh + c)] += dv[size_t(t * kv + vh + c)];
    }
    ops::linear_backward(dy1.data(), g.q, static_cast<float*>(nullptr), dq_.data(), a.y1.data(), p.q, N, qd, H);
    ops::linear_backward(dy1.data(), g.k, static_cast<float*>(nullptr), dk_.data(), a.y1.data(), p.k, N, kv, H);
    ops::linear_backward(dy1.data(), g.vcur, static_cast<float*>(nullptr), dvc.data(), a.y1.data(), p.vcur, N, vh, H);
    ops::linear_backward(dy1.data(), g.vdel, static_cast<float*>(nullptr), dvd.data(), a.y1.data(), p.vdel, N, vh, H);
    ops::rmsnorm_backward(dr0.data(), g.in_norm, dy1.data(), a.r0.data(), p.in_norm, N, H, eps);
    dr.swap(dr0);
    if (recompute_) a.release();
  }
  // Embedding: r0 = (e + b) ⊙ s; the lookup sends no gradient to the padding row.
  std::vector<float> demb = zeros(N * H);
  ops::residual_input_backward(demb.data(), gg.in_scale, gg.in_bias, dr.data(), A.emb.data(), gw.in_scale,
                               gw.in_bias, N, H);
  ops::embedding_backward(gg.embed, demb.data(), ids, N, H, cfg_.pad_id);
  (void)null;
}

}  // namespace zaya
