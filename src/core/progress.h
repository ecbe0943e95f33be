// A progress bar on stderr with rate and ETA: redrawn in place on a terminal, a line every few
// seconds otherwise (logs stay readable).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace zaya {

class Progress {
 public:
  Progress(std::string label, double total, std::string unit, double unit_scale = 1.0);
  void update(double done);  // absolute amount done
  void finish();
  void set_suffix(std::string s) { suffix_ = std::move(s); }  // shown after the ETA (e.g. the loss)

 private:
  void draw(bool final);
  std::string label_, unit_, suffix_;
  double total_, scale_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace zaya
