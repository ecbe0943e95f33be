// `zaya eval`: perplexity, multiple-choice and generation tasks with lm-evaluation-harness's
// definitions (docs/eval.md; spec interfaces-and-anchors §1 "lm-evaluation-harness semantics").
// Every score goes through the engine (src/infer/engine.h) as a prefill-only request with prompt
// logprobs — the path `zaya serve` takes for echo + logprobs — so `zaya eval` and
// `lm_eval --model local-completions --model_args tokenizer_backend=remote` against `zaya serve`
// tokenize, split, truncate and score the same tokens.
//
// Lengths follow lm-eval's `max_length` model argument M (default 2048): API models keep one token for
// the generated one, so a scored input holds at most M−1 tokens, a rolling perplexity window predicts
// at most M−2 tokens, and a generation prompt is cut to its last M−1−max_tokens tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "infer/engine.h"
#include "tokenizer/tokenizer.h"

namespace zaya {

using EvalProgress = std::function<void(size_t done, size_t total)>;

// ---------------------------------------------------------------- log-likelihood of token pairs
struct TokenPair {
  std::vector<int32_t> context, continuation;
};
struct Loglikelihood {
  double logprob = 0;     // Σ log p(continuation token | everything before), in double
  bool is_greedy = false;  // every continuation token has the largest logprob of its position
};
// lm-eval's API-model batch_loglikelihood_requests + parse_logprobs: the input is the last M−1 tokens
// of context+continuation (left truncation); the continuation must fit (error otherwise). Scored as one
// engine request per pair {prompt = input, max_tokens = 0, prompt_logprobs, top_logprobs = 1}.
std::vector<Loglikelihood> loglikelihood(Engine& engine, const std::vector<TokenPair>& reqs, int64_t max_length,
                                         const EvalProgress& progress = {});

// ---------------------------------------------------------------- tokenization as lm-eval does it
// lm-eval's prefix_token_id with the remote tokenizer: the BOS id, or the EOS id when there is no BOS
// (Python's `bos or eos`, so an id of 0 also falls through to EOS). Error if neither exists.
int32_t prefix_token_id(const Tokenizer& tok);
// TemplateLM.loglikelihood + _encode_pair: trailing whitespace of the context moves to the front of the
// continuation; context = encode(context), continuation = encode(context + continuation) minus as many
// leading tokens as the context has. An empty context becomes [prefix] (or, when the continuation itself
// starts with the prefix token, its first token). lm-eval's remote tokenizer never adds special tokens;
// add_bos = true prepends them as lm-eval's hf model does with add_bos_token=True.
TokenPair encode_pair(const Tokenizer& tok, std::string context, std::string continuation, int32_t prefix,
                      bool add_bos = false);

// ---------------------------------------------------------------- perplexity (loglikelihood_rolling)
// lm-eval's get_rolling_token_windows(tokens, prefix, max_seq_len = M−2, context_len = 1) followed by
// make_disjoint_window: every token is predicted exactly once; the first window's context is [prefix],
// later windows condition on the tokens just before them so that each request has ≤ M−1 tokens.
std::vector<TokenPair> rolling_windows(const std::vector<int32_t>& tokens, int32_t prefix, int64_t max_length);
// len(re.split(r"\s+", doc)) with Python's Unicode \s (str.isspace()); bytes that are not valid UTF-8
// count as non-space characters.
int64_t count_words(std::string_view doc);
size_t utf8_length(std::string_view s);  // Python len(str): code points (invalid bytes count one each)

struct PerplexityResult {
  double loglikelihood = 0;  // Σ over documents
  int64_t n_docs = 0, n_tokens = 0, n_words = 0, n_bytes = 0, n_requests = 0;
  double word_perplexity = 0, byte_perplexity = 0, bits_per_byte = 0, token_perplexity = 0;
};
// Each document is encoded without special tokens and scored by rolling windows; the metrics are
// lm-eval's weighted_perplexity / bits_per_byte over all documents, and exp(−Σll/Σtokens).
PerplexityResult perplexity(Engine& engine, const Tokenizer& tok, const std::vector<std::string>& docs,
                            int64_t max_length, const EvalProgress& progress = {});
PerplexityResult perplexity_metrics(double ll, int64_t n_tokens, int64_t n_words, int64_t n_bytes);

// ---------------------------------------------------------------- task files
struct McItem {
  std::string context;
  std::vector<std::string> choices;
  int64_t gold = 0;
};
struct GenItem {
  std::string prompt, answer;
};
struct TaskFile {
  bool generation = false;  // {"prompt","answer"} lines; else {"context","choices","gold"}
  std::vector<McItem> mc;
  std::vector<GenItem> gen;
};
// JSONL, one object per non-blank line; the first line decides the kind. Errors name file:line and the
// key (bad JSON, missing or mistyped keys, no choices, gold out of range, mixed kinds, empty file).
// limit > 0 keeps the first `limit` items.
TaskFile load_task(const std::string& path, int64_t limit = 0);
// Documents of a perplexity file: a .jsonl file gives one document per non-blank line ({"text": str});
// any other file is one document, its bytes as they are.
std::vector<std::string> load_perplexity_docs(const std::string& path, int64_t limit = 0);

// ---------------------------------------------------------------- multiple choice
struct McResult {
  int64_t n = 0;
  double acc = 0, acc_norm = 0;
  double acc_stderr = 0, acc_norm_stderr = 0;  // lm-eval's mean_stderr (sample std / √n); NaN if n < 2
  std::vector<std::vector<Loglikelihood>> lls;  // per item, per choice
  std::vector<int64_t> pred, pred_norm;
  std::vector<std::vector<TokenPair>> requests;  // the token split of every choice (for --samples)
};
// numpy.argmax: the first maximal index. Throws on NaN (a NaN score never passes).
int64_t argmax_first(const std::vector<double>& v);
// lm-eval's multiple_choice process_results: pred = argmax ll, pred_norm = argmax ll / len(choice), where
// len counts the choice's code points (the choice string as given, without the " " delimiter).
McResult score_multiple_choice(const std::vector<McItem>& items, std::vector<std::vector<Loglikelihood>> lls);
// Each choice is ll(" " + choice | context) (target_delimiter " ").
McResult eval_multiple_choice(Engine& engine, const Tokenizer& tok, const std::vector<McItem>& items,
                              int64_t max_length, bool add_bos = false, const EvalProgress& progress = {});

// ---------------------------------------------------------------- generation
struct GenOptions {
  int64_t max_tokens = 256;          // lm-eval's max_gen_toks default
  std::vector<std::string> until;    // stop strings: the text is cut before the first occurrence of each
  std::vector<int32_t> stop_ids;     // stop tokens (eos)
  bool add_bos = false;
  int64_t max_length = 2048;
};
struct GenResult {
  int64_t n = 0;
  double exact_match = 0, boxed_match = 0;
  std::vector<std::string> outputs;
  std::vector<bool> exact, boxed;
};
// Text cut at the stop strings as lm-eval's postprocess_generated_text does (split(term)[0] per term).
std::string cut_at_stops(std::string text, const std::vector<std::string>& until);
// exact: strip(output) == strip(answer); boxed: the normalised last \boxed{} of the output (rsa.h's
// last_boxed / normalize_answer, the definitions zaya rsa votes with) is non-empty and equals the
// normalised last \boxed{} of the answer (or the whole answer when it has none).
GenResult score_generation(const std::vector<GenItem>& items, std::vector<std::string> outputs);
GenResult eval_generation(Engine& engine, const Tokenizer& tok, const std::vector<GenItem>& items,
                          const GenOptions& opt, const EvalProgress& progress = {});

std::string strip_ws(std::string_view s);     // Python str.strip() (Unicode whitespace)
size_t rstrip_length(std::string_view s);    // len(s.rstrip()) in bytes

}  // namespace zaya
