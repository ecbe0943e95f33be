// Learning-rate schedules: warmup–stable–decay and cosine (formulas in optim.h).
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "train/optim.h"

namespace zaya {

namespace {
int64_t decay_steps(const Schedule& s) { return std::llround(s.decay_fraction * double(s.total)); }
}  // namespace

void validate(const Schedule& s) {
  ZAYA_CHECK(s.kind == "wsd" || s.kind == "cosine", "schedule: unknown kind '", s.kind,
             "' (expected wsd or cosine)");
  ZAYA_CHECK(s.total >= 1, "schedule: total steps must be >= 1, got ", s.total);
  ZAYA_CHECK(s.warmup >= 0 && s.warmup <= s.total, "schedule: warmup must be in [0, total = ", s.total, "], got ",
             s.warmup);
  ZAYA_CHECK(std::isfinite(s.min_ratio) && s.min_ratio >= 0 && s.min_ratio <= 1,
             "schedule: min_ratio must be in [0, 1], got ", s.min_ratio);
  if (s.kind == "wsd") {
    ZAYA_CHECK(s.decay_shape == "linear" || s.decay_shape == "1-sqrt", "schedule: unknown decay_shape '",
               s.decay_shape, "' (expected linear or 1-sqrt)");
    ZAYA_CHECK(std::isfinite(s.decay_fraction) && s.decay_fraction >= 0 && s.decay_fraction <= 1,
               "schedule: decay_fraction must be in [0, 1], got ", s.decay_fraction);
    const int64_t D = decay_steps(s);
    ZAYA_CHECK(s.warmup + D <= s.total, "schedule: warmup (", s.warmup, ") + decay (", D, " = ", s.decay_fraction,
               " x ", s.total, ") steps exceed total (", s.total, ")");
  }
}

double lr_at(const Schedule& s, double peak, int64_t step) {
  validate(s);
  ZAYA_CHECK(std::isfinite(peak) && peak >= 0, "schedule: peak learning rate must be finite and >= 0, got ", peak);
  ZAYA_CHECK(step >= 0, "schedule: step must be >= 0, got ", step);
  if (step < s.warmup) return peak * double(step + 1) / double(s.warmup);
  if (step >= s.total) return peak * s.min_ratio;
  const double lo = s.min_ratio;
  if (s.kind == "cosine") {
    const double t = double(step - s.warmup + 1) / double(s.total - s.warmup);
    return peak * (lo + (1 - lo) * 0.5 * (1 + std::cos(std::numbers::pi * t)));
  }
  const int64_t D = decay_steps(s), start = s.total - D;
  if (step < start) return peak;
  const double t = double(step - start + 1) / double(D);
  const double f = s.decay_shape == "linear" ? 1 - (1 - lo) * t : lo + (1 - lo) * (1 - std::sqrt(t));
  return peak * f;
}

}  // namespace zaya
