// The continuous-batching engine behind `zaya serve`, `zaya rsa` and `zaya eval` (docs/serving.md).
//
// Every request owns a slot: its SeqState (compressed KV cache, conv state and delayed-value state,
// model/state.h), its sampler and its progress. One engine thread runs the loop
//   admit FCFS from the queue while a slot and the KV memory budget allow
//   → build one batch: every decoding slot contributes its last token, prefilling slots contribute
//     up to `prefill_chunk` prompt tokens each (within `max_batch_tokens` per step)
//   → one Model::forward over the whole batch → sample / report → retire finished or cancelled slots.
// So long prompts are prefilled in chunks interleaved with the decode steps of the other slots.
// Callers talk to a request through its Request handle: events come out of a thread-safe queue, and
// cancel() (a vanished client) frees the slot at the next step without touching any other request.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <stdexcept>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "infer/sampler.h"
#include "model/model.h"

namespace zaya {

struct EngineOptions {
  int slots = 8;                   // requests running at once
  int64_t ctx = 0;                 // tokens per slot (prompt + completion); 0: max_position_embeddings
  int64_t max_queue = 256;         // waiting requests beyond which submit() refuses (503)
  int64_t prefill_chunk = 512;     // prompt tokens per slot per step
  int64_t max_batch_tokens = 2048; // rows per forward call (decode rows count one each)
  double kv_budget_gib = 0;        // KV + state memory of all slots; 0: no limit beyond slots × ctx
  int threads = 0;                 // OpenMP threads of the engine thread (per-thread setting); 0: default
  int64_t fault_after_steps = 0;   // fault injection for tests: the engine thread fails after this many steps
};

// One token and its log-probabilities under the model (log-softmax of the raw logits).
struct TokenLogprob {
  int32_t id = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // the `top_logprobs` most likely, best first
};

struct RequestParams {
  std::vector<int32_t> prompt;     // token ids, non-empty
  int64_t max_tokens = 16;         // 0 allowed: prefill only (e.g. echo + logprobs scoring)
  SamplerConfig sampler;
  std::vector<int32_t> stop_ids;   // stop tokens (the caller adds eos unless ignore_eos)
  int64_t min_tokens = 0;          // until this many are generated, stop_ids cannot be sampled (vLLM)
  bool logprobs = false;           // report each generated token's logprob
  int top_logprobs = 0;            // and this many alternatives
  bool prompt_logprobs = false;    // report logprobs of prompt tokens 1..n-1 (echo); token 0 has none
};

enum class FinishReason { None, Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

struct EngineEvent {
  enum Kind { Prompt, Token, Done } kind = Token;
  TokenLogprob token;                 // Token: the sampled token (logprob fields when asked for)
  std::vector<TokenLogprob> prompt;   // Prompt: one entry per prompt token; entry 0 has no context, so
                                      // its logprob is NaN and its `top` is empty (the API's null)
  FinishReason finish = FinishReason::None;  // Done
  std::string error;                         // Done with Error
};

// Timing of one request, in seconds since it was submitted (vLLM's definitions: docs/serving.md).
struct RequestTiming {
  double queued = 0;       // until a slot was assigned
  double first_token = 0;  // time to first token
  double finished = 0;     // end-to-end latency
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

class Request {
 public:
  // Blocks up to `timeout` for the next event; false on timeout. After Done, always false.
  bool next(EngineEvent& ev, std::chrono::milliseconds timeout);
  // Ask the engine to stop this request; its slot is freed before the next step. Idempotent.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  int64_t id() const { return id_; }
  RequestTiming timing() const;

 private:
  friend class Engine;
  void push(EngineEvent ev);
  int64_t id_ = 0;
  RequestParams params_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineEvent> events_;
  bool done_ = false, done_taken_ = false;
  std::chrono::steady_clock::time_point submitted_;
  RequestTiming timing_;
};

// Thrown by submit(): `status` is the HTTP status a server should answer with.
struct EngineRefused : std::runtime_error {
  EngineRefused(int status, const std::string& msg) : std::runtime_error(msg), status(status) {}
  int status;  // 400 (prompt too long for the context, bad ids), 503 (queue full, engine stopped)
};

struct EngineStats {
  int64_t running = 0, waiting = 0;
  int64_t prompt_tokens_total = 0, generation_tokens_total = 0;
  int64_t requests_finished = 0, requests_cancelled = 0;
  int64_t steps = 0;
  double kv_usage = 0;  // fraction of the KV budget held by running slots
  size_t kv_bytes = 0;  // bytes held now
};

class Engine {
 public:
  Engine(const Model& model, const EngineOptions& opt);
  ~Engine();  // stops the thread; pending requests finish with Error "engine stopped"
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates (non-empty, ids < vocab, prompt + max_tokens ≤ ctx) and queues; throws EngineRefused.
  std::shared_ptr<Request> submit(RequestParams p);
  EngineStats stats() const;
  const EngineOptions& options() const { return opt_; }
  int64_t ctx() const { return ctx_; }
  const Model& model() const { return model_; }
  // False once the engine thread has died (an exception in a forward call): /health answers 500.
  bool alive() const { return alive_.load(); }
  std::string death_reason() const;
  // Observer of finished requests (metrics), called on the engine thread.
  void on_finish(std::function<void(const RequestTiming&, FinishReason)> f) { on_finish_ = std::move(f); }
  // Observer of every generated token after the first: the gap since the previous one (ITL).
  void on_token_gap(std::function<void(double)> f) { on_gap_ = std::move(f); }

 private:
  struct Slot;
  void loop();
  void step(std::vector<std::unique_ptr<Slot>>& running);

  const Model& model_;
  EngineOptions opt_;
  int64_t ctx_ = 0;
  size_t budget_bytes_ = 0;
  size_t usage_denom_ = 0;  // bytes that make kv_usage 1
  std::vector<float> masked_;  // a logits row with min_tokens' stop ids masked (engine thread only)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;
  std::atomic<bool> stop_{false}, alive_{true};
  std::string death_;
  EngineStats stats_;
  int64_t next_id_ = 1;
  std::function<void(const RequestTiming&, FinishReason)> on_finish_;
  std::function<void(double)> on_gap_;
  std::vector<float> logits_;  // engine thread only
  Workspace ws_;               // engine thread only
  std::thread thread_;
};

// Convenience for batch users (zaya rsa, zaya eval): submit every request, wait for all, return the
// generated ids (and the events' logprobs where asked for) in order. Throws on Error.
struct Completion {
  std::vector<int32_t> ids;
  std::vector<TokenLogprob> logprobs;         // per generated token, when params.logprobs
  std::vector<TokenLogprob> prompt_logprobs;  // when params.prompt_logprobs
  FinishReason finish = FinishReason::None;
  int64_t prompt_tokens = 0;
};
std::vector<Completion> run_all(Engine& engine, std::vector<RequestParams> reqs,
                                const std::function<void(size_t done, size_t total)>& progress = {});

}  // namespace zaya
