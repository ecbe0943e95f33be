#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

using json = nlohmann::json;

namespace {

// Typed field access with errors that name the file and the field.
struct Fields {
  const json& j;
  const std::string& what;

  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  [[noreturn]] void bad(const std::string& field, const char* expect) const {
    throw_error(what, ": field '", field, "' must be ", expect);
  }
  int64_t integer(const char* k) const {
    if (!has(k)) throw_error(what, ": required field '", k, "' is missing");
    return integer_at(j[k], k);
  }
  int64_t integer(const char* k, int64_t dflt) const { return has(k) ? integer_at(j[k], k) : dflt; }
  int64_t integer_at(const json& v, const std::string& field) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return int64_t(d);
    }
    bad(field, "an integer");
  }
  double number(const char* k, double dflt) const {
    if (!has(k)) return dflt;
    return number_at(j[k], k);
  }
  double number_at(const json& v, const std::string& field) const {
    if (!v.is_number()) bad(field, "a number");
    double d = v.get<double>();
    if (!std::isfinite(d)) bad(field, "finite");
    return d;
  }
  bool boolean(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_boolean()) bad(k, "true or false");
    return j[k].get<bool>();
  }
  std::string string(const char* k, const std::string& dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_string()) bad(k, "a string");
    return j[k].get<std::string>();
  }
  const json& array(const char* k) const {
    if (!has(k)) throw_error(what, ": required field '", k, "' is missing");
    if (!j[k].is_array()) bad(k, "a list");
    return j[k];
  }
  std::vector<int32_t> id_list(const char* k, std::vector<int32_t> dflt) const {
    if (!has(k)) return dflt;
    std::vector<int32_t> out;
    if (j[k].is_array()) {
      for (size_t i = 0; i < j[k].size(); ++i)
        out.push_back(int32_t(integer_at(j[k][i], std::string(k) + "[" + std::to_string(i) + "]")));
    } else {
      out.push_back(int32_t(integer_at(j[k], k)));
    }
    return out;
  }
};

// Reads rope parameters of one layer type: {rope_type, rope_theta, partial_rotary_factor}.
void read_rope(const Fields& f, const json& rp, const std::string& field, double* theta, double* prf) {
  if (!rp.is_object()) f.bad(field, "an object");
  if (rp.contains("rope_type") && !rp["rope_type"].is_null()) {
    if (!rp["rope_type"].is_string()) f.bad(field + ".rope_type", "a string");
    std::string t = rp["rope_type"].get<std::string>();
    if (t != "default")
      throw_error(f.what, ": ", field, ".rope_type '", t, "' is not supported (only 'default')");
  }
  if (rp.contains("rope_theta")) *theta = f.number_at(rp["rope_theta"], field + ".rope_theta");
  if (rp.contains("partial_rotary_factor"))
    *prf = f.number_at(rp["partial_rotary_factor"], field + ".partial_rotary_factor");
}

int rot_dim_of(const Fields& f, int head_dim, double prf, const std::string& field) {
  if (!(prf > 0 && prf <= 1)) f.bad(field, "in (0, 1]");
  int rot = int(head_dim * prf);  // int() as upstream
  if (rot % 2 != 0 || rot <= 0) throw_error(f.what, ": ", field, " gives an odd or zero rotary dim ", rot);
  return rot;
}

void parse_native(const Fields& f, ModelConfig& c) {
  c.layout = CheckpointLayout::Native;
  c.n_pairs = int(f.integer("num_hidden_layers"));
  c.nq = int(f.integer("num_attention_heads"));
  c.nk = int(f.integer("num_key_value_heads", c.nq));
  c.head_dim = int(f.integer("head_dim", 128));
  c.n_experts = int(f.integer("num_experts", 16));
  c.expert_inter = f.integer("moe_intermediate_size", 2048);
  c.router_hidden = int(f.integer("router_hidden_size", 256));
  c.cca_time0 = int(f.integer("cca_time0", 2));
  c.cca_time1 = int(f.integer("cca_time1", 2));
  c.norm_eps = f.number("rms_norm_eps", 1e-5);
  c.router_norm_eps = c.norm_eps;
  c.tie_embeddings = f.boolean("tie_word_embeddings", true);
  c.max_position_embeddings = f.integer("max_position_embeddings", 131072);
  if (f.integer("num_experts_per_tok", 1) != 1)
    throw_error(f.what, ": num_experts_per_tok must be 1 (ZAYA1 routes top-1)");
  if (f.string("hidden_act", "silu") != "silu")
    throw_error(f.what, ": hidden_act '", f.string("hidden_act", ""), "' is not supported (only 'silu')");
  if (f.boolean("attention_bias", false)) throw_error(f.what, ": attention_bias=true is not supported");
  if (f.boolean("lm_head_bias", false)) throw_error(f.what, ": lm_head_bias=true is not supported");
  c.skip_mode = SkipMode::Zero;

  std::vector<std::string> types(size_t(std::max(c.n_pairs, 0)), "hybrid");
  if (f.has("layer_types")) {
    const json& lt = f.array("layer_types");
    if (lt.size() != types.size())
      throw_error(f.what, ": layer_types has ", lt.size(), " entries, num_hidden_layers is ", c.n_pairs);
    for (size_t i = 0; i < lt.size(); ++i) {
      if (!lt[i].is_string()) f.bad("layer_types[" + std::to_string(i) + "]", "a string");
      types[i] = lt[i].get<std::string>();
      if (types[i] != "hybrid" && types[i] != "hybrid_sliding")
        throw_error(f.what, ": layer_types[", i, "] '", types[i], "' is not 'hybrid' or 'hybrid_sliding'");
    }
  }
  int window = 0;
  bool any_sliding = false;
  for (auto& t : types) any_sliding |= t == "hybrid_sliding";
  if (any_sliding) {
    if (!f.has("sliding_window"))
      throw_error(f.what, ": layer_types contains 'hybrid_sliding' but sliding_window is not set");
    window = int(f.integer("sliding_window"));
    if (window < 1) f.bad("sliding_window", "a positive integer");
  }
  // Per-type RoPE: upstream defaults θ = 5e6 (hybrid) / 1e4 (hybrid_sliding), factor 0.5.
  double theta_full = 5e6, prf_full = 0.5, theta_slide = 1e4, prf_slide = 0.5;
  if (f.has("rope_parameters")) {
    const json& rp = f.j["rope_parameters"];
    if (!rp.is_object()) f.bad("rope_parameters", "an object");
    if (rp.contains("hybrid") || rp.contains("hybrid_sliding")) {
      if (rp.contains("hybrid")) read_rope(f, rp["hybrid"], "rope_parameters.hybrid", &theta_full, &prf_full);
      if (rp.contains("hybrid_sliding"))
        read_rope(f, rp["hybrid_sliding"], "rope_parameters.hybrid_sliding", &theta_slide, &prf_slide);
      // A stray top-level rope_type next to the nested dict is ignored (upstream deletes it).
    } else {  // flat: one set of parameters for every layer type
      read_rope(f, rp, "rope_parameters", &theta_full, &prf_full);
      theta_slide = theta_full;
      prf_slide = prf_full;
    }
  } else if (f.has("rope_theta")) {
    theta_full = theta_slide = f.number("rope_theta", 5e6);
    prf_full = prf_slide = f.number("partial_rotary_factor", 0.5);
  }
  for (auto& t : types) {
    PairSpec p;
    bool sl = t == "hybrid_sliding";
    p.window = sl ? window : 0;
    p.rope_theta = sl ? theta_slide : theta_full;
    p.rot_dim = rot_dim_of(f, c.head_dim, sl ? prf_slide : prf_full,
                           sl ? "rope_parameters.hybrid_sliding.partial_rotary_factor"
                              : "rope_parameters.hybrid.partial_rotary_factor");
    c.pairs.push_back(p);
  }
}

// All attention (or MoE) entries of a per-layer list must agree; returns that value.
int64_t uniform_list(const Fields& f, const char* key, int parity, size_t n_layers) {
  const json& a = f.array(key);
  if (a.size() != n_layers)
    throw_error(f.what, ": ", key, " has ", a.size(), " entries, zaya_layers has ", n_layers);
  int64_t v = -1;
  for (size_t i = size_t(parity); i < n_layers; i += 2) {
    int64_t x = f.integer_at(a[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (v >= 0 && x != v)
      throw_error(f.what, ": ", key, "[", i, "] = ", x, " differs from ", v,
                  " (per-layer sizes must be uniform)");
    v = x;
  }
  return v;
}

// RoPE bases of a legacy config: θ of full-attention layers, rotary fraction, θ of sliding layers.
struct LegacyRope {
  double theta = 10000, prf = 0.5, swa_theta = 10000;
  std::string prf_field = "partial_rotary_factor";
  bool swa_theta_required = false;  // swa_rotary_base must be given when a layer slides
};

// The fields both legacy schemas (A: per-layer lists, B: scalars) share: behaviour switches, residual scaling,
// norms, RoPE and the sliding-window layers (spec §1.1). `L` layers; `count` describes where L came from.
void parse_legacy_common(const Fields& f, ModelConfig& c, size_t L, const std::string& count, const LegacyRope& rope) {
  if (f.integer("moe_router_topk", 1) != 1) throw_error(f.what, ": moe_router_topk must be 1");
  if (!f.boolean("gated_linear_unit", true)) throw_error(f.what, ": gated_linear_unit=false is not supported");
  std::string act = f.string("activation_func", "swiglu");
  if (act != "swiglu" && act != "silu") throw_error(f.what, ": activation_func '", act, "' is not supported");
  if (f.boolean("add_bias_linear", false)) throw_error(f.what, ": add_bias_linear=true is not supported");
  if (f.boolean("attention_bias", false)) throw_error(f.what, ": attention_bias=true is not supported");
  if (f.boolean("lm_head_bias", false)) throw_error(f.what, ": lm_head_bias=true is not supported");
  if (f.string("normalization", "RMSNorm") != "RMSNorm")
    throw_error(f.what, ": normalization '", f.string("normalization", ""), "' is not supported");
  if (!f.boolean("scale_residual_merge", true))
    throw_error(f.what, ": scale_residual_merge=false is not supported");
  // residual_in_fp32 selects an fp32 residual in the bf16 fork; the engine keeps the residual in fp32 either way
  // (spec §2.2, §7), so the value only needs to be well-formed.
  f.boolean("residual_in_fp32", false);
  c.use_skip_slot = f.boolean("zaya_use_mod", true);
  c.use_eda = f.boolean("zaya_use_eda", true);
  c.clamp_temp = f.boolean("clamp_temp", false);
  c.tie_embeddings = f.boolean("tie_word_embeddings", true);
  c.norm_eps = f.number("norm_epsilon", 1e-5);
  c.router_norm_eps = c.norm_eps;  // fork: norm_epsilon (spec §4.6)
  c.skip_mode = SkipMode::PassThrough;
  c.cca_time0 = int(f.integer("cca_time0", 2));
  c.cca_time1 = int(f.integer("cca_time1", 2));
  if (f.has("rope_scaling") && !(f.j["rope_scaling"].is_boolean() && !f.j["rope_scaling"].get<bool>()))
    throw_error(f.what, ": rope_scaling is not supported (expected null or false)");
  std::vector<int64_t> swa(L, 0);
  bool sliding = false;
  if (f.has("swa_layers")) {
    const json& s = f.array("swa_layers");
    if (s.size() != L) throw_error(f.what, ": swa_layers has ", s.size(), " entries, ", count);
    for (size_t i = 0; i < L; ++i) {
      std::string field = "swa_layers[" + std::to_string(i) + "]";
      swa[i] = f.integer_at(s[i], field);
      if (swa[i] < 0) f.bad(field, "non-negative");
      if (swa[i] > (int64_t(1) << 30)) throw_error(f.what, ": ", field, " = ", swa[i], " is implausibly large");
      sliding |= i % 2 == 0 && swa[i] > 0;
    }
  }
  if (sliding && rope.swa_theta_required && !f.has("swa_rotary_base"))
    throw_error(f.what, ": swa_layers has sliding-window layers but swa_rotary_base is not set");
  for (int p = 0; p < c.n_pairs; ++p) {
    PairSpec ps;
    int64_t w = swa[size_t(2 * p)];
    ps.window = w > 0 ? int(w + 1) : 0;  // legacy stores previous tokens; W counts the current one
    ps.rope_theta = w > 0 ? rope.swa_theta : rope.theta;
    ps.rot_dim = rot_dim_of(f, c.head_dim, rope.prf, rope.prf_field);
    c.pairs.push_back(ps);
  }
}

void parse_legacy(const Fields& f, ModelConfig& c) {
  c.layout = CheckpointLayout::Legacy;
  const json& zl = f.array("zaya_layers");
  size_t L = zl.size();
  if (L == 0 || L % 2 != 0) throw_error(f.what, ": zaya_layers must have an even, non-zero length (got ", L, ")");
  for (size_t i = 0; i < L; ++i) {
    std::string field = "zaya_layers[" + std::to_string(i) + "]";
    if (i % 2 == 0) {
      if (!(zl[i].is_string() && zl[i].get<std::string>() == "a"))
        throw_error(f.what, ": ", field, " must be 'a' (layers alternate attention, MoE)");
    } else {
      int64_t e = f.integer_at(zl[i], field);
      if (c.n_experts == 0) c.n_experts = int(e);
      if (e != c.n_experts) throw_error(f.what, ": ", field, " = ", e, ": expert counts must be uniform");
    }
  }
  c.n_pairs = int(L / 2);
  int64_t heads = f.integer("num_attention_heads");
  if (heads <= 0) f.bad("num_attention_heads", "positive");
  if (f.has("head_dim")) {
    c.head_dim = int(f.integer("head_dim"));
  } else {
    if (c.hidden % heads != 0) throw_error(f.what, ": hidden_size is not a multiple of num_attention_heads");
    c.head_dim = int(c.hidden / heads);  // the fork's d = H / num_attention_heads
  }
  if (f.has("kv_channels") && f.integer("kv_channels") != c.head_dim)
    throw_error(f.what, ": kv_channels = ", f.integer("kv_channels"), " but the head dim is ", c.head_dim);
  c.nq = int(uniform_list(f, "cca_num_q_heads", 0, L));
  c.nk = int(uniform_list(f, "num_query_groups_list", 0, L));
  if (f.has("num_key_value_heads") && f.integer("num_key_value_heads") != c.nk)
    throw_error(f.what, ": num_key_value_heads = ", f.integer("num_key_value_heads"),
                " differs from num_query_groups_list (", c.nk, ")");
  int64_t ffn = uniform_list(f, "ffn_hidden_size_list", 1, L);
  if (ffn % 2 != 0) throw_error(f.what, ": ffn_hidden_size_list values must be even (gate and up halves)");
  c.expert_inter = ffn / 2;
  c.router_hidden = int(uniform_list(f, "zaya_mlp_expansion", 1, L));
  LegacyRope rope;
  rope.theta = f.number("rope_theta", 10000.0);  // fork default
  rope.prf = f.number("partial_rotary_factor", 0.5);
  rope.swa_theta = f.number("swa_rotary_base", 10000.0);
  parse_legacy_common(f, c, L, "zaya_layers has " + std::to_string(L), rope);
  c.max_position_embeddings = f.integer("max_position_embeddings", 4096);
}

// An integer field that becomes an int: range-checked before the cast, so a huge value cannot wrap around.
int int_field(const Fields& f, int64_t v, const std::string& field) {
  if (v <= 0) f.bad(field, "a positive integer");
  if (v > (int64_t(1) << 30)) throw_error(f.what, ": field '", field, "' = ", v, " is implausibly large");
  return int(v);
}

// Schema B (spec §0): the flat scalar config.json of ZAYA1-8B-legacy (Zyphra fork branch `zaya1`). It describes the
// same checkpoint as schema A — 2P separate layers, even = CCA attention, odd = MoE, tensor names of spec §6.1 — with
// one scalar per quantity instead of per-layer lists. Unlike schema A (vestigial 120) and schema C (pairs),
// `num_hidden_layers` counts the LAYERS, so P = num_hidden_layers / 2 (as in the official converter, spec §6.3).
// Size fields are required: no fork defaults are filled in for them, so that a truncated config cannot silently
// turn into a ZAYA1-sized model.
void parse_legacy_scalar(const Fields& f, ModelConfig& c) {
  c.layout = CheckpointLayout::Legacy;
  int64_t L = f.integer("num_hidden_layers");
  if (L <= 0 || L % 2 != 0)
    throw_error(f.what, ": num_hidden_layers counts the alternating attention and MoE layers in this legacy scalar ",
                "config (schema B) and must be even and positive (got ", L, ")");
  if (L > 20000) throw_error(f.what, ": num_hidden_layers = ", L, " is implausibly large");
  c.n_pairs = int(L / 2);
  if (f.has("layer_types"))
    throw_error(f.what, ": layer_types is not supported in a legacy scalar config (schema B); sliding-window ",
                "layers are given by swa_layers");
  c.n_experts = int_field(f, f.integer("num_experts"), "num_experts");
  int64_t ffn = f.integer("ffn_hidden_size");
  if (ffn <= 0 || ffn % 2 != 0)
    throw_error(f.what, ": ffn_hidden_size (expert fc1 width 2·I) must be even and positive (got ", ffn, ")");
  c.expert_inter = int_field(f, ffn / 2, "ffn_hidden_size");
  c.router_hidden = int_field(f, f.integer("zaya_mlp_expansion"), "zaya_mlp_expansion");
  // K/V heads: num_query_groups (the fork's name; the zaya1 branch requires it to equal num_key_value_heads).
  if (!f.has("num_query_groups") && !f.has("num_key_value_heads"))
    throw_error(f.what, ": required field 'num_query_groups' (key/value heads) is missing");
  int64_t groups = f.integer("num_query_groups", f.integer("num_key_value_heads", 0));
  if (f.has("num_key_value_heads") && f.integer("num_key_value_heads") != groups)
    throw_error(f.what, ": num_key_value_heads = ", f.integer("num_key_value_heads"),
                " differs from num_query_groups (", groups, ")");
  c.nk = int_field(f, groups, "num_query_groups");
  // Head dim: head_dim, or kv_channels (which the fork also writes); both given must agree.
  if (!f.has("head_dim") && !f.has("kv_channels"))
    throw_error(f.what, ": required field 'head_dim' (or kv_channels) is missing");
  int64_t d = f.integer("head_dim", f.integer("kv_channels", 0));
  if (f.has("kv_channels") && f.integer("kv_channels") != d)
    throw_error(f.what, ": kv_channels = ", f.integer("kv_channels"), " but head_dim is ", d);
  c.head_dim = int_field(f, d, "head_dim");
  // Query heads (spec §1.1, §1.2 note on ZAYA1-8B-legacy). The Zyphra fork has used num_attention_heads two ways:
  //  - latent: nq = num_attention_heads, d = head_dim. Branch `zaya1` (b35c5e08: ZayaConfig(num_attention_heads=8,
  //    head_dim=128), attention views of num_attention_heads × head_dim), the tip of branch `zaya1-legacy`
  //    (9e5966ce, the same defaults), and the official converter, which copies the value unchanged into the
  //    native num_attention_heads (= nq, §1.2). The released ZAYA1-8B-legacy config (8 heads, head_dim 128,
  //    hidden 2048) is of this kind: read as 16-style "full" heads it would give d = 2048/8 = 256 ≠ head_dim.
  //  - full: d = H / num_attention_heads, nq = num_attention_heads / 2, as in schema A (16 for ZAYA1: the "needs
  //    16" of §1.2) and in earlier scalar-config commits of `zaya1-legacy` (f0ab5bef: num_attention_heads=16,
  //    kv_channels = H/16, cca_num_q_heads=8).
  // Telling them apart: cca_num_q_heads, if present, is nq and must fit one reading. Otherwise the full reading
  // needs num_attention_heads·d = H, so any other product (ZAYA1: 8·128 = H/2) is latent; a product equal to H
  // fits both readings (nq = num_attention_heads or half of it) and is rejected rather than guessed.
  int64_t heads = f.integer("num_attention_heads");
  if (heads <= 0) f.bad("num_attention_heads", "positive");
  if (heads > (int64_t(1) << 20)) throw_error(f.what, ": num_attention_heads = ", heads, " is implausibly large");
  const bool full_fits = heads % 2 == 0 && heads * d == c.hidden;
  if (f.has("cca_num_q_heads")) {
    int64_t q = f.integer("cca_num_q_heads");
    if (q == heads) {
      c.nq = int(heads);
    } else if (2 * q == heads && full_fits) {
      c.nq = int(q);
    } else {
      throw_error(f.what, ": cca_num_q_heads = ", q, " fits neither reading of num_attention_heads = ", heads,
                  " (latent: equal to it; full: half of it with head_dim = hidden_size / num_attention_heads)");
    }
  } else if (heads * d == c.hidden) {
    throw_error(f.what, ": num_attention_heads = ", heads, " with head_dim ", d, " and hidden_size ", c.hidden,
                " is ambiguous: the zaya1 branch reads ", heads, " latent query heads, the schema-A convention ",
                heads / 2, " (d = hidden_size / num_attention_heads); add cca_num_q_heads to say which");
  } else {
    c.nq = int(heads);
  }
  if (f.integer("num_experts_per_tok", 1) != 1)
    throw_error(f.what, ": num_experts_per_tok must be 1 (ZAYA1 routes top-1)");
  if (f.string("hidden_act", "silu") != "silu")
    throw_error(f.what, ": hidden_act '", f.string("hidden_act", ""), "' is not supported (only 'silu')");
  // RoPE: the zaya1 branch defaults θ to 5e6 (so does the converter when the key is absent, spec §6.3); a flat
  // rope_parameters dict overrides rope_theta / partial_rotary_factor there; sliding layers use swa_rotary_base,
  // which that branch requires whenever swa_layers is given.
  LegacyRope rope;
  rope.theta = f.number("rope_theta", 5e6);
  rope.prf = f.number("partial_rotary_factor", 0.5);
  rope.prf_field = "partial_rotary_factor";
  if (f.has("rope_parameters")) {
    const json& rp = f.j["rope_parameters"];
    if (rp.is_object() && (rp.contains("hybrid") || rp.contains("hybrid_sliding")))
      throw_error(f.what, ": per-layer-type rope_parameters are not supported in a legacy scalar config (schema B)");
    read_rope(f, rp, "rope_parameters", &rope.theta, &rope.prf);
    if (rp.contains("partial_rotary_factor")) rope.prf_field = "rope_parameters.partial_rotary_factor";
  }
  rope.swa_theta_required = true;
  rope.swa_theta = f.number("swa_rotary_base", 0.0);
  parse_legacy_common(f, c, size_t(L), "num_hidden_layers is " + std::to_string(L), rope);
  c.max_position_embeddings = f.integer("max_position_embeddings", 131072);  // zaya1 branch default
  // sliding_window (HF convention, W counts the current token) is not read by the fork; if given it must agree.
  if (f.has("sliding_window")) {
    int64_t w = f.integer("sliding_window");
    bool any = false;
    for (auto& p : c.pairs) {
      if (p.window == 0) continue;
      any = true;
      if (p.window != w)
        throw_error(f.what, ": sliding_window = ", w, " differs from the window ", p.window,
                    " given by swa_layers (previous tokens + 1)");
    }
    if (!any) throw_error(f.what, ": sliding_window = ", w, " is set but swa_layers has no sliding layer");
  }
}

}  // namespace

void ModelConfig::validate() const {
  const std::string& w = source;
  auto pos = [&](int64_t v, const char* name) {
    if (v <= 0) throw_error(w, ": ", name, " must be positive (got ", v, ")");
  };
  pos(vocab_size, "vocab_size");
  pos(hidden, "hidden_size");
  pos(n_pairs, "number of layers");
  pos(nq, "query heads");
  pos(nk, "key/value heads");
  pos(head_dim, "head_dim");
  pos(n_experts, "num_experts");
  pos(expert_inter, "expert intermediate size");
  pos(router_hidden, "router hidden size");
  pos(cca_time0, "cca_time0");
  pos(cca_time1, "cca_time1");
  if (vocab_size > (int64_t(1) << 31) - 1) throw_error(w, ": vocab_size too large");
  if (hidden > (1 << 20) || head_dim > 4096 || nq > 4096 || n_experts > 4096 || expert_inter > (1 << 22) ||
      router_hidden > (1 << 20) || n_pairs > 10000 || cca_time0 > 64 || cca_time1 > 64)
    throw_error(w, ": a size field is implausibly large");
  if (nq % nk != 0) throw_error(w, ": query heads (", nq, ") must be a multiple of key/value heads (", nk, ")");
  if ((nk * head_dim) % 2 != 0) throw_error(w, ": nk·head_dim must be even (value shift halves)");
  if (!(norm_eps > 0 && norm_eps < 1)) throw_error(w, ": norm epsilon must be in (0, 1)");
  if (!(router_norm_eps > 0 && router_norm_eps < 1)) throw_error(w, ": router norm epsilon must be in (0, 1)");
  if (int(pairs.size()) != n_pairs) throw_error(w, ": internal: pair specs do not match the layer count");
  for (auto& p : pairs) {
    if (!(p.rope_theta > 0)) throw_error(w, ": rope_theta must be positive");
    if (p.rot_dim <= 0 || p.rot_dim > head_dim || p.rot_dim % 2) throw_error(w, ": invalid rotary dim");
    if (p.window < 0) throw_error(w, ": negative sliding window");
  }
  for (int32_t e : eos_ids)
    if (e < 0 || e >= vocab_size) throw_error(w, ": eos_token_id ", e, " is outside the vocabulary");
}

std::string ModelConfig::summary() const {
  std::ostringstream os;
  // Legacy covers both legacy configs (schema A lists, schema B scalars): 2P separate layers (spec §0).
  if (layout == CheckpointLayout::Legacy)
    os << "legacy layout (" << 2 * n_pairs << " separate attention/MoE layers)";
  else
    os << "native layout";
  os << ": " << n_pairs << " pairs, hidden " << hidden << ", vocab " << vocab_size << ", CCA " << nq << "q/" << nk
     << "kv heads × " << head_dim << " (conv " << cca_time0 << "+" << cca_time1 << "), " << n_experts << " experts × "
     << expert_inter << (use_skip_slot ? " + skip slot" : "") << ", router " << router_hidden
     << (use_eda ? " with EDA" : "") << ", skip semantics "
     << (skip_mode == SkipMode::Zero ? "zero" : "pass-through");
  // The window of the sliding pairs (spec §3.7), not of the last pair, which may well be full attention; distinct
  // windows (legacy swa_layers can give one per layer) are listed in pair order.
  int sliding = 0;
  std::vector<int> windows;
  for (auto& p : pairs) {
    if (p.window == 0) continue;
    ++sliding;
    if (std::find(windows.begin(), windows.end(), p.window) == windows.end()) windows.push_back(p.window);
  }
  if (sliding) {
    os << ", " << sliding << " sliding-window pairs (W=";
    for (size_t i = 0; i < windows.size(); ++i) os << (i ? "," : "") << windows[i];
    os << ")";
  }
  return os.str();
}

ModelConfig parse_config(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw_error(what, ": invalid JSON: ", e.what());
  }
  if (!j.is_object()) throw_error(what, ": config must be a JSON object");
  Fields f{j, what};
  std::string mt = f.string("model_type", "zaya");
  if (mt != "zaya") throw_error(what, ": model_type '", mt, "' is not 'zaya'");
  ModelConfig c;
  c.source = what;
  c.vocab_size = f.integer("vocab_size");
  c.hidden = f.integer("hidden_size");
  // Layout (spec §0): per-layer lists → schema A; the scalar expert width ffn_hidden_size without the native
  // moe_intermediate_size → schema B; otherwise native (schema C).
  if (f.has("zaya_layers"))
    parse_legacy(f, c);
  else if (f.has("ffn_hidden_size") && !f.has("moe_intermediate_size"))
    parse_legacy_scalar(f, c);
  else
    parse_native(f, c);
  c.bos_id = int32_t(f.integer("bos_token_id", 2));
  c.pad_id = int32_t(f.integer("pad_token_id", 0));
  c.eos_ids = f.id_list("eos_token_id", {1});
  c.validate();
  return c;
}

ModelConfig load_config(const std::string& path) { return parse_config(read_file(path), path); }

std::string native_config_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {"ZayaForCausalLM"};
  j["model_type"] = "zaya";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden;
  j["num_hidden_layers"] = c.n_pairs;
  j["num_attention_heads"] = c.nq;
  j["num_key_value_heads"] = c.nk;
  j["head_dim"] = c.head_dim;
  j["num_experts"] = c.n_experts;
  j["num_experts_per_tok"] = 1;
  j["moe_intermediate_size"] = c.expert_inter;
  j["router_hidden_size"] = c.router_hidden;
  j["cca_time0"] = c.cca_time0;
  j["cca_time1"] = c.cca_time1;
  j["rms_norm_eps"] = c.norm_eps;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["lm_head_bias"] = false;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["bos_token_id"] = c.bos_id;
  j["pad_token_id"] = c.pad_id;
  if (c.eos_ids.size() == 1)
    j["eos_token_id"] = c.eos_ids[0];
  else
    j["eos_token_id"] = c.eos_ids;
  json types = json::array();
  int window = 0;
  const PairSpec* full = nullptr;
  const PairSpec* slide = nullptr;
  for (auto& p : c.pairs) {
    types.push_back(p.window > 0 ? "hybrid_sliding" : "hybrid");
    if (p.window > 0) {
      window = p.window;
      slide = &p;
    } else {
      full = &p;
    }
  }
  j["layer_types"] = types;
  if (window > 0) j["sliding_window"] = window;
  auto rope = [&](const PairSpec* p, double dflt) {
    json r;
    r["rope_type"] = "default";
    r["rope_theta"] = p ? p->rope_theta : dflt;
    r["partial_rotary_factor"] = p ? double(p->rot_dim) / c.head_dim : 0.5;
    return r;
  };
  j["rope_parameters"] = {{"hybrid", rope(full, 5e6)}, {"hybrid_sliding", rope(slide, 1e4)}};
  return j.dump(2);
}

}  // namespace zaya
