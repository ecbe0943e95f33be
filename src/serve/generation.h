// From engine events to response text (docs/serving.md "Streaming", "Stop strings"): one Choice per
// engine request, with its streaming detokenizer, stop handling and log-probabilities; and the loop
// that drives a request's choices while watching the client's connection.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "infer/engine.h"
#include "serve/conn_watch.h"
#include "serve/reasoning.h"
#include "tokenizer/tokenizer.h"

namespace zaya::serve {

struct DecodeRules {
  std::vector<int32_t> eos_ids;         // end the choice, no text, stop_reason null (not with ignore_eos)
  std::vector<int32_t> stop_token_ids;  // end the choice, no text, stop_reason = the id
  std::vector<std::string> stop;        // stop strings: the text ends before the first match
  bool skip_special = true;             // drop special tokens' text (vLLM's skip_special_tokens)
  std::vector<int32_t> keep_special;    // special tokens kept anyway (<think>, </think> for the reasoning split)
  int64_t min_tokens = 0;               // no stop (token or string) before this many tokens (vLLM)
};

// Turns generated ids into text that is safe to emit: complete UTF-8 characters only (StreamDecoder)
// and never a possible beginning of a stop string. The concatenation of every returned piece is the
// final text: decode(ids) cut before the first stop string, without the stop token's own text.
class TextAssembler {
 public:
  TextAssembler(const Tokenizer& tok, DecodeRules rules);
  std::string push(int32_t id);  // "" after stopped()
  std::string finish();          // the end of generation: releases what is held back
  bool stopped() const { return stopped_; }                        // by a stop token or a stop string
  bool stopped_by_token() const { return by_token_; }
  const nlohmann::json& stop_reason() const { return stop_reason_; }  // null, "<string>" or <id>
  int64_t tokens() const { return tokens_; }                       // ids consumed, the stop token included

 private:
  std::string scan(bool final);
  const Tokenizer* tok_;
  DecodeRules rules_;
  StreamDecoder dec_;
  std::string pending_;
  bool stopped_ = false, by_token_ = false;
  nlohmann::json stop_reason_;
  int64_t tokens_ = 0;
};

// Code points of UTF-8 text (Python's len, for text_offset).
int64_t utf8_length(const std::string& s);
// vLLM clamps -inf logprobs to -9999.0 (JSON has no infinity).
double clamp_logprob(float lp);

// One choice (one engine request) of a response.
struct Choice {
  int index = 0;
  std::shared_ptr<Request> req;
  std::unique_ptr<TextAssembler> text;
  std::unique_ptr<ReasoningStream> reasoning;  // chat streaming with the reasoning split
  int64_t prompt_tokens = 0;
  std::vector<TokenLogprob> prompt_logprobs;   // echo + logprobs: Prompt event
  bool have_prompt_logprobs = false;
  std::vector<TokenLogprob> logprobs;          // generated tokens whose text is part of the output
  size_t logprobs_sent = 0;                    // streaming: entries already sent
  std::string out;                             // the whole output text (non-streaming)
  std::string finish;                          // "" until finished: "stop", "length", "abort"
  bool engine_done = false;                    // the engine's Done event was seen
  bool want_logprobs = false;
};

// Drives choices until every one has finished. `on_delta(choice, text)` is called with each new
// piece of output text (possibly empty when only logprobs advanced) and once with final = true when
// a choice finishes; it returns false when the client cannot be written to. A stop string cancels
// the engine request at once. Returns "" when all finished, "client" when the client went away (all
// choices cancelled), or the engine's error message.
std::string drive(std::vector<Choice>& choices, ConnWatch& watch,
                  const std::function<bool(Choice&, const std::string& delta, bool final)>& on_delta);

// Hands engine requests that were cancelled (client gone, stop string) to a background thread that
// waits for their Done events and records them in the metrics with the answered finish reason.
class Reaper {
 public:
  using Record = std::function<void(const RequestTiming&, const std::string& finish)>;
  explicit Reaper(Record record);
  ~Reaper();
  void add(std::shared_ptr<Request> r, std::string finish);

 private:
  void loop();
  Record record_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::shared_ptr<Request>, std::string>> items_;
  bool stop_ = false;
  std::thread thread_;
};

// Cancels every unfinished choice and gives them (and those finished by a stop string) to the
// reaper; records finished ones directly. Call once when a response is complete or abandoned.
void retire(std::vector<Choice>& choices, Reaper& reaper, const Reaper::Record& record);

}  // namespace zaya::serve
