// zaya eval (src/infer/eval.h, docs/eval.md): lm-evaluation-harness's definitions — Python's word and
// length counts, rolling perplexity windows, the context/continuation split — and scores through the
// engine equal to an independent forward with every row's logits; `zaya eval` end to end and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "infer/engine.h"
#include "infer/eval.h"
#include "infer/generate.h"
#include "test_util.h"

namespace zaya {
namespace {

struct Tiny {
  std::string dir;
  std::unique_ptr<Backend> be;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

const Tiny& tiny() {
  static Tiny* t = [] {
    auto* x = new Tiny;
    x->dir = (std::filesystem::temp_directory_path() / ("zaya_test_eval_" + std::to_string(::getpid()))).string();
    EXPECT_EQ(test::make_tiny_serving_model(x->dir), "");
    x->be = make_backend("cpu-f32");
    LoadOptions lo;
    lo.quiet = true;
    x->model = Model::load(x->dir, *x->be, lo);
    x->tok = std::make_unique<Tokenizer>(Tokenizer::from_file(x->dir + "/tokenizer.json"));
    return x;
  }();
  return *t;
}

// Independent of the engine: one unchunked forward over all ids, log-softmax in double, summed over
// positions [ctxlen, n). greedy: every scored token is the row's argmax.
double direct_ll(const std::vector<int32_t>& ids, size_t ctxlen, bool* greedy = nullptr) {
  const Model& m = *tiny().model;
  const int64_t V = m.config().vocab_size, n = int64_t(ids.size());
  SeqState st = m.new_state(n);
  Workspace ws;
  std::vector<float> logits(size_t(n) * size_t(V));
  SeqChunk c{&st, ids.data(), n};
  ForwardOptions fo;
  fo.all_logits = true;
  m.forward({&c, 1}, logits.data(), ws, fo);
  double sum = 0;
  if (greedy) *greedy = true;
  for (size_t t = ctxlen; t < ids.size(); ++t) {
    const float* row = logits.data() + (t - 1) * size_t(V);
    double mx = row[0], s = 0;
    int64_t arg = 0;
    for (int64_t i = 0; i < V; ++i)
      if (row[i] > mx) mx = row[i], arg = i;
    for (int64_t i = 0; i < V; ++i) s += std::exp(double(row[i]) - mx);
    sum += double(row[ids[t]]) - mx - std::log(s);
    if (greedy && arg != ids[t]) *greedy = false;
  }
  return sum;
}

std::vector<int32_t> concat(const TokenPair& p) {
  std::vector<int32_t> v = p.context;
  v.insert(v.end(), p.continuation.begin(), p.continuation.end());
  return v;
}

// ---------------------------------------------------------------- Python's definitions
TEST(Eval, CountWordsIsLenOfReSplit) {
  // Expected values: len(re.split(r"\s+", s)) in CPython 3.11.
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"", 1}, {"a", 1}, {"  a b ", 4}, {"a\u00a0b", 2}, {"a\u200bb", 1}, {"\u3000x\u3000", 3},
      {"one\ttwo\nthree", 3}, {"\x1cX", 2}, {"é à", 2}, {"\n\n", 2}, {"a\u2028b\u0085c\u180ed", 3},
      {"  Héllo wörld\tfoo\n\u3000bar 日本語 😀 end\n", 9}};
  for (auto& [s, n] : cases) EXPECT_EQ(count_words(s), n) << "'" << s << "'";
  EXPECT_EQ(count_words("\xff \xfe"), 2);  // invalid bytes are non-space characters
  EXPECT_EQ(utf8_length("é"), 1u);
  EXPECT_EQ(utf8_length("日本"), 2u);
  EXPECT_EQ(utf8_length("😀"), 1u);
  EXPECT_EQ(utf8_length("a\xff"), 2u);
  EXPECT_EQ(strip_ws("  a b \u3000\t"), "a b");
  EXPECT_EQ(rstrip_length("Answer: \n"), 7u);
  EXPECT_EQ(rstrip_length("x\u00a0"), 1u);
  EXPECT_EQ(rstrip_length("   "), 0u);
}

// ---------------------------------------------------------------- rolling windows
TEST(Eval, RollingWindowsHandExample) {
  // Tokens 1..10, max_length 6: lm-eval predicts ≤ 4 tokens per window, each request ≤ 5 tokens.
  std::vector<int32_t> t{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto w = rolling_windows(t, 99, 6);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].context, (std::vector<int32_t>{99}));
  EXPECT_EQ(w[0].continuation, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(w[1].context, (std::vector<int32_t>{4}));
  EXPECT_EQ(w[1].continuation, (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(w[2].context, (std::vector<int32_t>{6, 7, 8}));
  EXPECT_EQ(w[2].continuation, (std::vector<int32_t>{9, 10}));
  EXPECT_TRUE(rolling_windows({}, 99, 6).empty());
  EXPECT_THROW(rolling_windows(t, 99, 2), Error);
}

TEST(Eval, RollingWindowsPredictEveryTokenOnce) {
  for (int64_t M = 3; M <= 12; ++M)
    for (int n = 1; n <= 40; ++n) {
      std::vector<int32_t> t(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) t[size_t(i)] = 1000 + i;
      auto w = rolling_windows(t, 7, M);
      std::vector<int32_t> predicted;
      size_t pos = 0;
      for (size_t k = 0; k < w.size(); ++k) {
        ASSERT_FALSE(w[k].context.empty());
        ASSERT_FALSE(w[k].continuation.empty());
        ASSERT_LE(int64_t(w[k].context.size() + w[k].continuation.size()), M - 1) << "M=" << M << " n=" << n;
        // The context is exactly what precedes the continuation ([prefix] for the first window).
        if (k > 0) {
          ASSERT_LE(w[k].context.size(), pos);
          ASSERT_EQ(int64_t(w[k].context.size() + w[k].continuation.size()), M - 1);
        }
        std::vector<int32_t> before = k == 0 ? std::vector<int32_t>{7}
                                             : std::vector<int32_t>(t.begin() + std::ptrdiff_t(pos - w[k].context.size()),
                                                                    t.begin() + std::ptrdiff_t(pos));
        ASSERT_EQ(w[k].context, before) << "M=" << M << " n=" << n << " window " << k;
        predicted.insert(predicted.end(), w[k].continuation.begin(), w[k].continuation.end());
        pos += w[k].continuation.size();
      }
      ASSERT_EQ(predicted, t) << "M=" << M << " n=" << n;
    }
}

// ---------------------------------------------------------------- tokenization as lm-eval
TEST(Eval, EncodePairSplitsLikeLmEval) {
  const Tokenizer& tok = *tiny().tok;
  const int32_t prefix = prefix_token_id(tok);
  EXPECT_EQ(prefix, 2);  // Gemma 3 <bos>
  // Trailing whitespace moves to the continuation; the split is by the context's token count.
  TokenPair p = encode_pair(tok, "Answer: ", " yes", prefix);
  EXPECT_EQ(p.context, tok.encode("Answer:", false));
  std::vector<int32_t> whole = tok.encode("Answer:  yes", false);
  EXPECT_EQ(p.continuation, std::vector<int32_t>(whole.begin() + std::ptrdiff_t(p.context.size()), whole.end()));
  EXPECT_EQ(concat(p), whole);
  TokenPair nl = encode_pair(tok, "Q\n\n", " A", prefix);
  EXPECT_EQ(nl.context, tok.encode("Q", false));
  EXPECT_EQ(concat(nl), tok.encode("Q\n\n A", false));
  // An empty context conditions on the prefix token, unless the continuation starts with it.
  TokenPair e = encode_pair(tok, "", " Hello", prefix);
  EXPECT_EQ(e.context, (std::vector<int32_t>{2}));
  EXPECT_EQ(e.continuation, tok.encode(" Hello", false));
  TokenPair eb = encode_pair(tok, "", "<bos>Hi", prefix);
  std::vector<int32_t> hi = tok.encode("<bos>Hi", false);
  ASSERT_EQ(hi[0], 2);
  EXPECT_EQ(eb.context, (std::vector<int32_t>{2}));
  EXPECT_EQ(eb.continuation, std::vector<int32_t>(hi.begin() + 1, hi.end()));
  // No special tokens unless asked (lm-eval's remote tokenizer sends add_special_tokens=false).
  EXPECT_NE(p.context[0], 2);
  TokenPair b = encode_pair(tok, "Answer:", " yes", prefix, true);
  EXPECT_EQ(b.context, tok.encode("Answer:", true));
  EXPECT_EQ(b.context[0], 2);
}

// ---------------------------------------------------------------- log-likelihood through the engine
TEST(Eval, LoglikelihoodEqualsDirectForward) {
  const Model& m = *tiny().model;
  std::mt19937_64 g(test::test_seed());
  const int64_t V = m.config().vocab_size;
  std::vector<TokenPair> reqs;
  for (int i = 0; i < 6; ++i) {
    TokenPair p;
    for (int64_t k = 1 + int64_t(g() % 20); k > 0; --k) p.context.push_back(int32_t(g() % uint64_t(V)));
    for (int64_t k = 1 + int64_t(g() % 6); k > 0; --k) p.continuation.push_back(int32_t(g() % uint64_t(V)));
    reqs.push_back(p);
  }
  // A greedy continuation: three argmax tokens after a context.
  TokenPair gp;
  gp.context = {2, 818, 5279, 529, 7001, 563};
  {
    std::vector<int32_t> ids = gp.context;
    GenerateOptions go;
    go.max_new_tokens = 3;
    gp.continuation = generate(m, {ids}, go)[0];
  }
  reqs.push_back(gp);
  EngineOptions eo;
  eo.slots = 3;
  eo.prefill_chunk = 5;  // several chunks per request, interleaved across slots
  eo.ctx = 64;
  Engine e(m, eo);
  auto got = loglikelihood(e, reqs, 64);
  ASSERT_EQ(got.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    bool greedy = false;
    const double want = direct_ll(concat(reqs[i]), reqs[i].context.size(), &greedy);
    ASSERT_TRUE(std::isfinite(got[i].logprob));
    EXPECT_LE(std::abs(got[i].logprob - want), 1e-5 * std::abs(want)) << "request " << i;
    EXPECT_EQ(got[i].is_greedy, greedy) << "request " << i;
  }
  EXPECT_TRUE(got.back().is_greedy);
}

TEST(Eval, LoglikelihoodTruncatesLikeLmEval) {
  const Model& m = *tiny().model;
  EngineOptions eo;
  eo.ctx = 16;
  Engine e(m, eo);
  TokenPair p;
  for (int i = 0; i < 15; ++i) p.context.push_back(1000 + 37 * i);
  p.continuation = {236761, 1234, 99};
  // max_length 12: the input is the last 11 tokens; the context keeps its last 8.
  auto got = loglikelihood(e, {p}, 12);
  std::vector<int32_t> all = concat(p);
  std::vector<int32_t> kept(all.end() - 11, all.end());
  const double want = direct_ll(kept, 8);
  EXPECT_LE(std::abs(got[0].logprob - want), 1e-5 * std::abs(want));
  TokenPair big;
  big.context = {5, 6};
  big.continuation.assign(11, 1000);
  try {
    loglikelihood(e, {big}, 12);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("leaves no context token"), std::string::npos) << err.what();
  }
}

// ---------------------------------------------------------------- multiple choice
TEST(Eval, MultipleChoiceScoresByHand) {
  std::vector<McItem> items = {
      {"q1", {"a", "bbbb"}, 1},  // ll: a wins; per character: bbbb wins
      {"q2", {"é", "ab"}, 0},    // per character (code points): ab wins; per byte é would
      {"q3", {"x", "y", "z"}, 0},  // a tie: the first index, as numpy.argmax
  };
  auto L = [](std::vector<double> v) {
    std::vector<Loglikelihood> o;
    for (double x : v) o.push_back({x, false});
    return o;
  };
  McResult r = score_multiple_choice(items, {L({-2, -4}), L({-1.5, -2.0}), L({-3, -3, -5})});
  EXPECT_EQ(r.pred, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(r.pred_norm, (std::vector<int64_t>{1, 1, 0}));
  EXPECT_DOUBLE_EQ(r.acc, 2.0 / 3.0);       // items 2 and 3
  EXPECT_DOUBLE_EQ(r.acc_norm, 2.0 / 3.0);  // items 1 and 3
  // mean_stderr of {0,1,1}: sample std sqrt(1/3) / sqrt(3) = 1/3.
  EXPECT_NEAR(r.acc_stderr, 1.0 / 3.0, 1e-15);
  EXPECT_EQ(r.n, 3);
  EXPECT_THROW(score_multiple_choice(items, {L({NAN, -4}), L({-1.5, -2.0}), L({-3, -3, -5})}), Error);
  EXPECT_EQ(argmax_first({-1, 5, 5, 2}), 1);
}

TEST(Eval, MultipleChoiceThroughEngine) {
  const Tiny& t = tiny();
  TaskFile task = load_task(test::src_path("tools/reference/lm_eval_task/zaya_mc.jsonl"), 0);
  ASSERT_FALSE(task.generation);
  ASSERT_GE(task.mc.size(), 20u);
  std::vector<McItem> items;
  for (size_t i : {0, 8, 10, 14, 25})  // plain, trailing space, trailing newline, unicode, empty context
    items.push_back(task.mc[i]);
  ASSERT_EQ(items[4].context, "");
  EngineOptions eo;
  eo.ctx = 2048;
  Engine e(*t.model, eo);
  McResult r = eval_multiple_choice(e, *t.tok, items, 2048);
  ASSERT_EQ(r.lls.size(), items.size());
  std::vector<double> acc, accn;
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<double> ll, norm;
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      TokenPair p = encode_pair(*t.tok, items[i].context, " " + items[i].choices[c], 2);
      EXPECT_EQ(r.requests[i][c].context, p.context);
      const double want = direct_ll(concat(p), p.context.size());
      EXPECT_LE(std::abs(r.lls[i][c].logprob - want), 1e-5 * std::abs(want)) << "item " << i << " choice " << c;
      ll.push_back(want);
      norm.push_back(want / double(utf8_length(items[i].choices[c])));
    }
    acc.push_back(argmax_first(ll) == items[i].gold);
    accn.push_back(argmax_first(norm) == items[i].gold);
  }
  EXPECT_DOUBLE_EQ(r.acc, (acc[0] + acc[1] + acc[2] + acc[3] + acc[4]) / 5);
  EXPECT_DOUBLE_EQ(r.acc_norm, (accn[0] + accn[1] + accn[2] + accn[3] + accn[4]) / 5);
}

// ---------------------------------------------------------------- perplexity
TEST(Eval, PerplexityDefinitions) {
  const Tiny& t = tiny();
  const std::vector<std::string> docs = {"  Héllo wörld\tfoo\n\u3000bar 日本語 😀 end\n",
                                         "second document, with\u00a0nbsp"};
  EngineOptions eo;
  eo.ctx = 8;
  Engine e(*t.model, eo);
  PerplexityResult r = perplexity(e, *t.tok, docs, 8);  // windows of ≤ 7 tokens: several per document
  EXPECT_EQ(r.n_words, 9 + 4);
  EXPECT_EQ(r.n_bytes, 46 + 27);
  EXPECT_EQ(r.n_docs, 2);
  double ll = 0;
  int64_t n_tok = 0, n_win = 0;
  for (auto& d : docs) {
    auto ids = t.tok->encode(d, false);
    n_tok += int64_t(ids.size());
    for (auto& w : rolling_windows(ids, 2, 8)) {
      ll += direct_ll(concat(w), w.context.size());
      ++n_win;
    }
  }
  EXPECT_EQ(r.n_tokens, n_tok);
  EXPECT_EQ(r.n_requests, n_win);
  EXPECT_GT(n_win, 4);
  EXPECT_LE(std::abs(r.loglikelihood - ll), 1e-5 * std::abs(ll));
  EXPECT_NEAR(r.word_perplexity, std::exp(-r.loglikelihood / 13), 1e-9 * r.word_perplexity);
  EXPECT_NEAR(r.byte_perplexity, std::exp(-r.loglikelihood / 73), 1e-9 * r.byte_perplexity);
  EXPECT_NEAR(r.bits_per_byte, -r.loglikelihood / 73 / std::log(2.0), 1e-12);
  EXPECT_NEAR(r.token_perplexity, std::exp(-r.loglikelihood / double(n_tok)), 1e-9 * r.token_perplexity);
  EXPECT_NEAR(std::pow(2.0, r.bits_per_byte), r.byte_perplexity, 1e-9 * r.byte_perplexity);
}

// ---------------------------------------------------------------- generation
TEST(Eval, GenerationScoring) {
  EXPECT_EQ(cut_at_stops("abc\n\nQ: next", {"\n\n", "Q:"}), "abc");
  EXPECT_EQ(cut_at_stops("abc", {""}), "abc");
  // Boxed answers use zaya rsa's last_boxed / normalize_answer (tested in their own tests).
  std::vector<GenItem> items = {{"p", " 42 "}, {"p", "\\dfrac{1}{2}"}, {"p", "The answer is \\boxed{7}"}, {"p", "x"},
                                {"p", "The answer is \\boxed{7}"}, {"p", ""}};
  GenResult r = score_generation(items, {"42\n", "so \\boxed{ \\frac{1}{2} }.", "\\boxed{8}", "y",
                                         "\\boxed{1} then \\boxed{ 7 }.", "\\boxed{}"});
  EXPECT_EQ(r.exact, (std::vector<bool>{true, false, false, false, false, false}));
  EXPECT_EQ(r.boxed, (std::vector<bool>{false, true, false, false, true, false}));
  EXPECT_DOUBLE_EQ(r.exact_match, 1.0 / 6);
  EXPECT_DOUBLE_EQ(r.boxed_match, 2.0 / 6);
}

TEST(Eval, GenerationIsGreedyDecode) {
  const Tiny& t = tiny();
  std::vector<GenItem> items = {{"The capital of France is", "Paris"}, {"1, 2, 3,", "4"}};
  GenOptions go;
  go.max_tokens = 6;
  go.stop_ids = t.model->config().eos_ids;
  go.until = {"\n"};
  EngineOptions eo;
  eo.ctx = 64;
  go.max_length = 64;
  Engine e(*t.model, eo);
  GenResult r = eval_generation(e, *t.tok, items, go);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (size_t i = 0; i < items.size(); ++i) {
    GenerateOptions g;
    g.max_new_tokens = 6;
    g.stop_ids = go.stop_ids;
    auto ids = generate(*t.model, {t.tok->encode(items[i].prompt, false)}, g)[0];
    if (!ids.empty() && std::find(g.stop_ids.begin(), g.stop_ids.end(), ids.back()) != g.stop_ids.end()) ids.pop_back();
    std::string want = t.tok->decode(ids, true);
    want = want.substr(0, want.find('\n'));
    EXPECT_EQ(r.outputs[i], want) << "item " << i;
  }
}

// ---------------------------------------------------------------- the command
nlohmann::json run_json(const std::string& args, int* code = nullptr) {
  test::RunResult r = test::run_zaya("eval --model " + tiny().dir + " --backend cpu-f32 --format json " + args);
  if (code) *code = r.code;
  EXPECT_EQ(r.code, 0) << r.out;
  // The JSON object is the last thing printed (the progress bar goes to stderr, merged here).
  size_t p = r.out.find("{\n");
  EXPECT_NE(p, std::string::npos) << r.out;
  return p == std::string::npos ? nlohmann::json() : nlohmann::json::parse(r.out.substr(p));
}

TEST(EvalCli, MultipleChoiceJsonAndSamples) {
  const std::string samples = tiny().dir + "/samples.jsonl";
  nlohmann::json j = run_json("--task " + test::src_path("tools/reference/lm_eval_task/zaya_mc.jsonl") +
                              " --limit 8 --samples " + samples);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["n"], 8);
  TaskFile task = load_task(test::src_path("tools/reference/lm_eval_task/zaya_mc.jsonl"), 8);
  std::vector<std::vector<Loglikelihood>> lls;
  std::string data = read_file(samples);
  size_t pos = 0, k = 0;
  for (size_t nl; (nl = data.find('\n', pos)) != std::string::npos; pos = nl + 1, ++k) {
    auto s = nlohmann::json::parse(data.substr(pos, nl - pos));
    lls.emplace_back();
    for (double v : s["lls"]) lls.back().push_back({v, false});
  }
  ASSERT_EQ(k, 8u);
  McResult byhand = score_multiple_choice(task.mc, lls);
  EXPECT_DOUBLE_EQ(j["acc"].get<double>(), byhand.acc);
  EXPECT_DOUBLE_EQ(j["acc_norm"].get<double>(), byhand.acc_norm);
  EXPECT_TRUE(j["acc_stderr"].is_number());
}

TEST(EvalCli, PerplexityJson) {
  const std::string f = tiny().dir + "/ppl.txt";
  write_file_atomic(f, "  Héllo wörld\tfoo\n\u3000bar 日本語 😀 end\n");
  nlohmann::json j = run_json("--perplexity " + f + " --max-length 8");
  EXPECT_EQ(j["n_words"], 9);
  EXPECT_EQ(j["n_bytes"], 46);
  EXPECT_EQ(j["n_docs"], 1);
  const double ll = j["loglikelihood"];
  EXPECT_NEAR(j["word_perplexity"].get<double>(), std::exp(-ll / 9), 1e-9 * std::exp(-ll / 9));
  EXPECT_NEAR(j["bits_per_byte"].get<double>(), -ll / 46 / std::log(2.0), 1e-12);
  const std::string fj = tiny().dir + "/ppl.jsonl";
  write_file_atomic(fj, "{\"text\": \"one two\"}\n\n{\"text\": \" three\"}\n");
  nlohmann::json k = run_json("--perplexity " + fj);
  EXPECT_EQ(k["n_docs"], 2);
  EXPECT_EQ(k["n_words"], 2 + 2);
  EXPECT_EQ(k["n_bytes"], 7 + 6);
}

TEST(EvalCli, GenerationJson) {
  const std::string f = tiny().dir + "/gen.jsonl";
  write_file_atomic(f, "{\"prompt\": \"2 + 2 =\", \"answer\": \"4\"}\n{\"prompt\": \"Hi\", \"answer\": 5}\n");
  nlohmann::json j = run_json("--task " + f + " --max-tokens 3 --until '\\n'");
  EXPECT_EQ(j["n"], 2);
  EXPECT_TRUE(j["exact_match"].is_number());
  EXPECT_TRUE(j["boxed_match"].is_number());
}

TEST(EvalCli, BadTaskFilesNameTheLine) {
  const std::string d = tiny().dir;
  auto bad = [&](const std::string& name, const std::string& content, const std::vector<std::string>& needles) {
    write_file_atomic(d + "/" + name, content);
    test::expect_clean_error(test::run_zaya("eval --model " + d + " --task " + d + "/" + name), needles);
  };
  const std::string ok = "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n";
  bad("badjson.jsonl", ok + "{\"context\": \n", {"badjson.jsonl:2", "invalid JSON"});
  bad("nogold.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"b\"]}\n", {"nogold.jsonl:1", "\"gold\""});
  bad("range.jsonl", ok + "\n" + "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n",
      {"range.jsonl:3", "out of range"});
  bad("neg.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": -1}\n", {"neg.jsonl:1", "out of range"});
  bad("strgold.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"gold\": \"a\"}\n", {"strgold.jsonl:1", "integer"});
  bad("nocontext.jsonl", "{\"choices\": [\"a\", \"b\"], \"gold\": 0}\n", {"nocontext.jsonl:1", "\"context\""});
  bad("choices.jsonl", "{\"context\": \"c\", \"choices\": \"ab\", \"gold\": 0}\n", {"choices.jsonl:1", "\"choices\""});
  bad("emptychoice.jsonl", "{\"context\": \"c\", \"choices\": [\"a\", \"\"], \"gold\": 0}\n", {"emptychoice.jsonl:1", "choice 1"});
  bad("mixed.jsonl", ok + "{\"prompt\": \"p\", \"answer\": \"a\"}\n", {"mixed.jsonl:2", "generation item"});
  bad("noanswer.jsonl", "{\"prompt\": \"p\"}\n", {"noanswer.jsonl:1", "\"answer\""});
  bad("unknown.jsonl", "{\"question\": \"q\"}\n", {"unknown.jsonl:1", "expected"});
  bad("array.jsonl", "[1, 2]\n", {"array.jsonl:1", "object"});
  bad("empty.jsonl", "\n\n", {"empty.jsonl", "no items"});
  test::expect_clean_error(test::run_zaya("eval --model " + d + " --task " + d + "/missing.jsonl"), {"missing.jsonl"});
  test::expect_clean_error(test::run_zaya("eval --model " + d), {"--perplexity", "--task"});
  write_file_atomic(d + "/badppl.jsonl", "{\"text\": 3}\n");
  test::expect_clean_error(test::run_zaya("eval --model " + d + " --perplexity " + d + "/badppl.jsonl"),
                           {"badppl.jsonl:1", "text"});
  write_file_atomic(d + "/ppl2.txt", "some text");
  test::expect_clean_error(test::run_zaya("eval --model " + d + " --perplexity " + d + "/ppl2.txt --max-length 100000"),
                           {"max_position_embeddings"});
}

}  // namespace
}  // namespace zaya
