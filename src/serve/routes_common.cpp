// Helpers shared by the server's routes (server_impl.h): replies, ids, submission, streaming.
#include <random>

#include "serve/server_impl.h"

namespace zaya::serve {

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(api::dump(body), "application/json");
}

void reply_error(httplib::Response& res, const api::ApiError& e) { reply_json(res, e.status, api::error_json(e)); }

void client_gone(const Core& core, httplib::Response& res) {
  if (core.stopping.load()) reply_error(res, api::ApiError(503, "unavailable_error", "the server is shutting down"));
  else res.status = 499;  // nginx's "client closed request"; nobody is there to read it
}

void client_gone(const Core& core, const std::function<bool(const std::string&)>& write) {
  if (!core.stopping.load()) return;
  write(sse(api::error_json(503, "unavailable_error", "the server is shutting down")));
  write("data: [DONE]\n\n");
}

uint64_t random_seed() {
  static std::mutex mu;
  static std::mt19937_64 g{(uint64_t(std::random_device{}()) << 32) ^ std::random_device{}()};
  std::lock_guard<std::mutex> lk(mu);
  return g();
}

std::string new_response_id(const char* prefix) {
  static const char* hex = "0123456789abcdef";
  std::string s = prefix;
  uint64_t a = random_seed(), b = random_seed();
  for (int i = 0; i < 16; ++i) s += hex[(a >> (4 * i)) & 15];
  for (int i = 0; i < 16; ++i) s += hex[(b >> (4 * i)) & 15];
  return s;
}

ServedModel& Core::require_model() {
  const int st = state.load(std::memory_order_acquire);
  if (st == Loading) throw api::ApiError(503, "unavailable_error", "Loading model");
  if (st == Failed) {
    std::lock_guard<std::mutex> lk(mu);
    throw api::ApiError(500, "server_error", "the model failed to load: " + load_error);
  }
  if (!m->engine->alive())
    throw api::ApiError(500, "server_error", "the engine has stopped: " + m->engine->death_reason());
  return *m;
}

void Core::check_model(const std::optional<std::string>& name) const {
  if (!name || name->empty() || *name == model_id || *name == root) return;
  throw api::ApiError(404, "not_found_error", "The model `" + *name + "` does not exist.", "model");
}

Reaper::Record Core::recorder() const {
  Metrics* mt = metrics.get();
  return [mt](const RequestTiming& t, const std::string& finish) { mt->on_request(t, finish); };
}

void check_context(const Engine& e, int64_t prompt_tokens, int64_t max_tokens, const char* what) {
  const int64_t ctx = e.ctx();
  if (prompt_tokens + max_tokens <= ctx) return;
  const std::string w = what;
  throw api::ApiError(400, "invalid_request_error",
                      "This model's maximum context length is " + std::to_string(ctx) +
                          " tokens. However, you requested " + std::to_string(prompt_tokens + max_tokens) +
                          " tokens (" + std::to_string(prompt_tokens) + " in the " + w + ", " +
                          std::to_string(max_tokens) + " in the completion). Please reduce the length of the " + w +
                          " or completion.",
                      w == "messages" ? "messages" : "prompt");
}

std::string token_text(const Tokenizer& tok, int32_t id) { return tok.decode({id}, false); }

std::vector<Choice> submit_choices(ServedModel& m, const std::vector<PromptPlan>& prompts, const api::Sampling& s,
                                   int64_t max_tokens, bool logprobs, int top_logprobs, bool prompt_logprobs,
                                   bool reasoning_stream) {
  DecodeRules rules;
  if (!s.ignore_eos) rules.eos_ids = m.stop_ids;
  rules.stop_token_ids = s.stop_token_ids;
  rules.stop = s.stop;
  rules.skip_special = s.skip_special_tokens;
  rules.keep_special = m.keep_special;
  rules.min_tokens = std::min(s.min_tokens, max_tokens);
  std::vector<int32_t> engine_stops = rules.eos_ids;
  engine_stops.insert(engine_stops.end(), s.stop_token_ids.begin(), s.stop_token_ids.end());

  std::vector<Choice> out;
  out.reserve(prompts.size() * size_t(s.n));
  try {
    for (size_t i = 0; i < prompts.size(); ++i)
      for (int j = 0; j < s.n; ++j) {
        RequestParams p;
        p.prompt = prompts[i].ids;
        p.max_tokens = max_tokens;
        p.sampler.temperature = s.temperature;
        p.sampler.top_k = s.top_k;
        p.sampler.top_p = s.top_p;
        p.sampler.seed = s.seed ? uint64_t(*s.seed) + uint64_t(j) : random_seed();  // wraps, never UB
        p.stop_ids = engine_stops;
        p.min_tokens = rules.min_tokens;
        p.logprobs = logprobs;
        p.top_logprobs = top_logprobs;
        p.prompt_logprobs = prompt_logprobs;
        Choice c;
        c.index = int(i) * s.n + j;
        c.prompt_tokens = int64_t(p.prompt.size());
        c.want_logprobs = logprobs;
        c.text = std::make_unique<TextAssembler>(*m.tok, rules);
        if (reasoning_stream) c.reasoning = std::make_unique<ReasoningStream>();
        c.req = m.engine->submit(std::move(p));
        out.push_back(std::move(c));
      }
  } catch (const EngineRefused& e) {
    for (auto& c : out) c.req->cancel();
    throw api::ApiError(e.status, api::error_type(e.status), e.what());
  }
  return out;
}

std::string sse(const json& j) { return "data: " + api::dump(j) + "\n\n"; }

json usage_json(int64_t prompt, int64_t completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

void end_stream(const Core& core, const std::string& err, const std::vector<Choice>& choices, bool include_usage,
                json head, int64_t prompt_tokens, const std::function<bool(const std::string&)>& write) {
  if (err == "client") return client_gone(core, write);
  if (!err.empty()) {
    write(sse(api::error_json(500, "server_error", err)));
  } else if (include_usage) {
    int64_t completion = 0;
    for (auto& c : choices) completion += c.text->tokens();
    head["choices"] = json::array();
    head["usage"] = usage_json(prompt_tokens, completion);
    write(sse(head));
  }
  write("data: [DONE]\n\n");
}

void stream_response(httplib::Response& res, std::function<void(const std::function<bool(const std::string&)>&)> job,
                     std::function<void()> cleanup) {
  struct State {
    std::function<void(const std::function<bool(const std::string&)>&)> job;
    std::function<void()> cleanup;
    bool cleaned = false;
    void clean() {
      if (!cleaned) cleanup();
      cleaned = true;
    }
  };
  auto st = std::make_shared<State>();
  st->job = std::move(job);
  st->cleanup = std::move(cleanup);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  // Exactly "text/event-stream": httplib never compresses that type, so events are not buffered.
  res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t, httplib::DataSink& sink) {
        bool ok = true;
        auto write = [&](const std::string& s) {
          if (!ok) return false;
          if (s.empty()) return true;  // an empty write would end httplib's chunk loop
          ok = sink.write(s.data(), s.size());
          return ok;
        };
        st->job(write);
        st->clean();
        if (!ok) return false;
        sink.done();
        return true;
      },
      [st](bool) { st->clean(); });
}

}  // namespace zaya::serve
