// The tensor-name table of both checkpoint layouts (spec §6.1, §6.2, mapping §6.3), inference
// binding of a mapped checkpoint, and the training parameter arenas.
#include "model/weights.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

namespace {

using Shape = std::vector<int64_t>;

std::string L(int i) { return "model.layers." + std::to_string(i) + "."; }

void add(std::vector<TensorDef>& t, const std::string& nat, const std::string& leg, Shape shape, Param& p,
         bool trainable = true) {
  TensorDef d;
  d.native = nat;
  d.legacy = leg;
  d.shape = std::move(shape);
  d.p = &p;
  d.trainable = trainable;
  t.push_back(std::move(d));
}

void add_res(std::vector<TensorDef>& t, const std::string& nat, const std::string& leg, ResScale& r, int64_t H) {
  add(t, nat + "hidden_states_scale", leg + "hidden_states_scale", {H}, r.hs);
  add(t, nat + "hidden_states_bias", leg + "hidden_states_bias", {H}, r.hb);
  add(t, nat + "residual_scale", leg + "residual_scale", {H}, r.rs);
  add(t, nat + "residual_bias", leg + "residual_bias", {H}, r.rb);
}

bool is_matrix(const TensorDef& d) { return d.ex || d.shape.size() == 2; }

// [rows, cols] of a tensor as the ops see it: 1-D [n] → [n, 1]; 2-D as is; 3-D [C, a, b] → [C, a·b].
void rows_cols(const Shape& s, int64_t* r, int64_t* c) {
  *r = s[0];
  *c = 1;
  for (size_t i = 1; i < s.size(); ++i) *c *= s[i];
}

std::string shape_str(const Shape& s) {
  TensorInfo t;
  t.shape = s;
  return t.shape_str();
}

void check_shape(const TensorInfo& t, const Shape& shape) {
  if (t.shape != shape)
    throw_error(t.file, ": tensor '", t.name, "' has shape ", t.shape_str(), ", expected ", shape_str(shape));
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

// fp32 copy of a tensor's data (copied first: data in a file may be misaligned for its type).
void to_f32(const TensorInfo& t, const uint8_t* data, size_t n, float* dst) {
  std::vector<uint8_t> raw(data, data + n * dtype_size(t.dtype));
  try {
    convert_to_f32(t.dtype, raw.data(), dst, n);
  } catch (const Error& e) {
    throw_error(t.file, ": tensor '", t.name, "': ", e.what());
  }
}

float clamp_temp(float t) { return std::exp(std::min(std::max(t, 1e-7f), 2.0f)); }

}  // namespace

int64_t TensorDef::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::vector<TensorDef> tensor_table(const ModelConfig& c, ModelParams& w) {
  const int64_t H = c.hidden, V = c.vocab_size, d = c.head_dim, C = c.conv_channels(), Dr = c.router_hidden;
  const int64_t nq = c.nq, nk = c.nk, vh = c.value_half(), S = c.n_slots(), I = c.expert_inter;
  std::vector<TensorDef> t;
  add(t, "model.embed_tokens.weight", "model.embed_tokens.weight", {V, H}, w.embed);
  add(t, "model.input_hidden_states_scale", "model.layers.0.res_scale.hidden_states_scale", {H}, w.in_scale);
  add(t, "model.input_hidden_states_bias", "model.layers.0.res_scale.hidden_states_bias", {H}, w.in_bias);
  w.pairs.resize(size_t(c.n_pairs));
  for (int j = 0; j < c.n_pairs; ++j) {
    PairParams& p = w.pairs[size_t(j)];
    const std::string n = L(j), la = L(2 * j), lm = L(2 * j + 1);
    const std::string na = n + "self_attn.qkv_proj.", ca = la + "self_attn.qkv.";
    AttnParams& a = p.attn;
    add(t, n + "input_layernorm.weight", la + "input_norm.weight", {H}, a.norm);
    add(t, na + "q_proj.weight", ca + "linear_q.weight", {nq * d, H}, a.q);
    add(t, na + "k_proj.weight", ca + "linear_k.weight", {nk * d, H}, a.k);
    add(t, na + "v_proj_current.weight", ca + "val_proj1.weight", {vh, H}, a.v_cur);
    add(t, na + "v_proj_delayed.weight", ca + "val_proj2.weight", {vh, H}, a.v_del);
    add(t, na + "conv_qk_depthwise.weight", ca + "conv_qk.0.weight", {C, 1, c.cca_time0}, a.conv0_w);
    add(t, na + "conv_qk_depthwise.bias", ca + "conv_qk.0.bias", {C}, a.conv0_b);
    add(t, na + "conv_qk_grouped.weight", ca + "conv_qk.1.weight", {C, d, c.cca_time1}, a.conv1_w);
    add(t, na + "conv_qk_grouped.bias", ca + "conv_qk.1.bias", {C}, a.conv1_b);
    add(t, n + "self_attn.qk_norm.temp", ca + "temp", {nk}, a.temp);
    add(t, n + "self_attn.o_proj.weight", la + "self_attn.o_proj.weight", {H, nq * d}, a.o);
    add_res(t, n + "post_attention_residual_scale.", lm + "res_scale.", p.post_attn, H);
    MoEParams& m = p.moe;
    const std::string ng = n + "mlp.gate.", lg = lm + "zaya_block.router.";
    add(t, n + "post_attention_layernorm.weight", lm + "input_norm.weight", {H}, m.norm);
    add(t, ng + "down_proj.weight", lg + "down_proj.weight", {Dr, H}, m.down);
    add(t, ng + "down_proj.bias", lg + "down_proj.bias", {Dr}, m.down_b);
    if (c.use_eda && j > 0) add(t, ng + "router_states_scale", lg + "router_states_scale", {Dr}, m.eda);
    add(t, ng + "router_mlp.norm.weight", lg + "rmsnorm_eda.weight", {Dr}, m.rnorm);
    add(t, ng + "router_mlp.fc1.weight", lg + "router_mlp.0.weight", {Dr, Dr}, m.fc1);
    add(t, ng + "router_mlp.fc1.bias", lg + "router_mlp.0.bias", {Dr}, m.fc1_b);
    add(t, ng + "router_mlp.fc2.weight", lg + "router_mlp.2.weight", {Dr, Dr}, m.fc2);
    add(t, ng + "router_mlp.fc2.bias", lg + "router_mlp.2.bias", {Dr}, m.fc2_b);
    add(t, ng + "router_mlp.out_proj.weight", lg + "router_mlp.4.weight", {S, Dr}, m.out);
    add(t, ng + "balancing_biases", lg + "balancing_biases", {S}, m.beta, /*trainable=*/false);
    for (bool fc1 : {true, false}) {
      TensorDef e;
      e.native = n + (fc1 ? "mlp.experts.gate_up_proj" : "mlp.experts.down_proj");
      const int64_t El = c.local_experts();  // expert parallelism: this process's slice of the stack
      e.shape = fc1 ? Shape{El, 2 * I, H} : Shape{El, H, I};
      e.ex = fc1 ? &m.gate_up : &m.down_e;
      e.pair = j;
      e.fc1 = fc1;
      t.push_back(std::move(e));
    }
    const std::string next = j + 1 < c.n_pairs ? L(2 * j + 2) + "res_scale." : "model.res_scale.";
    add_res(t, n + "post_mlp_residual_scale.", next, p.post_mlp, H);
  }
  add(t, "model.norm.weight", "model.final_norm.weight", {H}, w.final_norm);
  if (!c.tie_embeddings) add(t, "lm_head.weight", "lm_head.weight", {V, H}, w.lm_head);
  return t;
}

std::vector<TensorSpec> checkpoint_tensor_specs(const ModelConfig& c, CheckpointLayout layout) {
  ModelParams scratch;
  std::vector<TensorSpec> out;
  const bool native = layout == CheckpointLayout::Native;
  for (const TensorDef& d : tensor_table(c, scratch)) {
    if (d.ex && !native) {
      for (int e = 0; e < c.n_experts; ++e)
        out.push_back({legacy_expert_name(d.pair, e, d.fc1), {d.shape[1], d.shape[2]}});
      continue;
    }
    out.push_back({native ? d.native : d.legacy, d.shape});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> native_to_legacy_names(const ModelConfig& c) {
  ModelParams scratch;
  std::vector<std::pair<std::string, std::string>> out;
  for (const TensorDef& d : tensor_table(c, scratch))
    if (!d.ex) out.emplace_back(d.native, d.legacy);
  return out;
}

std::string legacy_expert_name(int j, int e, bool fc1) {
  return L(2 * j + 1) + "zaya_block.experts.local_experts." + std::to_string(e) +
         (fc1 ? ".linear_fc1.weight" : ".linear_fc2.weight");
}

// ---------------------------------------------------------------------------------------------------------
// Inference binding

void bind_checkpoint(const ModelConfig& c, const Checkpoint& ck, Backend& be, DType matrix_dtype, ModelParams& w,
                     OwnedTensors& owned) {
  const bool native = c.layout == CheckpointLayout::Native;
  auto lookup = [&](const std::string& name) { return native ? find_native(ck, name) : ck.find(name); };
  // A device copy of n elements (dtype dt) from host memory.
  auto device_copy = [&](const void* host, size_t bytes) {
    owned.bufs.emplace_back(be, bytes);
    be.upload(owned.bufs.back().data(), host, bytes);
    return owned.bufs.back().data();
  };
  // A matrix view: in place when the backend reads host memory and the stored dtype is usable as is.
  // keep_dtype: a matrix that keeps its stored dtype even when matrix_dtype is BF16, like the fp32
  // master weights of training.
  auto matrix = [&](const TensorInfo& t, const uint8_t* data, int64_t rows, int64_t cols, bool keep_dtype = false) {
    Mat m{nullptr, t.dtype, rows, cols};
    const size_t n = size_t(rows) * size_t(cols), esz = dtype_size(t.dtype);
    const bool half = t.dtype == DType::BF16 || t.dtype == DType::F16;
    const bool usable = t.dtype == DType::F32 || half;
    const bool keep = usable && (matrix_dtype == DType::F32 || t.dtype == DType::BF16 || keep_dtype);
    if (keep && be.host_memory() && reinterpret_cast<uintptr_t>(data) % esz == 0) {
      m.data = data;
      return m;
    }
    if (keep) {
      m.data = device_copy(data, n * esz);
      return m;
    }
    std::vector<float> f(n);
    to_f32(t, data, n, f.data());
    if (matrix_dtype == DType::BF16) {
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i) h[i] = f32_to_bf16(f[i]);
      m.data = device_copy(h.data(), n * 2);
      m.dtype = DType::BF16;
    } else {
      m.data = device_copy(f.data(), n * 4);
      m.dtype = DType::F32;
    }
    return m;
  };
  auto vector = [&](const TensorInfo& t, int64_t rows, int64_t cols, bool temp) {
    const size_t n = size_t(rows) * size_t(cols);
    std::vector<float> f(n);
    to_f32(t, t.data, n, f.data());
    for (float x : f)
      if (!std::isfinite(x)) throw_error(t.file, ": tensor '", t.name, "' contains NaN or Inf");
    if (temp && c.clamp_temp)
      for (float& x : f) x = clamp_temp(x);
    return Mat{device_copy(f.data(), n * 4), DType::F32, rows, cols};
  };

  for (const TensorDef& d : tensor_table(c, w)) {
    if (d.ex) {  // experts: stacked [E, out, in] (native) or one matrix per expert (legacy)
      const int64_t E = d.shape[0], out = d.shape[1], in = d.shape[2];
      d.ex->w.resize(size_t(E));
      if (native) {
        const TensorInfo* t = ck.find(d.native);
        if (!t) throw_error(ck.dir(), ": tensor '", d.native, "' is missing");
        check_shape(*t, d.shape);
        const size_t es = dtype_size(t->dtype);
        for (int64_t e = 0; e < E; ++e)
          d.ex->w[size_t(e)] = matrix(*t, t->data + size_t(e) * size_t(out * in) * es, out, in);
      } else {
        for (int64_t e = 0; e < E; ++e) {
          const TensorInfo& t = ck.require(legacy_expert_name(d.pair, int(e), d.fc1), {out, in});
          d.ex->w[size_t(e)] = matrix(t, t.data, out, in);
        }
      }
      continue;
    }
    const std::string& name = native ? d.native : d.legacy;
    int64_t rows, cols;
    rows_cols(d.shape, &rows, &cols);
    const TensorInfo* t = lookup(name);
    if (!t) {
      if (!d.trainable) {  // balancing biases: a persistent buffer, but tolerate its absence
        std::fprintf(stderr, "note: %s: '%s' is missing; using β = 0 with β_skip = -1\n", ck.dir().c_str(),
                     name.c_str());
        std::vector<float> b(size_t(rows), 0.0f);
        if (c.use_skip_slot) b.back() = -1.0f;
        d.p->m = Mat{device_copy(b.data(), b.size() * 4), DType::F32, rows, 1};
        continue;
      }
      throw_error(ck.dir(), ": tensor '", name, "' is missing");
    }
    check_shape(*t, d.shape);
    // Kept as stored: the embedding (its rows are read, not only multiplied) and the router matrices
    // (their GEMMs run in fp32 on every backend, spec §7).
    const bool keep = d.p == &w.embed || d.native.find("mlp.gate.") != std::string::npos;
    d.p->m = is_matrix(d) ? matrix(*t, t->data, rows, cols, keep)
                          : vector(*t, rows, cols, name.find("temp") != std::string::npos && !native);
  }
  // The fused [q; k] and [v_cur; v_del] views: in place when the two are adjacent in memory with one
  // dtype, else one concatenated copy (the file's own pages of the two are then never read again).
  auto fuse = [&](const Mat& a, const Mat& b) {
    if (a.dtype == b.dtype && static_cast<const uint8_t*>(a.data) + a.bytes() == b.data)
      return Mat{a.data, a.dtype, a.rows + b.rows, a.cols};
    owned.bufs.emplace_back(be, a.bytes() + b.bytes());
    DeviceBuffer& buf = owned.bufs.back();
    if (a.dtype == b.dtype) {
      be.copy(buf.data(), a.data, a.bytes());
      be.copy(static_cast<uint8_t*>(buf.data()) + a.bytes(), b.data, b.bytes());
      return Mat{buf.data(), a.dtype, a.rows + b.rows, a.cols};
    }
    throw_error(ck.dir(), ": q/k (or v) projections of one layer have different dtypes");
  };
  for (PairParams& pp : w.pairs) {
    pp.attn.qk.m = fuse(pp.attn.q.m, pp.attn.k.m);
    pp.attn.vcd.m = fuse(pp.attn.v_cur.m, pp.attn.v_del.m);
  }
  // LM head: a stored lm_head.weight is used if present, else the tied embedding.
  if (c.tie_embeddings) {
    if (const TensorInfo* lm = ck.find("lm_head.weight")) {
      check_shape(*lm, {c.vocab_size, c.hidden});
      w.lm_head.m = matrix(*lm, lm->data, c.vocab_size, c.hidden);
    } else {
      w.lm_head = w.embed;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Training arenas

ParamStore::ParamStore(const ModelConfig& cfg, Backend& be, ModelParams& p) : be_(be) {
  defs_ = tensor_table(cfg, p);
  // Fused partners (q then k, v_cur then v_del) are laid out back to back, so one Mat spans both.
  auto partner = [&](size_t i) {
    if (i + 1 >= defs_.size() || !defs_[i].p) return false;
    for (const PairParams& pp : p.pairs)
      if ((defs_[i].p == &pp.attn.q && defs_[i + 1].p == &pp.attn.k) ||
          (defs_[i].p == &pp.attn.v_cur && defs_[i + 1].p == &pp.attn.v_del))
        return true;
    return false;
  };
  int64_t off = 0;
  for (size_t i = 0; i < defs_.size(); ++i) {
    const TensorDef& d = defs_[i];
    TrainTensor t;
    t.name = d.native;
    t.shape = d.shape;
    t.numel = d.numel();
    t.offset = off;
    t.trainable = d.trainable;
    off += partner(i) ? t.numel : (t.numel + 15) / 16 * 16;  // else 64-byte aligned offsets
    tensors_.push_back(std::move(t));
  }
  size_ = off;
  w_.bind(be);
  g_.bind(be);
  w_.resize(size_t(off) * 4);
  g_.resize(size_t(off) * 4);
  for (size_t i = 0; i < defs_.size(); ++i) {
    const TensorDef& d = defs_[i];
    float* v = values() + tensors_[i].offset;
    float* g = grads() + tensors_[i].offset;
    if (d.ex) {
      const int64_t E = d.shape[0], out = d.shape[1], in = d.shape[2];
      d.ex->w.resize(size_t(E));
      for (int64_t e = 0; e < E; ++e) d.ex->w[size_t(e)] = Mat{v + e * out * in, DType::F32, out, in};
      d.ex->g = g;
      continue;
    }
    int64_t rows, cols;
    rows_cols(d.shape, &rows, &cols);
    d.p->m = Mat{v, DType::F32, rows, cols};
    d.p->g = g;
  }
  if (cfg.tie_embeddings) p.lm_head = p.embed;
  for (PairParams& pp : p.pairs) {
    AttnParams& a = pp.attn;
    a.qk = Param{Mat{a.q.m.data, DType::F32, a.q.m.rows + a.k.m.rows, a.q.m.cols}, a.q.g};
    a.vcd = Param{Mat{a.v_cur.m.data, DType::F32, a.v_cur.m.rows + a.v_del.m.rows, a.v_cur.m.cols}, a.v_cur.g};
  }
}

const TrainTensor* ParamStore::find(const std::string& name) const {
  for (auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

void ParamStore::load(const Checkpoint& ck, ModelConfig& cfg) {
  // The checkpoint's own names decide its layout (a run started from a legacy checkpoint resumes from
  // native ones).
  const bool legacy = !ck.find("model.layers.0.input_layernorm.weight") && ck.find("model.layers.0.input_norm.weight");
  std::vector<float> host(static_cast<size_t>(size_));
  auto fetch = [&](const std::string& name, const TensorInfo* ti, const Shape& shape, float* dst) {
    if (!ti) throw_error(ck.dir(), ": tensor '", name, "' is missing");
    check_shape(*ti, shape);
    to_f32(*ti, ti->data, size_t(ti->numel()), dst);
  };
  for (size_t i = 0; i < defs_.size(); ++i) {
    const TensorDef& d = defs_[i];
    float* dst = host.data() + tensors_[i].offset;
    if (d.ex && legacy) {
      const int64_t out = d.shape[1], in = d.shape[2];
      for (int e = 0; e < d.shape[0]; ++e) {
        const std::string n = legacy_expert_name(d.pair, cfg.expert_first + e, d.fc1);
        fetch(n, ck.find(n), {out, in}, dst + e * out * in);
      }
      continue;
    }
    if (d.ex && cfg.expert_count > 0) {  // expert parallelism: the slice of the whole stacked tensor
      const int64_t out = d.shape[1], in = d.shape[2];
      const TensorInfo* ti = find_native(ck, d.native);
      if (!ti) throw_error(ck.dir(), ": tensor '", d.native, "' is missing");
      check_shape(*ti, {int64_t(cfg.n_experts), out, in});
      const size_t es = dtype_size(ti->dtype);
      to_f32(*ti, ti->data + size_t(cfg.expert_first) * size_t(out * in) * es, size_t(d.shape[0] * out * in), dst);
      continue;
    }
    const std::string& name = legacy && !d.ex ? d.legacy : d.native;
    fetch(name, legacy ? ck.find(name) : find_native(ck, name), d.shape, dst);
    if (legacy && cfg.clamp_temp && name.find("temp") != std::string::npos)
      for (int64_t k = 0; k < tensors_[i].numel; ++k) dst[k] = clamp_temp(dst[k]);
  }
  be_.upload(values(), host.data(), host.size() * 4);
  // Trained from here on, the model is native: linear temperature (skip semantics as configured).
  cfg.layout = CheckpointLayout::Native;
  cfg.clamp_temp = false;
}

void ParamStore::save(const std::string& dir, const ModelConfig& cfg, const WholeTensors* whole) const {
  std::vector<float> host(static_cast<size_t>(size_));
  be_.download(host.data(), values(), host.size() * 4);
  SafeTensorsWriter w;
  for (auto& t : tensors_) {
    auto it = whole ? whole->find(t.name) : WholeTensors::const_iterator();
    if (whole && it != whole->end()) w.add(t.name, DType::F32, it->second.first, it->second.second.data());
    else w.add(t.name, DType::F32, t.shape, host.data() + t.offset);
  }
  w.set_metadata("format", "pt");
  w.write_dir(dir);
  write_file_atomic(path_join(dir, "config.json"), native_config_json(cfg));
}

}  // namespace zaya
