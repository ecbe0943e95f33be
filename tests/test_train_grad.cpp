// The trainer's loss and every parameter gradient against transformers' autograd (golden vectors
// from tools/reference/make_grad_golden.py), for every golden config.
#include <gtest/gtest.h>

#include "train/train_model.h"
#include "test_util.h"

namespace zaya {
namespace {

class TrainGrad : public testing::TestWithParam<std::string> {};

void check_model(const std::string& name, SkipMode mode, const std::string& prefix, const std::string& loss_key) {
  const std::string dir = test::src_path("tests/data/golden/" + name);
  ModelConfig cfg = load_config(dir + "/native/config.json");
  cfg.skip_mode = mode;
  Checkpoint ck(dir + "/native");
  Checkpoint golden(dir + "/golden.safetensors"), grads(dir + "/grads.safetensors");
  TrainModel m(cfg);
  m.load(ck);
  auto ids = test::tensor_i32(golden, "ids");
  auto shape = test::tensor_shape(golden, "ids");
  const int64_t B = shape[0], T = shape[1];
  std::vector<int32_t> targets(ids.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) targets[size_t(b * T + t)] = t + 1 < T ? ids[size_t(b * T + t + 1)] : -100;
  double loss = m.step(ids.data(), targets.data(), B, T);
  double want = test::tensor_f32(grads, loss_key)[0];
  EXPECT_NEAR(loss, want, 1e-4 * std::abs(want)) << name << " loss";
  int checked = 0;
  double worst = 0;
  std::string worst_name;
  for (auto& t : m.tensors()) {
    if (!t.trainable) continue;
    auto ref = test::tensor_f32(grads, prefix + t.name);
    ASSERT_EQ(int64_t(ref.size()), t.numel) << t.name;
    double e = test::rel_err(m.grad(t.name), ref.data(), ref.size());
    bool all_zero = std::all_of(ref.begin(), ref.end(), [](float x) { return x == 0.0f; });
    if (all_zero) {  // e.g. an expert no token chose: the gradient must be exactly zero too
      for (int64_t i = 0; i < t.numel; ++i) ASSERT_EQ(m.grad(t.name)[i], 0.0f) << t.name;
    } else {
      EXPECT_LT(e, 1e-4) << name << ": gradient of " << t.name;
      if (e > worst) {
        worst = e;
        worst_name = t.name;
      }
    }
    ++checked;
  }
  std::printf("%s (%s): loss %.6f vs %.6f, %d gradients, worst relative error %.2e (%s)\n", name.c_str(),
              prefix.c_str(), loss, want, checked, worst, worst_name.c_str());
}

TEST_P(TrainGrad, LossAndEveryGradientMatchTransformers) {
  check_model(GetParam(), SkipMode::Zero, "grad.", "loss");
}

TEST(TrainGradPassThrough, ReachableSkipSlotWithLegacySemantics) {
  check_model("g2swa", SkipMode::PassThrough, "grad_passthrough.", "loss_passthrough");
}

INSTANTIATE_TEST_SUITE_P(All, TrainGrad, testing::Values("g4", "g1odd", "g2swa"));

}  // namespace
}  // namespace zaya
