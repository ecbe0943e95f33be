// Request parsing and validation of the OpenAI-compatible API of `zaya serve` (docs/serving.md).
// The raw body is parsed with exceptions caught; every wrong type, out-of-range number or
// unsupported value becomes an ApiError with the HTTP status, an OpenAI error type and the field
// at fault (`param`), so that malformed input never reaches the engine (spec interfaces §1:
// "malformed JSON or wrong types crash the server"). Unknown fields are accepted and ignored, as
// vLLM accepts the extra fields benchmark clients send. This file depends on nlohmann/json only,
// so the fuzzer (fuzz/fuzz_request.cpp) compiles it alone.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace zaya::api {

// An error answered to the client as {"error": {"message", "type", "param", "code"}}.
struct ApiError : Error {
  ApiError(int status, std::string type, std::string message, std::string param = {})
      : Error(message), status(status), type(std::move(type)), param(std::move(param)) {}
  int status;
  std::string type;   // "invalid_request_error", "authentication_error", "not_found_error", ...
  std::string param;  // the request field at fault, or "" (JSON null)
};
// The OpenAI error type of an HTTP status (400 invalid_request_error, 401 authentication_error,
// 404 not_found_error, 413/405/422 invalid_request_error, 503 unavailable_error, else server_error).
std::string error_type(int status);
[[noreturn]] void bad_request(const std::string& param, const std::string& message);
// The error body; `code` is the HTTP status (as vLLM and llama.cpp answer).
nlohmann::json error_json(int status, const std::string& type, const std::string& message,
                          const std::string& param = {});
nlohmann::json error_json(const ApiError& e);
// Serialization for responses: invalid UTF-8 (never expected) is replaced, never thrown.
std::string dump(const nlohmann::json& j);

// Limits of the parsers (documented in docs/serving.md).
constexpr int kMaxN = 128;            // n
constexpr int kMaxChoices = 1024;     // prompts × n
constexpr int kMaxStops = 16;         // stop strings
constexpr int kMaxStopTokenIds = 64;  // stop_token_ids
constexpr int kMaxLogprobs = 20;      // logprobs (completions), top_logprobs (chat)
constexpr int kMaxJsonDepth = 128;    // nesting of the request body
constexpr int64_t kMaxTokensLimit = int64_t(1) << 40;  // larger max_tokens is refused outright

// A prompt: text (to be tokenized) or token ids (used as they are).
struct Prompt {
  bool is_text = true;
  std::string text;
  std::vector<int32_t> ids;
};

// The sampling fields shared by completions and chat.
struct Sampling {
  std::optional<int64_t> max_tokens;   // null: the endpoint's default
  float temperature = 1.0f;            // < 1e-5 means greedy (as vLLM's _SAMPLING_EPS)
  float top_p = 1.0f;
  int top_k = 0;                       // -1 and 0: off
  std::optional<int64_t> seed;
  int n = 1;
  std::vector<std::string> stop;       // stop strings (non-empty)
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int64_t min_tokens = 0;              // stops (eos, stop_token_ids, stop strings) only from here on
  bool skip_special_tokens = true;
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage
  std::optional<nlohmann::json> rsa;   // the "rsa" extension object (src/infer/rsa.h)
};

struct CompletionRequest {
  std::optional<std::string> model;
  std::vector<Prompt> prompts;
  Sampling s;
  int logprobs = -1;  // -1: none; else 0..20 alternatives per token
  bool echo = false;
  bool add_special_tokens = true;  // for text prompts
};

struct ChatRequest {
  std::optional<std::string> model;
  nlohmann::json messages;               // validated list of {role, content, ...}
  nlohmann::json tools;                  // null or the list
  bool add_generation_prompt = true;
  nlohmann::json chat_template_kwargs = nlohmann::json::object();
  bool add_special_tokens = false;       // the template carries bos (vLLM's default for chat)
  Sampling s;
  bool logprobs = false;
  int top_logprobs = 0;
};

struct TokenizeRequest {
  std::optional<std::string> model;
  bool is_chat = false;
  std::string prompt;                    // !is_chat
  nlohmann::json messages;               // is_chat
  nlohmann::json tools;
  bool add_generation_prompt = true;
  nlohmann::json chat_template_kwargs = nlohmann::json::object();
  bool add_special_tokens = true;        // default true for prompts, false for messages (vLLM)
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::optional<std::string> model;
  std::vector<int32_t> tokens;
};

// Each throws ApiError (400) naming the field; never anything else.
nlohmann::json parse_body(std::string_view body);  // an object, depth ≤ kMaxJsonDepth
CompletionRequest parse_completion_request(std::string_view body);
ChatRequest parse_chat_request(std::string_view body);
TokenizeRequest parse_tokenize_request(std::string_view body);
DetokenizeRequest parse_detokenize_request(std::string_view body);

// The text of a message's content: a string, null (""), or a list of {"type":"text","text":...}
// parts joined. Throws ApiError naming `param` for other shapes.
std::string content_text(const nlohmann::json& content, const std::string& param);

}  // namespace zaya::api
