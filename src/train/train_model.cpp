// TrainModel: arenas, initialization, checkpoint I/O, and the forward pass that saves activations.
#include "train/train_model.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fileutil.h"
#include "model/weights.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"
#include "train/train_impl.h"

namespace zaya {

TrainModel::TrainModel(const ModelConfig& cfg) : cfg_(cfg), acts_(std::make_unique<TrainActs>()) {
  int64_t off = 0;
  for (auto& s : checkpoint_tensor_specs(cfg_, CheckpointLayout::Native)) {
    TrainTensor t;
    t.name = s.name;
    t.shape = s.shape;
    t.numel = 1;
    for (int64_t d : s.shape) t.numel *= d;
    t.offset = off;
    t.trainable = s.name.find("balancing_biases") == std::string::npos;
    off += (t.numel + 15) / 16 * 16;
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  w_.assign(size_t(off), 0.0f);
  g_.assign(size_t(off), 0.0f);
}

TrainModel::~TrainModel() = default;

const float* TrainModel::router_probs(int j) const { return acts_->pairs.at(size_t(j)).p.data(); }

float* TrainModel::param(const std::string& name) {
  auto it = index_.find(name);
  ZAYA_CHECK(it != index_.end(), "TrainModel: no tensor named '", name, "'");
  return w_.data() + tensors_[it->second].offset;
}
float* TrainModel::grad(const std::string& name) {
  auto it = index_.find(name);
  ZAYA_CHECK(it != index_.end(), "TrainModel: no tensor named '", name, "'");
  return g_.data() + tensors_[it->second].offset;
}

void TrainModel::init(const InitOptions& opt) {
  for (auto& t : tensors_) init_tensor_range(cfg_, t.name, t.shape, opt, 0, t.numel, w_.data() + t.offset);
}

void TrainModel::load(const Checkpoint& ck) {
  // Either layout: native names directly, legacy ones through the official mapping (spec §6.3), the
  // per-expert legacy matrices stacked, and a legacy clamp_temp temperature turned into the linear one.
  // The checkpoint's own names decide (a run started from a legacy checkpoint resumes from native ones).
  const bool legacy = !ck.find("model.layers.0.input_layernorm.weight") && ck.find("model.layers.0.input_norm.weight");
  std::map<std::string, std::string> leg;
  if (legacy)
    for (auto& [n, l] : native_to_legacy_names(cfg_)) leg[n] = l;
  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape, float* dst) {
    const TensorInfo* ti = ck.find(name);
    if (!ti && name == "model.norm.weight") ti = ck.find("model.final_norm.weight");
    if (!ti) throw_error(ck.dir(), ": tensor '", name, "' is missing");
    if (ti->shape != shape) {
      TensorInfo want;
      want.shape = shape;
      throw_error(ti->file, ": tensor '", name, "' has shape ", ti->shape_str(), ", expected ", want.shape_str());
    }
    std::vector<uint8_t> raw(ti->data, ti->data + ti->nbytes);
    convert_to_f32(ti->dtype, raw.data(), dst, size_t(ti->numel()));
  };
  const int64_t H = cfg_.hidden, I = cfg_.expert_inter;
  for (auto& t : tensors_) {
    float* dst = w_.data() + t.offset;
    if (!legacy) {
      fetch(t.name, t.shape, dst);
      continue;
    }
    auto it = leg.find(t.name);
    if (it != leg.end()) {
      fetch(it->second, t.shape, dst);
      if (cfg_.clamp_temp && t.name.find("qk_norm.temp") != std::string::npos)
        for (int64_t i = 0; i < t.numel; ++i) dst[i] = std::exp(std::min(std::max(dst[i], 1e-7f), 2.0f));
      continue;
    }
    // Stacked experts from the per-expert legacy matrices.
    const bool gu = t.name.find("mlp.experts.gate_up_proj") != std::string::npos;
    const bool dn = t.name.find("mlp.experts.down_proj") != std::string::npos;
    ZAYA_CHECK(gu || dn, "TrainModel: no legacy name for '", t.name, "'");
    int j = std::stoi(t.name.substr(std::string("model.layers.").size()));
    const int64_t per = gu ? 2 * I * H : H * I;
    for (int e = 0; e < cfg_.n_experts; ++e)
      fetch(legacy_expert_name(j, e, gu), gu ? std::vector<int64_t>{2 * I, H} : std::vector<int64_t>{H, I},
            dst + e * per);
  }
  // Trained from here on, the model is native: linear temperature (skip semantics as configured).
  cfg_.layout = CheckpointLayout::Native;
  cfg_.clamp_temp = false;
}

void TrainModel::save(const std::string& dir) const {
  SafeTensorsWriter w;
  for (auto& t : tensors_) w.add(t.name, DType::F32, t.shape, w_.data() + t.offset);
  w.set_metadata("format", "pt");
  w.write_dir(dir);
  write_file_atomic(path_join(dir, "config.json"), native_config_json(cfg_));
}

PairView TrainImpl::pair(TrainModel& m, std::vector<float>& a, int j) {
  const std::string n = "model.layers." + std::to_string(j) + ".";
  const std::string at = n + "self_attn.qkv_proj.", g = n + "mlp.gate.";
  auto p = [&](const std::string& name) { return a.data() + m.tensors_[m.index_.at(name)].offset; };
  auto opt = [&](const std::string& name) { return m.index_.count(name) ? p(name) : nullptr; };
  PairView v;
  v.in_norm = p(n + "input_layernorm.weight");
  v.q = p(at + "q_proj.weight");
  v.k = p(at + "k_proj.weight");
  v.vcur = p(at + "v_proj_current.weight");
  v.vdel = p(at + "v_proj_delayed.weight");
  v.conv0_w = p(at + "conv_qk_depthwise.weight");
  v.conv0_b = p(at + "conv_qk_depthwise.bias");
  v.conv1_w = p(at + "conv_qk_grouped.weight");
  v.conv1_b = p(at + "conv_qk_grouped.bias");
  v.temp = p(n + "self_attn.qk_norm.temp");
  v.o = p(n + "self_attn.o_proj.weight");
  v.pa_hs = p(n + "post_attention_residual_scale.hidden_states_scale");
  v.pa_hb = p(n + "post_attention_residual_scale.hidden_states_bias");
  v.pa_rs = p(n + "post_attention_residual_scale.residual_scale");
  v.pa_rb = p(n + "post_attention_residual_scale.residual_bias");
  v.post_norm = p(n + "post_attention_layernorm.weight");
  v.down = p(g + "down_proj.weight");
  v.down_b = p(g + "down_proj.bias");
  v.eda = opt(g + "router_states_scale");
  v.rnorm = p(g + "router_mlp.norm.weight");
  v.fc1 = p(g + "router_mlp.fc1.weight");
  v.fc1_b = p(g + "router_mlp.fc1.bias");
  v.fc2 = p(g + "router_mlp.fc2.weight");
  v.fc2_b = p(g + "router_mlp.fc2.bias");
  v.out = p(g + "router_mlp.out_proj.weight");
  v.beta = p(g + "balancing_biases");
  v.gate_up = p(n + "mlp.experts.gate_up_proj");
  v.down_e = p(n + "mlp.experts.down_proj");
  v.pm_hs = p(n + "post_mlp_residual_scale.hidden_states_scale");
  v.pm_hb = p(n + "post_mlp_residual_scale.hidden_states_bias");
  v.pm_rs = p(n + "post_mlp_residual_scale.residual_scale");
  v.pm_rb = p(n + "post_mlp_residual_scale.residual_bias");
  return v;
}

GlobalView TrainImpl::global(TrainModel& m, std::vector<float>& a) {
  auto p = [&](const std::string& name) { return a.data() + m.tensors_[m.index_.at(name)].offset; };
  return {p("model.embed_tokens.weight"), p("model.input_hidden_states_scale"), p("model.input_hidden_states_bias"),
          p("model.norm.weight")};
}

double TrainModel::step(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T, bool do_backward,
                        const std::vector<std::vector<int32_t>>* doc_starts, bool accumulate, double grad_scale) {
  const int64_t N = B * T, V = cfg_.vocab_size;
  for (int64_t i = 0; i < N; ++i)
    ZAYA_CHECK(ids[i] >= 0 && ids[i] < V, "training batch: token id ", ids[i], " outside the vocabulary");
  acts_->targets.assign(targets, targets + N);
  forward(ids, B, T, doc_starts);
  double loss = ops::cross_entropy(do_backward ? logits_.data() : static_cast<float*>(nullptr), logits_.data(),
                                   targets, N, V);
  // cross_entropy wrote d(loss)/d(logits) over the logits buffer (in place is fine: row by row).
  if (do_backward) {
    if (grad_scale != 1.0)
      for (float& x : logits_) x *= float(grad_scale);
    backward(ids, B, T, accumulate);
  }
  return loss;
}

// One pair's forward from its residual input r (replaced by the pair's output), saving its activations.
// With recomputation the backward calls it again from the saved r0 to rebuild them.
void TrainModel::forward_pair(int j, std::vector<float>& r) {
  TrainActs& A = *acts_;
  const int64_t N = A.B * A.T, H = cfg_.hidden, Dr = cfg_.router_hidden, I = cfg_.expert_inter;
  const int nq = cfg_.nq, nk = cfg_.nk, d = cfg_.head_dim, C = cfg_.conv_channels(), E = cfg_.n_experts;
  const int S = cfg_.n_slots(), k0 = cfg_.cca_time0, k1 = cfg_.cca_time1, K = cfg_.conv_state_len();
  const int64_t qd = int64_t(nq) * d, kv = int64_t(nk) * d, vh = cfg_.value_half();
  const float eps = float(cfg_.norm_eps), reps = float(cfg_.router_norm_eps);
  std::vector<float> scratch(size_t((A.T + k1) * C)), state(size_t(K * C));
  PairView p = TrainImpl::pair(*this, w_, j);
  PairActs& a = A.pairs[size_t(j)];
  const PairSpec& ps = cfg_.pairs[size_t(j)];
  auto sz = [](std::vector<float>& v, int64_t n) { v.resize(size_t(n)); };
  a.r0 = r;
  sz(a.y1, N * H);
  ops::rmsnorm_forward(a.y1.data(), a.r0.data(), p.in_norm, N, H, eps);
  // CCA (spec §3): u = [q̃ | k̃], convolutions per sequence, q-k mean, L2 norm + temperature, RoPE.
  std::vector<float> tmp_q(size_t(N * qd)), tmp_k(size_t(N * kv));
  ops::linear_forward(tmp_q.data(), a.y1.data(), p.q, static_cast<const float*>(nullptr), N, qd, H);
  ops::linear_forward(tmp_k.data(), a.y1.data(), p.k, static_cast<const float*>(nullptr), N, kv, H);
  sz(a.u, N * C);
  for (int64_t t = 0; t < N; ++t) {
    std::memcpy(&a.u[size_t(t * C)], &tmp_q[size_t(t * qd)], sizeof(float) * size_t(qd));
    std::memcpy(&a.u[size_t(t * C + qd)], &tmp_k[size_t(t * kv)], sizeof(float) * size_t(kv));
  }
  a.conv1_wt.resize(size_t(k1) * C * d);
  for (int c = 0; c < C; ++c)
    for (int jj = 0; jj < d; ++jj)
      for (int b = 0; b < k1; ++b)
        a.conv1_wt[(size_t(b) * C + c) * d + jj] = p.conv1_w[(size_t(c) * d + jj) * k1 + b];
  sz(a.qkpre, N * C);
  for (auto [s0, len] : A.segs) {
    std::fill(state.begin(), state.end(), 0.0f);
    ops::cca_conv_forward(a.qkpre.data() + s0 * C, a.u.data() + s0 * C, C, state.data(), p.conv0_w, p.conv0_b,
                          a.conv1_wt.data(), p.conv1_b, len, C, d, k0, k1, scratch.data());
  }
  ops::cca_qk_mean_add(a.qkpre.data(), a.u.data(), C, N, nq, nk, d);
  a.qkr = a.qkpre;
  ops::cca_qk_normalize(a.qkr.data(), C, p.temp, N, nq, nk, d);
  auto inv = ops::rope_inv_freq(ps.rope_theta, ps.rot_dim);
  ops::rope_forward(a.qkr.data(), C, A.pos.data(), N, nq + nk, d, ps.rot_dim, inv.data());
  sz(a.kr, N * kv);
  for (int64_t t = 0; t < N; ++t)
    std::memcpy(&a.kr[size_t(t * kv)], &a.qkr[size_t(t * C + qd)], sizeof(float) * size_t(kv));
  // Values (spec §3.4): [Wv1·y_t | Wv2·y_{t-1}], zero before each sequence's first token.
  std::vector<float> vc(size_t(N * vh)), vd(size_t(N * vh));
  ops::linear_forward(vc.data(), a.y1.data(), p.vcur, static_cast<const float*>(nullptr), N, vh, H);
  ops::linear_forward(vd.data(), a.y1.data(), p.vdel, static_cast<const float*>(nullptr), N, vh, H);
  sz(a.v, N * kv);
  for (int64_t t = 0; t < N; ++t) {
    std::memcpy(&a.v[size_t(t * kv)], &vc[size_t(t * vh)], sizeof(float) * size_t(vh));
    float* del = &a.v[size_t(t * kv + vh)];
    if (A.seg_start[size_t(t)])
      std::fill(del, del + vh, 0.0f);
    else
      std::memcpy(del, &vd[size_t((t - 1) * vh)], sizeof(float) * size_t(vh));
  }
  sz(a.att, N * qd);
  for (auto [s0, len] : A.segs)
    ops::attention_forward(a.att.data() + s0 * qd, qd, a.qkr.data() + s0 * C, C, a.kr.data() + s0 * kv,
                           a.v.data() + s0 * kv, len, len, nq, nk, d, ps.window);
  sz(a.A, N * H);
  ops::linear_forward(a.A.data(), a.att.data(), p.o, static_cast<const float*>(nullptr), N, H, qd);
  a.r1 = a.r0;
  ops::residual_merge(a.r1.data(), a.A.data(), p.pa_hs, p.pa_hb, p.pa_rs, p.pa_rb, N, H);
  sz(a.y2, N * H);
  ops::rmsnorm_forward(a.y2.data(), a.r1.data(), p.post_norm, N, H, eps);

  // Router (spec §4): a = W_down y + b (+ s ⊙ a_prev), norm, GELU MLP, softmax, top-1 on p + β.
  sz(a.a, N * Dr);
  ops::linear_forward(a.a.data(), a.y2.data(), p.down, p.down_b, N, Dr, H);
  if (j > 0 && p.eda)
    for (int64_t t = 0; t < N; ++t)
      for (int64_t i = 0; i < Dr; ++i) a.a[size_t(t * Dr + i)] += p.eda[i] * A.pairs[size_t(j - 1)].a[size_t(t * Dr + i)];
  sz(a.z, N * Dr);
  ops::rmsnorm_forward(a.z.data(), a.a.data(), p.rnorm, N, Dr, reps);
  sz(a.g1pre, N * Dr);
  ops::linear_forward(a.g1pre.data(), a.z.data(), p.fc1, p.fc1_b, N, Dr, Dr);
  a.g1 = a.g1pre;
  ops::gelu_forward(a.g1.data(), N * Dr);
  sz(a.g2pre, N * Dr);
  ops::linear_forward(a.g2pre.data(), a.g1.data(), p.fc2, p.fc2_b, N, Dr, Dr);
  a.g2 = a.g2pre;
  ops::gelu_forward(a.g2.data(), N * Dr);
  sz(a.p, N * S);
  ops::linear_forward(a.p.data(), a.g2.data(), p.out, static_cast<const float*>(nullptr), N, S, Dr);
  ops::softmax_forward(a.p.data(), N, S);
  a.choice.resize(size_t(N));
  a.w.resize(size_t(N));
  a.start.assign(size_t(E + 1), 0);
  for (int64_t t = 0; t < N; ++t) {
    const float* pr = &a.p[size_t(t * S)];
    int best = 0;
    float bv = pr[0] + p.beta[0];
    for (int e = 1; e < S; ++e)
      if (pr[e] + p.beta[e] > bv) {
        bv = pr[e] + p.beta[e];
        best = e;
      }
    a.choice[size_t(t)] = best;
    a.w[size_t(t)] = pr[best];
    choice_[size_t(t * cfg_.n_pairs + j)] = best;
    if (best < E) ++a.start[size_t(best + 1)];
  }
  for (int e = 0; e < E; ++e) a.start[size_t(e + 1)] += a.start[size_t(e)];
  a.perm.assign(size_t(a.start[size_t(E)]), 0);
  std::vector<int64_t> fill(a.start.begin(), a.start.end() - 1);
  for (int64_t t = 0; t < N; ++t)
    if (a.choice[size_t(t)] < E) a.perm[size_t(fill[size_t(a.choice[size_t(t)])]++)] = t;
  // Experts (spec §5) on their gathered tokens; skip tokens per SkipMode.
  const int64_t Ne = a.start[size_t(E)];
  sz(a.xe, Ne * H);
  sz(a.gu, Ne * 2 * I);
  sz(a.act, Ne * I);
  sz(a.eo, Ne * H);
  sz(a.M, N * H);
  std::fill(a.M.begin(), a.M.end(), 0.0f);
  for (int64_t i = 0; i < Ne; ++i)
    std::memcpy(&a.xe[size_t(i * H)], &a.y2[size_t(a.perm[size_t(i)] * H)], sizeof(float) * size_t(H));
  for (int e = 0; e < E; ++e) {
    const int64_t s0 = a.start[size_t(e)], n = a.start[size_t(e + 1)] - s0;
    if (n == 0) continue;
    ops::linear_forward(&a.gu[size_t(s0 * 2 * I)], &a.xe[size_t(s0 * H)], p.gate_up + int64_t(e) * 2 * I * H,
                        static_cast<const float*>(nullptr), n, 2 * I, H);
    ops::swiglu_forward(&a.act[size_t(s0 * I)], &a.gu[size_t(s0 * 2 * I)], n, I);
    ops::linear_forward(&a.eo[size_t(s0 * H)], &a.act[size_t(s0 * I)], p.down_e + int64_t(e) * H * I,
                        static_cast<const float*>(nullptr), n, H, I);
  }
  for (int64_t i = 0; i < Ne; ++i) {
    int64_t t = a.perm[size_t(i)];
    for (int64_t c = 0; c < H; ++c) a.M[size_t(t * H + c)] = a.w[size_t(t)] * a.eo[size_t(i * H + c)];
  }
  if (cfg_.skip_mode == SkipMode::PassThrough)
    for (int64_t t = 0; t < N; ++t)
      if (a.choice[size_t(t)] >= E)
        for (int64_t c = 0; c < H; ++c) a.M[size_t(t * H + c)] = a.w[size_t(t)] * a.y2[size_t(t * H + c)];
  r = a.r1;
  ops::residual_merge(r.data(), a.M.data(), p.pm_hs, p.pm_hb, p.pm_rs, p.pm_rb, N, H);
}

void TrainModel::forward(const int32_t* ids, int64_t B, int64_t T,
                         const std::vector<std::vector<int32_t>>* doc_starts) {
  TrainActs& A = *acts_;
  const int64_t N = B * T, H = cfg_.hidden, V = cfg_.vocab_size;
  const float eps = float(cfg_.norm_eps);
  A.B = B;
  A.T = T;
  A.pairs.resize(size_t(cfg_.n_pairs));
  // Independent sequences: the B rows of T tokens, or each document inside them.
  A.segs.clear();
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int32_t> starts = {0};
    if (doc_starts) {
      ZAYA_CHECK(int64_t(doc_starts->size()) == B, "TrainModel: ", doc_starts->size(), " document lists for ", B,
                 " sequences");
      starts = (*doc_starts)[size_t(b)];
      ZAYA_CHECK(!starts.empty() && starts[0] == 0, "TrainModel: document starts must begin with 0");
    }
    for (size_t k = 0; k < starts.size(); ++k) {
      int64_t s0 = starts[k], s1 = k + 1 < starts.size() ? starts[k + 1] : T;
      ZAYA_CHECK(s0 < s1 && s1 <= T, "TrainModel: document starts must increase inside [0, ", T, ")");
      A.segs.emplace_back(b * T + s0, s1 - s0);
    }
  }
  A.pos.resize(size_t(N));
  A.seg_start.assign(size_t(N), 0);
  for (auto [s0, len] : A.segs) {
    A.seg_start[size_t(s0)] = 1;
    for (int64_t i = 0; i < len; ++i) A.pos[size_t(s0 + i)] = i;
  }
  choice_.assign(size_t(N * cfg_.n_pairs), 0);
  GlobalView gw = TrainImpl::global(*this, w_);

  A.emb.resize(size_t(N * H));
  ops::embedding_forward(A.emb.data(), gw.embed, ids, N, H);
  std::vector<float> r(size_t(N * H));
  ops::residual_input(r.data(), A.emb.data(), gw.in_scale, gw.in_bias, N, H);
  for (int j = 0; j < cfg_.n_pairs; ++j) {
    forward_pair(j, r);
    if (recompute_) A.pairs[size_t(j)].release();  // keep r0 and the router state a only
  }
  A.r_final = r;
  A.y_final.resize(size_t(N * H));
  ops::rmsnorm_forward(A.y_final.data(), A.r_final.data(), gw.final_norm, N, H, eps);
  logits_.resize(size_t(N * V));
  const float* head = cfg_.tie_embeddings ? gw.embed : param("lm_head.weight");
  ops::linear_forward(logits_.data(), A.y_final.data(), head, static_cast<const float*>(nullptr), N, V, H);
}

}  // namespace zaya
