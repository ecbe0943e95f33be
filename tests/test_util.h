// Shared helpers for the C++ tests: golden-file access and relative-error comparison.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/fileutil.h"
#include "io/safetensors.h"

namespace zaya::test {

inline std::string src_path(const std::string& rel) { return std::string(ZAYA_SOURCE_DIR) + "/" + rel; }

// ‖a−b‖/‖b‖, +inf if any NaN/Inf appears in a (NaN never passes). Any float/double mix.
template <typename A, typename B>
double rel_err(const A* a, const B* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(double(a[i]))) return INFINITY;
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}
template <typename A, typename B>
double rel_err(const std::vector<A>& a, const std::vector<B>& b) {
  EXPECT_EQ(a.size(), b.size());
  return rel_err(a.data(), b.data(), std::min(a.size(), b.size()));
}

inline std::vector<float> tensor_f32(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  if (!t) ADD_FAILURE() << "golden tensor " << name << " missing";
  if (!t) return {};
  std::vector<uint8_t> raw(t->data, t->data + t->nbytes);
  std::vector<float> v(size_t(t->numel()));
  convert_to_f32(t->dtype, raw.data(), v.data(), v.size());
  return v;
}
inline std::vector<int32_t> tensor_i32(const Checkpoint& ck, const std::string& name) {
  std::vector<float> f = tensor_f32(ck, name);
  return std::vector<int32_t>(f.begin(), f.end());
}
inline std::vector<int64_t> tensor_shape(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  return t ? t->shape : std::vector<int64_t>{};
}

// The two golden sequences of tests/data/golden/<name> with next-token targets (the causal-LM loss
// of transformers: position t predicts t+1, the last position of each sequence is ignored).
struct GoldenBatch {
  std::vector<int32_t> ids, targets;
  int64_t B = 0, T = 0;
};
inline GoldenBatch golden_batch(const std::string& name) {
  Checkpoint golden(src_path("tests/data/golden/" + name + "/golden.safetensors"));
  GoldenBatch g;
  g.ids = tensor_i32(golden, "ids");
  auto shape = tensor_shape(golden, "ids");
  g.B = shape[0];
  g.T = shape[1];
  g.targets.resize(g.ids.size());
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t t = 0; t < g.T; ++t)
      g.targets[size_t(b * g.T + t)] = t + 1 < g.T ? g.ids[size_t(b * g.T + t + 1)] : -100;
  return g;
}

// The seed of a test binary's fresh random inputs: ZAYA_TEST_SEED if set, else random; printed once.
inline uint64_t test_seed() {
  static uint64_t s = [] {
    const char* e = std::getenv("ZAYA_TEST_SEED");
    uint64_t v = e ? std::strtoull(e, nullptr, 10) : std::random_device{}();
    std::printf("ZAYA_TEST_SEED=%llu\n", (unsigned long long)v);
    return v;
  }();
  return s;
}

inline std::vector<float> randn(size_t n, std::mt19937_64& g, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Runs the zaya program with stdout and stderr captured.
struct RunResult {
  int code = -1;  // exit status, or 128 + signal
  std::string out;
};
inline RunResult run_zaya(const std::string& args) {
  std::string cmd = std::string(ZAYA_BINARY) + " " + args + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Bad input must end with exit code 1 and "error: ..." naming every needle — no crash, no stack dump.
inline void expect_clean_error(const RunResult& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
  for (auto& s : needles) EXPECT_NE(r.out.find(s), std::string::npos) << "missing '" << s << "' in: " << r.out;
}

// The inputs of the trainer tests, in dir: the test corpus tokenized by `zaya data` (dir/data/corpus.json,
// byte-level BPE 4096, 5 % held out) and a tiny model config (dir/model.json: hidden 32, 2 pairs, 4 experts).
// Returns "" or what failed.
inline std::string make_tiny_training_inputs(const std::string& dir) {
  std::string cmd = std::string(ZAYA_BINARY) + " data --tokenizer " +
                    src_path("tests/data/tokenizer/bytelevel/tokenizer.json") + " --input " +
                    src_path("tests/data/tokenizer/corpus.jsonl") + " --out " + dir +
                    "/data --name corpus --val-fraction 0.05 > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return "zaya data failed: " + cmd;
  write_file_atomic(dir + "/model.json", R"({"model_type": "zaya", "vocab_size": 4096, "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
    "num_experts": 4, "moe_intermediate_size": 32, "router_hidden_size": 16,
    "layer_types": ["hybrid", "hybrid"], "rope_parameters": {"hybrid": {"rope_type": "default",
    "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}, "eos_token_id": 1, "max_position_embeddings": 512})");
  return "";
}

// A tiny served model in dir: configs/zaya1-tiny.json (Gemma 3 vocabulary, 4 pairs) with every
// parameter randomized (--init perturbed, so outputs are not near-uniform), bf16, and the Gemma 3
// tokenizer.json + tokenizer_config.json (its chat template) beside it. Returns "" or what failed.
inline std::string make_tiny_serving_model(const std::string& dir, uint64_t seed = 1) {
  const std::string gemma = std::string(ZAYA_SOURCE_DIR) + "/../shared/data/gemma3/";
  std::string cmd = std::string(ZAYA_BINARY) + " mkckpt --config " + src_path("configs/zaya1-tiny.json") +
                    " --out " + dir + " --init perturbed --seed " + std::to_string(seed) + " --tokenizer " + gemma +
                    "tokenizer.json > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return "zaya mkckpt failed: " + cmd;
  write_file_atomic(dir + "/tokenizer_config.json", read_file(gemma + "tokenizer_config.json"));
  return "";
}

}  // namespace zaya::test
