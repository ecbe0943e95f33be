// Markovian RSA (src/infer/rsa.h, docs/rsa.md): tails, the aggregation prompt, \boxed{} extraction and
// the vote, the round loop against a scripted backend (populations, distinct parents from the previous
// round only, exact tails, usage), configuration parsing and presets. test_rsa_model.cpp runs a tiny model.
#include "infer/rsa.h"

#include <gtest/gtest.h>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/fileutil.h"
#include "test_util.h"

namespace zaya {
namespace {

using json = nlohmann::json;

const std::string kGemmaPath = ZAYA_SOURCE_DIR "/../shared/data/gemma3/tokenizer.json";

const Tokenizer& bytelevel() {
  static const Tokenizer t = Tokenizer::from_file(test::src_path("tests/data/tokenizer/bytelevel/tokenizer.json"));
  return t;
}
const Tokenizer* gemma() {
  static const std::unique_ptr<Tokenizer> t =
      file_exists(kGemmaPath) ? std::make_unique<Tokenizer>(Tokenizer::from_file(kGemmaPath)) : nullptr;
  return t.get();
}

std::string words(const std::string& tag, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + tag + std::to_string(i);
  return s;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// ---- text helpers ----

TEST(RsaText, ReasoningPart) {
  EXPECT_EQ(rsa_reasoning_part("  think hard\n</think>\n\nThe answer is \\boxed{3}."), "think hard");
  EXPECT_EQ(rsa_reasoning_part("<think>\nsteps\n</think>\nanswer"), "steps");
  EXPECT_EQ(rsa_reasoning_part("no tags here \\boxed{1}\n"), "no tags here \\boxed{1}");
  EXPECT_EQ(rsa_reasoning_part("<think>\n</think>\n\nonly content"), "only content");  // empty think block
  EXPECT_EQ(rsa_reasoning_part("cut off mid <thi"), "cut off mid <thi");
}

void expect_token_tail(const Tokenizer& tok, const std::string& text, int64_t tau) {
  int64_t len = -1;
  std::string tail = rsa_tail(tok, text, tau, false, &len);
  const int64_t total = int64_t(tok.encode(text, false).size());
  if (total <= tau) {
    EXPECT_EQ(tail, text);
    EXPECT_EQ(len, total);
    return;
  }
  ASSERT_TRUE(starts_with(tail, kRsaTruncationMarker)) << tail;
  std::string body = tail.substr(std::strlen(kRsaTruncationMarker));
  EXPECT_EQ(len, tau);
  EXPECT_EQ(int64_t(tok.encode(body, false).size()), tau) << "tail: " << body;
  EXPECT_TRUE(ends_with(text, body)) << "tail is not a suffix: " << body;
}

TEST(RsaText, TokenTailIsExact) {
  const std::string text = "Let x be the number of apples. Then 3x + 5 = 20, so x = 5. Check: 3*5+5 = 20. "
                           "Therefore the answer is five; we write \\boxed{5} at the end of the reasoning.";
  for (int64_t tau : {1, 2, 7, 16, 40, 1000}) expect_token_tail(bytelevel(), text, tau);
  int64_t len = 0;
  EXPECT_EQ(rsa_tail(bytelevel(), "", 4, false, &len), "");
  EXPECT_EQ(len, 0);
  if (!gemma()) GTEST_SKIP() << "Gemma 3 tokenizer not found at " << kGemmaPath;
  for (int64_t tau : {1, 3, 8, 25, 500}) expect_token_tail(*gemma(), text, tau);
  expect_token_tail(*gemma(), "Ünïcödé wörds — and émojis 😀😀 end here", 5);
}

TEST(RsaText, WordTail) {
  int64_t len = 0;
  EXPECT_EQ(rsa_tail(bytelevel(), "a  b\n\nc\td e", 3, true, &len), std::string(kRsaTruncationMarker) + "c d e");
  EXPECT_EQ(len, 3);
  EXPECT_EQ(rsa_tail(bytelevel(), " a b\n", 2, true, &len), " a b\n");  // not longer: unchanged
  EXPECT_EQ(len, 2);
  EXPECT_THROW(rsa_tail(bytelevel(), "a", 0, true, &len), Error);
}

TEST(RsaText, AggregationPromptExactText) {
  const std::string expect =
      "Several candidate solutions to the problem below follow. Some of them may be wrong or incomplete. "
      "Combine their useful ideas into one better solution. Where the candidates disagree, work out which "
      "path is correct and follow it. If all of them are wrong, try a new strategy.\n\n"
      "Problem:\nWhat is 2+2?\n\n"
      "Solution 1:\nfirst tail\n\n"
      "Solution 2:\n...second tail\n\n"
      "Write one improved solution to the problem, with clear reasoning, and put the final answer in \\boxed{}.";
  EXPECT_EQ(rsa_aggregation_prompt("What is 2+2?", {"first tail", "...second tail"}), expect);
}

TEST(RsaText, LastBoxed) {
  EXPECT_EQ(last_boxed("so \\boxed{\\frac{1}{2}}."), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("\\boxed{1} then \\boxed{ 2 }"), " 2 ");
  EXPECT_EQ(last_boxed("\\boxed {7}"), "7");
  EXPECT_EQ(last_boxed("\\boxed{\\{a\\}} x"), "\\{a\\}");          // escaped braces are literal
  EXPECT_EQ(last_boxed("\\boxed{3} and cut \\boxed{\\frac{1"), "3");  // unclosed last box: the one before
  EXPECT_EQ(last_boxed("no box"), std::nullopt);
  EXPECT_EQ(last_boxed("\\boxedfoo{3}"), std::nullopt);
  EXPECT_EQ(last_boxed("\\boxed{}"), "");
}

TEST(RsaText, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer(" \\dfrac{1}{2} "), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("\\tfrac12"), "\\frac12");
  EXPECT_EQ(normalize_answer("$\\left( 1, 2 \\right)$"), "(1,2)");
  EXPECT_EQ(normalize_answer("\\left.x\\right|"), "x|");
  EXPECT_EQ(normalize_answer("\\rightarrow"), "\\rightarrow");  // not \right
  EXPECT_EQ(normalize_answer("10\\,000."), "10000");
  EXPECT_EQ(normalize_answer("3\\!\\cdot\\!4"), "3\\cdot4");
  EXPECT_EQ(normalize_answer("\\text{ 5 apples }"), "5apples");
  EXPECT_EQ(normalize_answer("\\textbf{\\mathrm{A}}"), "A");
  EXPECT_EQ(normalize_answer("90^\\circ"), "90");
  EXPECT_EQ(normalize_answer("90^{\\circ}"), "90");
  EXPECT_EQ(normalize_answer("\\displaystyle \\frac{a}{b}"), "\\frac{a}{b}");
  EXPECT_EQ(normalize_answer("x=3.5"), "x=3.5");  // inner dots stay
  EXPECT_EQ(normalize_answer("  . "), "");
}

RsaOutput out(const std::string& text, bool finished = true) {
  RsaOutput o;
  o.text = text;
  o.finished = finished;
  return o;
}

TEST(RsaText, MajorityVote) {
  std::string a;
  std::vector<std::pair<std::string, int>> tally;
  // Plain majority after normalisation; traces without a box (or with an empty one) do not vote.
  EXPECT_EQ(majority_vote({out("\\boxed{2}"), out("no box"), out("\\boxed{\\dfrac{1}{2}}"),
                           out("\\boxed{\\frac{1}{2}}"), out("\\boxed{}")},
                          &a, &tally),
            2);
  EXPECT_EQ(a, "\\frac{1}{2}");
  ASSERT_EQ(tally.size(), 2u);
  EXPECT_EQ(tally[0], (std::pair<std::string, int>{"2", 1}));
  EXPECT_EQ(tally[1], (std::pair<std::string, int>{"\\frac{1}{2}", 2}));
  // A tie goes to the answer seen first in trace order...
  EXPECT_EQ(majority_vote({out("\\boxed{7}"), out("\\boxed{8}"), out("\\boxed{8}"), out("\\boxed{7}")}, &a), 0);
  EXPECT_EQ(a, "7");
  // ...counting finished traces first: 7's only finished trace comes after 8's.
  EXPECT_EQ(majority_vote({out("\\boxed{7}", false), out("\\boxed{8}"), out("\\boxed{7}"), out("\\boxed{8}", false)}, &a),
            1);
  EXPECT_EQ(a, "8");
  // The winning trace is a finished one when the answer has one.
  EXPECT_EQ(majority_vote({out("\\boxed{4}", false), out("\\boxed{5}"), out("\\boxed{4}")}, &a), 2);
  EXPECT_EQ(a, "4");
  // Nothing boxed: -1 and an empty answer.
  a = "stale";
  EXPECT_EQ(majority_vote({out("none"), out("\\boxed{ }")}, &a, &tally), -1);
  EXPECT_EQ(a, "");
  EXPECT_TRUE(tally.empty());
}

// ---- the round loop against a scripted backend ----

// Each call's text holds a long reasoning ending in a tag naming its round and index, then the answer.
struct Scripted {
  int calls = 0;
  std::vector<std::vector<RsaCall>> batches;
  std::vector<std::vector<RsaOutput>> outputs;
  std::function<std::string(int round, int i)> answer = [](int, int i) { return std::to_string(i % 3); };
  int reasoning_words = 60;

  RsaBackend backend() {
    return [this](const std::vector<RsaCall>& cs) {
      const int round = calls++;
      batches.push_back(cs);
      std::vector<RsaOutput> outs;
      for (size_t i = 0; i < cs.size(); ++i) {
        RsaOutput o;
        o.text = words("w", reasoning_words) + " end-r" + std::to_string(round) + "-i" + std::to_string(i) +
                 "\n</think>\n\nSo the answer is \\boxed{" + answer(round, int(i)) + "}.";
        o.prompt_tokens = int64_t(cs[i].prompt_text.size()) + 10;
        o.completion_tokens = 100 + int64_t(i) + 1000 * round;
        o.finished = i % 2 == 0;
        outs.push_back(o);
      }
      outputs.push_back(outs);
      return outs;
    };
  }
};

RsaConfig small_config() {
  RsaConfig c;
  c.n = 6;
  c.k = 3;
  c.rounds = 2;
  c.tau = 12;
  c.max_tokens = 77;
  c.seed = 5;
  return c;
}

TEST(RsaLoop, PopulationsParentsTailsAndUsage) {
  const Tokenizer& tok = bytelevel();
  RsaConfig c = small_config();
  Scripted s;
  std::vector<std::tuple<int, int, int>> progress;
  RsaResult r = run_rsa(c, "Find x.", tok, s.backend(), [&](int rd, int d, int t) { progress.push_back({rd, d, t}); });
  // One backend call per round, N calls each.
  ASSERT_EQ(s.calls, c.rounds + 1);
  ASSERT_EQ(r.rounds.size(), size_t(c.rounds + 1));
  for (int rd = 0; rd <= c.rounds; ++rd) {
    ASSERT_EQ(s.batches[size_t(rd)].size(), size_t(c.n));
    EXPECT_EQ(r.rounds[size_t(rd)].population, c.n);
    EXPECT_EQ(progress[size_t(2 * rd)], std::make_tuple(rd, 0, c.n));
    EXPECT_EQ(progress[size_t(2 * rd + 1)], std::make_tuple(rd, c.n, c.n));
  }
  // Round 0: the problem itself, N distinct seeds, the round budget and sampling.
  std::set<uint64_t> seeds;
  for (auto& call : s.batches[0]) {
    EXPECT_EQ(call.prompt_text, "Find x.");
    EXPECT_EQ(call.max_tokens, 77);
    EXPECT_EQ(call.temperature, c.temperature);
    seeds.insert(call.seed);
  }
  EXPECT_EQ(seeds.size(), size_t(c.n));
  EXPECT_TRUE(r.rounds[0].parents.empty());
  for (int rd = 1; rd <= c.rounds; ++rd) {
    const RsaRound& rec = r.rounds[size_t(rd)];
    const RsaRound& prev = r.rounds[size_t(rd - 1)];
    ASSERT_EQ(rec.parents.size(), size_t(c.n));
    ASSERT_EQ(prev.tail_tokens.size(), size_t(c.n));
    for (int i = 0; i < c.n; ++i) {
      const auto& par = rec.parents[size_t(i)];
      ASSERT_EQ(par.size(), size_t(c.k));
      EXPECT_EQ(std::set<int>(par.begin(), par.end()).size(), size_t(c.k)) << "parents not distinct";
      // The prompt is exactly the problem plus the tails of these parents of the previous round.
      std::vector<std::string> tails;
      for (int p : par) {
        ASSERT_TRUE(p >= 0 && p < c.n);
        const std::string reasoning = rsa_reasoning_part(s.outputs[size_t(rd - 1)][size_t(p)].text);
        int64_t len = 0;
        tails.push_back(rsa_tail(tok, reasoning, c.tau, false, &len));
        EXPECT_EQ(len, c.tau);
        EXPECT_EQ(prev.tail_tokens[size_t(p)], c.tau);
        // Token-exact, from the reasoning's end (the tag of the parent's round and index).
        std::string body = tails.back().substr(std::strlen(kRsaTruncationMarker));
        EXPECT_EQ(int64_t(tok.encode(body, false).size()), c.tau);
        EXPECT_TRUE(ends_with(body, "end-r" + std::to_string(rd - 1) + "-i" + std::to_string(p))) << body;
      }
      EXPECT_EQ(s.batches[size_t(rd)][size_t(i)].prompt_text, rsa_aggregation_prompt("Find x.", tails));
    }
  }
  // Vote: no tails carried out of the last round.
  EXPECT_TRUE(r.rounds.back().tail_tokens.empty());
  // Usage: Σ over every call, and per round.
  int64_t pt = 0, ct = 0;
  for (size_t rd = 0; rd < s.outputs.size(); ++rd) {
    int64_t rpt = 0, rct = 0;
    for (size_t i = 0; i < s.outputs[rd].size(); ++i) {
      rpt += s.outputs[rd][i].prompt_tokens;
      rct += s.outputs[rd][i].completion_tokens;
      EXPECT_EQ(r.rounds[rd].completion_lengths[i], s.outputs[rd][i].completion_tokens);
    }
    EXPECT_EQ(r.rounds[rd].prompt_tokens, rpt);
    EXPECT_EQ(r.rounds[rd].completion_tokens, rct);
    pt += rpt;
    ct += rct;
  }
  EXPECT_EQ(r.prompt_tokens, pt);
  EXPECT_EQ(r.completion_tokens, ct);
  // The vote over the last round: answers i % 3 → {0,1,2} twice each; finished traces (even i) are
  // counted first: 0 (i=0), 2 (i=2), 1 (i=4) → tie goes to "0", won by trace 0.
  EXPECT_EQ(r.answer, "0");
  EXPECT_EQ(r.winner, 0);
  EXPECT_EQ(r.final_text, s.outputs.back()[0].text);
  EXPECT_FALSE(r.final_call.has_value());
  // JSON: the interface names.
  json j = r.to_json();
  EXPECT_EQ(j["answer"], "0");
  ASSERT_EQ(j["rounds"].size(), size_t(c.rounds + 1));
  EXPECT_EQ(j["rounds"][1]["population"], c.n);
  EXPECT_EQ(j["rounds"][1]["parents"].size(), size_t(c.n));
  EXPECT_EQ(j["rounds"][0]["tail_tokens"], json(std::vector<int64_t>(size_t(c.n), c.tau)));
  EXPECT_EQ(j["rounds"][2]["completion_lengths"].size(), size_t(c.n));
  EXPECT_EQ(j["rounds"][2]["prompt_tokens"], r.rounds[2].prompt_tokens);
  EXPECT_EQ(j["rounds"][2]["completion_tokens"], r.rounds[2].completion_tokens);
  EXPECT_EQ(j["usage"]["prompt_tokens"], pt);
  EXPECT_EQ(j["usage"]["completion_tokens"], ct);
  EXPECT_EQ(j["usage"]["total_tokens"], pt + ct);
  EXPECT_EQ(j["config"]["n"], c.n);
  EXPECT_EQ(j["vote"]["winner"], 0);
  EXPECT_EQ(j["final_text"], r.final_text);
}

TEST(RsaLoop, ShortTracesCarryWhole) {
  RsaConfig c = small_config();
  c.tau = 100000;
  c.rounds = 1;
  Scripted s;
  RsaResult r = run_rsa(c, "P", bytelevel(), s.backend());
  for (size_t i = 0; i < size_t(c.n); ++i) {
    std::string reasoning = rsa_reasoning_part(s.outputs[0][i].text);
    EXPECT_EQ(r.rounds[0].tail_tokens[i], int64_t(bytelevel().encode(reasoning, false).size()));
    EXPECT_EQ(s.batches[1][i].prompt_text.find(kRsaTruncationMarker + std::string("w0")), std::string::npos);
  }
}

TEST(RsaLoop, WordTailsAndDeterminism) {
  RsaConfig c = small_config();
  c.tail_words = true;
  c.tau = 5;
  Scripted s1, s2, s3;
  RsaResult a = run_rsa(c, "P", bytelevel(), s1.backend());
  RsaResult b = run_rsa(c, "P", bytelevel(), s2.backend());
  EXPECT_EQ(a.to_json(), b.to_json());
  for (size_t i = 0; i < s1.batches.size(); ++i)
    for (size_t j = 0; j < s1.batches[i].size(); ++j) {
      EXPECT_EQ(s1.batches[i][j].prompt_text, s2.batches[i][j].prompt_text);
      EXPECT_EQ(s1.batches[i][j].seed, s2.batches[i][j].seed);
    }
  // "w55 … w59 end-rR-iI": the last 5 words of the reasoning.
  EXPECT_NE(s1.batches[1][0].prompt_text.find("\n...w56 w57 w58 w59 end-r0-i"), std::string::npos);
  EXPECT_EQ(a.rounds[0].tail_tokens, std::vector<int64_t>(size_t(c.n), 5));
  c.seed = 6;
  RsaResult d = run_rsa(c, "P", bytelevel(), s3.backend());
  EXPECT_NE(a.rounds[1].parents, d.rounds[1].parents);
}

TEST(RsaLoop, FinalAggregation) {
  RsaConfig c = small_config();
  c.final_aggregate = true;
  c.final_max_tokens = 333;
  c.final_temperature = 0.6f;
  c.final_top_p = 0.95f;
  c.final_top_k = 40;
  Scripted s;
  s.answer = [](int round, int i) { return round == 3 ? "\\dfrac{3}{4}" : std::to_string(i); };
  RsaResult r = run_rsa(c, "P", bytelevel(), s.backend());
  ASSERT_EQ(s.calls, c.rounds + 2);
  ASSERT_EQ(s.batches.back().size(), 1u);
  const RsaCall& fc = s.batches.back()[0];
  EXPECT_EQ(fc.max_tokens, 333);
  EXPECT_FLOAT_EQ(fc.temperature, 0.6f);
  EXPECT_FLOAT_EQ(fc.top_p, 0.95f);
  EXPECT_EQ(fc.top_k, 40);
  ASSERT_TRUE(r.final_call.has_value());
  ASSERT_EQ(r.final_call->parents.size(), size_t(c.k));
  std::vector<std::string> tails;
  for (int p : r.final_call->parents) {
    int64_t len;
    tails.push_back(rsa_tail(bytelevel(), rsa_reasoning_part(s.outputs[size_t(c.rounds)][size_t(p)].text), c.tau,
                             false, &len));
  }
  EXPECT_EQ(fc.prompt_text, rsa_aggregation_prompt("P", tails));
  EXPECT_EQ(r.rounds.back().tail_tokens.size(), size_t(c.n));  // carried into the final call
  EXPECT_EQ(r.answer, "\\dfrac{3}{4}");
  EXPECT_EQ(r.answer_normalized, "\\frac{3}{4}");
  EXPECT_EQ(r.final_text, s.outputs.back()[0].text);
  int64_t total = 0;
  for (auto& o : s.outputs)
    for (auto& x : o) total += x.prompt_tokens + x.completion_tokens;
  EXPECT_EQ(r.to_json()["usage"]["total_tokens"], total);
  EXPECT_EQ(r.to_json()["final"]["completion_tokens"], s.outputs.back()[0].completion_tokens);
}

TEST(RsaLoop, NoBoxAndRoundsZero) {
  RsaConfig c = small_config();
  c.rounds = 0;
  int calls = 0;
  RsaBackend be = [&](const std::vector<RsaCall>& cs) {
    ++calls;
    std::vector<RsaOutput> o(cs.size());
    for (size_t i = 0; i < cs.size(); ++i) {
      o[i].text = "nothing boxed " + std::to_string(i);
      o[i].finished = i == 2;
    }
    return o;
  };
  RsaResult r = run_rsa(c, "P", bytelevel(), be);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.answer, "");
  EXPECT_EQ(r.winner, -1);
  EXPECT_EQ(r.final_text, "nothing boxed 2");  // the first finished trace
  EXPECT_TRUE(r.to_json()["vote"]["winner"].is_null());
  // A backend that loses outputs is an error, not a silent short population.
  RsaBackend bad = [](const std::vector<RsaCall>& cs) { return std::vector<RsaOutput>(cs.size() - 1); };
  EXPECT_THROW(run_rsa(c, "P", bytelevel(), bad), Error);
  EXPECT_THROW(run_rsa(c, "", bytelevel(), be), Error);
}

// ---- configuration ----

void expect_error(const json& j, const std::string& needle) {
  try {
    RsaConfig::from_json(j);
    ADD_FAILURE() << "no error for " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RsaConfig, FromJsonErrors) {
  expect_error(json::array(), "object");
  expect_error({{"bogus", 1}}, "\"bogus\"");
  expect_error({{"n", "4"}}, "\"n\"");
  expect_error({{"n", 4.5}}, "\"n\"");
  expect_error({{"n", 0}}, "\"n\"");
  expect_error({{"n", 2}, {"k", 3}}, "\"k\"");
  expect_error({{"k", 0}}, "\"k\"");
  expect_error({{"rounds", -1}}, "\"rounds\"");
  expect_error({{"tau", 0}}, "\"tau\"");
  expect_error({{"tail_unit", "chars"}}, "\"tail_unit\"");
  expect_error({{"final", "best"}}, "\"final\"");
  expect_error({{"max_tokens", 0}}, "\"max_tokens\"");
  expect_error({{"seed", -3}}, "\"seed\"");
  expect_error({{"top_p", 0}}, "\"top_p\"");
  expect_error({{"temperature", -1}}, "\"temperature\"");
  expect_error({{"preset", "fast"}}, "fast");
  expect_error({{"preset", "report"}, {"n", 2}}, "\"k\"");  // preset k = 4 > n = 2
}

TEST(RsaConfig, PresetsAndOverrides) {
  RsaConfig r = RsaConfig::preset("report");
  EXPECT_EQ(r.n, 16);
  EXPECT_EQ(r.k, 4);
  EXPECT_EQ(r.rounds, 1);  // T = 2 total rounds: round 0 + one aggregation round
  EXPECT_EQ(r.tau, 4096);
  EXPECT_FALSE(r.tail_words);
  EXPECT_EQ(r.max_tokens, 40000);
  EXPECT_FALSE(r.final_aggregate);
  RsaConfig z = RsaConfig::preset("zyphra-proxy");
  EXPECT_EQ(z.n, 32);
  EXPECT_EQ(z.k, 4);
  EXPECT_EQ(z.rounds + (z.final_aggregate ? 1 : 0), 8);  // 8 aggregation steps after round 0
  EXPECT_TRUE(z.tail_words);
  EXPECT_EQ(z.tau, 4096);
  EXPECT_EQ(z.max_tokens, 32768);
  EXPECT_EQ(z.final_budget(), 61440);
  EXPECT_FLOAT_EQ(z.final_temperature, 0.6f);
  EXPECT_FLOAT_EQ(z.final_top_p, 0.95f);
  EXPECT_EQ(z.final_top_k, 40);
  EXPECT_THROW(RsaConfig::preset("nope"), Error);

  RsaConfig o = RsaConfig::from_json({{"preset", "zyphra-proxy"}, {"n", 8}, {"tail_unit", "tokens"}, {"final", "vote"},
                                      {"seed", 9}, {"top_k", 20}, {"final_max_tokens", 0}});
  EXPECT_EQ(o.n, 8);
  EXPECT_EQ(o.k, 4);
  EXPECT_FALSE(o.tail_words);
  EXPECT_FALSE(o.final_aggregate);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.top_k, 20);
  EXPECT_EQ(o.final_budget(), 32768);
  // to_json round-trips through from_json.
  json j = o.to_json();
  EXPECT_EQ(RsaConfig::from_json(j).to_json(), j);
  EXPECT_EQ(j["top_p"], 1.0);
  EXPECT_EQ(RsaConfig::from_json({{"final_top_p", 0.95}}).to_json()["final_top_p"], 0.95);
}

}  // namespace
}  // namespace zaya
