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
  EXPECT_THROW(parse_config("{not json", "cfg.json"), Error);
  EXPECT_THROW(parse_config("[1,2]", "cfg.json"), Error);
}

}  // namespace
}  // namespace zaya
