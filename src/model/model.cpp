// Model loading and the top-level forward pass (spec §2.2 residual stream, §2.4 layer loop).
#include "model/model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/fileutil.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"

namespace zaya {

std::unique_ptr<Model> Model::load(const std::string& dir, const LoadOptions& opt) {
  auto m = std::unique_ptr<Model>(new Model());
  std::string cfg_path = path_join(dir, "config.json");
  if (!file_exists(cfg_path)) throw_error(dir, ": no config.json (expected a Hugging Face model directory)");
  m->cfg_ = load_config(cfg_path);
  if (opt.skip_mode) m->cfg_.skip_mode = *opt.skip_mode;
  if (opt.router_norm_eps) m->cfg_.router_norm_eps = *opt.router_norm_eps;
  m->cfg_.validate();
  m->ckpt_ = std::make_unique<Checkpoint>(dir);
  m->w_ = load_weights(m->cfg_, *m->ckpt_);
  for (auto& p : m->cfg_.pairs) m->inv_freq_.push_back(ops::rope_inv_freq(p.rope_theta, p.rot_dim));
  if (!opt.quiet) std::fprintf(stderr, "note: %s\nnote: %s\n", m->cfg_.summary().c_str(), m->skip_slot_note().c_str());
  return m;
}

size_t Model::touch_weights() const {
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
  for (auto& p : w_.pairs) {
    const Vec& b = p.moe.balancing_bias;
    float best = *std::max_element(b.begin(), b.end() - 1);
    reachable += 1.0f + b.back() > best;
  }
  std::ostringstream os;
  os << "skip slot reachable in " << reachable << " of " << cfg_.n_pairs << " MoE layers; skip semantics: "
     << (cfg_.skip_mode == SkipMode::Zero ? "zero output (upstream)" : "pass-through w·y (Zyphra fork)");
  if (reachable == 0) os << " (both semantics give identical results)";
  return os.str();
}

void Model::forward(std::span<const SeqChunk> batch, float* logits, Workspace& ws, const ForwardOptions& opt) const {
  const int64_t H = cfg_.hidden, V = cfg_.vocab_size;
  int64_t T = 0;
  for (auto& s : batch) {
    ZAYA_CHECK(s.n > 0, "forward: a sequence has no new tokens");
    T += s.n;
  }
  if (T == 0) return;
  ws.reserve(cfg_, T);
  // Embedding lookup and positions.
  int64_t t = 0;
  for (auto& s : batch) {
    for (int64_t i = 0; i < s.n; ++i, ++t) {
      int32_t id = s.ids[i];
      ZAYA_CHECK(id >= 0 && id < V, "token id ", id, " is outside the vocabulary [0, ", V, ")");
      ops::mat_row_f32(w_.embed, id, ws.h + t * H);
      ws.pos[size_t(t)] = s.state->pos + i;
    }
  }
  ops::residual_input(ws.resid, ws.h, w_.in_scale.data(), w_.in_bias.data(), T, H);
  for (int j = 0; j < cfg_.n_pairs; ++j) {
    const PairWeights& p = w_.pairs[size_t(j)];
    ops::rmsnorm_forward(ws.y, ws.resid, p.attn.input_norm.data(), T, H, float(cfg_.norm_eps));
    attention_block(j, batch, ws, T);
    ops::residual_merge(ws.resid, ws.h, p.post_attn.hs.data(), p.post_attn.hb.data(), p.post_attn.rs.data(),
                        p.post_attn.rb.data(), T, H);
    ops::rmsnorm_forward(ws.y, ws.resid, p.moe.input_norm.data(), T, H, float(cfg_.norm_eps));
    moe_block(j, ws, T, j > 0, opt.expert_choice ? opt.expert_choice + j : nullptr);
    ops::residual_merge(ws.resid, ws.h, p.post_mlp.hs.data(), p.post_mlp.hb.data(), p.post_mlp.rs.data(),
                        p.post_mlp.rb.data(), T, H);
  }
  for (auto& s : batch) s.state->pos += s.n;
  // Final norm and tied LM head, on every row or on each sequence's last row.
  int64_t rows = 0;
  if (opt.all_logits) {
    ops::rmsnorm_forward(ws.final_rows, ws.resid, w_.final_norm.data(), T, H, float(cfg_.norm_eps));
    rows = T;
  } else {
    int64_t end = 0;
    for (auto& s : batch) {
      end += s.n;
      std::memcpy(ws.final_rows + rows * H, ws.resid + (end - 1) * H, sizeof(float) * size_t(H));
      ++rows;
    }
    ops::rmsnorm_forward(ws.final_rows, ws.final_rows, w_.final_norm.data(), rows, H, float(cfg_.norm_eps));
  }
  ops::matmul_forward(logits, ws.final_rows, w_.lm_head, rows);
}

}  // namespace zaya
