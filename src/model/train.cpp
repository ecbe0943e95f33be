// Training on the one model definition: parameter arenas (init, load, save), the forward that keeps
// every pair's activations (in arenas sized once per batch shape), the cross-entropy, and the explicit
// backward, pair by pair in reverse (the sublayers' backward functions are in attention.cpp, moe.cpp).
// The router's weight gradient flows only through the chosen slot's unbiased probability; the
// balancing biases get none (the Balancer moves them from the token loads).
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "model/model.h"

namespace zaya {

struct Model::Train {
  int64_t N = 0;          // rows the buffers are sized for (B·T)
  bool recompute = false;
  ActArena arena, garena;
  std::vector<PairActs> acts;
  PairActs shared;            // recomputation: the buffers every pair shares
  std::vector<float*> resid;  // [P + 1] × [N, H]
  float *emb = nullptr, *y_final = nullptr, *logits = nullptr;
  int32_t* ids = nullptr;
  int64_t* pos = nullptr;
  PairGrads g;
  float *dr_a = nullptr, *dr_b = nullptr, *dyf = nullptr, *demb = nullptr;
  SeqBatch sb;
  std::vector<int64_t> pos_host;
};

// Defined here, where Model::Train is complete.
Model::Model(const ModelConfig& cfg, Backend& be) : cfg_(cfg), be_(be) {}
Model::~Model() = default;

namespace {
void require_training(const std::unique_ptr<ParamStore>& s) {
  ZAYA_CHECK(s, "this model was loaded for inference; training needs Model::create");
}
}  // namespace

const std::vector<TrainTensor>& Model::tensors() const {
  require_training(store_);
  return store_->tensors();
}

float* Model::param(const std::string& name) {
  require_training(store_);
  const TrainTensor* t = store_->find(name);
  ZAYA_CHECK(t, "model: no tensor named '", name, "'");
  return store_->values() + t->offset;
}

float* Model::grad(const std::string& name) {
  require_training(store_);
  const TrainTensor* t = store_->find(name);
  ZAYA_CHECK(t, "model: no tensor named '", name, "'");
  return store_->grads() + t->offset;
}

std::vector<float> Model::params_host() const {
  require_training(store_);
  std::vector<float> v(static_cast<size_t>(store_->size()));
  be_.download(v.data(), store_->values(), v.size() * 4);
  return v;
}

std::vector<float> Model::grads_host() const {
  require_training(store_);
  std::vector<float> v(static_cast<size_t>(store_->size()));
  be_.download(v.data(), store_->grads(), v.size() * 4);
  return v;
}

void Model::init(const InitOptions& opt) {
  require_training(store_);
  std::vector<float> host(static_cast<size_t>(store_->size()), 0.0f);
  for (auto& t : store_->tensors()) {
    if (cfg_.expert_count > 0 && t.name.find("mlp.experts.") != std::string::npos) {
      // Expert parallelism: this process's experts are a slice of the whole stacked tensor, drawn as the
      // single-process model draws it.
      std::vector<int64_t> whole = t.shape;
      whole[0] = cfg_.n_experts;
      const int64_t per = t.numel / t.shape[0];
      init_tensor_range(cfg_, t.name, whole, opt, cfg_.expert_first * per, t.numel, host.data() + t.offset);
      continue;
    }
    init_tensor_range(cfg_, t.name, t.shape, opt, 0, t.numel, host.data() + t.offset);
  }
  be_.upload(store_->values(), host.data(), host.size() * 4);
}

void Model::load_params(const Checkpoint& ck) {
  require_training(store_);
  store_->load(ck, cfg_);
}

void Model::save(const std::string& dir, const WholeTensors* whole) const {
  require_training(store_);
  store_->save(dir, cfg_, whole);
}

void Model::set_recompute(bool on) { recompute_ = on; }

const float* Model::router_probs(int j) const {
  ZAYA_CHECK(train_ && j >= 0 && j < cfg_.n_pairs, "router_probs: no training step has run");
  return train_->acts[size_t(j)].p;
}

std::vector<float> Model::logits() const {
  ZAYA_CHECK(train_, "logits: no training step has run");
  std::vector<float> v(static_cast<size_t>(train_->N * cfg_.vocab_size));
  be_.download(v.data(), train_->logits, v.size() * 4);
  return v;
}

const ActArena& Model::train_arena() const {
  ZAYA_CHECK(train_, "train_arena: no training step has run");
  return train_->arena;
}

double Model::step(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T, bool do_backward,
                   const std::vector<std::vector<int32_t>>* doc_starts, bool accumulate, double grad_scale) {
  require_training(store_);
  const int64_t N = B * T, V = cfg_.vocab_size, H = cfg_.hidden, P = cfg_.n_pairs;
  ZAYA_CHECK(B > 0 && T > 0, "training batch: empty (", B, " x ", T, ")");
  ZAYA_CHECK(cfg_.max_position_embeddings <= 0 || T <= cfg_.max_position_embeddings, "training batch: length ", T,
             " is beyond max_position_embeddings (", cfg_.max_position_embeddings, ")");
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    ZAYA_CHECK(ids[i] >= 0 && ids[i] < V, "training batch: token id ", ids[i], " outside the vocabulary");
    ZAYA_CHECK(targets[i] == -100 || (targets[i] >= 0 && targets[i] < V), "training batch: target ", targets[i],
               " outside the vocabulary");
    count += targets[i] != -100;
  }
  // Buffers for N rows (planned once per batch shape and recomputation setting).
  if (!train_ || train_->N != N || train_->recompute != recompute_) {
    train_ = std::make_unique<Train>();
    Train& R = *train_;
    R.N = N;
    R.recompute = recompute_;
    R.acts.resize(size_t(P));
    R.resid.resize(size_t(P + 1));
    if (recompute_) {  // one shared set; per pair only the router state, probabilities and choices
      plan_pair_acts(R.arena, "recompute", cfg_, N, true, R.shared);
      for (int j = 0; j < P; ++j) {
        const std::string pre = "pair" + std::to_string(j);
        R.arena.plan(pre + ".router.a", N * cfg_.router_hidden, &R.acts[size_t(j)].a);
        R.arena.plan(pre + ".router.probs", N * cfg_.n_slots(), &R.acts[size_t(j)].p);
        R.arena.plan(pre + ".router.choice", N, &R.acts[size_t(j)].choice);
      }
    } else {
      for (int j = 0; j < P; ++j) plan_pair_acts(R.arena, "pair" + std::to_string(j), cfg_, N, true, R.acts[size_t(j)]);
    }
    for (int j = 0; j <= P; ++j) R.arena.plan("resid" + std::to_string(j), N * H, &R.resid[size_t(j)]);
    R.arena.plan("embed", N * H, &R.emb);
    R.arena.plan("final_norm", N * H, &R.y_final);
    R.arena.plan("logits", N * V, &R.logits);
    R.arena.plan("ids", N, &R.ids);
    R.arena.plan("pos", N, &R.pos);
    R.arena.allocate(be_);
    if (recompute_)
      for (int j = 0; j < P; ++j) {
        PairActs& a = R.acts[size_t(j)];
        float *sa = a.a, *sp = a.p;
        int32_t* sc = a.choice;
        a = R.shared;
        a.a = sa;
        a.p = sp;
        a.choice = sc;
      }
    plan_pair_grads(R.garena, cfg_, N, R.g);
    R.garena.plan("grad.resid_a", N * H, &R.dr_a);
    R.garena.plan("grad.resid_b", N * H, &R.dr_b);
    R.garena.plan("grad.final_norm", N * H, &R.dyf);
    R.garena.plan("grad.embed", N * H, &R.demb);
    R.garena.allocate(be_);
  }
  Train& R = *train_;
  // Independent sequences: the B rows of T tokens, or each document inside them.
  R.sb.seqs.clear();
  R.sb.states.clear();
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int32_t> starts = {0};
    if (doc_starts) {
      ZAYA_CHECK(int64_t(doc_starts->size()) == B, "training batch: ", doc_starts->size(), " document lists for ", B,
                 " sequences");
      starts = (*doc_starts)[size_t(b)];
      ZAYA_CHECK(!starts.empty() && starts[0] == 0, "training batch: document starts must begin with 0");
    }
    for (size_t k = 0; k < starts.size(); ++k) {
      const int64_t s0 = starts[k], s1 = k + 1 < starts.size() ? starts[k + 1] : T;
      ZAYA_CHECK(s0 < s1 && s1 <= T, "training batch: document starts must increase inside [0, ", T, ")");
      R.sb.seqs.push_back({b * T + s0, s1 - s0, 0});
    }
  }
  R.pos_host.resize(size_t(N));
  for (auto& s : R.sb.seqs)
    for (int64_t i = 0; i < s.len; ++i) R.pos_host[size_t(s.row + i)] = i;
  be_.upload(R.ids, ids, size_t(N) * 4);
  be_.upload(R.pos, R.pos_host.data(), size_t(N) * 8);
  R.sb.T = N;
  R.sb.pos = R.pos;

  run_pairs(R.sb, R.ids, R.emb, R.resid.data(), R.acts);
  head_forward(R.resid[size_t(P)], N, R.y_final, R.logits);
  choice_.resize(size_t(N * P));
  {
    std::vector<int32_t> c(static_cast<size_t>(N));
    for (int j = 0; j < P; ++j) {
      be_.download(c.data(), R.acts[size_t(j)].choice, size_t(N) * 4);
      for (int64_t r = 0; r < N; ++r) choice_[size_t(r * P + j)] = c[size_t(r)];
    }
  }
  // cross_entropy writes d(loss)/d(logits) over the logits (row by row, in place).
  const double scale = count ? grad_scale / double(count) : 0.0;
  const double sum = be_.cross_entropy(do_backward ? R.logits : nullptr, R.logits, targets, N, V, scale);
  last_count_ = count;
  if (do_backward) backward(R.ids, accumulate);
  return count ? sum / double(count) : 0.0;
}

void Model::backward(const int32_t* ids, bool accumulate) {
  Train& R = *train_;
  const int64_t N = R.N, H = cfg_.hidden, V = cfg_.vocab_size, P = cfg_.n_pairs;
  const float eps = float(cfg_.norm_eps);
  if (!accumulate) be_.zero(store_->grads(), size_t(store_->size()) * 4);
  PairGrads& g = R.g;
  // LM head (tied: into the embedding's gradient) and final norm.
  be_.zero(R.dyf, size_t(N * H) * 4);
  be_.linear_backward(R.dyf, H, p_.lm_head.g, nullptr, R.logits, V, R.y_final, H, p_.lm_head.m, N);
  be_.zero(R.dr_a, size_t(N * H) * 4);
  be_.rmsnorm_backward(R.dr_a, p_.final_norm.g, R.dyf, R.resid[size_t(P)], p_.final_norm.f(), N, H, eps);
  g.carry_valid = false;
  float* dr = R.dr_a;     // d loss / d (output of pair j)
  float* dr_in = R.dr_b;  // d loss / d (input of pair j)
  for (int j = int(P) - 1; j >= 0; --j) {
    PairActs& a = R.acts[size_t(j)];
    const float* a_prev = j > 0 ? R.acts[size_t(j - 1)].a : nullptr;
    if (R.recompute) pair_forward(j, R.sb, R.resid[size_t(j)], R.resid[size_t(j + 1)], a, a_prev);
    const PairParams& p = p_.pairs[size_t(j)];
    // Post-MoE merge: r2 = (M + hb)⊙hs + (r1 + rb)⊙rs.
    be_.zero(g.dM, size_t(N * H) * 4);
    be_.zero(g.dr1, size_t(N * H) * 4);
    be_.residual_merge_backward(g.dM, g.dr1, p.post_mlp.hs.g, p.post_mlp.hb.g, p.post_mlp.rs.g, p.post_mlp.rb.g, dr,
                                a.M, a.r1, p.post_mlp.hs.f(), p.post_mlp.hb.f(), p.post_mlp.rs.f(), p.post_mlp.rb.f(),
                                N, H);
    moe_backward(be_, cfg_, j, p.moe, N, a, a_prev, g);
    // Post-attention merge: r1 = (A + hb)⊙hs + (r0 + rb)⊙rs.
    be_.zero(g.dA, size_t(N * H) * 4);
    be_.zero(dr_in, size_t(N * H) * 4);
    be_.residual_merge_backward(g.dA, dr_in, p.post_attn.hs.g, p.post_attn.hb.g, p.post_attn.rs.g, p.post_attn.rb.g,
                                g.dr1, a.ao, R.resid[size_t(j)], p.post_attn.hs.f(), p.post_attn.hb.f(),
                                p.post_attn.rs.f(), p.post_attn.rb.f(), N, H);
    attention_backward(be_, cfg_, j, p.attn, inv_freq_[size_t(j)].as<float>(), R.sb, R.resid[size_t(j)], a, g, dr_in);
    std::swap(dr, dr_in);
  }
  // Embedding: r0 = (e + b) ⊙ s; the lookup sends no gradient to the padding row.
  be_.zero(R.demb, size_t(N * H) * 4);
  be_.residual_input_backward(R.demb, p_.in_scale.g, p_.in_bias.g, dr, R.emb, p_.in_scale.f(), p_.in_bias.f(), N, H);
  be_.embedding_backward(p_.embed.g, R.demb, ids, N, H, cfg_.pad_id);
}

}  // namespace zaya
