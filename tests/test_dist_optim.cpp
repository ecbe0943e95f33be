// The sharded optimizer without MPI: on one process it is the single-process Optimizer bit for bit;
// its state shards (global coordinates) re-cut for 3 ranks and for ZeRO-1 and loaded back give the same
// state; damaged shards (overlap, gap, wrong shape, unknown tensor, truncation) fail naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "dist/comm.h"
#include "train/dist_optim.h"
#include "test_util.h"

namespace zaya {
namespace {

struct Params {
  std::vector<float> w, g;
  std::vector<ParamRef> refs;
  explicit Params(uint64_t seed) {
    const std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
        {"model.layers.0.self_attn.o_proj.weight", {6, 4}},
        {"model.layers.0.mlp.experts.gate_up_proj", {3, 4, 5}},
        {"model.embed_tokens.weight", {7, 4}},
        {"model.layers.0.input_layernorm.weight", {4}}};
    int64_t n = 0;
    for (auto& [_, s] : t) {
      int64_t k = 1;
      for (auto d : s) k *= d;
      n += k;
    }
    w.resize(size_t(n));
    g.resize(size_t(n));
    std::mt19937_64 r(seed);
    std::normal_distribution<float> nd;
    for (auto& x : w) x = nd(r);
    int64_t off = 0;
    for (auto& [name, s] : t) {
      refs.push_back({name, w.data() + off, g.data() + off, s});
      off += refs.back().numel();
    }
  }
  void grads(uint64_t seed) {
    std::mt19937_64 r(seed);
    std::normal_distribution<float> nd;
    for (auto& x : g) x = nd(r);
  }
};

TEST(DistOptim, OneRankIsTheSingleProcessOptimizer) {
  Params a(1), b(1);
  auto self = make_self_comm();
  OptimConfig cfg;
  ShardedOptimizer so(a.refs, cfg, reference_backend(), *self, 1);
  Optimizer plain(b.refs, cfg, reference_backend());
  for (int s = 0; s < 4; ++s) {
    a.grads(10 + s);
    b.grads(10 + s);
    const double na = so.reduce_and_clip(1.0), nb = clip_grad_norm(b.refs, 1.0, reference_backend());
    EXPECT_EQ(na, nb);
    so.step(0.01);
    plain.step(0.01);
  }
  EXPECT_EQ(std::memcmp(a.w.data(), b.w.data(), a.w.size() * 4), 0);
}

// Every state buffer of a one-process optimizer, in order.
std::vector<float> state_of(const ShardedOptimizer& so) {
  std::vector<float> out;
  const Optimizer& o = so.local();
  for (size_t i = 0; i < o.params().size(); ++i)
    for (int k = 0; k < o.n_state(i); ++k) out.insert(out.end(), o.state(i, k), o.state(i, k) + o.params()[i].numel());
  return out;
}

TEST(DistOptim, ShardsReshapeAndComeBackExactly) {
  Params p(2);
  auto self = make_self_comm();
  ShardedOptimizer so(p.refs, OptimConfig{}, reference_backend(), *self, 0);
  for (int s = 0; s < 3; ++s) {
    p.grads(20 + s);
    so.reduce_and_clip(1.0);
    so.step(0.01);
  }
  const std::string one = so.save_shard();
  for (int zero : {0, 1}) {
    std::vector<std::pair<std::string, std::string>> three;
    int muon_matrices = 0;
    for (int r = 0; r < 3; ++r) {
      auto lc = make_layout_comm(r, 3);
      ShardedOptimizer part(p.refs, OptimConfig{}, reference_backend(), *lc, zero);
      part.load_shards({{"one.bin", one}});
      EXPECT_EQ(part.steps(), 3);
      three.emplace_back("r" + std::to_string(r) + ".bin", part.save_shard());
      for (auto& q : part.local().plans()) muon_matrices += q.kind == OptKind::Muon;
    }
    EXPECT_EQ(muon_matrices, 1 + 3);  // o_proj + three experts, each on exactly one owner
    ShardedOptimizer back(p.refs, OptimConfig{}, reference_backend(), *self, 0);
    back.load_shards(three);
    EXPECT_EQ(state_of(back), state_of(so)) << "zero " << zero;
    EXPECT_EQ(back.steps(), 3);
  }
}

std::string shard(const nlohmann::json& chunks, size_t floats) {
  nlohmann::json h = {{"format", "zaya-optim-shard-1"}, {"steps", 1}, {"rank", 0}, {"world", 1}, {"zero", 0},
                      {"chunks", chunks}};
  std::string hs = h.dump(), out(8, '\0');
  uint64_t n = hs.size();
  std::memcpy(out.data(), &n, 8);
  return out + hs + std::string(floats * 4, '\0');
}

TEST(DistOptim, DamagedShardsFailNamingTheFile) {
  Params p(3);
  auto self = make_self_comm();
  ShardedOptimizer so(p.refs, OptimConfig{}, reference_backend(), *self, 0);
  auto expect = [&](const std::string& bytes, const std::string& needle) {
    try {
      so.load_shards({{"bad.bin", bytes}});
      ADD_FAILURE() << "accepted; expected: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.bin"), std::string::npos) << e.what();
    }
  };
  const std::string o = "model.layers.0.self_attn.o_proj.weight";
  expect("abc", "truncated");
  expect(shard(nlohmann::json::array({{{"tensor", "nope"}, {"shape", {1}}, {"offset", 0}, {"count", 1},
                                       {"buffer", "momentum"}, {"data", 0}}}), 1), "'nope' is not in this model");
  expect(shard(nlohmann::json::array({{{"tensor", o}, {"shape", {4, 6}}, {"offset", 0}, {"count", 24},
                                       {"buffer", "momentum"}, {"data", 0}}}), 24), "another shape");
  expect(shard(nlohmann::json::array({{{"tensor", o}, {"shape", {6, 4}}, {"offset", 0}, {"count", 24},
                                       {"buffer", "momentum"}, {"data", 0}}}), 10), "outside the file");
  expect(shard(nlohmann::json::array({{{"tensor", o}, {"shape", {6, 4}}, {"offset", 0}, {"count", 14},
                                       {"buffer", "momentum"}, {"data", 0}},
                                      {{"tensor", o}, {"shape", {6, 4}}, {"offset", 10}, {"count", 14},
                                       {"buffer", "momentum"}, {"data", 0}}}), 24), "overlapping chunks");
  try {  // a gap: well-formed, but o_proj's momentum is not all there (and nothing else is)
    so.load_shards({{"gap.bin", shard(nlohmann::json::array({{{"tensor", o}, {"shape", {6, 4}}, {"offset", 0},
                                                              {"count", 20}, {"buffer", "momentum"}, {"data", 0}}}), 20)}});
    ADD_FAILURE() << "a gap was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 20 of these 24"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zaya
