// Prometheus metrics of `zaya serve` with vLLM's names, label and bucket boundaries (spec
// interfaces §1 "Prometheus metrics"; docs/serving.md "Metrics"). The server records every finished
// request (RequestTiming and the finish reason it answered), the engine reports inter-token gaps,
// and render() writes the text exposition format (version 0.0.4) with the engine's live gauges.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "infer/engine.h"

namespace zaya {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // name_bucket{labels,le="..."} lines (cumulative, +Inf last), name_sum, name_count.
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), the last one for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to max (inclusive).
std::vector<double> buckets_1_2_5(int64_t max);

class Metrics {
 public:
  Metrics(std::string model_name, int64_t max_model_len);
  // A request (one choice) has ended; finish is "stop", "length" or "abort" (cancelled, client gone).
  void on_request(const RequestTiming& t, const std::string& finish);
  void on_token_gap(double seconds);  // ITL, from the engine thread
  std::string render(const EngineStats& s) const;

 private:
  std::string model_, labels_;
  mutable std::mutex mu_;
  uint64_t success_stop_ = 0, success_length_ = 0, success_abort_ = 0;
  Histogram ttft_, itl_, e2e_, queue_, prompt_tokens_, generation_tokens_;
};

}  // namespace zaya
