// Tensor-name tables of both checkpoint layouts (spec §6.1, §6.2, mapping §6.3) and loading.
// One table (bindings) drives loading, validation and checkpoint_tensor_specs, so the two layouts
// cannot drift apart.
#include "model/weights.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

#include "core/error.h"

namespace zaya {

namespace {

using Shape = std::vector<int64_t>;

struct Binding {
  std::string native, legacy;  // tensor name in each layout
  Shape shape;
  Mat* mat = nullptr;  // exactly one target
  Vec* vec = nullptr;
};

std::string L(int i) { return "model.layers." + std::to_string(i) + "."; }

void add_res(std::vector<Binding>& b, const std::string& nat, const std::string& leg, ResidualScale& r, int64_t H) {
  b.push_back({nat + "hidden_states_scale", leg + "hidden_states_scale", {H}, nullptr, &r.hs});
  b.push_back({nat + "hidden_states_bias", leg + "hidden_states_bias", {H}, nullptr, &r.hb});
  b.push_back({nat + "residual_scale", leg + "residual_scale", {H}, nullptr, &r.rs});
  b.push_back({nat + "residual_bias", leg + "residual_bias", {H}, nullptr, &r.rb});
}

// Everything except the stacked/per-expert matrices and lm_head.
std::vector<Binding> bindings(const ModelConfig& c, ModelWeights& w) {
  const int64_t H = c.hidden, V = c.vocab_size, d = c.head_dim, C = c.conv_channels(), Dr = c.router_hidden;
  const int64_t nq = c.nq, nk = c.nk, vh = c.value_half(), S = c.n_slots();
  std::vector<Binding> b;
  b.push_back({"model.embed_tokens.weight", "model.embed_tokens.weight", {V, H}, &w.embed, nullptr});
  b.push_back({"model.input_hidden_states_scale", "model.layers.0.res_scale.hidden_states_scale", {H}, nullptr,
               &w.in_scale});
  b.push_back({"model.input_hidden_states_bias", "model.layers.0.res_scale.hidden_states_bias", {H}, nullptr,
               &w.in_bias});
  b.push_back({"model.norm.weight", "model.final_norm.weight", {H}, nullptr, &w.final_norm});
  w.pairs.resize(size_t(c.n_pairs));
  for (int j = 0; j < c.n_pairs; ++j) {
    PairWeights& p = w.pairs[size_t(j)];
    const std::string n = L(j), la = L(2 * j), lm = L(2 * j + 1);
    const std::string na = n + "self_attn.qkv_proj.", ca = la + "self_attn.qkv.";
    AttentionWeights& a = p.attn;
    b.push_back({n + "input_layernorm.weight", la + "input_norm.weight", {H}, nullptr, &a.input_norm});
    b.push_back({na + "q_proj.weight", ca + "linear_q.weight", {nq * d, H}, &a.q, nullptr});
    b.push_back({na + "k_proj.weight", ca + "linear_k.weight", {nk * d, H}, &a.k, nullptr});
    b.push_back({na + "v_proj_current.weight", ca + "val_proj1.weight", {vh, H}, &a.v_cur, nullptr});
    b.push_back({na + "v_proj_delayed.weight", ca + "val_proj2.weight", {vh, H}, &a.v_del, nullptr});
    b.push_back({na + "conv_qk_depthwise.weight", ca + "conv_qk.0.weight", {C, 1, c.cca_time0}, nullptr, &a.conv0_w});
    b.push_back({na + "conv_qk_depthwise.bias", ca + "conv_qk.0.bias", {C}, nullptr, &a.conv0_b});
    b.push_back({na + "conv_qk_grouped.weight", ca + "conv_qk.1.weight", {C, d, c.cca_time1}, nullptr, &a.conv1_wt});
    b.push_back({na + "conv_qk_grouped.bias", ca + "conv_qk.1.bias", {C}, nullptr, &a.conv1_b});
    b.push_back({n + "self_attn.qk_norm.temp", ca + "temp", {nk}, nullptr, &a.temp});
    b.push_back({n + "self_attn.o_proj.weight", la + "self_attn.o_proj.weight", {H, nq * d}, &a.o, nullptr});
    add_res(b, n + "post_attention_residual_scale.", lm + "res_scale.", p.post_attn, H);
    MoEWeights& m = p.moe;
    const std::string ng = n + "mlp.gate.", lg = lm + "zaya_block.router.";
    b.push_back({n + "post_attention_layernorm.weight", lm + "input_norm.weight", {H}, nullptr, &m.input_norm});
    b.push_back({ng + "down_proj.weight", lg + "down_proj.weight", {Dr, H}, &m.down, nullptr});
    b.push_back({ng + "down_proj.bias", lg + "down_proj.bias", {Dr}, nullptr, &m.down_b});
    if (c.use_eda && j > 0)
      b.push_back({ng + "router_states_scale", lg + "router_states_scale", {Dr}, nullptr, &m.eda_scale});
    b.push_back({ng + "router_mlp.norm.weight", lg + "rmsnorm_eda.weight", {Dr}, nullptr, &m.router_norm});
    b.push_back({ng + "router_mlp.fc1.weight", lg + "router_mlp.0.weight", {Dr, Dr}, &m.fc1, nullptr});
    b.push_back({ng + "router_mlp.fc1.bias", lg + "router_mlp.0.bias", {Dr}, nullptr, &m.fc1_b});
    b.push_back({ng + "router_mlp.fc2.weight", lg + "router_mlp.2.weight", {Dr, Dr}, &m.fc2, nullptr});
    b.push_back({ng + "router_mlp.fc2.bias", lg + "router_mlp.2.bias", {Dr}, nullptr, &m.fc2_b});
    b.push_back({ng + "router_mlp.out_proj.weight", lg + "router_mlp.4.weight", {S, Dr}, &m.out, nullptr});
    b.push_back({ng + "balancing_biases", lg + "balancing_biases", {S}, nullptr, &m.balancing_bias});
    const std::string next = j + 1 < c.n_pairs ? L(2 * j + 2) + "res_scale." : "model.res_scale.";
    add_res(b, n + "post_mlp_residual_scale.", next, p.post_mlp, H);
  }
  return b;
}

// Aliases seen in converted checkpoints (spec §6.3 caveats): the module names are authoritative.
const TensorInfo* find_native(const Checkpoint& ck, const std::string& name) {
  if (auto* t = ck.find(name)) return t;
  auto alias = [&](const std::string& from, const std::string& to) -> const TensorInfo* {
    auto pos = name.find(from);
    if (pos == std::string::npos) return nullptr;
    return ck.find(name.substr(0, pos) + to + name.substr(pos + from.size()));
  };
  if (auto* t = alias("router_mlp.norm.weight", "router_mlp.rmsnorm_eda.weight")) return t;
  if (name == "model.norm.weight") return ck.find("model.final_norm.weight");
  return nullptr;
}

void check_shape(const TensorInfo& t, const Shape& shape) {
  if (t.shape != shape) {
    TensorInfo want;
    want.shape = shape;
    throw_error(t.file, ": tensor '", t.name, "' has shape ", t.shape_str(), ", expected ", want.shape_str());
  }
}

Vec to_vec(const TensorInfo& t) {
  // Copy first: data in a file may be misaligned for its element type.
  std::vector<uint8_t> raw(t.data, t.data + t.nbytes);
  Vec v(size_t(t.numel()));
  try {
    convert_to_f32(t.dtype, raw.data(), v.data(), v.size());
  } catch (const Error& e) {
    throw_error(t.file, ": tensor '", t.name, "': ", e.what());
  }
  for (float x : v)
    if (!std::isfinite(x)) throw_error(t.file, ": tensor '", t.name, "' contains NaN or Inf");
  return v;
}

Mat to_mat(const TensorInfo& t, int64_t rows, int64_t cols, const uint8_t* data, ModelWeights& w) {
  Mat m;
  m.rows = rows;
  m.cols = cols;
  m.dtype = t.dtype;
  size_t esz = dtype_size(t.dtype);
  bool usable = t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16;
  size_t n = size_t(rows) * size_t(cols);
  if (usable && reinterpret_cast<uintptr_t>(data) % esz == 0) {
    m.data = data;
    return m;
  }
  if (usable) {  // misaligned: copy
    auto buf = std::make_unique<uint8_t[]>(n * esz);
    std::memcpy(buf.get(), data, n * esz);
    m.data = buf.get();
    w.owned.push_back(std::move(buf));
    return m;
  }
  // Other dtypes (F64, integers): widen to fp32.
  std::vector<uint8_t> raw(data, data + n * esz);
  auto buf = std::make_unique<uint8_t[]>(n * 4);
  try {
    convert_to_f32(t.dtype, raw.data(), reinterpret_cast<float*>(buf.get()), n);
  } catch (const Error& e) {
    throw_error(t.file, ": tensor '", t.name, "': ", e.what());
  }
  m.data = buf.get();
  m.dtype = DType::F32;
  w.owned.push_back(std::move(buf));
  return m;
}

}  // namespace

ModelWeights load_weights(const ModelConfig& c, const Checkpoint& ck) {
  ModelWeights w;
  const bool native = c.layout == CheckpointLayout::Native;
  auto lookup = [&](const std::string& name) { return native ? find_native(ck, name) : ck.find(name); };
  for (Binding& b : bindings(c, w)) {
    const std::string& name = native ? b.native : b.legacy;
    const TensorInfo* t = lookup(name);
    if (!t) {
      if (b.vec && name.find("balancing_biases") != std::string::npos) {
        // A persistent buffer, but tolerate its absence with the upstream initial value.
        std::fprintf(stderr, "note: %s: '%s' is missing; using β = 0 with β_skip = -1\n", ck.dir().c_str(),
                     name.c_str());
        b.vec->assign(size_t(b.shape[0]), 0.0f);
        if (c.use_skip_slot) b.vec->back() = -1.0f;
        continue;
      }
      throw_error(ck.dir(), ": tensor '", name, "' is missing");
    }
    check_shape(*t, b.shape);
    if (b.mat)
      *b.mat = to_mat(*t, b.shape[0], b.shape[1], t->data, w);
    else
      *b.vec = to_vec(*t);
  }
  // Experts: stacked [E, 2I, H] / [E, H, I] (native) or one matrix per expert (legacy).
  const int64_t H = c.hidden, I = c.expert_inter, E = c.n_experts;
  for (int j = 0; j < c.n_pairs; ++j) {
    MoEWeights& m = w.pairs[size_t(j)].moe;
    m.gate_up.resize(size_t(E));
    m.down_e.resize(size_t(E));
    if (native) {
      const std::string p = L(j) + "mlp.experts.";
      const TensorInfo* gu = ck.find(p + "gate_up_proj");
      const TensorInfo* dn = ck.find(p + "down_proj");
      if (!gu) throw_error(ck.dir(), ": tensor '", p, "gate_up_proj' is missing");
      if (!dn) throw_error(ck.dir(), ": tensor '", p, "down_proj' is missing");
      check_shape(*gu, {E, 2 * I, H});
      check_shape(*dn, {E, H, I});
      for (int64_t e = 0; e < E; ++e) {
        size_t es = dtype_size(gu->dtype), ed = dtype_size(dn->dtype);
        m.gate_up[size_t(e)] = to_mat(*gu, 2 * I, H, gu->data + size_t(e) * size_t(2 * I * H) * es, w);
        m.down_e[size_t(e)] = to_mat(*dn, H, I, dn->data + size_t(e) * size_t(H * I) * ed, w);
      }
    } else {
      for (int64_t e = 0; e < E; ++e) {
        const std::string p = L(2 * j + 1) + "zaya_block.experts.local_experts." + std::to_string(e) + ".";
        const TensorInfo& f1 = ck.require(p + "linear_fc1.weight", {2 * I, H});
        const TensorInfo& f2 = ck.require(p + "linear_fc2.weight", {H, I});
        m.gate_up[size_t(e)] = to_mat(f1, 2 * I, H, f1.data, w);
        m.down_e[size_t(e)] = to_mat(f2, H, I, f2.data, w);
      }
    }
  }
  // LM head: a stored lm_head.weight is used if present, else the tied embedding.
  if (const TensorInfo* lm = ck.find("lm_head.weight")) {
    check_shape(*lm, {c.vocab_size, H});
    w.lm_head = to_mat(*lm, c.vocab_size, H, lm->data, w);
  } else if (c.tie_embeddings) {
    w.lm_head = w.embed;
  } else {
    throw_error(ck.dir(), ": tensor 'lm_head.weight' is missing and tie_word_embeddings is false");
  }
  // Derived forms: grouped conv weight per tap, effective key temperature.
  const int C = c.conv_channels(), d = c.head_dim, k1 = c.cca_time1;
  for (PairWeights& p : w.pairs) {
    Vec src = std::move(p.attn.conv1_wt);
    p.attn.conv1_wt.assign(size_t(k1) * C * d, 0.0f);
    for (int ch = 0; ch < C; ++ch)
      for (int jj = 0; jj < d; ++jj)
        for (int b = 0; b < k1; ++b)
          p.attn.conv1_wt[(size_t(b) * C + ch) * d + jj] = src[(size_t(ch) * d + jj) * k1 + b];
    if (c.clamp_temp)
      for (float& t : p.attn.temp) t = std::exp(std::min(std::max(t, 1e-7f), 2.0f));
  }
  return w;
}

std::vector<std::pair<std::string, std::string>> native_to_legacy_names(const ModelConfig& c) {
  ModelWeights scratch;
  std::vector<std::pair<std::string, std::string>> out;
  for (Binding& b : bindings(c, scratch)) out.emplace_back(b.native, b.legacy);
  return out;
}

std::string legacy_expert_name(int j, int e, bool fc1) {
  return L(2 * j + 1) + "zaya_block.experts.local_experts." + std::to_string(e) +
         (fc1 ? ".linear_fc1.weight" : ".linear_fc2.weight");
}

std::vector<TensorSpec> checkpoint_tensor_specs(const ModelConfig& c, CheckpointLayout layout) {
  ModelWeights scratch;
  std::vector<TensorSpec> out;
  const bool native = layout == CheckpointLayout::Native;
  for (Binding& b : bindings(c, scratch)) out.push_back({native ? b.native : b.legacy, b.shape});
  const int64_t H = c.hidden, I = c.expert_inter, E = c.n_experts;
  for (int j = 0; j < c.n_pairs; ++j) {
    if (native) {
      out.push_back({L(j) + "mlp.experts.gate_up_proj", {E, 2 * I, H}});
      out.push_back({L(j) + "mlp.experts.down_proj", {E, H, I}});
    } else {
      for (int64_t e = 0; e < E; ++e) {
        const std::string p = L(2 * j + 1) + "zaya_block.experts.local_experts." + std::to_string(e) + ".";
        out.push_back({p + "linear_fc1.weight", {2 * I, H}});
        out.push_back({p + "linear_fc2.weight", {H, I}});
      }
    }
  }
  if (!c.tie_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, H}});
  return out;
}

}  // namespace zaya
