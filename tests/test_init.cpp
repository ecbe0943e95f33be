// Initialization (spec §7) and random checkpoints: values by parameter kind, statistics, chunking
// independence, and `zaya mkckpt` output that loads and runs in both layouts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "model/init.h"
#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

ModelConfig g4() { return load_config(test::src_path("tests/data/golden/g4/native/config.json")); }

std::vector<float> gen(const ModelConfig& c, const std::string& name, std::vector<int64_t> shape, InitOptions o = {}) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  init_tensor_range(c, name, shape, o, 0, n, v.data());
  return v;
}

TEST(Init, ValuesByKindFollowTheSpec) {
  ModelConfig c = g4();
  for (float x : gen(c, "model.layers.0.input_layernorm.weight", {128})) EXPECT_EQ(x, 1.0f);
  for (float x : gen(c, "model.layers.0.post_mlp_residual_scale.residual_bias", {128})) EXPECT_EQ(x, 0.0f);
  for (float x : gen(c, "model.layers.1.mlp.gate.router_states_scale", {16})) EXPECT_EQ(x, 1.0f);
  for (float x : gen(c, "model.layers.0.self_attn.qk_norm.temp", {2})) EXPECT_EQ(x, 0.0f);
  auto beta = gen(c, "model.layers.0.mlp.gate.balancing_biases", {5});
  EXPECT_EQ(beta, (std::vector<float>{0, 0, 0, 0, -1}));
  auto emb = gen(c, "model.embed_tokens.weight", {128, 128});
  for (int i = 0; i < 128; ++i) EXPECT_EQ(emb[size_t(i)], 0.0f) << "pad row must be zero";
  auto w = gen(c, "model.layers.0.self_attn.o_proj.weight", {512, 512});
  double m = 0, s = 0;
  for (float x : w) m += x;
  m /= double(w.size());
  for (float x : w) s += (x - m) * (x - m);
  s = std::sqrt(s / double(w.size()));
  EXPECT_NEAR(m, 0.0, 1e-4);
  EXPECT_NEAR(s, 0.02, 2e-4);
}

TEST(Init, ChunksGiveTheSameValues) {
  ModelConfig c = g4();
  std::vector<int64_t> shape = {300, 70};
  auto all = gen(c, "x.weight", shape);
  std::vector<float> parts(all.size());
  init_tensor_range(c, "x.weight", shape, {}, 0, 1234, parts.data());
  init_tensor_range(c, "x.weight", shape, {}, 1234, int64_t(all.size()) - 1234, parts.data() + 1234);
  EXPECT_EQ(all, parts);
  InitOptions other;
  other.seed = 7;
  EXPECT_NE(all, gen(c, "x.weight", shape, other));
}

TEST(Init, MkckptWritesLoadableCheckpointsInBothLayouts) {
  auto dir = std::filesystem::temp_directory_path() / ("zaya_mk_" + std::to_string(::getpid()));
  for (std::string layout : {"native", "legacy"}) {
    std::string cfg = test::src_path("tests/data/golden/g2swa/" + layout + "/config.json");
    std::string out = (dir / layout).string();
    std::string cmd = std::string(ZAYA_BINARY) + " mkckpt --config " + cfg + " --out " + out +
                      " --dtype bf16 --init perturbed --seed 3 --shard-gib 0.001 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    LoadOptions lo;
    lo.quiet = true;
    auto m = Model::load(out, reference_backend(), lo);
    EXPECT_EQ(m->config().layout, layout == "native" ? CheckpointLayout::Native : CheckpointLayout::Legacy);
    SeqState st = m->new_state();
    std::vector<int32_t> ids = {2, 5, 9, 11, 3};
    std::vector<float> lg(size_t(m->config().vocab_size));
    Workspace ws;
    SeqChunk ch{&st, ids.data(), int64_t(ids.size())};
    m->forward(std::span<const SeqChunk>(&ch, 1), lg.data(), ws);
    for (float x : lg) ASSERT_TRUE(std::isfinite(x));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zaya
