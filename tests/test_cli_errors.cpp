// Bad input to the `zaya` program: damaged checkpoints, configs and tokenizers must end with a clear
// "error: ..." naming the file, tensor or field, and exit code 1 — never a crash or a stack dump.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/fileutil.h"
#include "io/npy.h"
#include "tokenizer/tokenizer.h"
#include "test_util.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;
using test::expect_clean_error;
Result run(const std::string& args) { return test::run_zaya(args); }
using json = nlohmann::json;



class CliErrors : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("zaya_cli_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A copy of the g4 golden model that a test then damages.
  std::string model_copy(const std::string& name) {
    std::string d = dir_ + "/" + name;
    fs::copy(test::src_path("tests/data/golden/g4/native"), d, fs::copy_options::recursive);
    return d;
  }
  // Rewrites the safetensors header of d/model.safetensors through `edit`, keeping the data.
  void edit_header(const std::string& d, const std::function<void(json&)>& edit) {
    std::string s = read_file(d + "/model.safetensors");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(s[size_t(i)])) << (8 * i);
    json h = json::parse(s.substr(8, n));
    edit(h);
    std::string nh = h.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((nh.size() >> (8 * i)) & 0xff);
    write_file_atomic(d + "/model.safetensors", out + nh + s.substr(8 + n));
  }
  std::string logits(const std::string& d, const std::string& ids = "1,2,3") {
    return "logits --model " + d + " --ids " + ids + " --out " + dir_ + "/out.npy";
  }
  std::string dir_;
};

TEST_F(CliErrors, WorkingModelWritesLogits) {
  std::string d = model_copy("ok");
  Result r = run(logits(d));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(file_exists(dir_ + "/out.npy"));
}

TEST_F(CliErrors, LogitsCommandMatchesGolden) {
  Checkpoint golden(test::src_path("tests/data/golden/g4/golden.safetensors"));
  auto ids = test::tensor_i32(golden, "ids");
  auto want = test::tensor_f32(golden, "logits");
  const int64_t T = test::tensor_shape(golden, "ids")[1], V = 128;
  std::string list;
  for (int64_t t = 0; t < T; ++t) {
    if (t) list += ",";
    list += std::to_string(ids[size_t(t)]);
  }
  // The fp32 reference path (the default backend is cpu-bf16 where AMX makes it faster).
  Result r = run("logits --backend cpu-f32 --model " + test::src_path("tests/data/golden/g4/legacy") + " --ids " + list + " --out " +
                 dir_ + "/l.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<int64_t> shape;
  auto got = read_npy_f32(dir_ + "/l.npy", &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{T, V}));
  EXPECT_LT(test::rel_err(got.data(), want.data(), size_t(T * V)), 1e-4);
}

TEST_F(CliErrors, TokenizeTextAndJsonl) {
  std::string tj = test::src_path("tests/data/tokenizer/bytelevel/tokenizer.json");
  Tokenizer tok = Tokenizer::from_file(tj);
  std::vector<std::string> texts = {"Hello world!", "  two  spaces\tand a tab", "émoji 🚀 ok"};
  std::string jsonl;
  for (auto& t : texts) jsonl += json({{"text", t}}).dump() + "\n";
  write_file_atomic(dir_ + "/in.jsonl", jsonl);
  Result r = run("tokenize --tokenizer " + tj + " --jsonl " + dir_ + "/in.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  for (auto& t : texts) {
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(json::parse(line)["ids"].get<std::vector<int32_t>>(), tok.encode(t)) << t;
  }
  Result one = run("tokenize --tokenizer " + tj + " --text 'Hello world!'");
  ASSERT_EQ(one.code, 0) << one.out;
  EXPECT_EQ(json::parse(one.out).get<std::vector<int32_t>>(), tok.encode("Hello world!"));
  write_file_atomic(dir_ + "/bad.jsonl", "{\"text\": 1}\n");
  expect_clean_error(run("tokenize --tokenizer " + tj + " --jsonl " + dir_ + "/bad.jsonl"), {"bad.jsonl:1"});
}

TEST_F(CliErrors, MissingDirectoryOrConfig) {
  expect_clean_error(run(logits(dir_ + "/nothing")), {"config.json"});
}

TEST_F(CliErrors, TruncatedSafetensors) {
  std::string d = model_copy("trunc");
  for (size_t keep : {size_t(0), size_t(5), size_t(100), size_t(5000)}) {
    std::string s = read_file(test::src_path("tests/data/golden/g4/native/model.safetensors"));
    write_file_atomic(d + "/model.safetensors", s.substr(0, keep));
    expect_clean_error(run(logits(d)), {"model.safetensors"});
  }
}

TEST_F(CliErrors, MalformedHeader) {
  std::string d = model_copy("badjson");
  std::string bad = std::string("\x10\0\0\0\0\0\0\0", 8) + "{\"a\": [1, 2,,]}";
  write_file_atomic(d + "/model.safetensors", bad);
  expect_clean_error(run(logits(d)), {"model.safetensors"});
}

TEST_F(CliErrors, OutOfRangeOffsets) {
  std::string d = model_copy("offsets");
  edit_header(d, [](json& h) { h["model.norm.weight"]["data_offsets"] = {0, 1ull << 40}; });
  expect_clean_error(run(logits(d)), {"model.safetensors", "model.norm.weight"});
}

TEST_F(CliErrors, UnknownDtype) {
  std::string d = model_copy("dtype");
  edit_header(d, [](json& h) { h["model.norm.weight"]["dtype"] = "Q7"; });
  expect_clean_error(run(logits(d)), {"model.norm.weight", "Q7"});
}

TEST_F(CliErrors, MissingTensor) {
  std::string d = model_copy("missing");
  edit_header(d, [](json& h) { h.erase("model.layers.1.self_attn.o_proj.weight"); });
  expect_clean_error(run(logits(d)), {"model.layers.1.self_attn.o_proj.weight", "missing"});
}

TEST_F(CliErrors, MisshapenTensor) {
  std::string d = model_copy("shape");
  // Same element count, transposed shape: only the model-level check can catch it.
  edit_header(d, [](json& h) {
    auto& t = h["model.layers.0.self_attn.o_proj.weight"];
    auto s = t["shape"];
    t["shape"] = {s[1], s[0]};
  });
  expect_clean_error(run(logits(d)), {"model.layers.0.self_attn.o_proj.weight", "shape"});
}

TEST_F(CliErrors, NanWeightsAreRejected) {
  std::string d = model_copy("nan");
  std::string s = read_file(d + "/model.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(s[size_t(i)])) << (8 * i);
  json h = json::parse(s.substr(8, n));
  uint64_t off = h["model.norm.weight"]["data_offsets"][0];
  float nan = NAN;
  std::memcpy(&s[8 + n + off], &nan, 4);
  write_file_atomic(d + "/model.safetensors", s);
  expect_clean_error(run(logits(d)), {"model.norm.weight", "NaN"});
}

TEST_F(CliErrors, InvalidConfigValues) {
  std::string d = model_copy("config");
  json c = json::parse(read_file(d + "/config.json"));
  c["num_key_value_heads"] = 3;
  write_file_atomic(d + "/config.json", c.dump());
  expect_clean_error(run(logits(d)), {"config.json", "key/value heads"});
  c["num_key_value_heads"] = "two";
  write_file_atomic(d + "/config.json", c.dump());
  expect_clean_error(run(logits(d)), {"config.json", "num_key_value_heads"});
  write_file_atomic(d + "/config.json", "{\"hidden_size\": ");
  expect_clean_error(run(logits(d)), {"config.json", "JSON"});
}

TEST_F(CliErrors, BadIds) {
  std::string d = model_copy("ids");
  expect_clean_error(run(logits(d, "1,x,3")), {"--ids", "'x'"});
  expect_clean_error(run(logits(d, "5,100000")), {"100000", "vocabulary"});
}

TEST_F(CliErrors, BrokenTokenizer) {
  std::string tj = read_file(test::src_path("tests/data/tokenizer/bytelevel/tokenizer.json"));
  write_file_atomic(dir_ + "/tok.json", tj.substr(0, tj.size() / 2));
  expect_clean_error(run("tokenize --tokenizer " + dir_ + "/tok.json --text hello"), {"tok.json"});
  json j = json::parse(tj);
  j["model"]["type"] = "Unigram";
  write_file_atomic(dir_ + "/tok2.json", j.dump());
  expect_clean_error(run("tokenize --tokenizer " + dir_ + "/tok2.json --text hello"), {"tok2.json", "Unigram"});
}

// Positions beyond max_position_embeddings are an error (generate: tests/test_model_golden.cpp).
TEST_F(CliErrors, BeyondMaxPositionEmbeddings) {
  std::string d = model_copy("maxpos");
  json c = json::parse(read_file(d + "/config.json"));
  c["max_position_embeddings"] = 8;
  write_file_atomic(d + "/config.json", c.dump());
  EXPECT_EQ(run(logits(d, "1,2,3,4,5,6,7,8")).code, 0);
  expect_clean_error(run(logits(d, "1,2,3,4,5,6,7,8,9")), {"max_position_embeddings"});
  expect_clean_error(run("grad --model " + d + " --ids 1,2,3,4,5,6,7,8,9 --out " + dir_ + "/g.safetensors"),
                     {"max_position_embeddings"});
}

// Unknown backends are rejected with the choices; [run] backend is checked in run.toml.
TEST_F(CliErrors, UnknownBackend) {
  std::string d = model_copy("be");
  Result r = run(logits(d) + " --backend cuda-nope");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("cpu-bf16"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
  for (const char* b : {"cpu-f32", "cpu-bf16"}) EXPECT_EQ(run(logits(d) + " --backend " + b).code, 0) << b;
}

TEST_F(CliErrors, HelpOnEveryCommand) {
  for (std::string c : {"", "generate", "tokenize", "logits", "mkckpt", "info", "bench", "train", "grad", "data",
                        "tokenizer", "plot", "supervise", "ckpt", "ckpt reshape", "size", "bench comm",
                        "bench gemm"}) {
    Result r = run(c + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace zaya
