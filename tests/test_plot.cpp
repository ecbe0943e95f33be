// SVG training-curve plots: nice ticks, log ticks, downsampling, render_svg, and `zaya plot`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fileutil.h"
#include "core/svgplot.h"

namespace fs = std::filesystem;
using namespace zaya;

namespace {

size_t count(const std::string& s, const std::string& sub) {
  size_t n = 0;
  for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
  return n;
}

std::string rstrip(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool has_label(const std::string& svg, const std::string& label) { return svg.find(">" + label + "</text>") != std::string::npos; }

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::fabs(want[i])));
}

}  // namespace

// ------------------------------------------------------------------------------------------ ticks

TEST(PlotTicks, NiceLinearTicks) {
  expect_ticks(nice_ticks(0, 10, 6), {0, 2, 4, 6, 8, 10});
  expect_ticks(nice_ticks(0, 1, 5), {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  expect_ticks(nice_ticks(2.3, 11.7, 6), {2, 4, 6, 8, 10, 12});
  expect_ticks(nice_ticks(-3, 7, 5), {-4, -2, 0, 2, 4, 6, 8});
  expect_ticks(nice_ticks(0, 100000, 7), {0, 20000, 40000, 60000, 80000, 100000});
  EXPECT_DOUBLE_EQ(nice_step(0, 10, 6), 2);
  EXPECT_DOUBLE_EQ(nice_step(1e-4, 3e-4, 4), 5e-5);
  // degenerate range is widened, ticks still cover the value
  auto t = nice_ticks(5, 5, 6);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(t.front(), 5);
  EXPECT_GE(t.back(), 5);
  // general properties over a spread of ranges
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{{0.013, 0.087}, {-1e6, 3e9}, {2.31, 2.37}, {1, 1e5}}) {
    auto v = nice_ticks(lo, hi, 6);
    EXPECT_LE(v.front(), lo);
    EXPECT_GE(v.back(), hi);
    EXPECT_LE(v.size(), 9u) << lo << ".." << hi;
    EXPECT_GE(v.size(), 3u) << lo << ".." << hi;
  }
  EXPECT_THROW(nice_ticks(0, INFINITY, 6), Error);
}

TEST(PlotTicks, TickLabels) {
  EXPECT_EQ(format_tick(0, 2), "0");
  EXPECT_EQ(format_tick(10, 2), "10");
  EXPECT_EQ(format_tick(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(format_tick(2.5, 0.5), "2.5");
  EXPECT_EQ(format_tick(0.00025, 5e-5), "0.00025");
  EXPECT_EQ(format_tick(3e-7, 1e-7), "3e-7");
  EXPECT_EQ(format_tick(20000, 20000), "20k");
  EXPECT_EQ(format_tick(1.5e6, 5e5), "1.5M");
  EXPECT_EQ(format_tick(2e9, 1e9), "2B");
  EXPECT_EQ(format_tick(-4, 2), "-4");
  EXPECT_EQ(format_log_tick(0.01), "0.01");
  EXPECT_EQ(format_log_tick(100), "100");
  EXPECT_EQ(format_log_tick(1e-5), "1e-5");
  EXPECT_EQ(format_log_tick(1e6), "1e6");
}

TEST(PlotTicks, LogTicks) {
  expect_ticks(log_ticks(1e-3, 1e2), {1e-3, 1e-2, 1e-1, 1, 10, 100});
  // two decades: 1-2-5
  expect_ticks(log_ticks(1, 100), {1, 2, 5, 10, 20, 50, 100});
  // a loss-like range inside a decade and a bit: 1..9 multiples
  expect_ticks(log_ticks(1.9, 11), {2, 3, 4, 5, 6, 7, 8, 9, 10});
  // wide spans thin out the decades
  auto w = log_ticks(1e-10, 1e10);
  EXPECT_LE(w.size(), 11u);
  EXPECT_GE(w.size(), 5u);
  for (double v : w) EXPECT_NEAR(std::log10(v), std::round(std::log10(v)), 1e-9);
  // very narrow: still at least two ticks, all inside the range
  auto n = log_ticks(2.31, 2.37);
  ASSERT_GE(n.size(), 2u);
  for (double v : n) EXPECT_TRUE(v >= 2.31 - 1e-12 && v <= 2.37 + 1e-12) << v;
  EXPECT_THROW(log_ticks(0, 1), Error);
}

// ------------------------------------------------------------------------------------- downsample

TEST(PlotDownsample, KeepsEndpointsAndExtremes) {
  Series s{"loss", {}, {}, false};
  const size_t n = 100000;
  for (size_t i = 0; i < n; ++i) {
    s.x.push_back(double(i));
    s.y.push_back(std::sin(i * 0.001) + 0.01 * double(i % 7));
  }
  s.y[31337] = 50;   // spike
  s.y[77777] = -50;  // dip
  Series d = downsample(s, 4000);
  ASSERT_LE(d.x.size(), 4000u);
  ASSERT_GT(d.x.size(), 3000u);
  EXPECT_EQ(d.x.front(), 0);
  EXPECT_EQ(d.x.back(), double(n - 1));
  EXPECT_EQ(d.y.front(), s.y.front());
  EXPECT_EQ(d.y.back(), s.y.back());
  EXPECT_EQ(*std::max_element(d.y.begin(), d.y.end()), 50);
  EXPECT_EQ(*std::min_element(d.y.begin(), d.y.end()), -50);
  EXPECT_TRUE(std::is_sorted(d.x.begin(), d.x.end()));
  EXPECT_NE(std::find(d.x.begin(), d.x.end(), 31337.0), d.x.end());
  EXPECT_NE(std::find(d.x.begin(), d.x.end(), 77777.0), d.x.end());
  // short series are untouched
  Series t{"t", {1, 2, 3}, {3, 2, 1}, true};
  Series u = downsample(t, 4000);
  EXPECT_EQ(u.x, t.x);
  EXPECT_EQ(u.y, t.y);
}

// ----------------------------------------------------------------------------------------- render

TEST(PlotRender, KnownSeries) {
  Series a{"loss", {}, {}, false}, b{"val_loss", {}, {}, true};
  for (int i = 0; i <= 10; ++i) {
    a.x.push_back(i);
    a.y.push_back(10 - i);
    if (i % 5 == 0) b.x.push_back(i), b.y.push_back(10.0 - i * 0.9);
  }
  PlotOptions opt;
  opt.title = "run <a&b>";
  opt.x_label = "step";
  const std::string svg = render_svg({a, b}, opt);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_TRUE(rstrip(svg).ends_with("</svg>"));
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 3u + 1u);  // val_loss points + its legend marker
  EXPECT_TRUE(has_label(svg, "loss"));
  EXPECT_TRUE(has_label(svg, "val_loss"));
  EXPECT_TRUE(has_label(svg, "step"));
  EXPECT_TRUE(has_label(svg, "run &lt;a&amp;b&gt;"));
  for (const char* t : {"0", "2", "4", "6", "8", "10"}) EXPECT_TRUE(has_label(svg, t)) << t;
  EXPECT_NE(svg.find("width=\"900\""), std::string::npos);
  EXPECT_NE(svg.find("height=\"520\""), std::string::npos);
  // balanced tags (well-formed enough): every <g> and <text> closed
  EXPECT_EQ(count(svg, "<g"), count(svg, "</g>"));
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  // distinct colours
  EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#ff7f0e\""), std::string::npos);
}

TEST(PlotRender, LogYAndErrors) {
  Series s{"loss", {0, 1, 2, 3, 4}, {0.0, 100, 10, 1, 0.01}, false};
  PlotOptions opt;
  opt.log_y = true;
  const std::string svg = render_svg({s}, opt);
  for (const char* t : {"0.01", "0.1", "1", "10", "100"}) EXPECT_TRUE(has_label(svg, t)) << t;
  // y = 0 is left out of the polyline: 4 points
  const size_t p = svg.find("points=\"");
  ASSERT_NE(p, std::string::npos);
  const std::string pts = svg.substr(p + 8, svg.find('"', p + 8) - p - 8);
  EXPECT_EQ(count(pts, ","), 4u);

  EXPECT_THROW(render_svg({}, PlotOptions{}), Error);
  EXPECT_THROW(render_svg({Series{"a", {1, 2}, {1}, false}}, PlotOptions{}), Error);
  EXPECT_THROW(render_svg({Series{"a", {1, 2}, {1, NAN}, false}}, PlotOptions{}), Error);
  EXPECT_THROW(render_svg({Series{"a", {1, 2}, {-1, 0}, false}}, opt), Error);  // nothing positive on log y
  // a single point and a constant series still render
  EXPECT_NO_THROW(render_svg({Series{"one", {5}, {2}, false}}, PlotOptions{}));
  EXPECT_NO_THROW(render_svg({Series{"flat", {0, 1, 2}, {3, 3, 3}, false}}, opt));
}

TEST(PlotRender, LargeSeriesIsDownsampled) {
  Series s{"loss", {}, {}, false};
  for (int i = 0; i < 100000; ++i) s.x.push_back(i), s.y.push_back(10.0 / (1 + i * 0.01));
  const std::string svg = render_svg({s}, PlotOptions{});
  const size_t p = svg.find("points=\"");
  const std::string pts = svg.substr(p + 8, svg.find('"', p + 8) - p - 8);
  EXPECT_LE(count(pts, ","), 4000u);
  EXPECT_LT(svg.size(), 200000u);
}

// -------------------------------------------------------------------------------------------- CLI

class PlotCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zaya_test_plot_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  struct Result {
    int code;
    std::string out;
  };
  // Runs `zaya <args>` with stdout+stderr captured.
  Result zaya(const std::string& args) const {
    const std::string log = path("cmd.log");
    const std::string cmd = std::string(ZAYA_BINARY) + " " + args + " >" + log + " 2>&1";
    const int st = std::system(cmd.c_str());
    Result r{WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), file_exists(log) ? read_file(log) : ""};
    fs::remove(log);
    return r;
  }
  std::string metrics(size_t n, size_t val_every) const {
    std::string s;
    for (size_t i = 1; i <= n; ++i) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "{\"step\": %zu, \"tokens\": %zu, \"loss\": %.6f, \"lr\": 0.0003", i, i * 4096,
                    2.0 + 8.0 / std::sqrt(double(i)));
      s += buf;
      if (i % val_every == 0) {
        std::snprintf(buf, sizeof buf, ", \"val_loss\": %.6f", 2.1 + 8.0 / std::sqrt(double(i)));
        s += buf;
      }
      s += "}\n";
    }
    return s;
  }
  fs::path dir_;
};

TEST_F(PlotCli, HappyPath) {
  std::string m = metrics(200, 50);
  m += "\n{\"step\": 201, \"loss\": NaN}\n{\"step\": 202, \"loss\": Infinity, \"val_loss\": null}\n";
  write_file_atomic(path("metrics.jsonl"), m);
  Result r = zaya("plot --metrics " + path("metrics.jsonl") + " --out " + path("curves.svg") + " --title 'my run'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: skipped 3 non-finite"), std::string::npos) << r.out;
  ASSERT_TRUE(file_exists(path("curves.svg")));
  const std::string svg = read_file(path("curves.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_TRUE(rstrip(svg).ends_with("</svg>"));
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_TRUE(has_label(svg, "loss"));
  EXPECT_TRUE(has_label(svg, "val_loss"));
  EXPECT_TRUE(has_label(svg, "my run"));
  EXPECT_EQ(count(svg, "<circle"), 4u + 1u);  // val_loss is sparse: markers at its 4 points (+ legend)
  EXPECT_FALSE(file_exists(path("curves.svg.tmp")));

  // explicit keys, tokens on x, log y, a run directory as --metrics
  r = zaya("plot --metrics " + dir_.string() + " --out " + path("lr.svg") + " --keys loss,lr --x tokens --log-y");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string svg2 = read_file(path("lr.svg"));
  EXPECT_EQ(count(svg2, "<polyline"), 2u);
  EXPECT_TRUE(has_label(svg2, "lr"));
  EXPECT_TRUE(has_label(svg2, "tokens"));
}

TEST_F(PlotCli, LargeFileIsQuick) {
  write_file_atomic(path("metrics.jsonl"), metrics(100000, 100));
  const auto t0 = std::chrono::steady_clock::now();
  Result r = zaya("plot --metrics " + path("metrics.jsonl") + " --out " + path("big.svg"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_LT(s, 10.0);
  const std::string svg = read_file(path("big.svg"));
  EXPECT_LT(svg.size(), 300000u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
}

TEST_F(PlotCli, MalformedLine) {
  std::string m = metrics(5, 2);
  m += "{\"step\": 6, \"loss\": 2.5,\n";  // truncated line 6
  m += metrics(2, 2);
  write_file_atomic(path("metrics.jsonl"), m);
  Result r = zaya("plot --metrics " + path("metrics.jsonl") + " --out " + path("curves.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("error: " + path("metrics.jsonl") + ":6:"), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(path("curves.svg")));
  EXPECT_FALSE(file_exists(path("curves.svg.tmp")));

  write_file_atomic(path("arr.jsonl"), "{\"step\": 1, \"loss\": 3}\n[1, 2]\n");
  r = zaya("plot --metrics " + path("arr.jsonl") + " --out " + path("curves.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("arr.jsonl:2:"), std::string::npos) << r.out;

  write_file_atomic(path("str.jsonl"), "{\"step\": 1, \"loss\": \"high\"}\n");
  r = zaya("plot --metrics " + path("str.jsonl") + " --out " + path("curves.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("str.jsonl:1:"), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(path("curves.svg")));
}

TEST_F(PlotCli, NonSvgOutput) {
  write_file_atomic(path("metrics.jsonl"), metrics(10, 5));
  Result r = zaya("plot --metrics " + path("metrics.jsonl") + " --out " + path("curves.png"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("only SVG output is supported"), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(path("curves.png")));
}

TEST_F(PlotCli, MissingKeyFileAndEmpty) {
  write_file_atomic(path("metrics.jsonl"), metrics(10, 5));
  Result r = zaya("plot --metrics " + path("metrics.jsonl") + " --out " + path("c.svg") + " --keys loss,grad_norm");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("\"grad_norm\" not found"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lr"), std::string::npos) << r.out;  // lists the keys the file has
  EXPECT_FALSE(file_exists(path("c.svg")));

  r = zaya("plot --metrics " + path("nope.jsonl") + " --out " + path("c.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not found"), std::string::npos) << r.out;

  write_file_atomic(path("empty.jsonl"), "\n\n");
  r = zaya("plot --metrics " + path("empty.jsonl") + " --out " + path("c.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("empty"), std::string::npos) << r.out;

  // default keys absent
  write_file_atomic(path("other.jsonl"), "{\"step\": 1, \"acc\": 0.5}\n{\"step\": 2, \"acc\": 0.6}\n");
  r = zaya("plot --metrics " + path("other.jsonl") + " --out " + path("c.svg"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("acc"), std::string::npos) << r.out;

  // only non-finite values for the requested key
  write_file_atomic(path("nan.jsonl"), "{\"step\": 1, \"loss\": NaN}\n{\"step\": 2, \"loss\": null}\n");
  r = zaya("plot --metrics " + path("nan.jsonl") + " --out " + path("c.svg") + " --keys loss");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no finite values"), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(path("c.svg")));
}

TEST_F(PlotCli, Help) {
  Result r = zaya("plot --help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* opt : {"--metrics", "--out", "--keys", "--x", "--log-y", "--title"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}
