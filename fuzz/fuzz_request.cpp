// libFuzzer target: arbitrary bytes as the body of every request the server parses (src/serve/api.h):
// completions, chat, tokenize, detokenize. Each parser must either throw api::ApiError (status 400)
// or return a request within the documented limits; the error body must serialize. Nothing else may
// escape, and no input may crash, hang or trip ASan/UBSan (huge numbers, deep nesting, bad UTF-8).
//
// fuzz-sources: src/serve/api.cpp
// (read by fuzz/run.sh when it compiles this target without CMake)
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "serve/api.h"

namespace api = zaya::api;

namespace {
void check_sampling(const api::Sampling& s) {
  if (s.n < 1 || s.n > api::kMaxN) std::abort();
  if (!std::isfinite(s.temperature) || s.temperature < 0 || s.temperature > 100) std::abort();
  if (!(s.top_p > 0 && s.top_p <= 1)) std::abort();
  if (s.top_k < 0) std::abort();
  if (s.max_tokens && (*s.max_tokens < 0 || *s.max_tokens > api::kMaxTokensLimit)) std::abort();
  if (s.stop.size() > size_t(api::kMaxStops)) std::abort();
  for (auto& st : s.stop)
    if (st.empty()) std::abort();
  for (int32_t id : s.stop_token_ids)
    if (id < 0) std::abort();
  if (s.include_usage && !s.stream) std::abort();
  if (s.rsa && (s.stream || !s.rsa->is_object())) std::abort();
}

template <typename F>
void run(F parse) {
  try {
    parse();
  } catch (const api::ApiError& e) {
    if (e.status != 400 || e.type != "invalid_request_error") std::abort();
    std::string body = api::dump(api::error_json(e));
    if (body.empty()) std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  run([&] {
    api::CompletionRequest r = api::parse_completion_request(body);
    if (r.prompts.empty() || r.prompts.size() * size_t(r.s.n) > size_t(api::kMaxChoices)) std::abort();
    for (auto& p : r.prompts) {
      if (!p.is_text && p.ids.empty()) std::abort();
      for (int32_t id : p.ids)
        if (id < 0) std::abort();
    }
    if (r.logprobs < -1 || r.logprobs > api::kMaxLogprobs) std::abort();
    check_sampling(r.s);
  });
  run([&] {
    api::ChatRequest r = api::parse_chat_request(body);
    if (!r.messages.is_array() || r.messages.empty()) std::abort();
    for (auto& m : r.messages) {
      if (!m.is_object() || !m["role"].is_string()) std::abort();
      if (m.contains("content")) api::content_text(m["content"], "content");  // validated: must not throw
    }
    if (!r.tools.is_null() && !r.tools.is_array()) std::abort();
    if (!r.chat_template_kwargs.is_object()) std::abort();
    if (r.top_logprobs < 0 || r.top_logprobs > api::kMaxLogprobs || (r.top_logprobs > 0 && !r.logprobs)) std::abort();
    check_sampling(r.s);
    api::dump(r.messages);
  });
  run([&] {
    api::TokenizeRequest r = api::parse_tokenize_request(body);
    if (r.is_chat && (!r.messages.is_array() || r.messages.empty())) std::abort();
  });
  run([&] {
    api::DetokenizeRequest r = api::parse_detokenize_request(body);
    for (int32_t id : r.tokens)
      if (id < 0) std::abort();
  });
  return 0;
}
