// The CPU fp32 model against the upstream transformers ZayaForCausalLM (golden vectors written by
// tools/reference/make_golden.py): logits of a batched full forward, expert choices, greedy
// continuation, chunked prefill + decode vs one full pass, and both checkpoint layouts.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "infer/generate.h"
#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

using test::rel_err;

struct Case {
  std::string name;    // golden config
  std::string layout;  // native | legacy | native_sharded
};

std::string case_name(const testing::TestParamInfo<Case>& i) { return i.param.name + "_" + i.param.layout; }

class Golden : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    dir_ = test::src_path("tests/data/golden/" + GetParam().name);
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/golden.safetensors")) << dir_ << ": golden data missing";
    golden_ = std::make_unique<Checkpoint>(dir_ + "/golden.safetensors");
    ids_ = test::tensor_i32(*golden_, "ids");
    auto shp = test::tensor_shape(*golden_, "ids");
    B_ = shp[0];
    T_ = shp[1];
  }
  std::unique_ptr<Model> load(std::optional<SkipMode> mode = {}) {
    LoadOptions lo;
    lo.quiet = true;
    lo.skip_mode = mode;
    return Model::load(dir_ + "/" + GetParam().layout, reference_backend(), lo);
  }
  bool legacy() const { return GetParam().layout == "legacy"; }
  // Full forward of both golden sequences in ONE batched call.
  std::vector<float> full_logits(const Model& m, std::vector<int32_t>* choice = nullptr) {
    const int64_t V = m.config().vocab_size;
    std::vector<SeqState> st;
    for (int64_t b = 0; b < B_; ++b) st.push_back(m.new_state());
    std::vector<SeqChunk> batch;
    for (int64_t b = 0; b < B_; ++b) batch.push_back({&st[size_t(b)], ids_.data() + b * T_, T_});
    std::vector<float> out(size_t(B_ * T_ * V));
    Workspace ws;
    ForwardOptions fo;
    fo.all_logits = true;
    if (choice) {
      choice->assign(size_t(B_ * T_ * m.config().n_pairs), -1);
      fo.expert_choice = choice->data();
    }
    m.forward(batch, out.data(), ws, fo);
    return out;
  }

  std::string dir_;
  std::unique_ptr<Checkpoint> golden_;
  std::vector<int32_t> ids_;
  int64_t B_ = 0, T_ = 0;
};

TEST_P(Golden, LogitsMatchTransformers) {
  auto m = load();
  std::vector<int32_t> choice;
  auto got = full_logits(*m, &choice);
  // Default semantics: upstream "zero" for native, fork "pass-through" for legacy checkpoints.
  auto want = test::tensor_f32(*golden_, legacy() ? "logits_passthrough" : "logits");
  double err = rel_err(got, want);
  std::printf("%s/%s: logits relative error %.3g\n", GetParam().name.c_str(), GetParam().layout.c_str(), err);
  EXPECT_LT(err, 1e-4) << "relative error of the logits";
  // The other skip semantics must differ where the skip slot is reachable (the check can fail).
  if (GetParam().name == "g2swa") {
    auto other = test::tensor_f32(*golden_, legacy() ? "logits" : "logits_passthrough");
    EXPECT_GT(rel_err(got, other), 1e-2);
  }
  if (!legacy()) {
    auto ref_choice = test::tensor_i32(*golden_, "expert_choice");
    EXPECT_EQ(choice, ref_choice) << "expert choices differ";
  }
}

TEST_P(Golden, SkipModeOverride) {
  auto m = load(legacy() ? SkipMode::Zero : SkipMode::PassThrough);
  auto want = test::tensor_f32(*golden_, legacy() ? "logits" : "logits_passthrough");
  EXPECT_LT(rel_err(full_logits(*m), want), 1e-4);
}

TEST_P(Golden, GreedyContinuationMatches) {
  auto m = load();
  auto prompt = test::tensor_i32(*golden_, "greedy_prompt");
  auto want = test::tensor_i32(*golden_, legacy() ? "greedy_tokens_passthrough" : "greedy_tokens");
  GenerateOptions go;
  go.max_new_tokens = int64_t(want.size());
  go.prefill_chunk = 3;  // exercise chunked prefill too
  auto out = generate(*m, {prompt}, go);
  EXPECT_EQ(out[0], want);
}

TEST_P(Golden, ChunkedPrefillAndDecodeEqualFullPass) {
  auto m = load();
  const int64_t V = m->config().vocab_size;
  auto full = full_logits(*m);
  for (int64_t b = 0; b < B_; ++b) {
    SeqState st = m->new_state();
    Workspace ws;
    std::vector<float> got;
    const int32_t* ids = ids_.data() + b * T_;
    // Chunks of 3 and 5 tokens, then one token at a time.
    std::vector<int64_t> sizes = {3, 5};
    while (3 + 5 + int64_t(sizes.size()) - 2 < T_) sizes.push_back(1);
    int64_t off = 0;
    for (int64_t n : sizes) {
      if (off >= T_) break;
      n = std::min(n, T_ - off);
      std::vector<float> lg(size_t(n * V));
      SeqChunk c{&st, ids + off, n};
      ForwardOptions fo;
      fo.all_logits = true;
      m->forward(std::span<const SeqChunk>(&c, 1), lg.data(), ws, fo);
      got.insert(got.end(), lg.begin(), lg.end());
      off += n;
    }
    ASSERT_EQ(off, T_);
    EXPECT_LT(rel_err(got.data(), full.data() + b * T_ * V, size_t(T_ * V)), 1e-5) << "sequence " << b;
  }
}

TEST_P(Golden, BatchOfUnequalPromptsEqualsSeparateRuns) {
  auto m = load();
  std::vector<int32_t> a(ids_.begin(), ids_.begin() + 5), b(ids_.begin() + T_, ids_.begin() + T_ + 11);
  GenerateOptions go;
  go.max_new_tokens = 9;
  go.prefill_chunk = 4;
  auto both = generate(*m, {a, b}, go);
  EXPECT_EQ(both[0], generate(*m, {a}, go)[0]);
  EXPECT_EQ(both[1], generate(*m, {b}, go)[0]);
}

// generate refuses a prompt plus new tokens longer than max_position_embeddings, naming both.
TEST(GoldenLimits, GenerateChecksMaxPositionEmbeddings) {
  const std::string dir = test::src_path("tests/data/golden/g4/native");
  LoadOptions lo;
  lo.quiet = true;
  auto m = Model::load(dir, reference_backend(), lo);
  const int64_t maxp = m->config().max_position_embeddings;
  ASSERT_GT(maxp, 8);
  std::vector<int32_t> prompt(size_t(maxp - 4), 5);
  GenerateOptions go;
  go.max_new_tokens = 4;
  EXPECT_NO_THROW(generate(*m, {prompt}, go));
  go.max_new_tokens = 5;
  try {
    generate(*m, {prompt}, go);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings (" + std::to_string(maxp) + ")"), std::string::npos)
        << e.what();
  }
}

const Case kCases[] = {
    {"g4", "native"},    {"g4", "legacy"},    {"g4", "native_sharded"}, {"g1odd", "native"},
    {"g1odd", "legacy"}, {"g2swa", "native"}, {"g2swa", "legacy"},
};
INSTANTIATE_TEST_SUITE_P(All, Golden, testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace zaya
