// The legacy-layout gradient goldens (tests/data/golden/<name>/grads_legacy.safetensors, written by
// tools/reference/make_legacy_grad_golden.py for a future `zaya grad` on legacy checkpoints) against the native
// transformers gradients (grads.safetensors) through the engine's own name table (src/model/weights.h, spec §6.3):
// every legacy tensor has its gradient, renamed tensors carry the native gradient unchanged, expert e's fc1/fc2
// row e of the stacked one, clamp_temp temperatures the chain rule through exp(clip(stored, 1e-7, 2)), and the
// balancing biases (selection only) zero.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "model/config.h"
#include "model/weights.h"
#include "test_util.h"

namespace zaya {
namespace {

using test::rel_err;

class GradsLegacy : public testing::TestWithParam<std::string> {};

bool has_prefix(const Checkpoint& ck, const std::string& prefix) {
  for (auto& [name, t] : ck.tensors())
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

TEST_P(GradsLegacy, DerivedFromNativeGradients) {
  const std::string dir = test::src_path("tests/data/golden/" + GetParam());
  ASSERT_TRUE(std::filesystem::exists(dir + "/grads_legacy.safetensors")) << dir << ": legacy gradients missing";
  ModelConfig c = load_config(dir + "/legacy/config.json");
  Checkpoint weights(dir + "/legacy/model.safetensors");
  Checkpoint native(dir + "/grads.safetensors");
  Checkpoint legacy(dir + "/grads_legacy.safetensors");
  for (const char* loss : {"loss", "loss_passthrough"})
    EXPECT_EQ(test::tensor_f32(legacy, loss), test::tensor_f32(native, loss)) << loss;
  const auto specs = checkpoint_tensor_specs(c, CheckpointLayout::Legacy);
  EXPECT_EQ(specs.size(), weights.tensors().size());
  int checked_prefixes = 0;
  for (std::string prefix : {"grad.", "grad_passthrough."}) {
    const bool present = has_prefix(native, prefix);
    ASSERT_EQ(has_prefix(legacy, prefix), present) << prefix;
    if (!present) continue;
    ++checked_prefixes;
    size_t n = 0;
    for (auto& [name, t] : legacy.tensors()) n += name.rfind(prefix, 0) == 0;
    EXPECT_EQ(n, specs.size()) << prefix << ": one gradient per legacy tensor";
    for (auto& s : specs) {
      ASSERT_NE(legacy.find(prefix + s.name), nullptr) << prefix << s.name;
      EXPECT_EQ(legacy.find(prefix + s.name)->shape, s.shape) << prefix << s.name;
      EXPECT_EQ(weights.find(s.name)->shape, s.shape) << s.name;
    }
    for (auto& [nat, leg] : native_to_legacy_names(c)) {
      auto got = test::tensor_f32(legacy, prefix + leg);
      if (leg.find("balancing_biases") != std::string::npos) {
        EXPECT_EQ(got, std::vector<float>(got.size(), 0.0f)) << leg << ": a buffer, selection only";
        continue;
      }
      auto want = test::tensor_f32(native, prefix + nat);
      if (c.clamp_temp && leg.find("qkv.temp") != std::string::npos) {
        // temp = exp(clip(s, 1e-7, 2)) ⇒ d/ds = exp(s) on [1e-7, 2], 0 outside (spec §3.5).
        auto s = test::tensor_f32(weights, leg);
        for (size_t i = 0; i < want.size(); ++i) {
          const double si = s[i];
          want[i] = si >= 1e-7 && si <= 2.0 ? float(double(want[i]) * std::exp(si)) : 0.0f;
        }
        EXPECT_LT(rel_err(got, want), 1e-6) << leg;
      } else {
        EXPECT_EQ(got, want) << leg << " <- " << nat;
      }
    }
    const int64_t E = c.n_experts, H = c.hidden, I = c.expert_inter;
    for (int j = 0; j < c.n_pairs; ++j) {
      auto gu = test::tensor_f32(native, prefix + "model.layers." + std::to_string(j) + ".mlp.experts.gate_up_proj");
      auto dn = test::tensor_f32(native, prefix + "model.layers." + std::to_string(j) + ".mlp.experts.down_proj");
      ASSERT_EQ(int64_t(gu.size()), E * 2 * I * H);
      ASSERT_EQ(int64_t(dn.size()), E * H * I);
      for (int e = 0; e < E; ++e) {
        const size_t a = size_t(2 * I * H), b = size_t(H * I);
        EXPECT_EQ(test::tensor_f32(legacy, prefix + legacy_expert_name(j, e, true)),
                  std::vector<float>(gu.begin() + e * a, gu.begin() + (e + 1) * a))
            << "pair " << j << " expert " << e << " fc1";
        EXPECT_EQ(test::tensor_f32(legacy, prefix + legacy_expert_name(j, e, false)),
                  std::vector<float>(dn.begin() + e * b, dn.begin() + (e + 1) * b))
            << "pair " << j << " expert " << e << " fc2";
      }
    }
  }
  EXPECT_GE(checked_prefixes, 1);
}

INSTANTIATE_TEST_SUITE_P(All, GradsLegacy, testing::Values("g4", "g1odd", "g2swa"));

}  // namespace
}  // namespace zaya
