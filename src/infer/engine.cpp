// The continuous-batching engine (engine.h; docs/serving.md "Continuous batching").
#include "infer/engine.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace zaya {

namespace {
using clock = std::chrono::steady_clock;
double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

// Log-softmax of one row, evaluated only where needed: logZ once, then any id's logprob.
struct LogSoftmax {
  const float* x;
  int64_t V;
  double logz;
  LogSoftmax(const float* row, int64_t n) : x(row), V(n) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, row[i]);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(double(row[i]) - mx);
    logz = double(mx) + std::log(s);
  }
  float lp(int32_t id) const { return float(double(x[id]) - logz); }
  // The k most likely ids, best first (ties: lower id first).
  std::vector<std::pair<int32_t, float>> top(int k) const {
    std::vector<std::pair<int32_t, float>> out;
    if (k <= 0) return out;
    k = int(std::min<int64_t>(k, V));
    std::vector<int32_t> idx;
    idx.reserve(size_t(k) + 1);
    auto worse = [&](int32_t a, int32_t b) { return x[a] < x[b] || (x[a] == x[b] && a > b); };
    for (int64_t i = 0; i < V; ++i) {  // a small sorted buffer: k ≤ 20 in practice
      int32_t id = int32_t(i);
      if (int(idx.size()) == k && !worse(idx.back(), id)) continue;
      auto it = std::lower_bound(idx.begin(), idx.end(), id, [&](int32_t a, int32_t b) { return worse(b, a); });
      idx.insert(it, id);
      if (int(idx.size()) > k) idx.pop_back();
    }
    for (int32_t id : idx) out.emplace_back(id, lp(id));
    return out;
  }
};
}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
    default: return "none";
  }
}

// ----- Request

bool Request::next(EngineEvent& ev, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (done_taken_) return false;
  if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return false;
  ev = std::move(events_.front());
  events_.pop_front();
  if (ev.kind == EngineEvent::Done) done_taken_ = true;
  return true;
}

void Request::push(EngineEvent ev) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (done_) return;
    if (ev.kind == EngineEvent::Done) done_ = true;
    events_.push_back(std::move(ev));
  }
  cv_.notify_all();
}

RequestTiming Request::timing() const {
  std::lock_guard<std::mutex> lk(mu_);
  return timing_;
}

// ----- Engine

struct Engine::Slot {
  std::shared_ptr<Request> req;
  SeqState state;
  Sampler sampler;
  size_t consumed = 0;     // prompt tokens already fed
  int64_t generated = 0;   // completion tokens sampled
  int32_t last = -1;       // the token to feed next while decoding
  size_t reserved = 0;     // bytes of the memory budget held
  std::vector<TokenLogprob> prompt_lp;
  clock::time_point last_token;
  FinishReason fin = FinishReason::None;  // set when the slot is done
  Slot(std::shared_ptr<Request> r, SeqState s, size_t bytes)
      : req(std::move(r)), state(std::move(s)), sampler(req->params_.sampler), reserved(bytes) {}
  bool prefilling() const { return consumed < req->params_.prompt.size(); }
};

static size_t request_bytes(const Model& m, int64_t tokens);

Engine::Engine(const Model& model, const EngineOptions& opt) : model_(model), opt_(opt) {
  const ModelConfig& c = model.config();
  ZAYA_CHECK(opt_.slots >= 1, "engine: --slots must be at least 1");
  ZAYA_CHECK(opt_.prefill_chunk >= 1 && opt_.max_batch_tokens >= 1, "engine: chunk sizes must be positive");
  ctx_ = opt_.ctx > 0 ? opt_.ctx : (c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096);
  ZAYA_CHECK(c.max_position_embeddings <= 0 || ctx_ <= c.max_position_embeddings, "engine: --ctx ", ctx_,
             " is more than the model's max_position_embeddings (", c.max_position_embeddings, ")");
  if (opt_.kv_budget_gib > 0) budget_bytes_ = size_t(opt_.kv_budget_gib * double(1ull << 30));
  // The usage gauge's denominator: the budget, or without one every slot holding a full context.
  usage_denom_ = budget_bytes_ ? budget_bytes_ : size_t(opt_.slots) * request_bytes(model_, ctx_);
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string Engine::death_reason() const {
  std::lock_guard<std::mutex> lk(mu_);
  return death_;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  EngineStats s = stats_;
  s.waiting = int64_t(queue_.size());
  return s;
}

// Bytes one request holds for its whole life: KV rows for prompt + completion, plus conv and value states.
static size_t request_bytes(const Model& m, int64_t tokens) {
  const ModelConfig& c = m.config();
  size_t kv_per_token = size_t(c.n_pairs) * 2 * size_t(int64_t(c.nk) * c.head_dim) * dtype_size(m.backend().kv_dtype());
  size_t fixed = size_t(c.n_pairs) * (size_t(c.conv_state_len()) * size_t(c.conv_channels()) + size_t(c.value_half())) * 4;
  return size_t(tokens) * kv_per_token + fixed;
}

std::shared_ptr<Request> Engine::submit(RequestParams p) {
  const int64_t V = model_.config().vocab_size;
  if (p.prompt.empty()) throw EngineRefused(400, "the prompt is empty (it must hold at least one token)");
  for (size_t i = 0; i < p.prompt.size(); ++i)
    if (p.prompt[i] < 0 || p.prompt[i] >= V)
      throw EngineRefused(400, "prompt token " + std::to_string(i) + " has id " + std::to_string(p.prompt[i]) +
                                   ", outside the vocabulary [0, " + std::to_string(V) + ")");
  for (int32_t id : p.stop_ids)
    if (id < 0 || id >= V) throw EngineRefused(400, "stop token id " + std::to_string(id) + " is outside the vocabulary");
  if (p.max_tokens < 0) throw EngineRefused(400, "max_tokens must be at least 0");
  const int64_t P = int64_t(p.prompt.size());
  if (P > ctx_ || p.max_tokens > ctx_ - P)
    throw EngineRefused(400, "This model's maximum context length is " + std::to_string(ctx_) +
                                 " tokens. However, you requested " + std::to_string(P + p.max_tokens) + " tokens (" +
                                 std::to_string(P) + " in the prompt, " + std::to_string(p.max_tokens) +
                                 " for the completion). Please reduce the length of the prompt or max_tokens.");
  if (budget_bytes_ && request_bytes(model_, P + p.max_tokens) > budget_bytes_)
    throw EngineRefused(400, "the request needs " + std::to_string(request_bytes(model_, P + p.max_tokens) >> 20) +
                                 " MiB of KV cache, more than the whole budget (--kv-budget-gib)");
  if (p.top_logprobs < 0 || p.top_logprobs > 1000) throw EngineRefused(400, "top_logprobs must be in [0, 1000]");
  auto r = std::make_shared<Request>();
  r->params_ = std::move(p);
  r->submitted_ = clock::now();
  r->timing_.prompt_tokens = P;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!alive_) throw EngineRefused(503, "the engine has stopped: " + death_);
    if (stop_) throw EngineRefused(503, "the engine is shutting down");
    if (int64_t(queue_.size()) >= opt_.max_queue)
      throw EngineRefused(503, "the request queue is full (" + std::to_string(opt_.max_queue) + " waiting)");
    r->id_ = next_id_++;
    queue_.push_back(r);
  }
  cv_.notify_all();
  return r;
}

void Engine::loop() {
  if (opt_.threads > 0) omp_set_num_threads(opt_.threads);  // an ICV of this thread, not inherited
  std::vector<std::unique_ptr<Slot>> running;
  size_t held = 0;
  auto finish = [&](Slot& s, FinishReason why, const std::string& err = {}) {
    RequestTiming t;
    {
      std::lock_guard<std::mutex> lk(s.req->mu_);
      s.req->timing_.finished = seconds_since(s.req->submitted_);
      s.req->timing_.completion_tokens = s.generated;
      t = s.req->timing_;
    }
    EngineEvent ev;
    ev.kind = EngineEvent::Done;
    ev.finish = why;
    ev.error = err;
    s.req->push(std::move(ev));
    if (on_finish_) on_finish_(t, why);
  };
  try {
    while (true) {
      std::vector<std::shared_ptr<Request>> dropped;  // cancelled while queued
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !queue_.empty() || !running.empty(); });
        if (stop_) break;
        // Admission: FCFS; the head waits (no overtaking) until a slot and enough budget are free.
        while (!queue_.empty() && int(running.size()) < opt_.slots) {
          auto& r = queue_.front();
          if (r->cancelled()) {
            dropped.push_back(r);
            queue_.pop_front();
            continue;
          }
          const int64_t tokens = int64_t(r->params_.prompt.size()) + r->params_.max_tokens;
          const size_t bytes = request_bytes(model_, tokens);
          if (budget_bytes_ && held + bytes > budget_bytes_) break;
          lk.unlock();
          // The cache starts at the prompt plus a little and doubles as needed (the budget counts it all).
          auto slot = std::make_unique<Slot>(
              r, model_.new_state(int64_t(r->params_.prompt.size()) + std::min<int64_t>(r->params_.max_tokens, 256)), bytes);
          lk.lock();
          held += bytes;
          {
            std::lock_guard<std::mutex> rl(r->mu_);
            r->timing_.queued = seconds_since(r->submitted_);
          }
          running.push_back(std::move(slot));
          queue_.pop_front();
        }
        stats_.running = int64_t(running.size());
        stats_.kv_bytes = held;
        stats_.kv_usage = usage_denom_ ? double(held) / double(usage_denom_) : 0.0;
      }
      for (auto& r : dropped) {
        EngineEvent ev;
        ev.kind = EngineEvent::Done;
        ev.finish = FinishReason::Cancelled;
        {
          std::lock_guard<std::mutex> lk(mu_);
          stats_.requests_cancelled++;
        }
        r->push(std::move(ev));
      }
      // Cancelled slots leave before the step, finished ones after it.
      // The stats count a request as finished (and its slot as free) before its Done event is
      // published, so a client that has seen Done reads stats that include it.
      auto retire = [&] {
        std::vector<std::unique_ptr<Slot>> done;
        for (auto& s : running)
          if (s->fin != FinishReason::None) {
            held -= s->reserved;
            done.push_back(std::move(s));
          }
        running.erase(std::remove(running.begin(), running.end(), nullptr), running.end());
        if (done.empty()) return;
        {
          std::lock_guard<std::mutex> lk(mu_);
          for (auto& s : done) (s->fin == FinishReason::Cancelled ? stats_.requests_cancelled : stats_.requests_finished)++;
          stats_.running = int64_t(running.size());
          stats_.kv_bytes = held;
          stats_.kv_usage = usage_denom_ ? double(held) / double(usage_denom_) : 0.0;
        }
        for (auto& s : done) finish(*s, s->fin);
      };
      for (auto& s : running)
        if (s->req->cancelled()) s->fin = FinishReason::Cancelled;
      retire();
      if (!running.empty()) step(running);
      retire();
      std::lock_guard<std::mutex> lk(mu_);
      stats_.steps++;
      if (opt_.fault_after_steps > 0 && stats_.steps >= opt_.fault_after_steps)
        throw Error("injected fault after " + std::to_string(stats_.steps) + " steps (EngineOptions::fault_after_steps)");
      stats_.running = int64_t(running.size());
      stats_.kv_bytes = held;
      stats_.kv_usage = usage_denom_ ? double(held) / double(usage_denom_) : 0.0;
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(mu_);
    alive_ = false;
    death_ = e.what();
  }
  // Whatever is left ends with an error (engine stopped or died).
  std::string why;
  std::deque<std::shared_ptr<Request>> queued;
  {
    std::lock_guard<std::mutex> lk(mu_);
    why = alive_ ? std::string("the engine stopped") : "the engine died: " + death_;
    if (!alive_) stop_ = true;
    queued.swap(queue_);
  }
  for (auto& s : running) {
    EngineEvent ev;
    ev.kind = EngineEvent::Done;
    ev.finish = FinishReason::Error;
    ev.error = why;
    s->req->push(std::move(ev));
  }
  for (auto& r : queued) {
    EngineEvent ev;
    ev.kind = EngineEvent::Done;
    ev.finish = FinishReason::Error;
    ev.error = why;
    r->push(std::move(ev));
  }
}

// One forward call over every running slot: decode rows first (one each), then prompt chunks in
// admission order while the step's row budget lasts. Prompt logprobs need every row's logits, so a
// step with such a chunk asks for all logits and holds at most ~256 MiB of them.
void Engine::step(std::vector<std::unique_ptr<Slot>>& running) {
  const int64_t V = model_.config().vocab_size;
  bool want_all = false;
  for (auto& s : running) want_all |= s->prefilling() && s->req->params_.prompt_logprobs;
  int64_t budget = opt_.max_batch_tokens;
  if (want_all) budget = std::min<int64_t>(budget, std::max<int64_t>(1, (int64_t(256) << 20) / (V * 4)));
  std::vector<SeqChunk> batch;
  std::vector<Slot*> who;
  for (auto& s : running)
    if (!s->prefilling()) {
      batch.push_back({&s->state, &s->last, 1});
      who.push_back(s.get());
      --budget;
    }
  for (auto& s : running) {
    if (!s->prefilling() || budget <= 0) continue;
    const auto& prompt = s->req->params_.prompt;
    int64_t n = std::min<int64_t>({int64_t(prompt.size() - s->consumed), opt_.prefill_chunk, budget});
    batch.push_back({&s->state, prompt.data() + s->consumed, n});
    who.push_back(s.get());
    budget -= n;
  }
  if (batch.empty()) return;
  int64_t rows = 0;
  for (auto& c : batch) rows += c.n;
  logits_.resize(size_t(want_all ? rows : int64_t(batch.size())) * size_t(V));
  ForwardOptions fo;
  fo.all_logits = want_all;
  model_.forward(batch, logits_.data(), ws_, fo);

  int64_t prompt_tokens = 0, gen_tokens = 0;
  int64_t row = 0;  // first row of this sequence in the all-logits layout
  for (size_t b = 0; b < batch.size(); ++b) {
    Slot& s = *who[b];
    const RequestParams& p = s.req->params_;
    const int64_t n = batch[b].n;
    const float* last_row = logits_.data() + size_t(want_all ? row + n - 1 : int64_t(b)) * size_t(V);
    bool sample = true;
    if (s.prefilling()) {
      if (p.prompt_logprobs) {
        if (s.prompt_lp.empty()) {
          TokenLogprob first;
          first.id = p.prompt[0];
          first.logprob = std::numeric_limits<float>::quiet_NaN();
          s.prompt_lp.push_back(first);
        }
        // Row r (position consumed + r) predicts prompt token consumed + r + 1.
        for (int64_t r = 0; r < n; ++r) {
          size_t t = s.consumed + size_t(r) + 1;
          if (t >= p.prompt.size()) break;
          LogSoftmax ls(logits_.data() + size_t(row + r) * size_t(V), V);
          TokenLogprob tl;
          tl.id = p.prompt[t];
          tl.logprob = ls.lp(tl.id);
          tl.top = ls.top(p.top_logprobs);
          s.prompt_lp.push_back(std::move(tl));
        }
      }
      s.consumed += size_t(n);
      prompt_tokens += n;
      sample = !s.prefilling();
      if (sample && p.prompt_logprobs) {
        EngineEvent ev;
        ev.kind = EngineEvent::Prompt;
        ev.prompt = std::move(s.prompt_lp);
        s.req->push(std::move(ev));
      }
      if (sample && p.max_tokens == 0) {
        s.fin = FinishReason::Length;
        sample = false;
      }
    }
    row += n;
    if (!sample) continue;
    EngineEvent ev;
    ev.kind = EngineEvent::Token;
    const float* pick_row = last_row;
    if (s.generated < p.min_tokens && !p.stop_ids.empty()) {
      // min_tokens: the stop tokens are masked out of the distribution sampled from; the reported
      // logprobs stay those of the model's own distribution (vLLM's raw logprobs).
      masked_.assign(last_row, last_row + V);
      for (int32_t id : p.stop_ids)
        if (id >= 0 && id < V) masked_[size_t(id)] = -std::numeric_limits<float>::infinity();
      pick_row = masked_.data();
    }
    ev.token.id = s.sampler.sample(pick_row, V);
    if (p.logprobs) {
      LogSoftmax ls(last_row, V);
      ev.token.logprob = ls.lp(ev.token.id);
      ev.token.top = ls.top(p.top_logprobs);
    }
    s.last = ev.token.id;
    s.generated++;
    gen_tokens++;
    const auto now = clock::now();
    if (s.generated == 1) {
      std::lock_guard<std::mutex> lk(s.req->mu_);
      s.req->timing_.first_token = std::chrono::duration<double>(now - s.req->submitted_).count();
    } else if (on_gap_) {
      on_gap_(std::chrono::duration<double>(now - s.last_token).count());
    }
    s.last_token = now;
    if (std::find(p.stop_ids.begin(), p.stop_ids.end(), s.last) != p.stop_ids.end())
      s.fin = FinishReason::Stop;
    else if (s.generated >= p.max_tokens)
      s.fin = FinishReason::Length;
    s.req->push(std::move(ev));
  }
  std::lock_guard<std::mutex> lk(mu_);
  stats_.prompt_tokens_total += prompt_tokens;
  stats_.generation_tokens_total += gen_tokens;
}

std::vector<Completion> run_all(Engine& engine, std::vector<RequestParams> reqs,
                                const std::function<void(size_t, size_t)>& progress) {
  const size_t N = reqs.size();
  std::vector<Completion> out(N);
  // A window of outstanding requests keeps the queue within its limit and every slot busy.
  // At most max_queue outstanding, so that the queue can never overflow even before any is admitted.
  const size_t window =
      size_t(std::max<int64_t>(1, std::min<int64_t>(engine.options().max_queue, 4 * int64_t(engine.options().slots))));
  std::vector<std::shared_ptr<Request>> live(N);
  size_t next = 0, done = 0;
  auto cancel_all = [&] {
    for (auto& r : live)
      if (r) r->cancel();
  };
  try {
    while (done < N) {
      while (next < N && next - done < window) {
        out[next].prompt_tokens = int64_t(reqs[next].prompt.size());
        live[next] = engine.submit(std::move(reqs[next]));
        ++next;
      }
      Request& r = *live[done];
      EngineEvent ev;
      if (!r.next(ev, std::chrono::milliseconds(200))) {
        ZAYA_CHECK(engine.alive(), "engine: ", engine.death_reason());
        continue;
      }
      Completion& c = out[done];
      if (ev.kind == EngineEvent::Prompt) {
        c.prompt_logprobs = std::move(ev.prompt);
      } else if (ev.kind == EngineEvent::Token) {
        c.ids.push_back(ev.token.id);
        c.logprobs.push_back(std::move(ev.token));
      } else {
        c.finish = ev.finish;
        ZAYA_CHECK(ev.finish != FinishReason::Error, "engine: request ", done, ": ", ev.error);
        live[done].reset();
        ++done;
        if (progress) progress(done, N);
      }
    }
  } catch (const EngineRefused& e) {
    cancel_all();
    throw_error("engine refused request ", next, ": ", e.what());
  } catch (...) {
    cancel_all();
    throw;
  }
  return out;
}

}  // namespace zaya
