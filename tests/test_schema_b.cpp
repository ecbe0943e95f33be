// A legacy checkpoint described by the flat scalar config of ZAYA1-8B-legacy ("schema B", spec §0) loads into the
// same model as its native conversion: full-forward logits and expert choices of the golden sequences. The
// schema-B checkpoint is tests/data/golden/<name>/legacy_b/config.json (tools/reference/make_schema_b_golden.py)
// with the weights of legacy/model.safetensors (schema B has the tensor names of schema A, spec §6.1); the test
// assembles it in a temporary directory, so the weights are not stored twice.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using test::rel_err;

// legacy_b/config.json + a link to (or, where links are not possible, a copy of) legacy/model.safetensors.
struct SchemaBDir {
  fs::path dir;
  explicit SchemaBDir(const std::string& golden) {
    dir = fs::temp_directory_path() / ("zaya_schema_b_" + fs::path(golden).filename().string() + "_" +
                                       std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(golden + "/legacy_b/config.json", dir / "config.json");
    fs::path weights = fs::absolute(golden + "/legacy/model.safetensors");
    std::error_code ec;
    fs::create_symlink(weights, dir / "model.safetensors", ec);
    if (ec) fs::copy_file(weights, dir / "model.safetensors");
  }
  ~SchemaBDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

class SchemaB : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    golden_dir_ = test::src_path("tests/data/golden/" + GetParam());
    ASSERT_TRUE(fs::exists(golden_dir_ + "/legacy_b/config.json")) << golden_dir_ << ": schema-B config missing";
    ASSERT_TRUE(fs::exists(golden_dir_ + "/legacy/model.safetensors")) << golden_dir_ << ": legacy weights missing";
    Checkpoint golden(golden_dir_ + "/golden.safetensors");
    ids_ = test::tensor_i32(golden, "ids");
    auto shp = test::tensor_shape(golden, "ids");
    B_ = shp[0];
    T_ = shp[1];
    logits_passthrough_ = test::tensor_f32(golden, "logits_passthrough");
  }
  // Full forward of both golden sequences in one batched call; expert choices [B·T, P].
  std::vector<float> full_logits(const Model& m, std::vector<int32_t>* choice) const {
    std::vector<SeqState> st;
    for (int64_t b = 0; b < B_; ++b) st.push_back(m.new_state());
    std::vector<SeqChunk> batch;
    for (int64_t b = 0; b < B_; ++b) batch.push_back({&st[size_t(b)], ids_.data() + b * T_, T_});
    std::vector<float> out(size_t(B_ * T_ * m.config().vocab_size));
    Workspace ws;
    ForwardOptions fo;
    fo.all_logits = true;
    choice->assign(size_t(B_ * T_ * m.config().n_pairs), -1);
    fo.expert_choice = choice->data();
    m.forward(batch, out.data(), ws, fo);
    return out;
  }

  std::string golden_dir_;
  std::vector<int32_t> ids_;
  std::vector<float> logits_passthrough_;
  int64_t B_ = 0, T_ = 0;
};

TEST_P(SchemaB, SameLogitsAndExpertChoicesAsNative) {
  SchemaBDir b(golden_dir_);
  LoadOptions lo;
  lo.quiet = true;
  auto def = Model::load(b.dir.string(), reference_backend(), lo);
  EXPECT_EQ(def->config().layout, CheckpointLayout::Legacy);
  EXPECT_EQ(def->config().skip_mode, SkipMode::PassThrough);  // legacy default (spec §4.3)
  // Anchor against transformers, so that both loads being wrong in the same way cannot pass.
  std::vector<int32_t> choice;
  double err_golden = rel_err(full_logits(*def, &choice), logits_passthrough_);
  EXPECT_LT(err_golden, 1e-4) << "schema B vs the transformers golden logits (pass-through semantics)";
  // Same semantics on both sides: both skip-slot behaviours (they differ where the slot is reachable, g2swa).
  for (SkipMode mode : {SkipMode::Zero, SkipMode::PassThrough}) {
    lo.skip_mode = mode;
    auto mb = Model::load(b.dir.string(), reference_backend(), lo);
    auto mn = Model::load(golden_dir_ + "/native", reference_backend(), lo);
    ASSERT_EQ(mb->config().n_pairs, mn->config().n_pairs);
    std::vector<int32_t> choice_b, choice_n;
    auto lb = full_logits(*mb, &choice_b);
    auto ln = full_logits(*mn, &choice_n);
    double err = rel_err(lb, ln);
    const char* m = mode == SkipMode::Zero ? "zero" : "pass-through";
    std::printf("%s (%s): schema-B vs native logits relative error %.3g\n", GetParam().c_str(), m, err);
    EXPECT_LT(err, 1e-5) << "skip semantics " << m;
    EXPECT_EQ(choice_b, choice_n) << "expert choices differ, skip semantics " << m;
  }
}

INSTANTIATE_TEST_SUITE_P(All, SchemaB, testing::Values("g4", "g1odd", "g2swa"));

}  // namespace
}  // namespace zaya
