#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace zaya {

Progress::Progress(std::string label, double total, std::string unit, double unit_scale)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), scale_(unit_scale),
      tty_(isatty(2)), start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(double done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (since >= (tty_ ? 0.2 : 5.0)) {
    last_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  draw(true);
}

void Progress::draw(bool final) {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double frac = total_ > 0 ? done_ / total_ : 1.0;
  double rate = el > 0 ? done_ / el / scale_ : 0;
  double eta = (rate > 0 && frac < 1) ? (total_ - done_) / scale_ / rate : 0;
  const int W = 30;
  int fill = int(frac * W + 0.5);
  std::string bar(size_t(fill), '#');
  bar.append(size_t(W - fill), '.');
  std::fprintf(stderr, "%s%s [%s] %5.1f%% %.3g/%.3g %s, %.3g %s/s, %s %.0fs%s%s%s", tty_ ? "\r" : "",
               label_.c_str(), bar.c_str(), frac * 100, done_ / scale_, total_ / scale_, unit_.c_str(), rate,
               unit_.c_str(), final ? "took" : "ETA", final ? el : eta, suffix_.empty() ? "" : "  ", suffix_.c_str(),
               (final || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace zaya
