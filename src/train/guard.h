// Step guards of the trainer (issue 7 §5): a loss-spike detector over a window of accepted losses, the
// count of consecutive skipped steps that triggers a rollback, and fault injection for testing them.
#pragma once
#include <cmath>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/run_config.h"

namespace zaya {

// A spike: the window holds spike_window accepted losses and loss > mean + z·σ of them.
class LossGuard {
 public:
  explicit LossGuard(const GuardConfig& c) : c_(c) {}
  // The z-score of `loss` against the window (0 while the window is not full or has no spread).
  double zscore(double loss) const {
    if (c_.spike_zscore <= 0 || int64_t(w_.size()) < c_.spike_window) return 0;
    double m = 0, v = 0;
    for (double x : w_) m += x;
    m /= double(w_.size());
    for (double x : w_) v += (x - m) * (x - m);
    const double sd = std::sqrt(v / double(w_.size()));
    return sd > 0 ? (loss - m) / sd : 0;
  }
  bool is_spike(double loss) const { return c_.spike_zscore > 0 && zscore(loss) > c_.spike_zscore; }
  void accept(double loss) {
    w_.push_back(loss);
    while (int64_t(w_.size()) > c_.spike_window) w_.pop_front();
  }
  void clear() { w_.clear(); }

 private:
  GuardConfig c_;
  std::deque<double> w_;
};

struct Injection {
  std::string kind;  // "nan-grad" | "loss-spike"
  int64_t from = 0, to = 0;
  bool at(const char* k, int64_t step) const { return kind == k && step >= from && step <= to; }
};

inline std::vector<Injection> parse_injections(const std::vector<std::string>& specs) {
  std::vector<Injection> out;
  for (const std::string& s : specs) {
    const size_t c = s.find(':');
    Injection in;
    in.kind = s.substr(0, c);
    ZAYA_CHECK(c != std::string::npos && (in.kind == "nan-grad" || in.kind == "loss-spike"), "--inject-fault '", s,
               "': expected nan-grad:STEP[-STEP] or loss-spike:STEP[-STEP]");
    const std::string r = s.substr(c + 1);
    try {
      const size_t d = r.find('-');
      in.from = std::stoll(r.substr(0, d));
      in.to = d == std::string::npos ? in.from : std::stoll(r.substr(d + 1));
    } catch (...) {
      throw_error("--inject-fault '", s, "': the step range is not a number");
    }
    ZAYA_CHECK(in.from >= 1 && in.to >= in.from, "--inject-fault '", s, "': bad step range");
    out.push_back(in);
  }
  return out;
}

}  // namespace zaya
