// The server's shared state and the helpers its route files use (server.cpp, routes_*.cpp).
// Internal to src/serve.
#pragma once
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "serve/api.h"
#include "serve/generation.h"
#include "serve/http.h"
#include "serve/metrics.h"
#include "serve/server.h"

namespace zaya::serve {

using json = nlohmann::json;

struct Core {
  enum State { Loading = 0, Ready = 1, Failed = 2 };
  ServeOptions opt;
  std::string model_id, root;  // the served name; the model directory (/v1/models "root")
  int64_t created = 0;
  int port = -1;

  httplib::Server http;
  std::thread http_thread, load_thread;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> state{Loading};
  std::string load_error;              // under mu
  std::unique_ptr<ServedModel> m;      // set before state becomes Ready
  std::unique_ptr<Metrics> metrics;    // likewise
  std::unique_ptr<Reaper> reaper;      // likewise
  bool stopped = false;                // under mu
  std::atomic<bool> stopping{false};   // handlers cancel their requests and return (ConnWatch)

  // The model, or ApiError 503 (loading) / 500 (failed to load, engine dead).
  ServedModel& require_model();
  // A request's "model" must be the served id or the model directory (vLLM answers 404 otherwise).
  void check_model(const std::optional<std::string>& name) const;
  Reaper::Record recorder() const;
};

void reply_json(httplib::Response& res, int status, const json& body);
void reply_error(httplib::Response& res, const api::ApiError& e);
// After drive() returned "client": the client left (nobody reads the answer), or the server is
// stopping (the client gets 503). The streaming form writes the error event and [DONE] if stopping.
void client_gone(const Core& core, httplib::Response& res);
void client_gone(const Core& core, const std::function<bool(const std::string&)>& write);

// "cmpl-…" / "chatcmpl-…": a prefix and 32 random hex digits.
std::string new_response_id(const char* prefix);
uint64_t random_seed();

// Submits `n` engine requests per prompt; on a refusal cancels those submitted and throws ApiError
// with the engine's status. Choice i·n + j belongs to prompt i.
struct PromptPlan {
  std::vector<int32_t> ids;
  std::string text;  // the prompt as text (echo)
};
std::vector<Choice> submit_choices(ServedModel& m, const std::vector<PromptPlan>& prompts, const api::Sampling& s,
                                   int64_t max_tokens, bool logprobs, int top_logprobs, bool prompt_logprobs,
                                   bool reasoning_stream);
// vLLM's context-length message with the right numbers (spec interfaces §1: vLLM #33418).
void check_context(const Engine& e, int64_t prompt_tokens, int64_t max_tokens, const char* what);
// The token's text alone (logprob entries).
std::string token_text(const Tokenizer& tok, int32_t id);

void handle_completions(Core& core, const httplib::Request& req, httplib::Response& res);
void handle_chat(Core& core, const httplib::Request& req, httplib::Response& res);
// The "rsa" extension (routes_rsa.cpp): the final answer as one choice; usage summed over all calls.
json run_rsa_request(Core& core, ServedModel& m, const std::string& problem, const json& rsa_cfg,
                     const httplib::Request& req);

// Streaming: the chunked response that runs `job` on the connection's thread. `job` writes events
// through `write` (false: the client is gone) and returns when the stream is complete; `cleanup`
// runs exactly once afterwards, whether the stream completed or not.
void stream_response(httplib::Response& res, std::function<void(const std::function<bool(const std::string&)>&)> job,
                     std::function<void()> cleanup);
std::string sse(const json& j);  // "data: <json>\n\n"
json usage_json(int64_t prompt, int64_t completion);  // {prompt_tokens, completion_tokens, total_tokens}
// The end of a stream after drive() returned `err`: nothing more if the client left ("client"), an
// error event for any other error, else the usage chunk (`head` + empty choices + usage) when asked
// for; then [DONE].
void end_stream(const Core& core, const std::string& err, const std::vector<Choice>& choices, bool include_usage,
                json head, int64_t prompt_tokens, const std::function<bool(const std::string&)>& write);

}  // namespace zaya::serve
