// Markovian RSA (recursive self-aggregation with bounded tails; docs/rsa.md, spec zaya1-system §5.1):
// round 0 samples N traces of the problem; each aggregation round builds N prompts from the problem
// and K distinct tails drawn at random from the previous round's traces only, and samples one trace
// per prompt; the answer is a majority vote over normalised \boxed{} answers or one final aggregation.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace zaya {

struct RsaConfig {
  int n = 16;                  // population per round
  int k = 4;                   // tails per aggregation prompt (≤ n, drawn without replacement)
  int rounds = 1;              // aggregation rounds after round 0 (docs/rsa.md: how T is counted)
  int64_t tau = 4096;          // tail length
  bool tail_words = false;     // τ counts whitespace-separated words instead of tokens
  int64_t max_tokens = 16384;  // β: per-trace budget of every round
  int64_t final_max_tokens = 0;    // budget of the final aggregation call; 0: max_tokens
  bool final_aggregate = false;    // false: majority vote; true: one final aggregation call
  float temperature = 1.0f, top_p = 1.0f;
  int top_k = 0;
  float final_temperature = 0.6f, final_top_p = 0.95f;
  int final_top_k = 40;
  uint64_t seed = 0;
  // Named presets (docs/rsa.md): "report" (N=16,K=4,T=2 read as one aggregation round, τ=4096 tokens,
  // β=40000, vote) and "zyphra-proxy" (N=32,K=4,T=8, τ=4096 words, 32768 per round, final
  // aggregation with 61440 tokens at temperature 0.6). Throws zaya::Error for an unknown name.
  static RsaConfig preset(const std::string& name);
  // From a JSON object (the server's "rsa" request field; keys as the CLI flags: n, k, rounds, tau,
  // tail_unit, max_tokens, final_max_tokens, final, seed, preset, ...). Throws zaya::Error naming the key.
  static RsaConfig from_json(const nlohmann::json& j);
  // Range checks (n ≥ 1, 1 ≤ k ≤ n, rounds ≥ 0, tau ≥ 1, budgets, sampling values); throws zaya::Error
  // naming the key. run_rsa calls it.
  void validate() const;
  nlohmann::json to_json() const;  // every field, with the from_json key names
  int64_t final_budget() const { return final_max_tokens > 0 ? final_max_tokens : max_tokens; }
};

// One sampling call of a round, as the backend (in-process engine or server) sees it.
struct RsaCall {
  std::string prompt_text;     // the user message (before any chat template)
  int64_t max_tokens = 0;
  float temperature = 1, top_p = 1;
  int top_k = 0;
  uint64_t seed = 0;
};
struct RsaOutput {
  std::string text;             // generated text (reasoning and answer; </think> kept if present)
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool finished = false;        // finish_reason == "stop"
};
// Runs a batch of calls concurrently and returns one output per call, in order.
using RsaBackend = std::function<std::vector<RsaOutput>(const std::vector<RsaCall>&)>;

struct RsaRound {
  int64_t population = 0;
  std::vector<int64_t> tail_tokens;          // length of each carried tail (tokens, or words)
  std::vector<int64_t> completion_lengths;   // completion tokens per trace
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::vector<std::vector<int>> parents;     // per aggregation prompt: indices of its K tails
  std::vector<std::optional<std::string>> answers;  // normalised \boxed{} answer per trace (nullopt: none)
  std::vector<bool> finished;                // per trace: stopped at a stop token (not cut by the budget)
};
// The final aggregation call (cfg.final_aggregate).
struct RsaFinalCall {
  std::vector<int> parents;     // indices of its K tails in the last round
  int64_t prompt_tokens = 0, completion_tokens = 0;
  bool finished = false;
};
struct RsaResult {
  std::string answer;          // the voted or aggregated \boxed{} answer ("" if none)
  std::string answer_normalized;  // normalize_answer(answer)
  std::string final_text;      // the final aggregation's text, or the winning trace
  std::vector<RsaRound> rounds;
  int64_t prompt_tokens = 0, completion_tokens = 0;  // summed over all rounds and the final call
  int winner = -1;             // vote: index of the winning trace in the last round (-1: none boxed)
  std::vector<std::pair<std::string, int>> tally;    // vote: normalised answer → votes, in first-seen order
  std::optional<RsaFinalCall> final_call;            // aggregate: the final call
  std::vector<std::string> last_texts;               // the last round's trace texts (not in to_json)
  RsaConfig config;
  nlohmann::json to_json() const;  // {"answer", "rounds": [...], "usage": {...}, ...}
};

// Prefixes every tail that was cut (not counted in the tail length).
inline constexpr const char* kRsaTruncationMarker = "...";

// The parts, exposed for tests.
// The reasoning of a trace: the text before the first </think> (a leading <think> dropped), trimmed;
// if that is empty, the text after </think>; without </think>, the whole trace, trimmed.
std::string rsa_reasoning_part(const std::string& trace);
// The last τ tokens (encoded without special tokens, the cut chosen so that the tail text encodes to
// exactly τ ids) or the last τ whitespace-separated words (joined by single spaces) of `text`, behind
// kRsaTruncationMarker when something was cut; `text` itself when it is not longer. *length: the
// tail's length in tokens (or words), marker excluded.
std::string rsa_tail(const Tokenizer& tok, const std::string& text, int64_t tau, bool words, int64_t* length);
std::string rsa_aggregation_prompt(const std::string& problem, const std::vector<std::string>& tails);
std::optional<std::string> last_boxed(const std::string& text);  // content of the last \boxed{...}
std::string normalize_answer(const std::string& a);
// Majority vote over normalised boxed answers; ties go to the answer seen first (in trace order),
// preferring traces that finished; returns the index of the winning trace or -1 if none is boxed.
// Precisely: answers are counted in the order [finished traces in trace order, then unfinished ones];
// the most votes win, a tie goes to the answer first met in that order, and the winning trace is the
// first one holding it in that order. An empty normalised answer does not vote. *tally (if given):
// each answer and its votes, in that order.
int majority_vote(const std::vector<RsaOutput>& outs, std::string* answer,
                  std::vector<std::pair<std::string, int>>* tally = nullptr);

// progress(round, done, total): called before (done = 0) and after each round's backend call; the
// final aggregation call reports round = cfg.rounds + 1, total = 1. Backend errors propagate.
RsaResult run_rsa(const RsaConfig& cfg, const std::string& problem, const Tokenizer& tok, const RsaBackend& backend,
                  const std::function<void(int round, int done, int total)>& progress = {});

}  // namespace zaya
