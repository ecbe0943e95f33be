// The whole model on each backend: cpu-bf16 against the fp32 reference on the golden configs
// (expert choices and logits), and the one-definition property: inference and training run the same
// forward, bit for bit, on the same backend.
#include <gtest/gtest.h>

#include <cstring>

#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

using test::rel_err;

struct Forward {
  std::vector<float> logits;
  std::vector<int32_t> choice;
};

// Full forward of both golden sequences in one batched inference call.
Forward infer(const std::string& dir, Backend& be, const test::GoldenBatch& g) {
  LoadOptions lo;
  lo.quiet = true;
  auto m = Model::load(dir, be, lo);
  const int64_t V = m->config().vocab_size;
  std::vector<SeqState> st;
  for (int64_t b = 0; b < g.B; ++b) st.push_back(m->new_state());
  std::vector<SeqChunk> batch;
  for (int64_t b = 0; b < g.B; ++b) batch.push_back({&st[size_t(b)], g.ids.data() + b * g.T, g.T});
  Forward r;
  r.logits.resize(size_t(g.B * g.T * V));
  r.choice.assign(size_t(g.B * g.T * m->config().n_pairs), -1);
  Workspace ws;
  ForwardOptions fo;
  fo.all_logits = true;
  fo.expert_choice = r.choice.data();
  m->forward(batch, r.logits.data(), ws, fo);
  return r;
}

const char* kGoldens[] = {"g4", "g1odd", "g2swa"};

// Issue 6 acceptance: on cpu-bf16 the model picks the same experts as fp32 on >= 99 % of the golden
// configs' routing decisions (all tokens, all pairs), with logits within 2e-2 relative of fp32. A flipped
// top-1 decision is a discrete change (the token gets another expert's output, and every later token
// sees it through attention), so the logits bound applies to the positions whose routing — at that
// position and every earlier one of its sequence — matched; the error over all positions is printed.
TEST(Backends, Bf16PicksTheSameExpertsAndLogitsWithin2e2) {
  auto f32 = make_backend("cpu-f32"), bf16 = make_backend("cpu-bf16");
  int64_t same = 0, total = 0;
  for (const char* name : kGoldens) {
    const std::string dir = test::src_path(std::string("tests/data/golden/") + name + "/native");
    auto g = test::golden_batch(name);
    Forward a = infer(dir, *f32, g), b = infer(dir, *bf16, g);
    const int64_t P = int64_t(a.choice.size()) / (g.B * g.T), V = int64_t(a.logits.size()) / (g.B * g.T);
    int64_t s = 0;
    for (size_t i = 0; i < a.choice.size(); ++i) s += a.choice[i] == b.choice[i];
    std::vector<float> ma, mb;  // logits of the matched-prefix positions
    int64_t matched = 0;
    for (int64_t q = 0; q < g.B; ++q)
      for (int64_t t = 0; t < g.T; ++t) {
        bool ok = true;
        for (int64_t u = 0; u <= t && ok; ++u)
          for (int64_t j = 0; j < P; ++j) ok &= a.choice[size_t((q * g.T + u) * P + j)] == b.choice[size_t((q * g.T + u) * P + j)];
        if (!ok) break;
        ++matched;
        ma.insert(ma.end(), a.logits.begin() + (q * g.T + t) * V, a.logits.begin() + (q * g.T + t + 1) * V);
        mb.insert(mb.end(), b.logits.begin() + (q * g.T + t) * V, b.logits.begin() + (q * g.T + t + 1) * V);
      }
    const double e_all = rel_err(b.logits, a.logits), e = rel_err(mb, ma);
    std::printf("%s: cpu-bf16 vs cpu-f32: same expert in %lld of %zu decisions; logits relative error %.3g over "
                "the %lld matched positions (of %lld), %.3g over all\n",
                name, (long long)s, a.choice.size(), e, (long long)matched, (long long)(g.B * g.T), e_all);
    EXPECT_GT(matched, g.B * g.T / 2) << name;
    EXPECT_LT(e, 2e-2) << name;
    same += s;
    total += int64_t(a.choice.size());
  }
  const double agree = double(same) / double(total);
  std::printf("all goldens: %.2f %% of %lld routing decisions agree\n", 100 * agree, (long long)total);
  EXPECT_GE(agree, 0.99);
}

// The forward of inference (decode states, KV cache) and of training (segments, saved activations)
// is the same computation: bitwise-identical logits on the same backend and the same batch.
TEST(Backends, InferenceAndTrainingForwardAreBitwiseIdentical) {
  for (const std::string& bn : backend_names()) {
    auto be = make_backend(bn);
    for (const char* name : kGoldens) {
      const std::string dir = test::src_path(std::string("tests/data/golden/") + name + "/native");
      auto g = test::golden_batch(name);
      Forward inf = infer(dir, *be, g);
      for (bool recompute : {false, true}) {
        auto t = Model::create(load_config(dir + "/config.json"), *be);
        t->load_params(Checkpoint(dir));
        t->set_recompute(recompute);
        t->step(g.ids.data(), g.targets.data(), g.B, g.T, /*backward=*/false);
        std::vector<float> tl = t->logits();
        ASSERT_EQ(tl.size(), inf.logits.size());
        EXPECT_EQ(std::memcmp(tl.data(), inf.logits.data(), tl.size() * 4), 0)
            << bn << " " << name << (recompute ? " (recompute)" : "") << ": relative difference "
            << rel_err(tl, inf.logits);
        std::vector<int32_t> tc = t->choices();
        EXPECT_EQ(tc, inf.choice) << bn << " " << name;
      }
    }
  }
}

// Training with recomputation: loss and every gradient bitwise identical to keeping the activations,
// on both backends (the fp32 golden-gradient test checks the values).
TEST(Backends, RecomputationIsBitwiseIdenticalOnEveryBackend) {
  for (const std::string& bn : backend_names()) {
    auto be = make_backend(bn);
    const std::string dir = test::src_path("tests/data/golden/g2swa/native");
    auto g = test::golden_batch("g2swa");
    auto a = Model::create(load_config(dir + "/config.json"), *be);
    auto b = Model::create(load_config(dir + "/config.json"), *be);
    a->load_params(Checkpoint(dir));
    b->load_params(Checkpoint(dir));
    b->set_recompute(true);
    EXPECT_EQ(a->step(g.ids.data(), g.targets.data(), g.B, g.T), b->step(g.ids.data(), g.targets.data(), g.B, g.T))
        << bn;
    EXPECT_EQ(a->grads_host(), b->grads_host()) << bn;
  }
}

// cpu-bf16 gradients stay close to the fp32 reference (mixed precision, not a different model).
TEST(Backends, Bf16GradientsTrackFp32) {
  auto f32 = make_backend("cpu-f32"), bf16 = make_backend("cpu-bf16");
  for (const char* name : kGoldens) {
    const std::string dir = test::src_path(std::string("tests/data/golden/") + name + "/native");
    auto g = test::golden_batch(name);
    auto a = Model::create(load_config(dir + "/config.json"), *f32);
    auto b = Model::create(load_config(dir + "/config.json"), *bf16);
    a->load_params(Checkpoint(dir));
    b->load_params(Checkpoint(dir));
    const double la = a->step(g.ids.data(), g.targets.data(), g.B, g.T);
    const double lb = b->step(g.ids.data(), g.targets.data(), g.B, g.T);
    const double e = rel_err(b->grads_host(), a->grads_host());
    std::printf("%s: loss fp32 %.5f bf16 %.5f; all-gradient relative error %.3g\n", name, la, lb, e);
    EXPECT_NEAR(lb, la, 1e-2 * std::abs(la)) << name;
    EXPECT_LT(e, 0.1) << name;
  }
}

// cpu-bf16's rounding is exactly round-to-nearest-even bf16 (ties included), fp32 storage; cpu-f32's is
// the identity.
TEST(Backends, RoundToPrecisionIsExactBf16) {
  std::mt19937_64 g(test::test_seed());
  std::vector<float> x = test::randn(100003, g, 3.0f);
  x[0] = bf16_to_f32(0x3f80) + std::ldexp(1.0f, -8);  // a tie: 1 + half a bf16 ulp rounds to even (1)
  x[1] = bf16_to_f32(0x3f81) + std::ldexp(1.0f, -8);  // a tie that rounds up to 0x3f82
  auto bf = make_backend("cpu-bf16"), f32 = make_backend("cpu-f32");
  std::vector<float> a = x, b = x;
  bf->round_to_precision(a.data(), int64_t(a.size()));
  f32->round_to_precision(b.data(), int64_t(b.size()));
  EXPECT_EQ(b, x);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], bf16_to_f32(f32_to_bf16(x[i]))) << i << " " << x[i];
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(a[1], bf16_to_f32(0x3f82));
}

}  // namespace
}  // namespace zaya
