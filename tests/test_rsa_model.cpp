// Markovian RSA on a tiny real model (docs/rsa.md): the engine backend in process (tails exact through
// the Gemma 3 tokenizer, prompts built from the previous round's tails, usage), and `zaya rsa
// --format json` / its input errors through the binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fileutil.h"
#include "infer/engine.h"
#include "infer/rsa.h"
#include "infer/rsa_engine.h"
#include "serve/chat.h"
#include "test_util.h"

namespace zaya {
namespace {

using json = nlohmann::json;

const std::string kGemmaPath = ZAYA_SOURCE_DIR "/../shared/data/gemma3/tokenizer.json";


struct TinyModel {
  std::string dir, err;
};
// Removes the model directory when the test program exits.
struct RemoveAtExit {
  std::string dir;
  ~RemoveAtExit() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
const TinyModel& tiny() {
  static TinyModel t = [] {
    TinyModel x;
    x.dir = (std::filesystem::temp_directory_path() / ("zaya_test_rsa_" + std::to_string(::getpid()))).string();
    if (file_exists(kGemmaPath)) x.err = test::make_tiny_serving_model(x.dir);
    return x;
  }();
  static RemoveAtExit cleanup{t.dir};
  return t;
}
#define REQUIRE_TINY()                                                                            \
  if (!file_exists(kGemmaPath)) GTEST_SKIP() << "Gemma 3 tokenizer not found at " << kGemmaPath; \
  ASSERT_EQ(tiny().err, "")

TEST(RsaTinyModel, EngineBackendTailsAreExact) {
  REQUIRE_TINY();
  auto be = make_backend("cpu-f32");
  LoadOptions lo;
  lo.quiet = true;
  auto model = Model::load(tiny().dir, *be, lo);
  Tokenizer tok = Tokenizer::from_file(tiny().dir + "/tokenizer.json");
  EngineOptions eo;
  eo.slots = 4;
  Engine engine(*model, eo);
  EngineRsaOptions ro;
  ro.encode_prompt = [&](const std::string& u) { return tok.encode(u, true); };
  ro.stop_ids = model->config().eos_ids;
  RsaBackend inner = engine_rsa_backend(engine, tok, ro);
  std::vector<std::vector<RsaCall>> calls;
  std::vector<std::vector<RsaOutput>> outs;
  RsaBackend rec = [&](const std::vector<RsaCall>& cs) {
    calls.push_back(cs);
    outs.push_back(inner(cs));
    return outs.back();
  };
  RsaConfig c;
  c.n = 4;
  c.k = 2;
  c.rounds = 2;
  c.tau = 8;
  c.max_tokens = 24;
  c.seed = 11;
  RsaResult r = run_rsa(c, "Compute 17 * 3 and put the result in \\boxed{}.", tok, rec);
  ASSERT_EQ(outs.size(), 3u);
  int64_t usage = 0, cut = 0;
  for (size_t rd = 0; rd < outs.size(); ++rd) {
    ASSERT_EQ(outs[rd].size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const RsaOutput& o = outs[rd][i];
      usage += o.prompt_tokens + o.completion_tokens;
      EXPECT_GE(o.completion_tokens, 1);
      EXPECT_LE(o.completion_tokens, 24);
      EXPECT_EQ(o.prompt_tokens, int64_t(tok.encode(calls[rd][i].prompt_text, true).size()));
      if (rd + 1 == outs.size()) continue;
      // The tail carried from this trace: exactly τ tokens through the tokenizer when it was longer.
      const std::string reasoning = rsa_reasoning_part(o.text);
      const int64_t full = int64_t(tok.encode(reasoning, false).size());
      EXPECT_EQ(r.rounds[rd].tail_tokens[i], std::min<int64_t>(full, c.tau)) << reasoning;
      int64_t len = 0;
      std::string tail = rsa_tail(tok, reasoning, c.tau, false, &len);
      if (full > c.tau) {
        ++cut;
        std::string body = tail.substr(std::strlen(kRsaTruncationMarker));
        EXPECT_EQ(int64_t(tok.encode(body, false).size()), c.tau) << body;
      }
    }
  }
  // Each aggregation prompt holds its parents' tails from the previous round.
  for (size_t rd = 1; rd < outs.size(); ++rd)
    for (size_t i = 0; i < 4; ++i) {
      std::vector<std::string> tails;
      for (int p : r.rounds[rd].parents[i]) {
        int64_t len;
        tails.push_back(rsa_tail(tok, rsa_reasoning_part(outs[rd - 1][size_t(p)].text), c.tau, false, &len));
      }
      EXPECT_EQ(calls[rd][i].prompt_text, rsa_aggregation_prompt("Compute 17 * 3 and put the result in \\boxed{}.", tails));
    }
  EXPECT_EQ(r.prompt_tokens + r.completion_tokens, usage);
  EXPECT_GT(cut, 0) << "no trace was longer than tau: the exactness check did not run";
}

TEST(RsaTinyModel, CliJson) {
  REQUIRE_TINY();
  const std::string args = "rsa --model " + tiny().dir +
                           " --prompt 'What is 2+2?' --n 4 --k 2 --rounds 2 --tau 8 --max-tokens 24 --seed 4 "
                           "--format json --threads 2";
  std::string cmd = std::string(ZAYA_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  json j = json::parse(out);
  ASSERT_EQ(j["rounds"].size(), 3u);
  int64_t pt = 0, ct = 0;
  for (size_t rd = 0; rd < 3; ++rd) {
    const json& x = j["rounds"][rd];
    EXPECT_EQ(x["round"], rd);
    EXPECT_EQ(x["population"], 4);
    ASSERT_EQ(x["completion_lengths"].size(), 4u);
    int64_t sum = 0;
    for (auto& l : x["completion_lengths"]) {
      EXPECT_GE(l.get<int64_t>(), 1);
      EXPECT_LE(l.get<int64_t>(), 24);
      sum += l.get<int64_t>();
    }
    EXPECT_EQ(x["completion_tokens"], sum);
    pt += x["prompt_tokens"].get<int64_t>();
    ct += sum;
    if (rd == 0) {
      EXPECT_EQ(x["parents"].size(), 0u);
      // Four identical prompts: the user message rendered through the model's chat template.
      std::optional<ChatTemplate> tmpl = ChatTemplate::load(tiny().dir);
      ASSERT_TRUE(tmpl.has_value());
      Tokenizer tok = Tokenizer::from_file(tiny().dir + "/tokenizer.json");
      const json msgs = json::array({{{"role", "user"}, {"content", "What is 2+2?"}}});
      const int64_t P = int64_t(tok.encode(tmpl->render(msgs, nullptr, true), false).size());
      EXPECT_EQ(x["prompt_tokens"].get<int64_t>(), 4 * P);
    } else {
      ASSERT_EQ(x["parents"].size(), 4u);
      for (auto& par : x["parents"]) {
        ASSERT_EQ(par.size(), 2u);
        EXPECT_NE(par[0], par[1]);
        for (auto& q : par) EXPECT_TRUE(q.get<int>() >= 0 && q.get<int>() < 4);
      }
    }
    if (rd < 2) {
      ASSERT_EQ(x["tail_tokens"].size(), 4u);
      for (auto& t : x["tail_tokens"]) EXPECT_TRUE(t.get<int64_t>() >= 0 && t.get<int64_t>() <= 8);
    } else {
      EXPECT_EQ(x["tail_tokens"].size(), 0u);
    }
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], pt);
  EXPECT_EQ(j["usage"]["completion_tokens"], ct);
  EXPECT_EQ(j["usage"]["total_tokens"], pt + ct);
  EXPECT_TRUE(j["answer"].is_string());
  EXPECT_EQ(j["config"]["n"], 4);
  EXPECT_EQ(j["config"]["rounds"], 2);
}

TEST(RsaTinyModel, CliErrors) {
  REQUIRE_TINY();
  test::expect_clean_error(test::run_zaya("rsa --model " + tiny().dir + " --prompt x --n 2 --k 3"), {"\"k\""});
  test::expect_clean_error(test::run_zaya("rsa --model " + tiny().dir + " --n 2 --k 1"), {"--prompt", "--problems"});
  test::expect_clean_error(test::run_zaya("rsa --model " + tiny().dir + " --problems /nonexistent.jsonl"),
                           {"/nonexistent.jsonl"});
  const std::string bad = tiny().dir + "/bad.jsonl";
  write_file_atomic(bad, "{\"problem\": \"ok\"}\n{\"question\": 1}\n");
  test::expect_clean_error(test::run_zaya("rsa --model " + tiny().dir + " --problems " + bad), {"bad.jsonl:2"});
}

}  // namespace
}  // namespace zaya
