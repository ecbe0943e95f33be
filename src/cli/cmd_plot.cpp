// zaya plot: training curves from a metrics.jsonl file into a self-contained SVG.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <memory>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "core/svgplot.h"

namespace zaya::cli {

namespace {

struct PlotArgs {
  std::string metrics, comm, out, x = "step", title;
  std::vector<std::string> keys;
  bool log_y = false;
};

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with_svg(const std::string& p) {
  if (p.size() < 4) return false;
  std::string ext = p.substr(p.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".svg";
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// `zaya bench comm --format json` output: busbw (GB/s) against log2(bytes), one line per collective.
void run_comm_plot(const PlotArgs& a) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(a.comm));
  } catch (const nlohmann::json::exception& e) {
    throw_error(a.comm, ": not JSON (expected the output of zaya bench comm --format json): ", e.what());
  }
  ZAYA_CHECK(j.is_array() && !j.empty(), a.comm, ": expected a non-empty list of {op, bytes, busbw}");
  std::vector<Series> series;
  int ranks = 0;
  for (auto& r : j) {
    ZAYA_CHECK(r.is_object() && r.contains("op") && r.contains("bytes") && r.contains("busbw") &&
                   r["op"].is_string() && r["bytes"].is_number() && r["busbw"].is_number(),
               a.comm, ": an entry lacks op, bytes or busbw");
    const std::string op = r["op"];
    auto it = std::find_if(series.begin(), series.end(), [&](const Series& s) { return s.name == op; });
    if (it == series.end()) it = series.insert(series.end(), Series{op, {}, {}, true});
    const double b = r["bytes"].get<double>();
    ZAYA_CHECK(b > 0, a.comm, ": bytes must be positive");
    it->x.push_back(std::log2(b));
    it->y.push_back(r["busbw"].get<double>());
    ranks = r.value("ranks", ranks);
  }
  PlotOptions opt;
  opt.title = a.title.empty() ? "zaya bench comm, " + std::to_string(ranks) + " ranks: bus bandwidth" : a.title;
  opt.x_label = "log2(message bytes)";
  opt.y_label = "busbw (GB/s)";
  opt.log_y = a.log_y;
  write_file_atomic(a.out, render_svg(series, opt));
  std::printf("wrote %s: %zu collectives from %s\n", a.out.c_str(), series.size(), a.comm.c_str());
}

void run_plot(const PlotArgs& a) {
  ZAYA_CHECK(ends_with_svg(a.out), "only SVG output is supported (--out ", a.out, " does not end in .svg)");
  if (!a.comm.empty()) return run_comm_plot(a);
  ZAYA_CHECK(!a.metrics.empty(), "plot: give --metrics (training curves) or --comm (zaya bench comm --format json)");
  const std::string path = is_dir(a.metrics) ? path_join(a.metrics, "metrics.jsonl") : a.metrics;
  ZAYA_CHECK(file_exists(path), "metrics file not found: ", path);
  std::vector<std::string> keys;
  for (const std::string& k : a.keys)
    if (!trim(k).empty()) keys.push_back(trim(k));

  MetricsData d = load_metrics_jsonl(path, keys, a.x);
  for (const std::string& n : d.notes) std::fprintf(stderr, "note: %s\n", n.c_str());

  PlotOptions opt;
  opt.title = a.title.empty() ? path : a.title;
  opt.x_label = a.x;
  opt.log_y = a.log_y;
  if (d.series.size() == 1) opt.y_label = d.series[0].name;
  if (a.log_y) {
    size_t nonpos = 0;
    for (const Series& s : d.series)
      for (double y : s.y) nonpos += !(y > 0);
    if (nonpos) std::fprintf(stderr, "note: %zu value(s) <= 0 left out on the log-scale y axis\n", nonpos);
  }
  const std::string svg = render_svg(d.series, opt);
  write_file_atomic(a.out, svg);

  std::string desc;
  for (const Series& s : d.series) {
    desc += (desc.empty() ? "" : ", ") + s.name + " (" + std::to_string(s.x.size()) + " points";
    if (s.x.size() > opt.max_points) desc += ", drawn as <= " + std::to_string(opt.max_points);
    desc += ")";
  }
  std::printf("wrote %s: %s vs %s from %zu lines\n", a.out.c_str(), desc.c_str(), a.x.c_str(), d.records);
}

}  // namespace

void register_plot(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  auto* c = app.add_subcommand("plot", "Draw training curves from a metrics.jsonl file into an SVG image");
  c->add_option("--metrics", a->metrics, "metrics.jsonl (one JSON object per line), or a run directory holding one");
  c->add_option("--comm", a->comm, "Instead: the JSON of zaya bench comm --format json (busbw per collective)");
  c->add_option("--out", a->out, "Output image (.svg)")->required();
  c->add_option("--keys", a->keys, "Comma-separated keys to plot (default: loss and val_loss, those present)")
      ->delimiter(',');
  c->add_option("--x", a->x, "X axis: step | tokens")->check(CLI::IsMember({"step", "tokens"}))->capture_default_str();
  c->add_flag("--log-y", a->log_y, "Log-scale y axis (values <= 0 are left out)");
  c->add_option("--title", a->title, "Chart title (default: the metrics path)");
  c->callback([a] { run_plot(*a); });
}

}  // namespace zaya::cli
