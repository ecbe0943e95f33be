// Scoring through the engine with lm-evaluation-harness's definitions (eval.h, docs/eval.md;
// spec interfaces-and-anchors §1 "lm-evaluation-harness semantics").
#include "infer/eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "infer/rsa.h"

namespace zaya {

// ---------------------------------------------------------------- log-likelihood
std::vector<Loglikelihood> loglikelihood(Engine& engine, const std::vector<TokenPair>& reqs, int64_t max_length,
                                         const EvalProgress& progress) {
  ZAYA_CHECK(max_length >= 2, "max_length must be at least 2 (got ", max_length, ")");
  const int64_t max_in = max_length - 1;  // lm-eval's API models keep one token for the generated one
  std::vector<RequestParams> ps;
  std::vector<int64_t> ctxlens;
  ps.reserve(reqs.size());
  ctxlens.reserve(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    const TokenPair& r = reqs[i];
    const int64_t nc = int64_t(r.context.size()), nt = int64_t(r.continuation.size());
    ZAYA_CHECK(nc > 0, "loglikelihood request ", i, ": the context has no tokens");
    // Left truncation of context+continuation to the last max_in tokens; the context keeps what is left.
    const int64_t ctxlen = nc - std::max<int64_t>(0, nc + nt - max_in);
    ZAYA_CHECK(ctxlen > 0, "loglikelihood request ", i, ": the continuation has ", nt,
               " tokens, which leaves no context token within max_length ", max_length, " (inputs hold at most ",
               max_in, " tokens)");
    RequestParams p;
    p.prompt.reserve(size_t(ctxlen + nt));
    p.prompt.insert(p.prompt.end(), r.context.end() - ctxlen, r.context.end());
    p.prompt.insert(p.prompt.end(), r.continuation.begin(), r.continuation.end());
    p.max_tokens = 0;
    p.prompt_logprobs = true;
    p.top_logprobs = 1;
    ps.push_back(std::move(p));
    ctxlens.push_back(ctxlen);
  }
  std::vector<size_t> sizes(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) sizes[i] = ps[i].prompt.size();
  auto comps = run_all(engine, std::move(ps), progress);
  std::vector<Loglikelihood> out(reqs.size());
  for (size_t i = 0; i < comps.size(); ++i) {
    const auto& lp = comps[i].prompt_logprobs;
    ZAYA_CHECK(lp.size() == sizes[i], "loglikelihood request ", i, ": the engine returned ", lp.size(),
               " prompt logprobs for ", sizes[i], " tokens");
    Loglikelihood& o = out[i];
    o.is_greedy = true;
    // Position t (≥ ctxlen ≥ 1) holds log p(token t | tokens < t); lm-eval sums them left to right.
    for (size_t t = size_t(ctxlens[i]); t < lp.size(); ++t) {
      ZAYA_CHECK(std::isfinite(lp[t].logprob) || lp[t].logprob == -std::numeric_limits<float>::infinity(),
                 "loglikelihood request ", i, ": log-probability of token ", t, " is ", lp[t].logprob);
      o.logprob += double(lp[t].logprob);
      if (lp[t].top.empty() || lp[t].logprob != lp[t].top[0].second) o.is_greedy = false;
    }
  }
  return out;
}

// ---------------------------------------------------------------- tokenization
int32_t prefix_token_id(const Tokenizer& tok) {
  const int32_t bos = tok.bos_id(), eos = tok.eos_id();
  if (bos > 0) return bos;  // Python `bos_token_id or eos_token_id`: None and 0 fall through
  ZAYA_CHECK(eos >= 0, "the tokenizer has neither a BOS nor an EOS token to use as the prefix token");
  return eos;
}

TokenPair encode_pair(const Tokenizer& tok, std::string context, std::string continuation, int32_t prefix,
                      bool add_bos) {
  TokenPair p;
  if (context.empty()) {
    p.continuation = tok.encode(continuation, false);
    ZAYA_CHECK(!p.continuation.empty(), "an empty context needs a non-empty continuation");
    if (p.continuation[0] != prefix) {
      p.context = {prefix};
    } else {
      p.context = {p.continuation[0]};
      p.continuation.erase(p.continuation.begin());
    }
    return p;
  }
  // Trailing whitespace (Python str.rstrip()) moves to the continuation.
  const size_t keep = rstrip_length(context);
  if (keep < context.size()) {
    continuation = context.substr(keep) + continuation;
    context.resize(keep);
  }
  p.context = tok.encode(context, add_bos);
  std::vector<int32_t> whole = tok.encode(context + continuation, add_bos);
  if (whole.size() > p.context.size())
    p.continuation.assign(whole.begin() + std::ptrdiff_t(p.context.size()), whole.end());
  return p;
}

// ---------------------------------------------------------------- perplexity
std::vector<TokenPair> rolling_windows(const std::vector<int32_t>& tokens, int32_t prefix, int64_t max_length) {
  // lm-eval's API models call get_rolling_token_windows with max_seq_len = (M − 1) − 1, context_len = 1.
  const int64_t max_seq = max_length - 2;
  ZAYA_CHECK(max_seq >= 1, "max_length must be at least 3 for perplexity (got ", max_length, ")");
  std::vector<TokenPair> w;
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return w;
  const auto at = [&](int64_t i) { return tokens.begin() + std::ptrdiff_t(i); };
  // The first window predicts up to max_seq tokens after the prefix token.
  int64_t predicted = std::min(max_seq, n);
  w.push_back({{prefix}, std::vector<int32_t>(at(0), at(predicted))});
  // Each later window predicts the next ≤ max_seq tokens, conditioned on the tokens just before them,
  // so that context + continuation = max_seq + 1 tokens (disjoint: no overlap with the continuation).
  while (predicted < n) {
    const int64_t len = std::min(n - predicted, max_seq);
    const int64_t end = predicted + len;
    w.push_back({std::vector<int32_t>(at(end - max_seq - 1), at(predicted)), std::vector<int32_t>(at(predicted), at(end))});
    predicted = end;
  }
  return w;
}

PerplexityResult perplexity_metrics(double ll, int64_t n_tokens, int64_t n_words, int64_t n_bytes) {
  PerplexityResult r;
  r.loglikelihood = ll;
  r.n_tokens = n_tokens;
  r.n_words = n_words;
  r.n_bytes = n_bytes;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // lm-eval's weighted_perplexity = exp(−Σll / Σcount); bits_per_byte = −Σll / Σbytes / ln 2.
  r.word_perplexity = n_words > 0 ? std::exp(-ll / double(n_words)) : nan;
  r.byte_perplexity = n_bytes > 0 ? std::exp(-ll / double(n_bytes)) : nan;
  r.bits_per_byte = n_bytes > 0 ? -ll / double(n_bytes) / std::log(2.0) : nan;
  r.token_perplexity = n_tokens > 0 ? std::exp(-ll / double(n_tokens)) : nan;
  return r;
}

PerplexityResult perplexity(Engine& engine, const Tokenizer& tok, const std::vector<std::string>& docs,
                            int64_t max_length, const EvalProgress& progress) {
  const int32_t prefix = prefix_token_id(tok);
  std::vector<TokenPair> reqs;
  int64_t n_tokens = 0, n_words = 0, n_bytes = 0;
  for (const auto& d : docs) {
    std::vector<int32_t> ids = tok.encode(d, false);
    n_tokens += int64_t(ids.size());
    n_words += count_words(d);
    n_bytes += int64_t(d.size());
    for (auto& w : rolling_windows(ids, prefix, max_length)) reqs.push_back(std::move(w));
  }
  // Every document's log-likelihood is the sum over its windows; the metrics only need the total.
  double ll = 0;
  for (const auto& r : loglikelihood(engine, reqs, max_length, progress)) ll += r.logprob;
  PerplexityResult res = perplexity_metrics(ll, n_tokens, n_words, n_bytes);
  res.n_docs = int64_t(docs.size());
  res.n_requests = int64_t(reqs.size());
  return res;
}

// ---------------------------------------------------------------- multiple choice
int64_t argmax_first(const std::vector<double>& v) {
  ZAYA_CHECK(!v.empty(), "argmax of an empty list");
  int64_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    ZAYA_CHECK(!std::isnan(v[i]), "NaN score at index ", i);
    if (v[i] > v[size_t(best)]) best = int64_t(i);
  }
  return best;
}

namespace {
// lm-eval's mean_stderr: sample standard deviation / √n.
double mean_stderr(const std::vector<double>& x) {
  const size_t n = x.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mu = 0;
  for (double v : x) mu += v;
  mu /= double(n);
  double ss = 0;
  for (double v : x) ss += (v - mu) * (v - mu);
  return std::sqrt(ss / double(n - 1)) / std::sqrt(double(n));
}
double mean(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return x.empty() ? 0.0 : s / double(x.size());
}
}  // namespace

McResult score_multiple_choice(const std::vector<McItem>& items, std::vector<std::vector<Loglikelihood>> lls) {
  ZAYA_CHECK(lls.size() == items.size(), "multiple choice: ", lls.size(), " score lists for ", items.size(), " items");
  McResult r;
  r.n = int64_t(items.size());
  std::vector<double> acc, acc_norm;
  for (size_t i = 0; i < items.size(); ++i) {
    const McItem& it = items[i];
    ZAYA_CHECK(lls[i].size() == it.choices.size(), "multiple choice item ", i, ": ", lls[i].size(), " scores for ",
               it.choices.size(), " choices");
    std::vector<double> ll, norm;
    for (size_t c = 0; c < it.choices.size(); ++c) {
      ll.push_back(lls[i][c].logprob);
      norm.push_back(lls[i][c].logprob / double(utf8_length(it.choices[c])));
    }
    r.pred.push_back(argmax_first(ll));
    r.pred_norm.push_back(argmax_first(norm));
    acc.push_back(r.pred.back() == it.gold ? 1.0 : 0.0);
    acc_norm.push_back(r.pred_norm.back() == it.gold ? 1.0 : 0.0);
  }
  r.acc = mean(acc);
  r.acc_norm = mean(acc_norm);
  r.acc_stderr = mean_stderr(acc);
  r.acc_norm_stderr = mean_stderr(acc_norm);
  r.lls = std::move(lls);
  return r;
}

McResult eval_multiple_choice(Engine& engine, const Tokenizer& tok, const std::vector<McItem>& items,
                              int64_t max_length, bool add_bos, const EvalProgress& progress) {
  const int32_t prefix = prefix_token_id(tok);
  std::vector<TokenPair> reqs;
  std::vector<std::vector<TokenPair>> per_item;
  for (const auto& it : items) {
    per_item.emplace_back();
    for (const auto& c : it.choices) {
      per_item.back().push_back(encode_pair(tok, it.context, " " + c, prefix, add_bos));  // target_delimiter " "
      reqs.push_back(per_item.back().back());
    }
  }
  auto flat = loglikelihood(engine, reqs, max_length, progress);
  std::vector<std::vector<Loglikelihood>> lls;
  size_t k = 0;
  for (const auto& it : items) {
    lls.emplace_back(flat.begin() + std::ptrdiff_t(k), flat.begin() + std::ptrdiff_t(k + it.choices.size()));
    k += it.choices.size();
  }
  McResult r = score_multiple_choice(items, std::move(lls));
  r.requests = std::move(per_item);
  return r;
}

// ---------------------------------------------------------------- generation
std::string cut_at_stops(std::string text, const std::vector<std::string>& until) {
  for (const auto& term : until) {
    if (term.empty()) continue;
    const size_t p = text.find(term);
    if (p != std::string::npos) text.resize(p);
  }
  return text;
}

GenResult score_generation(const std::vector<GenItem>& items, std::vector<std::string> outputs) {
  ZAYA_CHECK(outputs.size() == items.size(), "generation: ", outputs.size(), " outputs for ", items.size(), " items");
  GenResult r;
  r.n = int64_t(items.size());
  double em = 0, bm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const bool exact = strip_ws(outputs[i]) == strip_ws(items[i].answer);
    bool boxed = false;
    if (auto got = last_boxed(outputs[i])) {
      const std::string key = normalize_answer(*got);
      const std::string want = normalize_answer(last_boxed(items[i].answer).value_or(items[i].answer));
      boxed = !key.empty() && key == want;
    }
    r.exact.push_back(exact);
    r.boxed.push_back(boxed);
    em += exact ? 1 : 0;
    bm += boxed ? 1 : 0;
  }
  r.exact_match = r.n ? em / double(r.n) : 0.0;
  r.boxed_match = r.n ? bm / double(r.n) : 0.0;
  r.outputs = std::move(outputs);
  return r;
}

GenResult eval_generation(Engine& engine, const Tokenizer& tok, const std::vector<GenItem>& items,
                          const GenOptions& opt, const EvalProgress& progress) {
  ZAYA_CHECK(opt.max_tokens >= 1, "max_tokens must be at least 1 (got ", opt.max_tokens, ")");
  // lm-eval's generate_until keeps the last (M − 1) − max_gen_toks prompt tokens.
  const int64_t max_ctx = opt.max_length - 1 - opt.max_tokens;
  ZAYA_CHECK(max_ctx >= 1, "max_tokens ", opt.max_tokens, " leaves no room for the prompt within max_length ",
             opt.max_length);
  std::vector<RequestParams> ps;
  for (size_t i = 0; i < items.size(); ++i) {
    RequestParams p;
    std::vector<int32_t> ids = tok.encode(items[i].prompt, opt.add_bos);
    ZAYA_CHECK(!ids.empty(), "generation item ", i, ": the prompt has no tokens");
    if (int64_t(ids.size()) > max_ctx) ids.erase(ids.begin(), ids.end() - max_ctx);
    p.prompt = std::move(ids);
    p.max_tokens = opt.max_tokens;  // greedy: the default sampler (temperature 0)
    p.stop_ids = opt.stop_ids;
    ps.push_back(std::move(p));
  }
  auto comps = run_all(engine, std::move(ps), progress);
  std::vector<std::string> outputs;
  for (auto& c : comps) {
    std::vector<int32_t> ids = c.ids;
    if (c.finish == FinishReason::Stop && !ids.empty()) ids.pop_back();  // the stop token is not text
    outputs.push_back(cut_at_stops(tok.decode(ids, true), opt.until));
  }
  return score_generation(items, std::move(outputs));
}

}  // namespace zaya
