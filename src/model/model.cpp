// Model loading, the layer loop shared by inference and training (spec §2.2 residual stream, §2.4),
// the LM head, and the inference forward over decode states.
#include "model/model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/fileutil.h"
#include "ops/rope.h"

namespace zaya {


std::unique_ptr<Model> Model::load(const std::string& dir, Backend& be, const LoadOptions& opt) {
  std::string cfg_path = path_join(dir, "config.json");
  if (!file_exists(cfg_path)) throw_error(dir, ": no config.json (expected a Hugging Face model directory)");
  ModelConfig cfg = load_config(cfg_path);
  if (opt.skip_mode) cfg.skip_mode = *opt.skip_mode;
  if (opt.router_norm_eps) cfg.router_norm_eps = *opt.router_norm_eps;
  cfg.validate();
  auto m = std::unique_ptr<Model>(new Model(cfg, be));
  m->ckpt_ = std::make_unique<Checkpoint>(dir);
  // The bf16 backend stores its matrices in bf16 (converted once, here); cpu-f32 keeps them as stored.
  const DType mdt = be.precision() == Precision::BF16 ? DType::BF16 : DType::F32;
  bind_checkpoint(m->cfg_, *m->ckpt_, be, mdt, m->p_, m->owned_);
  m->set_rope_tables();
  if (!opt.quiet)
    std::fprintf(stderr, "note: %s\nnote: %s\nnote: backend %s\n", m->cfg_.summary().c_str(),
                 m->skip_slot_note().c_str(), be.describe().c_str());
  return m;
}

std::unique_ptr<Model> Model::create(const ModelConfig& cfg, Backend& be) {
  cfg.validate();
  auto m = std::unique_ptr<Model>(new Model(cfg, be));
  m->store_ = std::make_unique<ParamStore>(m->cfg_, be, m->p_);
  m->set_rope_tables();
  return m;
}

void Model::set_rope_tables() {
  inv_freq_.clear();
  for (auto& p : cfg_.pairs) {
    std::vector<float> f = ops::rope_inv_freq(p.rope_theta, p.rot_dim);
    inv_freq_.emplace_back(be_, f.size() * 4);
    be_.upload(inv_freq_.back().data(), f.data(), f.size() * 4);
  }
}

void Model::set_rope_theta(double theta) {
  for (auto& p : cfg_.pairs)
    if (p.window == 0) p.rope_theta = theta;
  set_rope_tables();
}

size_t Model::touch_weights() const {
  if (!ckpt_) return 0;
  size_t bytes = 0;
  volatile uint8_t sink = 0;
  for (auto& [name, t] : ckpt_->tensors()) {
    for (size_t off = 0; off < t.nbytes; off += 4096) sink = sink + t.data[off];
    bytes += t.nbytes;
  }
  return bytes;
}

std::string Model::skip_slot_note() const {
  if (!cfg_.use_skip_slot) return "router has no skip slot";
  // The skip slot S can win only if p_S + β_S > max_e (p_e + β_e); its best case is p_S → 1, so it
  // is unreachable when 1 + β_S ≤ max_e β_e (spec §4.3).
  int reachable = 0;
  for (auto& p : p_.pairs) {
    std::vector<float> b(static_cast<size_t>(cfg_.n_slots()));
    be_.download(b.data(), p.moe.beta.f(), b.size() * 4);
    float best = *std::max_element(b.begin(), b.end() - 1);
    reachable += 1.0f + b.back() > best;
  }
  std::ostringstream os;
  os << "skip slot reachable in " << reachable << " of " << cfg_.n_pairs << " MoE layers; skip semantics: "
     << (cfg_.skip_mode == SkipMode::Zero ? "zero output (upstream)" : "pass-through w·y (Zyphra fork)");
  if (reachable == 0) os << " (both semantics give identical results)";
  return os.str();
}

void Model::pair_forward(int j, SeqBatch& sb, const float* r_in, float* r_out, PairActs& a,
                         const float* a_prev) const {
  const PairParams& p = p_.pairs[size_t(j)];
  const int64_t T = sb.T, H = cfg_.hidden;
  attention_forward(be_, cfg_, j, p.attn, inv_freq_[size_t(j)].as<float>(), sb, r_in, a);
  be_.residual_merge(a.r1, r_in, a.ao, p.post_attn.hs.f(), p.post_attn.hb.f(), p.post_attn.rs.f(),
                     p.post_attn.rb.f(), T, H);
  moe_forward(be_, cfg_, j, p.moe, T, a, a_prev);
  be_.residual_merge(r_out, a.r1, a.M, p.post_mlp.hs.f(), p.post_mlp.hb.f(), p.post_mlp.rs.f(), p.post_mlp.rb.f(), T,
                     H);
}

void Model::run_pairs(SeqBatch& sb, const int32_t* ids, float* emb, float* const* resid,
                      std::vector<PairActs>& acts) const {
  be_.embedding_forward(emb, p_.embed.m, ids, sb.T);
  be_.residual_input(resid[0], emb, p_.in_scale.f(), p_.in_bias.f(), sb.T, cfg_.hidden);
  for (int j = 0; j < cfg_.n_pairs; ++j)
    pair_forward(j, sb, resid[j], resid[j + 1], acts[size_t(j)], j > 0 ? acts[size_t(j - 1)].a : nullptr);
}

void Model::head_forward(const float* rows, int64_t n, float* normed, float* logits) const {
  be_.rmsnorm_forward(normed, rows, p_.final_norm.f(), n, cfg_.hidden, float(cfg_.norm_eps));
  be_.linear_forward(logits, cfg_.vocab_size, normed, cfg_.hidden, p_.lm_head.m, nullptr, n);
}

// Inference buffers for T rows: one set of pair activations shared by every pair (in-place ops
// allowed), two alternating router states (EDA reads the previous pair's), per-pair choices.
void Model::reserve(Workspace& ws, int64_t T, int64_t head_rows) const {
  if (T <= ws.capacity && head_rows <= ws.head_rows) return;
  T = std::max(T, ws.capacity);
  head_rows = std::max({head_rows, ws.head_rows, T});
  const int64_t H = cfg_.hidden, Dr = cfg_.router_hidden, P = cfg_.n_pairs;
  ws.arena.clear();
  PairActs shared;
  plan_pair_acts(ws.arena, "pair", cfg_, T, false, shared);
  float* a_alt = nullptr;
  ws.arena.plan("pair.router.a_next", T * Dr, &a_alt);
  std::vector<int32_t*> choices(static_cast<size_t>(P));
  for (int j = 0; j < P; ++j) ws.arena.plan("pair" + std::to_string(j) + ".router.choice", T, &choices[size_t(j)]);
  ws.arena.plan("resid", T * H, &ws.resid);
  ws.arena.plan("embed", T * H, &ws.emb);
  ws.arena.plan("final_rows", head_rows * H, &ws.final_rows);
  if (!be_.host_memory()) ws.arena.plan("logits", head_rows * cfg_.vocab_size, &ws.logits);
  ws.arena.plan("ids", T, &ws.ids);
  ws.arena.plan("pos", T, &ws.pos);
  ws.arena.plan("last_rows", T, &ws.last);
  ws.arena.allocate(be_);
  ws.acts.assign(size_t(P), shared);
  for (int j = 0; j < P; ++j) {
    PairActs& a = ws.acts[size_t(j)];
    a.r1 = ws.resid;
    a.g1 = a.g1pre;
    a.g2 = a.g2pre;
    if (j % 2 == 1) a.a = a_alt;
    a.choice = choices[size_t(j)];
  }
  ws.capacity = T;
  ws.head_rows = head_rows;
}

void Model::forward(std::span<const SeqChunk> batch, float* logits, Workspace& ws, const ForwardOptions& opt) const {
  const int64_t H = cfg_.hidden, V = cfg_.vocab_size;
  int64_t T = 0;
  for (auto& s : batch) {
    ZAYA_CHECK(s.n > 0, "forward: a sequence has no new tokens");
    ZAYA_CHECK(s.state && s.state->layers.size() == size_t(cfg_.n_pairs), "forward: a sequence has no state");
    ZAYA_CHECK(cfg_.max_position_embeddings <= 0 || s.state->pos + s.n <= cfg_.max_position_embeddings,
               "forward: position ", s.state->pos + s.n - 1, " is beyond max_position_embeddings (",
               cfg_.max_position_embeddings, ")");
    T += s.n;
  }
  if (T == 0) return;
  const int64_t rows = opt.all_logits ? T : int64_t(batch.size());
  reserve(ws, T, rows);
  ws.ids_host.resize(size_t(T));
  ws.pos_host.resize(size_t(T));
  ws.last_host.clear();
  ws.sb.seqs.clear();
  ws.sb.states.clear();
  int64_t t = 0;
  for (auto& s : batch) {
    s.state->ensure(s.n);
    ws.sb.seqs.push_back({t, s.n, s.state->pos});
    ws.sb.states.push_back(s.state);
    for (int64_t i = 0; i < s.n; ++i, ++t) {
      const int32_t id = s.ids[i];
      ZAYA_CHECK(id >= 0 && id < V, "token id ", id, " is outside the vocabulary [0, ", V, ")");
      ws.ids_host[size_t(t)] = id;
      ws.pos_host[size_t(t)] = s.state->pos + i;
    }
    ws.last_host.push_back(t - 1);
  }
  be_.upload(ws.ids, ws.ids_host.data(), size_t(T) * 4);
  be_.upload(ws.pos, ws.pos_host.data(), size_t(T) * 8);
  be_.upload(ws.last, ws.last_host.data(), ws.last_host.size() * 8);
  ws.sb.T = T;
  ws.sb.pos = ws.pos;
  std::vector<float*> resid(size_t(cfg_.n_pairs + 1), ws.resid);
  run_pairs(ws.sb, ws.ids, ws.emb, resid.data(), ws.acts);
  for (auto& s : batch) s.state->pos += s.n;
  if (opt.expert_choice) {
    std::vector<int32_t> c(static_cast<size_t>(T));
    for (int j = 0; j < cfg_.n_pairs; ++j) {
      be_.download(c.data(), ws.acts[size_t(j)].choice, size_t(T) * 4);
      for (int64_t r = 0; r < T; ++r) opt.expert_choice[r * cfg_.n_pairs + j] = c[size_t(r)];
    }
  }
  // Final norm and LM head, on every row or on each sequence's last row.
  const float* src = ws.resid;
  if (!opt.all_logits) {
    be_.gather_rows(ws.final_rows, ws.resid, ws.last, rows, H);
    src = ws.final_rows;
  }
  float* out = be_.host_memory() ? logits : ws.logits;
  head_forward(src, rows, ws.final_rows, out);
  if (!be_.host_memory()) be_.download(logits, ws.logits, size_t(rows * V) * 4);
}

}  // namespace zaya
