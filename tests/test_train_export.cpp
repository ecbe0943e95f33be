// A model trained by zaya, saved in the Hugging Face layout, loads in zaya's inference engine with the
// same logits (and in transformers: tools/reference/check_export.py, run by scripts/long-checks.sh).
#include <gtest/gtest.h>

#include <filesystem>

#include "model/model.h"
#include "train/optim.h"
#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

TEST(TrainExport, SavedModelLoadsWithTheSameLogits) {
  const std::string dir = test::src_path("tests/data/golden/g2swa");
  auto m_ptr = Model::create(load_config(dir + "/native/config.json"), reference_backend());
  Model& m = *m_ptr;
  m.load_params(Checkpoint(dir + "/native"));
  auto g = test::golden_batch("g2swa");
  const auto& ids = g.ids;
  const auto& targets = g.targets;
  const int64_t B = g.B, T = g.T;
  std::vector<ParamRef> ps;
  for (auto& t : m.tensors())
    if (t.trainable) ps.push_back({t.name, m.param(t.name), m.grad(t.name), t.shape});
  Optimizer opt(ps, OptimConfig{});
  for (int s = 0; s < 3; ++s) {
    m.step(ids.data(), targets.data(), B, T);
    opt.step(1e-3);
  }
  m.step(ids.data(), targets.data(), B, T, /*backward=*/false);
  std::vector<float> train_logits = m.logits();

  auto out = std::filesystem::temp_directory_path() / ("zaya_export_" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  m.save(out.string());
  LoadOptions lo;
  lo.quiet = true;
  auto inf = Model::load(out.string(), reference_backend(), lo);
  const int64_t V = inf->config().vocab_size;
  std::vector<SeqState> st;
  st.push_back(inf->new_state());
  st.push_back(inf->new_state());
  std::vector<SeqChunk> batch = {{&st[0], ids.data(), T}, {&st[1], ids.data() + T, T}};
  std::vector<float> logits(size_t(B * T * V));
  Workspace ws;
  ForwardOptions fo;
  fo.all_logits = true;
  inf->forward(batch, logits.data(), ws, fo);
  EXPECT_LT(test::rel_err(logits, train_logits), 1e-5);
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace zaya
