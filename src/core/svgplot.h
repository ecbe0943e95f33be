// Self-contained SVG line charts (training curves) and the metrics.jsonl reader behind `zaya plot`.
// No dependencies: render_svg() returns the whole document as a string.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace zaya {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; drawn in the given order
  bool markers = false;      // draw a circle at every (drawn) point, e.g. for a sparse val_loss
};

struct PlotOptions {
  std::string title, x_label, y_label;
  bool log_y = false;  // points with y <= 0 are left out on a log axis
  int width = 900, height = 520;
  size_t max_points = 4000;  // per series, after downsample() (min/max envelope kept)
};

// The whole SVG document ("<svg ...>...</svg>\n"): frame, grid, "nice" tick labels, one <polyline>
// per series (distinct colours), markers, legend, title, axis labels. Throws zaya::Error when there is
// no series, x/y lengths differ, a value is not finite, or nothing is drawable (no points; log_y with
// no positive y).
std::string render_svg(const std::vector<Series>& series, const PlotOptions& opt);

// Linear ticks: evenly spaced multiples of a step from {1, 2, 5}·10^k, about `target` intervals,
// the first <= lo and the last >= hi (lo == hi is widened). Values are exact multiples k·step.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Step between consecutive nice_ticks() values (ticks[1] - ticks[0], as the exact nice step).
double nice_step(double lo, double hi, int target = 6);
// Log-axis ticks inside [lo, hi] (0 < lo <= hi): 1·10^k (every n-th decade over wide spans), with
// 2 and 5 (or 1..9) multiples added over narrow spans; at least two ticks whenever possible.
std::vector<double> log_ticks(double lo, double hi);
// Label of a linear tick with the given step ("0", "2.5", "0.0003", "20k", "1.5M", "2B").
std::string format_tick(double v, double step);
// Label of a log-axis tick ("0.01", "2", "100", "1e-5", "1e6").
std::string format_log_tick(double v);

// At most max_points points (max_points >= 4): the first and last point, and for each of
// (max_points - 2) / 2 equal index buckets of the interior its minimum and maximum y, in index order.
Series downsample(const Series& s, size_t max_points);

// ---- metrics.jsonl ----
// One JSON object per line; blank lines are ignored. Bare NaN / Infinity / -Infinity (as Python's
// json writes them), null, and strings such as "nan" / "inf" count as non-finite values: skipped and
// counted. A line that is not a JSON object throws "<file>:<line>: ...".
struct MetricsData {
  std::vector<Series> series;       // one per key, markers set for sparse series
  size_t records = 0;               // non-blank lines
  size_t records_with_x = 0;        // ... that have a numeric x field
  size_t skipped_nonfinite = 0;     // NaN / inf / null values of the requested keys left out
  std::vector<std::string> notes;   // human-readable details for the caller to print
};
// keys empty: "loss" and "val_loss", those present (at least one must be). A requested key that never
// has a finite value throws, naming the keys the file does have.
MetricsData load_metrics_jsonl(const std::string& path, const std::vector<std::string>& keys,
                               const std::string& x_key = "step");

}  // namespace zaya
