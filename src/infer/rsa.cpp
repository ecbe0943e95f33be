// Markovian RSA: configuration, presets and the round loop (docs/rsa.md, spec zaya1-system §5.1,
// interfaces-and-anchors §2). The text helpers (tails, prompt, vote) are in rsa_text.cpp.
#include "infer/rsa.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/error.h"

namespace zaya {

namespace {

constexpr int kMaxN = 1024, kMaxRounds = 1000;
constexpr int64_t kMaxTokens = int64_t(1) << 24;

// Cut-off float → JSON number with the digits it was given as (0.95f → 0.95, not 0.949999988).
double short_double(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", double(x));
  return std::strtod(buf, nullptr);
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The sampling seed of call i of round r (the final call is round rounds + 1): distinct per call, so
// the N identical round-0 prompts give N different traces.
uint64_t call_seed(uint64_t seed, int round, int i) {
  return splitmix(splitmix(splitmix(seed) + uint64_t(round)) + uint64_t(i));
}

// Uniform in [0, m) from a 64-bit generator, by rejection (the same numbers on every platform).
uint64_t below(std::mt19937_64& g, uint64_t m) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % m;
  uint64_t x;
  do x = g();
  while (x >= limit);
  return x % m;
}

// k distinct indices of [0, n), uniformly, in draw order (partial Fisher–Yates).
std::vector<int> draw_distinct(std::mt19937_64& g, int n, int k) {
  std::vector<int> idx(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) idx[size_t(i)] = i;
  for (int i = 0; i < k; ++i) std::swap(idx[size_t(i)], idx[size_t(i) + size_t(below(g, uint64_t(n - i)))]);
  idx.resize(size_t(k));
  return idx;
}

int64_t get_int(const nlohmann::json& v, const std::string& key) {
  ZAYA_CHECK(v.is_number_integer(), "rsa: \"", key, "\" must be an integer (got ", v.dump(), ")");
  if (v.is_number_unsigned()) {
    ZAYA_CHECK(v.get<uint64_t>() <= uint64_t(INT64_MAX), "rsa: \"", key, "\" is out of range (", v.dump(), ")");
    return int64_t(v.get<uint64_t>());
  }
  return v.get<int64_t>();
}

int32_t get_int32(const nlohmann::json& v, const std::string& key) {
  int64_t x = get_int(v, key);
  ZAYA_CHECK(x >= INT32_MIN && x <= INT32_MAX, "rsa: \"", key, "\" is out of range (", x, ")");
  return int32_t(x);
}

float get_float(const nlohmann::json& v, const std::string& key) {
  ZAYA_CHECK(v.is_number(), "rsa: \"", key, "\" must be a number (got ", v.dump(), ")");
  return v.get<float>();
}

std::string get_string(const nlohmann::json& v, const std::string& key) {
  ZAYA_CHECK(v.is_string(), "rsa: \"", key, "\" must be a string (got ", v.dump(), ")");
  return v.get<std::string>();
}

}  // namespace

RsaConfig RsaConfig::preset(const std::string& name) {
  RsaConfig c;
  if (name == "report") {
    // The ZAYA1-8B report's headline (N, C, T) = (16, 4, 2), β = 40K, τ = 4K, T = 2 counted as total
    // rounds (round 0 + one aggregation round; spec zaya1-system §5.1 "Round counting ambiguity").
    c.n = 16;
    c.k = 4;
    c.rounds = 1;
    c.tau = 4096;
    c.tail_words = false;
    c.max_tokens = 40000;
    c.final_max_tokens = 40000;
    c.final_aggregate = false;
    c.temperature = 1.0f;
    c.top_p = 1.0f;
    c.top_k = 0;
  } else if (name == "zyphra-proxy") {
    // Zyphra/vllm examples/markovian_rsa: T = 8 aggregation steps after the first population, the
    // last of which is the single final aggregation call (spec interfaces-and-anchors §2).
    c.n = 32;
    c.k = 4;
    c.rounds = 7;
    c.tau = 4096;
    c.tail_words = true;
    c.max_tokens = 32768;
    c.final_max_tokens = 61440;
    c.final_aggregate = true;
    c.temperature = 1.0f;
    c.top_p = 1.0f;
    c.top_k = 0;
    c.final_temperature = 0.6f;
    c.final_top_p = 0.95f;
    c.final_top_k = 40;
  } else {
    throw_error("rsa: unknown preset \"", name, "\" (expected report or zyphra-proxy)");
  }
  return c;
}

RsaConfig RsaConfig::from_json(const nlohmann::json& j) {
  ZAYA_CHECK(j.is_object(), "rsa: the configuration must be a JSON object (got ", j.dump(), ")");
  static const std::vector<std::string> kKeys = {
      "preset",      "n",           "k",     "rounds", "tau",   "tail_unit",         "max_tokens",  "final_max_tokens",
      "final",       "seed",        "temperature", "top_p", "top_k", "final_temperature", "final_top_p", "final_top_k"};
  for (auto it = j.begin(); it != j.end(); ++it)
    ZAYA_CHECK(std::find(kKeys.begin(), kKeys.end(), it.key()) != kKeys.end(), "rsa: unknown key \"", it.key(),
               "\" (known: n, k, rounds, tau, tail_unit, max_tokens, final_max_tokens, final, seed, temperature, "
               "top_p, top_k, final_temperature, final_top_p, final_top_k, preset)");
  RsaConfig c;
  if (j.contains("preset")) c = preset(get_string(j["preset"], "preset"));
  if (j.contains("n")) c.n = get_int32(j["n"], "n");
  if (j.contains("k")) c.k = get_int32(j["k"], "k");
  if (j.contains("rounds")) c.rounds = get_int32(j["rounds"], "rounds");
  if (j.contains("tau")) c.tau = get_int(j["tau"], "tau");
  if (j.contains("tail_unit")) {
    std::string u = get_string(j["tail_unit"], "tail_unit");
    ZAYA_CHECK(u == "tokens" || u == "words", "rsa: \"tail_unit\" must be \"tokens\" or \"words\" (got \"", u, "\")");
    c.tail_words = u == "words";
  }
  if (j.contains("max_tokens")) c.max_tokens = get_int(j["max_tokens"], "max_tokens");
  if (j.contains("final_max_tokens")) c.final_max_tokens = get_int(j["final_max_tokens"], "final_max_tokens");
  if (j.contains("final")) {
    std::string f = get_string(j["final"], "final");
    ZAYA_CHECK(f == "vote" || f == "aggregate", "rsa: \"final\" must be \"vote\" or \"aggregate\" (got \"", f, "\")");
    c.final_aggregate = f == "aggregate";
  }
  if (j.contains("seed")) {
    const auto& v = j["seed"];
    ZAYA_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
               "rsa: \"seed\" must be a non-negative integer (got ", v.dump(), ")");
    c.seed = v.get<uint64_t>();
  }
  if (j.contains("temperature")) c.temperature = get_float(j["temperature"], "temperature");
  if (j.contains("top_p")) c.top_p = get_float(j["top_p"], "top_p");
  if (j.contains("top_k")) c.top_k = get_int32(j["top_k"], "top_k");
  if (j.contains("final_temperature")) c.final_temperature = get_float(j["final_temperature"], "final_temperature");
  if (j.contains("final_top_p")) c.final_top_p = get_float(j["final_top_p"], "final_top_p");
  if (j.contains("final_top_k")) c.final_top_k = get_int32(j["final_top_k"], "final_top_k");
  c.validate();
  return c;
}

void RsaConfig::validate() const {
  ZAYA_CHECK(n >= 1 && n <= kMaxN, "rsa: \"n\" must be in [1, ", kMaxN, "] (got ", n, ")");
  ZAYA_CHECK(k >= 1, "rsa: \"k\" must be at least 1 (got ", k, ")");
  ZAYA_CHECK(k <= n, "rsa: \"k\" (", k, ") must not exceed \"n\" (", n, "): tails are drawn without replacement");
  ZAYA_CHECK(rounds >= 0 && rounds <= kMaxRounds, "rsa: \"rounds\" must be in [0, ", kMaxRounds, "] (got ", rounds, ")");
  ZAYA_CHECK(tau >= 1 && tau <= kMaxTokens, "rsa: \"tau\" must be in [1, ", kMaxTokens, "] (got ", tau, ")");
  ZAYA_CHECK(max_tokens >= 1 && max_tokens <= kMaxTokens, "rsa: \"max_tokens\" must be in [1, ", kMaxTokens,
             "] (got ", max_tokens, ")");
  ZAYA_CHECK(final_max_tokens >= 0 && final_max_tokens <= kMaxTokens, "rsa: \"final_max_tokens\" must be in [0, ",
             kMaxTokens, "] (got ", final_max_tokens, "; 0 means max_tokens)");
  auto check_sampling = [](float t, float p, int kk, const char* tn, const char* pn, const char* kn) {
    ZAYA_CHECK(t >= 0 && t <= 100, "rsa: \"", tn, "\" must be in [0, 100] (got ", t, ")");
    ZAYA_CHECK(p > 0 && p <= 1, "rsa: \"", pn, "\" must be in (0, 1] (got ", p, ")");
    ZAYA_CHECK(kk >= 0, "rsa: \"", kn, "\" must be at least 0 (got ", kk, ")");
  };
  check_sampling(temperature, top_p, top_k, "temperature", "top_p", "top_k");
  check_sampling(final_temperature, final_top_p, final_top_k, "final_temperature", "final_top_p", "final_top_k");
}

nlohmann::json RsaConfig::to_json() const {
  return {{"n", n},
          {"k", k},
          {"rounds", rounds},
          {"tau", tau},
          {"tail_unit", tail_words ? "words" : "tokens"},
          {"max_tokens", max_tokens},
          {"final_max_tokens", final_budget()},
          {"final", final_aggregate ? "aggregate" : "vote"},
          {"seed", seed},
          {"temperature", short_double(temperature)},
          {"top_p", short_double(top_p)},
          {"top_k", top_k},
          {"final_temperature", short_double(final_temperature)},
          {"final_top_p", short_double(final_top_p)},
          {"final_top_k", final_top_k}};
}

nlohmann::json RsaResult::to_json() const {
  nlohmann::json rs = nlohmann::json::array();
  for (size_t r = 0; r < rounds.size(); ++r) {
    const RsaRound& x = rounds[r];
    nlohmann::json answers = nlohmann::json::array();
    for (auto& a : x.answers) answers.push_back(a ? nlohmann::json(*a) : nlohmann::json());
    rs.push_back({{"round", r},
                  {"population", x.population},
                  {"tail_tokens", x.tail_tokens},
                  {"completion_lengths", x.completion_lengths},
                  {"prompt_tokens", x.prompt_tokens},
                  {"completion_tokens", x.completion_tokens},
                  {"parents", x.parents},
                  {"answers", answers},
                  {"finished", x.finished}});
  }
  nlohmann::json j = {{"answer", answer},
                      {"answer_normalized", answer_normalized},
                      {"selection", config.final_aggregate ? "aggregate" : "vote"},
                      {"rounds", rs},
                      {"usage",
                       {{"prompt_tokens", prompt_tokens},
                        {"completion_tokens", completion_tokens},
                        {"total_tokens", prompt_tokens + completion_tokens}}},
                      {"final_text", final_text},
                      {"config", config.to_json()}};
  if (config.final_aggregate && final_call) {
    j["final"] = {{"parents", final_call->parents},
                  {"prompt_tokens", final_call->prompt_tokens},
                  {"completion_tokens", final_call->completion_tokens},
                  {"finished", final_call->finished}};
  } else {
    nlohmann::json t = nlohmann::json::array();
    for (auto& [a, v] : tally) t.push_back({{"answer", a}, {"votes", v}});
    j["vote"] = {{"winner", winner >= 0 ? nlohmann::json(winner) : nlohmann::json()}, {"tally", t}};
  }
  return j;
}

RsaResult run_rsa(const RsaConfig& cfg, const std::string& problem, const Tokenizer& tok, const RsaBackend& backend,
                  const std::function<void(int, int, int)>& progress) {
  cfg.validate();
  ZAYA_CHECK(!problem.empty(), "rsa: the problem is empty");
  ZAYA_CHECK(bool(backend), "rsa: no backend");
  RsaResult res;
  res.config = cfg;
  std::mt19937_64 draw(cfg.seed);
  const int N = cfg.n;

  // One backend call for a whole batch; checks the answer's shape and adds the usage.
  auto call = [&](int round, std::vector<RsaCall> calls) {
    const int total = int(calls.size());
    if (progress) progress(round, 0, total);
    std::vector<RsaOutput> outs = backend(calls);
    ZAYA_CHECK(outs.size() == calls.size(), "rsa: round ", round, ": the backend returned ", outs.size(),
               " outputs for ", calls.size(), " calls");
    for (auto& o : outs) {
      ZAYA_CHECK(o.prompt_tokens >= 0 && o.completion_tokens >= 0, "rsa: round ", round,
                 ": the backend reported negative token counts");
      res.prompt_tokens += o.prompt_tokens;
      res.completion_tokens += o.completion_tokens;
    }
    if (progress) progress(round, total, total);
    return outs;
  };
  auto make_call = [&](int round, int i, std::string prompt, bool final) {
    RsaCall c;
    c.prompt_text = std::move(prompt);
    c.max_tokens = final ? cfg.final_budget() : cfg.max_tokens;
    c.temperature = final ? cfg.final_temperature : cfg.temperature;
    c.top_p = final ? cfg.final_top_p : cfg.top_p;
    c.top_k = final ? cfg.final_top_k : cfg.top_k;
    c.seed = call_seed(cfg.seed, round, i);
    return c;
  };
  // The tails of a round's traces (what the next stage may carry).
  auto cut_tails = [&](const std::vector<RsaOutput>& outs, RsaRound& rec) {
    std::vector<std::string> tails;
    for (auto& o : outs) {
      int64_t len = 0;
      tails.push_back(rsa_tail(tok, rsa_reasoning_part(o.text), cfg.tau, cfg.tail_words, &len));
      rec.tail_tokens.push_back(len);
    }
    return tails;
  };

  std::vector<RsaOutput> pop;
  std::vector<std::string> tails;  // of the previous round
  for (int r = 0; r <= cfg.rounds; ++r) {
    RsaRound rec;
    std::vector<RsaCall> calls;
    for (int i = 0; i < N; ++i) {
      if (r == 0) {
        calls.push_back(make_call(r, i, problem, false));
        continue;
      }
      // Markov property: the K tails come from the previous round only.
      std::vector<int> parents = draw_distinct(draw, N, cfg.k);
      std::vector<std::string> chosen;
      for (int p : parents) chosen.push_back(tails[size_t(p)]);
      calls.push_back(make_call(r, i, rsa_aggregation_prompt(problem, chosen), false));
      rec.parents.push_back(std::move(parents));
    }
    pop = call(r, std::move(calls));
    rec.population = int64_t(pop.size());
    for (auto& o : pop) {
      rec.completion_lengths.push_back(o.completion_tokens);
      rec.prompt_tokens += o.prompt_tokens;
      rec.completion_tokens += o.completion_tokens;
      auto b = last_boxed(o.text);
      std::optional<std::string> a;
      if (b && !normalize_answer(*b).empty()) a = normalize_answer(*b);
      rec.answers.push_back(a);
      rec.finished.push_back(o.finished);
    }
    if (r < cfg.rounds || cfg.final_aggregate) tails = cut_tails(pop, rec);
    res.rounds.push_back(std::move(rec));
  }
  for (auto& o : pop) res.last_texts.push_back(o.text);

  if (cfg.final_aggregate) {
    RsaFinalCall fc;
    fc.parents = draw_distinct(draw, N, cfg.k);
    std::vector<std::string> chosen;
    for (int p : fc.parents) chosen.push_back(tails[size_t(p)]);
    auto outs = call(cfg.rounds + 1, {make_call(cfg.rounds + 1, 0, rsa_aggregation_prompt(problem, chosen), true)});
    fc.prompt_tokens = outs[0].prompt_tokens;
    fc.completion_tokens = outs[0].completion_tokens;
    fc.finished = outs[0].finished;
    res.final_text = outs[0].text;
    auto b = last_boxed(outs[0].text);
    if (b) res.answer = *b;
    res.final_call = std::move(fc);
  } else {
    std::string key;
    res.winner = majority_vote(pop, &key, &res.tally);
    if (res.winner >= 0) {
      res.final_text = pop[size_t(res.winner)].text;
      res.answer = *last_boxed(res.final_text);
    } else {
      // Nothing boxed: the text of the first finished trace (else the first), with no answer.
      size_t pick = 0;
      for (size_t i = 0; i < pop.size(); ++i)
        if (pop[i].finished) {
          pick = i;
          break;
        }
      res.final_text = pop[pick].text;
    }
  }
  // Trim the raw answer's outer whitespace; the normalised form is what votes and scores compare.
  size_t b = res.answer.find_first_not_of(" \t\n\r"), e = res.answer.find_last_not_of(" \t\n\r");
  res.answer = b == std::string::npos ? "" : res.answer.substr(b, e - b + 1);
  res.answer_normalized = normalize_answer(res.answer);
  return res;
}

}  // namespace zaya
