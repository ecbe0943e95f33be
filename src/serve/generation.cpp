// Engine events to response text: stop handling, UTF-8-safe streaming, the drive loop (generation.h).
#include "serve/generation.h"

#include <algorithm>
#include <cmath>

namespace zaya::serve {

namespace {
bool contains(const std::vector<int32_t>& v, int32_t id) { return std::find(v.begin(), v.end(), id) != v.end(); }
}  // namespace

TextAssembler::TextAssembler(const Tokenizer& tok, DecodeRules rules)
    : tok_(&tok), rules_(std::move(rules)), dec_(tok, /*skip_special_tokens=*/false) {}

std::string TextAssembler::push(int32_t id) {
  if (stopped_) return "";
  ++tokens_;
  const bool eos = contains(rules_.eos_ids, id);
  if (tokens_ >= rules_.min_tokens && (eos || contains(rules_.stop_token_ids, id))) {
    stopped_ = by_token_ = true;  // the stop token's own text is not part of the output (as vLLM)
    stop_reason_ = eos ? nlohmann::json(nullptr) : nlohmann::json(id);
    pending_ += dec_.flush();
    std::string out = scan(true);
    stopped_ = true;
    return out;
  }
  if (!(rules_.skip_special && tok_->is_special(id) && !contains(rules_.keep_special, id))) pending_ += dec_.push(id);
  return scan(false);
}

std::string TextAssembler::finish() {
  if (stopped_) return "";
  pending_ += dec_.flush();
  return scan(true);
}

// Emits what can no longer be part of a stop string. Every earlier emission ended before any suffix
// that is a prefix of a stop string, so a match can only start inside pending_.
std::string TextAssembler::scan(bool final) {
  size_t first = std::string::npos;
  const std::string* which = nullptr;
  // Before min_tokens no stop string matches; possible beginnings are still held back, so a stop
  // string that completes at or after min_tokens is found whole (as vLLM's stop check).
  const bool match = tokens_ >= rules_.min_tokens;
  for (const auto& s : rules_.stop) {
    if (!match) break;
    size_t p = pending_.find(s);
    if (p < first) {
      first = p;
      which = &s;
    }
  }
  if (which) {
    std::string out = pending_.substr(0, first);
    pending_.clear();
    stopped_ = true;
    stop_reason_ = *which;
    return out;
  }
  size_t keep_from = pending_.size();
  if (!final) {
    for (size_t q = 0; q < pending_.size() && keep_from == pending_.size(); ++q)
      for (const auto& s : rules_.stop) {
        size_t n = pending_.size() - q;
        if (n < s.size() && pending_.compare(q, n, s, 0, n) == 0) {
          keep_from = q;
          break;
        }
      }
  }
  std::string out = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return out;
}

int64_t utf8_length(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

double clamp_logprob(float lp) {
  if (std::isnan(lp)) return -9999.0;
  return std::max(double(lp), -9999.0);
}

namespace {
// One event of one choice. Returns false if the client could not be written to; err gets the
// engine's error.
bool handle(Choice& c, EngineEvent& ev, const std::function<bool(Choice&, const std::string&, bool)>& on_delta,
            std::string& err) {
  if (ev.kind == EngineEvent::Prompt) {
    c.prompt_logprobs = std::move(ev.prompt);
    c.have_prompt_logprobs = true;
    return true;
  }
  if (ev.kind == EngineEvent::Token) {
    if (!c.finish.empty()) return true;
    std::string delta = c.text->push(ev.token.id);
    // A stop token (eos or stop_token_ids) contributes no text and no logprob entry; a token that
    // completes a stop string keeps its entry.
    const bool was_stop_token = c.text->stopped_by_token();
    if (c.want_logprobs && !was_stop_token) c.logprobs.push_back(std::move(ev.token));
    c.out += delta;
    if (!on_delta(c, delta, false)) return false;
    if (c.text->stopped()) {
      c.finish = "stop";
      c.req->cancel();  // a stop string: the engine would go on; a stop token: it has stopped already
      return on_delta(c, "", true);
    }
    return true;
  }
  c.engine_done = true;  // Done
  if (!c.finish.empty()) return true;
  if (ev.finish == FinishReason::Error) {
    err = ev.error.empty() ? "the engine failed" : ev.error;
    c.finish = "abort";
    return true;
  }
  std::string delta = c.text->finish();
  c.out += delta;
  if (!delta.empty() && !on_delta(c, delta, false)) return false;
  c.finish = ev.finish == FinishReason::Stop ? "stop" : ev.finish == FinishReason::Length ? "length" : "abort";
  return on_delta(c, "", true);
}
}  // namespace

std::string drive(std::vector<Choice>& choices, ConnWatch& watch,
                  const std::function<bool(Choice&, const std::string&, bool)>& on_delta) {
  using std::chrono::milliseconds;
  std::string err;
  while (true) {
    bool any = false;
    Choice* first_live = nullptr;
    size_t live = 0;
    for (auto& c : choices) {
      EngineEvent ev;
      while (c.finish.empty() && c.req->next(ev, milliseconds(0))) {
        any = true;
        if (!handle(c, ev, on_delta, err)) return "client";
        if (!err.empty()) return err;
      }
      if (c.finish.empty()) {
        ++live;
        if (!first_live) first_live = &c;
      }
    }
    if (!live) return "";
    if (watch.gone()) return "client";
    if (any) continue;
    // Nothing ready: block on one choice (briefly when others may be producing).
    EngineEvent ev;
    if (first_live->req->next(ev, milliseconds(live == 1 ? 50 : 2))) {
      if (!handle(*first_live, ev, on_delta, err)) return "client";
      if (!err.empty()) return err;
    }
  }
}

Reaper::Reaper(Record record) : record_(std::move(record)), thread_([this] { loop(); }) {}

Reaper::~Reaper() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Reaper::add(std::shared_ptr<Request> r, std::string finish) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    items_.emplace_back(std::move(r), std::move(finish));
  }
  cv_.notify_all();
}

void Reaper::loop() {
  std::vector<std::pair<std::shared_ptr<Request>, std::string>> work;
  while (true) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(20), [&] { return stop_ || !items_.empty(); });
      if (stop_) return;
      for (auto& it : items_) work.push_back(std::move(it));
      items_.clear();
    }
    std::vector<std::pair<std::shared_ptr<Request>, std::string>> left;
    for (auto& [r, finish] : work) {
      EngineEvent ev;
      bool done = false;
      while (r->next(ev, std::chrono::milliseconds(0)))
        if (ev.kind == EngineEvent::Done) done = true;
      if (done) record_(r->timing(), finish);
      else left.emplace_back(std::move(r), std::move(finish));
    }
    work.swap(left);
    if (!work.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void retire(std::vector<Choice>& choices, Reaper& reaper, const Reaper::Record& record) {
  for (auto& c : choices) {
    if (!c.req) continue;
    if (c.engine_done) {
      record(c.req->timing(), c.finish.empty() ? "abort" : c.finish);
    } else {
      c.req->cancel();
      reaper.add(c.req, c.finish.empty() ? "abort" : c.finish);
    }
    c.req.reset();
  }
}

}  // namespace zaya::serve
