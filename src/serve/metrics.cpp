// Prometheus metrics with vLLM's names and buckets (metrics.h; spec interfaces §1).
#include "serve/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace zaya {

namespace {
// Prometheus renders numbers the way Go's strconv does; %.17g round-trips and is accepted by parsers.
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // Prefer the shortest representation that round-trips.
    for (int p = 1; p <= 17; ++p) {
      char b2[64];
      std::snprintf(b2, sizeof b2, "%.*g", p, v);
      if (std::strtod(b2, nullptr) == v) {
        std::snprintf(buf, sizeof buf, "%s", b2);
        break;
      }
    }
  }
  return buf;
}

// Label values escape backslash, quote and newline.
std::string escape_label(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,   0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1,  0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kLatencyBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                             30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  if (!std::isfinite(v)) return;
  size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());  // le: v ≤ bound
  counts_[i]++;
  sum_ += v;
  count_++;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{" + labels + ",le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum{" + labels + "} " + num(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

std::vector<double> buckets_1_2_5(int64_t max) {
  std::vector<double> b;
  for (int64_t e = 1; e <= max && e > 0; e *= 10)
    for (int64_t m : {1, 2, 5})
      if (m * e <= max) b.push_back(double(m * e));
  return b;
}

Metrics::Metrics(std::string model_name, int64_t max_model_len)
    : model_(std::move(model_name)),
      labels_("model_name=\"" + escape_label(model_) + "\""),
      ttft_(kTtftBuckets),
      itl_(kItlBuckets),
      e2e_(kLatencyBuckets),
      queue_(kLatencyBuckets),
      prompt_tokens_(buckets_1_2_5(max_model_len)),
      generation_tokens_(buckets_1_2_5(max_model_len)) {}

void Metrics::on_request(const RequestTiming& t, const std::string& finish) {
  std::lock_guard<std::mutex> lk(mu_);
  if (finish == "stop") success_stop_++;
  else if (finish == "length") success_length_++;
  else success_abort_++;
  if (t.completion_tokens > 0) ttft_.observe(t.first_token);
  e2e_.observe(t.finished);
  queue_.observe(t.queued);
  prompt_tokens_.observe(double(t.prompt_tokens));
  generation_tokens_.observe(double(t.completion_tokens));
}

void Metrics::on_token_gap(double seconds) {
  std::lock_guard<std::mutex> lk(mu_);
  itl_.observe(seconds);
}

std::string Metrics::render(const EngineStats& s) const {
  std::string o;
  auto head = [&](const char* name, const char* type, const char* help) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto sample = [&](const std::string& name, const std::string& extra, double v) {
    o += name + "{" + labels_ + extra + "} " + num(v) + "\n";
  };
  head("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
  sample("vllm:num_requests_running", "", double(s.running));
  head("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  sample("vllm:num_requests_waiting", "", double(s.waiting));
  head("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
  sample("vllm:kv_cache_usage_perc", "", s.kv_usage);
  head("vllm:prompt_tokens", "counter", "Number of prefill tokens processed.");
  sample("vllm:prompt_tokens_total", "", double(s.prompt_tokens_total));
  head("vllm:generation_tokens", "counter", "Number of generation tokens processed.");
  sample("vllm:generation_tokens_total", "", double(s.generation_tokens_total));
  std::lock_guard<std::mutex> lk(mu_);
  head("vllm:request_success", "counter", "Count of successfully processed requests.");
  sample("vllm:request_success_total", ",finished_reason=\"stop\"", double(success_stop_));
  sample("vllm:request_success_total", ",finished_reason=\"length\"", double(success_length_));
  sample("vllm:request_success_total", ",finished_reason=\"abort\"", double(success_abort_));
  auto hist = [&](const char* name, const char* help, const Histogram& h) {
    head(name, "histogram", help);
    h.render(o, name, labels_);
  };
  hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft_);
  hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl_);
  hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e_);
  hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", queue_);
  hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", prompt_tokens_);
  hist("vllm:request_generation_tokens", "Number of generation tokens processed.", generation_tokens_);
  return o;
}

}  // namespace zaya
