// config.json parsing of both layouts, the tensor-name tables, parameter counts from the spec, and
// clear errors for invalid configs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fileutil.h"
#include "model/config.h"
#include "model/count.h"
#include "model/weights.h"
#include "test_util.h"

namespace zaya {
namespace {

using json = nlohmann::json;

json tiny_legacy() {  // spec §8.1
  return json::parse(R"({
    "model_type": "zaya", "hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": 2,
    "vocab_size": 128, "zaya_layers": ["a", 4, "a", 4], "num_hidden_layers": 4,
    "cca_num_q_heads": [4, 0, 4, 0], "num_query_groups_list": [2, 0, 2, 0],
    "ffn_hidden_size_list": [0, 32, 0, 32], "zaya_mlp_expansion": [0, 16, 0, 16],
    "moe_router_topk": 1, "zaya_use_mod": true, "zaya_use_eda": true, "scale_residual_merge": true,
    "norm_epsilon": 1e-5, "partial_rotary_factor": 0.5, "rope_theta": 10000,
    "tie_word_embeddings": true, "attention_bias": false, "add_bias_linear": false,
    "gated_linear_unit": true, "activation_func": "swiglu", "bias_activation_fusion": true,
    "residual_in_fp32": false})");
}

TEST(Config, TinyLegacyMatchesSpecCounts) {
  ModelConfig c = parse_config(tiny_legacy().dump(), "tiny");
  EXPECT_EQ(c.layout, CheckpointLayout::Legacy);
  EXPECT_EQ(c.n_pairs, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.nq, 4);
  EXPECT_EQ(c.nk, 2);
  EXPECT_EQ(c.expert_inter, 16);
  EXPECT_EQ(c.pairs[0].rot_dim, 4);
  EXPECT_EQ(c.skip_mode, SkipMode::PassThrough);
  ParamCount pc = count_params(c);
  EXPECT_EQ(pc.total, 51828);
  EXPECT_EQ(pc.total - pc.embedding, 43636);
  EXPECT_EQ(pc.tensors_legacy, 79);
}

TEST(Config, Zaya1BaseCountsMatchSpec) {
  ModelConfig c = load_config(test::src_path("configs/zaya1-base.json"));
  EXPECT_EQ(c.n_pairs, 40);  // not the vestigial num_hidden_layers = 120
  ParamCount pc = count_params(c);
  EXPECT_EQ(pc.total, 8840488784LL);
  EXPECT_EQ(pc.total - pc.embedding, 8303355728LL);
  EXPECT_EQ(pc.active, 753608528LL);
  EXPECT_EQ(pc.tensors_legacy, 2483);
  EXPECT_EQ(pc.tensors_native, 1283);
  EXPECT_EQ(pc.kv_bytes_per_token_bf16, 40 * 1024);
}

TEST(Config, NativeZaya1_8B) {
  ModelConfig c = load_config(test::src_path("configs/zaya1-8b.json"));
  EXPECT_EQ(c.layout, CheckpointLayout::Native);
  EXPECT_EQ(c.skip_mode, SkipMode::Zero);
  EXPECT_EQ(c.pairs[0].rope_theta, 5e6);
  EXPECT_EQ(c.pairs[0].rot_dim, 64);
  EXPECT_EQ(c.eos_ids, std::vector<int32_t>{106});
  EXPECT_EQ(count_params(c).total, 8840488784LL);
}

TEST(Config, NativeSlidingAndRopePerType) {
  json j = json::parse(read_file(test::src_path("configs/zaya1-8b.json")));
  j["layer_types"][1] = "hybrid_sliding";
  j["sliding_window"] = 4096;
  j["rope_type"] = "default";  // the stray key of the Hub config is ignored
  ModelConfig c = parse_config(j.dump(), "x");
  EXPECT_EQ(c.pairs[0].window, 0);
  EXPECT_EQ(c.pairs[1].window, 4096);
  EXPECT_EQ(c.pairs[1].rope_theta, 1e4);
  EXPECT_EQ(native_config_json(c).find("hybrid_sliding") != std::string::npos, true);
  ModelConfig back = parse_config(native_config_json(c), "roundtrip");
  EXPECT_EQ(back.pairs[1].window, 4096);
  EXPECT_EQ(back.pairs[1].rope_theta, 1e4);
  EXPECT_EQ(back.pairs[0].rope_theta, 5e6);
}

TEST(Config, LegacySlidingWindowAddsOne) {
  json j = tiny_legacy();
  j["swa_layers"] = {0, 0, 7, 0};
  j["swa_rotary_base"] = 5000;
  ModelConfig c = parse_config(j.dump(), "x");
  EXPECT_EQ(c.pairs[0].window, 0);
  EXPECT_EQ(c.pairs[1].window, 8);
  EXPECT_EQ(c.pairs[1].rope_theta, 5000);
}

// Spec §8.1's tiny model as a legacy scalar config (schema B, Zyphra fork branch `zaya1`).
json tiny_scalar() {
  return json::parse(R"({
    "model_type": "zaya", "hidden_size": 64, "num_attention_heads": 4, "head_dim": 8, "kv_channels": 8,
    "num_query_groups": 2, "num_key_value_heads": 2, "vocab_size": 128, "num_hidden_layers": 4,
    "num_experts": 4, "ffn_hidden_size": 32, "zaya_mlp_expansion": 16,
    "moe_router_topk": 1, "zaya_use_mod": true, "zaya_use_eda": true, "scale_residual_merge": true,
    "norm_epsilon": 1e-5, "partial_rotary_factor": 0.5, "rope_theta": 10000,
    "tie_word_embeddings": true, "attention_bias": false, "add_bias_linear": false,
    "gated_linear_unit": true, "activation_func": "swiglu", "residual_in_fp32": true, "rope_scaling": false,
    "sliding_window": null, "max_position_embeddings": 4096})");
}

// Every field of ModelConfig except `source`.
void expect_same_config(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.layout, b.layout);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.n_pairs, b.n_pairs);
  EXPECT_EQ(a.nq, b.nq);
  EXPECT_EQ(a.nk, b.nk);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.n_experts, b.n_experts);
  EXPECT_EQ(a.expert_inter, b.expert_inter);
  EXPECT_EQ(a.router_hidden, b.router_hidden);
  EXPECT_EQ(a.cca_time0, b.cca_time0);
  EXPECT_EQ(a.cca_time1, b.cca_time1);
  EXPECT_EQ(a.use_skip_slot, b.use_skip_slot);
  EXPECT_EQ(a.use_eda, b.use_eda);
  EXPECT_EQ(a.clamp_temp, b.clamp_temp);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.router_norm_eps, b.router_norm_eps);
  EXPECT_EQ(a.skip_mode, b.skip_mode);
  ASSERT_EQ(a.pairs.size(), b.pairs.size());
  for (size_t p = 0; p < a.pairs.size(); ++p) {
    EXPECT_EQ(a.pairs[p].window, b.pairs[p].window) << "pair " << p;
    EXPECT_EQ(a.pairs[p].rope_theta, b.pairs[p].rope_theta) << "pair " << p;
    EXPECT_EQ(a.pairs[p].rot_dim, b.pairs[p].rot_dim) << "pair " << p;
  }
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.eos_ids, b.eos_ids);
}

// The released config.json of Zyphra/ZAYA1-8B-legacy (schema B), next to the checkout; derived numbers of
// spec §1.1 for ZAYA1.
TEST(Config, ReleasedZaya1_8BLegacySchemaB) {
  const std::string path = ZAYA_SOURCE_DIR "/../shared/data/zaya1-configs/ZAYA1-8B-legacy.config.json";
  if (!file_exists(path)) GTEST_SKIP() << path << " not found (the shared data folder next to the checkout is absent)";
  ModelConfig c = load_config(path);
  EXPECT_EQ(c.layout, CheckpointLayout::Legacy);
  EXPECT_EQ(c.hidden, 2048);
  EXPECT_EQ(c.vocab_size, 262272);
  EXPECT_EQ(c.n_pairs, 40);  // num_hidden_layers = 80 layers
  EXPECT_EQ(c.nq, 8);        // num_attention_heads = 8 latent query heads with head_dim 128
  EXPECT_EQ(c.nk, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.conv_channels(), 1280);
  EXPECT_EQ(c.n_experts, 16);
  EXPECT_EQ(c.expert_inter, 2048);
  EXPECT_EQ(c.router_hidden, 256);
  EXPECT_TRUE(c.use_skip_slot);
  EXPECT_TRUE(c.use_eda);
  EXPECT_FALSE(c.clamp_temp);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_EQ(c.skip_mode, SkipMode::PassThrough);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.eos_ids, std::vector<int32_t>{106});
  EXPECT_EQ(c.bos_id, 2);
  EXPECT_EQ(c.pad_id, 0);
  for (auto& p : c.pairs) {
    EXPECT_EQ(p.window, 0);
    EXPECT_EQ(p.rope_theta, 5e6);
    EXPECT_EQ(p.rot_dim, 64);
  }
  ParamCount pc = count_params(c);
  EXPECT_EQ(pc.total, 8840488784LL);
  EXPECT_EQ(pc.total - pc.embedding, 8303355728LL);
  EXPECT_EQ(pc.active, 753608528LL);
  EXPECT_EQ(pc.tensors_legacy, 2483);
  // The same model as the schema-A description of ZAYA1-base, apart from the values that differ in the files.
  ModelConfig base = load_config(test::src_path("configs/zaya1-base.json"));
  base.max_position_embeddings = c.max_position_embeddings;
  base.eos_ids = c.eos_ids;
  for (auto& p : base.pairs) p.rope_theta = c.pairs[0].rope_theta;
  expect_same_config(c, base);
}

TEST(Config, InfoOnReleasedZaya1_8BLegacy) {
  const std::string path = ZAYA_SOURCE_DIR "/../shared/data/zaya1-configs/ZAYA1-8B-legacy.config.json";
  if (!file_exists(path)) GTEST_SKIP() << path << " not found (the shared data folder next to the checkout is absent)";
  test::RunResult r = test::run_zaya("info " + path);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("legacy layout (80 separate attention/MoE layers): 40 pairs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CCA 8q/2kv heads × 128"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("8840488784 total"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2483 legacy layout"), std::string::npos) << r.out;
}

TEST(Config, SchemaBEqualsSchemaA) {
  ModelConfig a = parse_config(tiny_legacy().dump(), "a");
  ModelConfig b = parse_config(tiny_scalar().dump(), "b");
  expect_same_config(b, a);
  EXPECT_EQ(count_params(b).tensors_legacy, 79);
  // Sliding-window layers, their RoPE base, clamp_temp, eos list.
  json ja = tiny_legacy(), jb = tiny_scalar();
  for (json* j : {&ja, &jb}) {
    (*j)["swa_layers"] = {0, 0, 7, 0};
    (*j)["swa_rotary_base"] = 5000;
    (*j)["clamp_temp"] = true;
    (*j)["eos_token_id"] = {1, 106};
  }
  jb["sliding_window"] = 8;  // optional; must agree with swa_layers + 1
  a = parse_config(ja.dump(), "a");
  b = parse_config(jb.dump(), "b");
  expect_same_config(b, a);
  EXPECT_EQ(b.pairs[1].window, 8);
  EXPECT_EQ(b.pairs[1].rope_theta, 5000);
  EXPECT_TRUE(b.clamp_temp);
  // Defaults of the zaya1 branch: θ 5e6, 131072 positions.
  json d = tiny_scalar();
  d.erase("rope_theta");
  d.erase("partial_rotary_factor");
  d.erase("max_position_embeddings");
  ModelConfig c = parse_config(d.dump(), "d");
  EXPECT_EQ(c.pairs[0].rope_theta, 5e6);
  EXPECT_EQ(c.pairs[0].rot_dim, 4);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  // A flat rope_parameters dict overrides rope_theta there.
  d["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 20000}};
  EXPECT_EQ(parse_config(d.dump(), "d").pairs[1].rope_theta, 20000);
}

// num_attention_heads: latent query heads (zaya1 branch) or the schema-A "full" count (= 2·nq, d = H/heads).
TEST(Config, SchemaBHeadConventions) {
  ModelConfig a = parse_config(tiny_legacy().dump(), "a");
  json j = tiny_scalar();
  j.erase("head_dim");  // kv_channels alone gives the head dim
  EXPECT_EQ(parse_config(j.dump(), "x").nq, 4);
  // Full convention with cca_num_q_heads (as the fork's earlier scalar configs wrote it).
  json full = tiny_scalar();
  full["num_attention_heads"] = 8;
  full["cca_num_q_heads"] = 4;
  expect_same_config(parse_config(full.dump(), "full"), a);
  // Latent with cca_num_q_heads equal to it.
  json lat = tiny_scalar();
  lat["cca_num_q_heads"] = 4;
  expect_same_config(parse_config(lat.dump(), "lat"), a);
  // Latent with latent q width ≠ H/2: only the latent reading fits the stated head_dim.
  json odd = tiny_scalar();
  odd["num_attention_heads"] = 2;
  EXPECT_EQ(parse_config(odd.dump(), "odd").nq, 2);
}

TEST(Config, SummaryNamesTheSlidingWindow) {
  json j = json::parse(read_file(test::src_path("configs/zaya1-8b.json")));
  j["layer_types"][1] = "hybrid_sliding";  // the last pair stays full attention
  j["sliding_window"] = 4096;
  std::string s = parse_config(j.dump(), "x").summary();
  EXPECT_NE(s.find("1 sliding-window pairs (W=4096)"), std::string::npos) << s;
  json l = tiny_legacy();
  l["swa_layers"] = {7, 0, 4, 0};
  s = parse_config(l.dump(), "y").summary();
  EXPECT_NE(s.find("2 sliding-window pairs (W=8,5)"), std::string::npos) << s;
  EXPECT_EQ(parse_config(tiny_legacy().dump(), "z").summary().find("sliding"), std::string::npos);
}

void expect_error(const json& j, const std::string& needle) {
  try {
    parse_config(j.dump(), "cfg.json");
    ADD_FAILURE() << "accepted a bad config; expected an error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

TEST(Config, InvalidValuesAreClearErrors) {
  json n = json::parse(read_file(test::src_path("configs/zaya1-8b.json")));
  auto with = [&](const char* k, json v) {
    json x = n;
    x[k] = v;
    return x;
  };
  expect_error(with("hidden_size", -5), "hidden_size");
  expect_error(with("hidden_size", "big"), "hidden_size");
  expect_error(with("num_experts_per_tok", 2), "num_experts_per_tok");
  expect_error(with("num_key_value_heads", 3), "multiple");
  expect_error(with("hidden_act", "gelu"), "hidden_act");
  expect_error(with("model_type", "llama"), "model_type");
  expect_error(with("rms_norm_eps", 0), "epsilon");
  expect_error(with("eos_token_id", 999999999), "eos_token_id");
  expect_error(with("layer_types", json::array({"hybrid"})), "layer_types");
  json s = n;
  s["layer_types"][0] = "hybrid_sliding";
  expect_error(s, "sliding_window");
  json r = n;
  r["rope_parameters"]["hybrid"]["rope_type"] = "yarn";
  expect_error(r, "rope_type");
  json m = n;
  m.erase("vocab_size");
  expect_error(m, "vocab_size");
  json l = tiny_legacy();
  l["cca_num_q_heads"] = {4, 0, 2, 0};
  expect_error(l, "cca_num_q_heads");
  json l2 = tiny_legacy();
  l2["zaya_layers"] = {4, "a", 4, "a"};
  expect_error(l2, "zaya_layers[0]");
  // Schema B (legacy scalar config).
  json b = tiny_scalar();
  auto b_with = [&](const char* k, json v) {
    json x = b;
    x[k] = v;
    return x;
  };
  auto b_without = [&](std::initializer_list<const char*> ks) {
    json x = b;
    for (const char* k : ks) x.erase(k);
    return x;
  };
  expect_error(b_with("num_hidden_layers", 5), "num_hidden_layers");
  expect_error(b_with("num_hidden_layers", 0), "num_hidden_layers");
  expect_error(b_with("num_hidden_layers", 1LL << 40), "num_hidden_layers");
  expect_error(b_without({"num_hidden_layers"}), "num_hidden_layers");
  expect_error(b_without({"num_experts"}), "num_experts");
  expect_error(b_with("num_experts", 0), "num_experts");
  expect_error(b_with("ffn_hidden_size", 33), "ffn_hidden_size");
  expect_error(b_with("ffn_hidden_size", "32"), "ffn_hidden_size");
  expect_error(b_with("zaya_mlp_expansion", json::array({0, 16, 0, 16})), "zaya_mlp_expansion");
  expect_error(b_without({"zaya_mlp_expansion"}), "zaya_mlp_expansion");
  expect_error(b_without({"num_query_groups", "num_key_value_heads"}), "num_query_groups");
  expect_error(b_with("num_key_value_heads", 1), "num_query_groups");
  json b_nk3 = b_without({"num_key_value_heads"});
  b_nk3["num_query_groups"] = 3;
  expect_error(b_nk3, "multiple");
  expect_error(b_without({"head_dim", "kv_channels"}), "head_dim");
  expect_error(b_with("kv_channels", 16), "kv_channels");
  json b_d6 = b_without({"kv_channels"});
  b_d6["head_dim"] = 6;
  expect_error(b_d6, "rotary dim");  // 6·0.5 = 3
  expect_error(b_with("num_attention_heads", 0), "num_attention_heads");
  expect_error(b_with("num_attention_heads", 8), "ambiguous");  // 8·8 = hidden_size: nq 8 or 4?
  expect_error(b_with("cca_num_q_heads", 3), "cca_num_q_heads");
  json b_full_bad = b_with("num_attention_heads", 8);
  b_full_bad["head_dim"] = b_full_bad["kv_channels"] = 4;  // full reading would need d = 64/8
  b_full_bad["cca_num_q_heads"] = 4;
  expect_error(b_full_bad, "cca_num_q_heads");
  expect_error(b_with("moe_router_topk", 2), "moe_router_topk");
  expect_error(b_with("num_experts_per_tok", 2), "num_experts_per_tok");
  expect_error(b_with("hidden_act", "gelu"), "hidden_act");
  expect_error(b_with("activation_func", "relu"), "activation_func");
  expect_error(b_with("residual_in_fp32", "yes"), "residual_in_fp32");
  expect_error(b_with("zaya_use_mod", 1), "zaya_use_mod");
  expect_error(b_with("clamp_temp", "no"), "clamp_temp");
  expect_error(b_with("norm_epsilon", 0), "epsilon");
  expect_error(b_with("rope_theta", "big"), "rope_theta");
  expect_error(b_with("partial_rotary_factor", 2), "partial_rotary_factor");
  expect_error(b_with("rope_scaling", {{"type", "yarn"}}), "rope_scaling");
  expect_error(b_with("rope_parameters", {{"rope_type", "yarn"}}), "rope_type");
  expect_error(b_with("rope_parameters", {{"hybrid", {{"rope_theta", 1}}}}), "rope_parameters");
  expect_error(b_with("layer_types", json::array({"hybrid", "hybrid"})), "layer_types");
  expect_error(b_with("swa_layers", json::array({0, 0, 7})), "swa_layers");
  expect_error(b_with("swa_layers", json::array({0, 0, -1, 0})), "swa_layers[2]");
  expect_error(b_with("swa_layers", json::array({0, 0, 1LL << 40, 0})), "swa_layers[2]");
  expect_error(b_with("swa_layers", json::array({0, 0, 7, 0})), "swa_rotary_base");
  json b_sw = b_with("swa_layers", json::array({0, 0, 7, 0}));
  b_sw["swa_rotary_base"] = 1e4;
  b_sw["sliding_window"] = 7;  // must be 7 + 1
  expect_error(b_sw, "sliding_window");
  expect_error(b_with("sliding_window", 8), "sliding_window");  // no sliding layer
  expect_error(b_with("eos_token_id", 999999), "eos_token_id");
  expect_error(b_without({"hidden_size"}), "hidden_size");
  expect_error(b_without({"vocab_size"}), "vocab_size");
  EXPECT_THROW(parse_config("{not json", "cfg.json"), Error);
  EXPECT_THROW(parse_config("[1,2]", "cfg.json"), Error);
}

}  // namespace
}  // namespace zaya
