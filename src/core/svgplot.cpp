// SVG line charts and the metrics.jsonl reader; see svgplot.h.
#include "core/svgplot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

namespace {

void widen(double& lo, double& hi) {
  if (hi < lo) std::swap(lo, hi);
  const double scale = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= 1e-12 * scale || hi == lo) {
    const double d = scale == 0 ? 1.0 : scale * 0.1;
    lo -= d;
    hi += d;
  }
}

// "1.500" -> "1.5", "2.000" -> "2", "-0" -> "0"
std::string strip_zeros(std::string s) {
  if (s.find('.') != std::string::npos && s.find('e') == std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

// "2e-05" -> "2e-5", "1e+06" -> "1e6"
std::string tidy_exponent(std::string s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e), ex = s.substr(e + 1);
  bool neg = false;
  size_t i = 0;
  if (i < ex.size() && (ex[i] == '+' || ex[i] == '-')) neg = ex[i++] == '-';
  while (i + 1 < ex.size() && ex[i] == '0') ++i;
  return strip_zeros(mant) + "e" + (neg ? "-" : "") + ex.substr(i);
}

std::string fmt(const char* f, double v, int prec = -1) {
  char buf[64];
  if (prec >= 0)
    std::snprintf(buf, sizeof buf, f, prec, v);
  else
    std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        // control characters are not allowed in XML 1.0 text
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') o += ' ';
        else o += c;
    }
  }
  return o;
}

void append_num(std::string& o, double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.1f", v);
  o.append(buf, size_t(n));
}

// Linear axis [lo, hi] and its ticks: an end is moved out to the enclosing nice tick when that adds at
// most 8% of the range (0 for a series starting at step 1), otherwise the axis ends at the data.
// Returns the tick step.
double axis_ticks(double dmin, double dmax, int target, std::vector<double>& ticks, double& lo, double& hi) {
  std::vector<double> t = nice_ticks(dmin, dmax, target);
  const double step = t[1] - t[0];
  lo = dmin, hi = dmax;
  if (hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) lo = t.front(), hi = t.back();
  const double range = hi - lo;
  if (lo - t.front() <= 0.08 * range) lo = t.front();
  if (t.back() - hi <= 0.08 * range) hi = t.back();
  ticks.clear();
  const double eps = 1e-9 * (hi - lo);
  for (double v : t)
    if (v >= lo - eps && v <= hi + eps) ticks.push_back(v);
  if (ticks.size() < 2) ticks = t, lo = t.front(), hi = t.back();
  return step;
}

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

}  // namespace

// ------------------------------------------------------------------------------------------ ticks

double nice_step(double lo, double hi, int target) {
  ZAYA_CHECK(std::isfinite(lo) && std::isfinite(hi), "plot: axis range is not finite");
  target = std::max(target, 1);
  widen(lo, hi);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double step = m * mag;
    if ((hi - lo) / step <= target * (1 + 1e-9)) return step;
  }
  return 10 * mag;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double step = nice_step(lo, hi, target);
  widen(lo, hi);
  const double k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
  std::vector<double> t;
  for (double k = k0; k <= k1 + 0.5; k += 1) t.push_back(k == 0 ? 0.0 : k * step);
  if (t.size() < 2) t.push_back(t.back() + step);
  return t;
}

std::vector<double> log_ticks(double lo, double hi) {
  ZAYA_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo > 0 && hi > 0, "plot: log axis needs a positive range");
  if (hi < lo) std::swap(lo, hi);
  const double l0 = std::log10(lo), l1 = std::log10(hi), span = l1 - l0;
  std::vector<double> mults;
  int stride = 1;
  if (span < 1.2)
    mults = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  else if (span < 3.5)
    mults = {1, 2, 5};
  else {
    mults = {1};
    stride = std::max(1, int(std::ceil(span / 8)));
  }
  std::vector<double> t;
  for (int e = int(std::floor(l0)) - 1; e <= int(std::ceil(l1)) + 1; ++e) {
    if (((e % stride) + stride) % stride != 0) continue;
    const double p = std::pow(10.0, e);
    for (double m : mults) {
      const double v = m * p;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  }
  if (t.size() < 2) {  // a narrow range inside one decade: linear nice values inside it
    t.clear();
    for (double v : nice_ticks(lo, hi, 4))
      if (v > 0 && v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    if (t.size() < 2) t = {lo, hi};
  }
  return t;
}

std::string format_tick(double v, double step) {
  if (!(step > 0) || !std::isfinite(step)) return tidy_exponent(fmt("%g", v));
  if (std::fabs(v) < step * 1e-6) v = 0;
  const double a = std::fabs(v);
  if (step >= 1000 && a >= 1e4 && a < 1e15) {
    static const struct { double div; const char* suffix; } kSuf[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}};
    for (const auto& s : kSuf) {
      if (a >= s.div) {
        const int dec = std::max(0, int(std::ceil(-std::log10(step / s.div) - 1e-9)));
        return strip_zeros(fmt("%.*f", v / s.div, std::min(dec, 12))) + s.suffix;
      }
    }
  }
  if (step < 1e-4 || a >= 1e15) {
    const int sig = std::clamp(int(std::ceil(std::log10(std::max(a, step) / step) - 1e-9)) + 1, 1, 15);
    return tidy_exponent(fmt("%.*g", v, sig));
  }
  const int dec = std::max(0, int(std::ceil(-std::log10(step) - 1e-9)));
  return strip_zeros(fmt("%.*f", v, dec));
}

std::string format_log_tick(double v) {
  if (v >= 1e4 || v < 1e-3) {
    int e = int(std::floor(std::log10(v) + 1e-9));
    double m = v / std::pow(10.0, e);
    m = std::round(m * 10) / 10;
    if (m >= 10) m /= 10, ++e;
    return strip_zeros(fmt("%.1f", m)) + "e" + std::to_string(e);
  }
  return fmt("%.6g", v);
}

// ------------------------------------------------------------------------------------- downsample

Series downsample(const Series& s, size_t max_points) {
  ZAYA_CHECK(s.x.size() == s.y.size(), "plot: series '", s.name, "' has ", s.x.size(), " x values but ",
             s.y.size(), " y values");
  max_points = std::max<size_t>(max_points, 4);
  const size_t n = s.x.size();
  if (n <= max_points) return s;
  Series o;
  o.name = s.name;
  o.markers = s.markers;
  o.x.reserve(max_points);
  o.y.reserve(max_points);
  auto put = [&](size_t i) {
    o.x.push_back(s.x[i]);
    o.y.push_back(s.y[i]);
  };
  put(0);
  const size_t B = (max_points - 2) / 2, inner = n - 2;
  for (size_t b = 0; b < B; ++b) {
    const size_t i0 = 1 + inner * b / B, i1 = 1 + inner * (b + 1) / B;
    if (i0 >= i1) continue;
    size_t imin = i0, imax = i0;
    for (size_t i = i0 + 1; i < i1; ++i) {
      if (s.y[i] < s.y[imin]) imin = i;
      if (s.y[i] > s.y[imax]) imax = i;
    }
    put(std::min(imin, imax));
    if (imin != imax) put(std::max(imin, imax));
  }
  put(n - 1);
  return o;
}

// ----------------------------------------------------------------------------------------- render

std::string render_svg(const std::vector<Series>& series, const PlotOptions& opt) {
  ZAYA_CHECK(!series.empty(), "plot: no series to draw");
  ZAYA_CHECK(opt.width >= 200 && opt.width <= 20000 && opt.height >= 150 && opt.height <= 20000,
             "plot: image size ", opt.width, "x", opt.height, " is out of range (200..20000 x 150..20000)");
  // Validate, drop y <= 0 on a log axis, downsample.
  std::vector<Series> drawn;
  drawn.reserve(series.size());
  size_t total = 0;
  for (const Series& s : series) {
    ZAYA_CHECK(s.x.size() == s.y.size(), "plot: series '", s.name, "' has ", s.x.size(), " x values but ",
               s.y.size(), " y values");
    Series f;
    f.name = s.name;
    f.markers = s.markers;
    f.x.reserve(s.x.size());
    f.y.reserve(s.y.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      ZAYA_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), "plot: series '", s.name, "' point ", i,
                 " is not finite");
      if (opt.log_y && !(s.y[i] > 0)) continue;
      f.x.push_back(s.x[i]);
      f.y.push_back(s.y[i]);
    }
    total += f.x.size();
    drawn.push_back(downsample(f, opt.max_points));
  }
  ZAYA_CHECK(total > 0, opt.log_y ? "plot: no positive values to draw on a log-scale y axis" : "plot: no points to draw");

  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const Series& s : drawn)
    for (size_t i = 0; i < s.x.size(); ++i) {
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }

  const double W = opt.width, H = opt.height;
  // Y ticks first: their labels decide the left margin.
  std::vector<double> yt;
  std::vector<std::string> ylab;
  double ylo, yhi;
  const double ph_guess = H - 100;
  if (opt.log_y) {
    double l0 = std::log10(ymin), l1 = std::log10(ymax);
    if (l1 - l0 < 1e-9) l0 -= 0.5, l1 += 0.5;
    const double pad = 0.04 * (l1 - l0);
    ylo = std::pow(10.0, l0 - pad), yhi = std::pow(10.0, l1 + pad);
    yt = log_ticks(ylo, yhi);
    for (double v : yt) ylab.push_back(format_log_tick(v));
  } else {
    const int target = std::clamp(int(ph_guess / 60), 3, 10);
    const double step = axis_ticks(ymin, ymax, target, yt, ylo, yhi);
    for (double v : yt) ylab.push_back(format_tick(v, step));
  }
  size_t ychars = 1;
  for (const auto& l : ylab) ychars = std::max(ychars, l.size());

  const double top = opt.title.empty() ? 16 : 42;
  const double bottom = opt.x_label.empty() ? 30 : 50;
  const double left = std::max(48.0, 7.0 * double(ychars) + 16 + (opt.y_label.empty() ? 0 : 22));
  const double right = 24;
  const double pw = W - left - right, ph = H - top - bottom;
  ZAYA_CHECK(pw > 40 && ph > 40, "plot: image ", opt.width, "x", opt.height, " leaves no room for the plot area");

  const int xtarget = std::clamp(int(pw / 110), 2, 12);
  std::vector<double> xt;
  double xlo, xhi;
  const double xstep = axis_ticks(xmin, xmax, xtarget, xt, xlo, xhi);

  auto px = [&](double x) { return left + (x - xlo) / (xhi - xlo) * pw; };
  const double fy0 = opt.log_y ? std::log10(ylo) : ylo, fy1 = opt.log_y ? std::log10(yhi) : yhi;
  auto py = [&](double y) {
    const double f = opt.log_y ? std::log10(y) : y;
    return top + ph - (f - fy0) / (fy1 - fy0) * ph;
  };

  std::string o;
  size_t reserve = 4096;
  for (const Series& s : drawn) reserve += s.x.size() * (s.markers ? 48 : 14);
  o.reserve(reserve);
  auto add = [&](const std::string& s) { o += s; };
  auto num = [](double v) { return fmt("%.1f", v); };

  add("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(opt.width) + "\" height=\"" +
      std::to_string(opt.height) + "\" viewBox=\"0 0 " + std::to_string(opt.width) + " " +
      std::to_string(opt.height) + "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
  add("<rect x=\"0\" y=\"0\" width=\"" + std::to_string(opt.width) + "\" height=\"" + std::to_string(opt.height) +
      "\" fill=\"white\"/>\n");
  add("<defs><clipPath id=\"plot-area\"><rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) +
      "\" height=\"" + num(ph) + "\"/></clipPath></defs>\n");
  if (!opt.title.empty())
    add("<text class=\"title\" x=\"" + num(left + pw / 2) + "\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" "
        "font-weight=\"bold\">" + xml_escape(opt.title) + "</text>\n");

  // grid
  add("<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
  for (double v : xt) {
    const double x = px(v);
    add("<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(top + ph) + "\"/>\n");
  }
  for (double v : yt) {
    const double y = py(v);
    add("<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(y) + "\"/>\n");
  }
  add("</g>\n");

  // tick labels
  add("<g class=\"xticks\" text-anchor=\"middle\" fill=\"#333\">\n");
  for (double v : xt)
    add("<text x=\"" + num(px(v)) + "\" y=\"" + num(top + ph + 16) + "\">" + xml_escape(format_tick(v, xstep)) +
        "</text>\n");
  add("</g>\n<g class=\"yticks\" text-anchor=\"end\" fill=\"#333\">\n");
  for (size_t i = 0; i < yt.size(); ++i)
    add("<text x=\"" + num(left - 6) + "\" y=\"" + num(py(yt[i]) + 4) + "\">" + xml_escape(ylab[i]) + "</text>\n");
  add("</g>\n");

  // curves
  add("<g class=\"series\" clip-path=\"url(#plot-area)\">\n");
  for (size_t k = 0; k < drawn.size(); ++k) {
    const Series& s = drawn[k];
    const std::string colour = kPalette[k % (sizeof kPalette / sizeof *kPalette)];
    o += "<polyline fill=\"none\" stroke=\"" + colour +
         "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (i) o += ' ';
      append_num(o, px(s.x[i]));
      o += ',';
      append_num(o, py(s.y[i]));
    }
    o += "\"/>\n";
    if (s.markers || s.x.size() == 1) {
      o += "<g fill=\"" + colour + "\" stroke=\"white\" stroke-width=\"0.8\">\n";
      for (size_t i = 0; i < s.x.size(); ++i) {
        o += "<circle cx=\"";
        append_num(o, px(s.x[i]));
        o += "\" cy=\"";
        append_num(o, py(s.y[i]));
        o += "\" r=\"3\"/>\n";
      }
      o += "</g>\n";
    }
  }
  add("</g>\n");

  // frame
  add("<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
      "\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n");

  // axis labels
  if (!opt.x_label.empty())
    add("<text class=\"xlabel\" x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 12) +
        "\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(opt.x_label) + "</text>\n");
  if (!opt.y_label.empty())
    add("<text class=\"ylabel\" transform=\"translate(16," + num(top + ph / 2) +
        ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(opt.y_label) + "</text>\n");

  // legend (top right, inside the plot area)
  size_t nchars = 1;
  for (const Series& s : drawn) nchars = std::max(nchars, s.name.size());
  const double lw = 44 + 7.0 * double(std::min<size_t>(nchars, 60)), lh = 8 + 18.0 * double(drawn.size());
  // the corner whose box covers the fewest drawn points: top right, top left, bottom right, bottom left
  double lx = left + pw - lw - 8, ly = top + 8;
  size_t best = SIZE_MAX;
  for (int corner = 0; corner < 4; ++corner) {
    const double cx = corner % 2 == 0 ? left + pw - lw - 8 : left + 8;
    const double cy = corner < 2 ? top + 8 : top + ph - lh - 8;
    size_t hits = 0;
    for (const Series& s : drawn)
      for (size_t i = 0; i < s.x.size(); ++i) {
        const double X = px(s.x[i]), Y = py(s.y[i]);
        hits += X >= cx - 4 && X <= cx + lw + 4 && Y >= cy - 4 && Y <= cy + lh + 4;
      }
    if (hits < best) best = hits, lx = cx, ly = cy;
    if (hits == 0) break;
  }
  add("<g class=\"legend\">\n<rect x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" width=\"" + num(lw) + "\" height=\"" +
      num(lh) + "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n");
  for (size_t k = 0; k < drawn.size(); ++k) {
    const std::string colour = kPalette[k % (sizeof kPalette / sizeof *kPalette)];
    const double yy = ly + 4 + 18.0 * double(k) + 9;
    add("<line x1=\"" + num(lx + 8) + "\" y1=\"" + num(yy) + "\" x2=\"" + num(lx + 32) + "\" y2=\"" + num(yy) +
        "\" stroke=\"" + colour + "\" stroke-width=\"2\"/>\n");
    if (drawn[k].markers || drawn[k].x.size() == 1)
      add("<circle cx=\"" + num(lx + 20) + "\" cy=\"" + num(yy) + "\" r=\"3\" fill=\"" + colour +
          "\" stroke=\"white\" stroke-width=\"0.8\"/>\n");
    add("<text x=\"" + num(lx + 38) + "\" y=\"" + num(yy + 4) + "\">" + xml_escape(drawn[k].name) + "</text>\n");
  }
  add("</g>\n</svg>\n");
  return o;
}

// ---------------------------------------------------------------------------------- metrics.jsonl

namespace {

using json = nlohmann::json;

// Python's json module writes NaN, Infinity and -Infinity bare; JSON has no such literals. Replace
// them (outside strings) by null, which counts as a non-finite value.
std::string replace_nonstandard(const std::string& line) {
  if (line.find("NaN") == std::string::npos && line.find("Infinity") == std::string::npos) return line;
  std::string o;
  o.reserve(line.size());
  bool in_str = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_str) {
      o += c;
      if (c == '\\' && i + 1 < line.size()) o += line[++i];
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') {
      in_str = true;
      o += c;
      continue;
    }
    auto at = [&](const char* w) { return line.compare(i, std::strlen(w), w) == 0; };
    if (at("-Infinity")) {
      o += "null";
      i += 8;
    } else if (at("Infinity")) {
      o += "null";
      i += 7;
    } else if (at("NaN")) {
      o += "null";
      i += 2;
    } else {
      o += c;
    }
  }
  return o;
}

enum class Kind { Missing, Finite, NonFinite, Invalid };

Kind classify(const json& obj, const std::string& key, double& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Kind::Missing;
  if (it->is_number()) {
    out = it->get<double>();
    return std::isfinite(out) ? Kind::Finite : Kind::NonFinite;
  }
  if (it->is_null()) return Kind::NonFinite;
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.erase(0, 1);
    if (s == "nan" || s == "inf" || s == "infinity") return Kind::NonFinite;
  }
  return Kind::Invalid;
}

std::string join_keys(const std::set<std::string>& keys) {
  if (keys.empty()) return "(none)";
  std::string o;
  for (const auto& k : keys) o += (o.empty() ? "" : ", ") + k;
  return o;
}

}  // namespace

MetricsData load_metrics_jsonl(const std::string& path, const std::vector<std::string>& keys_in,
                               const std::string& x_key) {
  const bool defaults = keys_in.empty();
  std::vector<std::string> keys;
  for (const std::string& k : defaults ? std::vector<std::string>{"loss", "val_loss"} : keys_in)
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);

  const std::string text = read_file(path);
  MetricsData d;
  std::vector<Series> ser(keys.size());
  std::vector<size_t> nonfinite(keys.size(), 0);
  std::vector<bool> seen(keys.size(), false);
  std::set<std::string> numeric_keys;
  size_t no_x = 0;

  size_t pos = 0, lineno = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++d.records;
    json obj;
    try {
      obj = json::parse(replace_nonstandard(line));
    } catch (const json::parse_error& e) {
      std::string msg = e.what();
      const size_t b = msg.find("] ");
      if (b != std::string::npos) msg = msg.substr(b + 2);
      const size_t l = msg.find("at line 1, column");  // the parser saw one line only
      if (l != std::string::npos) msg.replace(l, 17, "at column");
      throw_error(path, ":", lineno, ": malformed JSON line: ", msg);
    }
    ZAYA_CHECK(obj.is_object(), path, ":", lineno, ": expected a JSON object, got ", obj.type_name());
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (it->is_number() && !numeric_keys.count(it.key())) numeric_keys.insert(it.key());

    double x = 0;
    const Kind kx = classify(obj, x_key, x);
    ZAYA_CHECK(kx != Kind::Invalid, path, ":", lineno, ": \"", x_key, "\" is not a number: ", obj[x_key].dump());
    if (kx == Kind::Finite) ++d.records_with_x;
    bool had_value = false;
    for (size_t k = 0; k < keys.size(); ++k) {
      double y = 0;
      const Kind ky = classify(obj, keys[k], y);
      if (ky == Kind::Missing) continue;
      ZAYA_CHECK(ky != Kind::Invalid, path, ":", lineno, ": \"", keys[k], "\" is not a number: ",
                 obj[keys[k]].dump());
      seen[k] = true;
      had_value = true;
      if (kx != Kind::Finite) continue;
      if (ky == Kind::NonFinite) {
        ++nonfinite[k];
        continue;
      }
      ser[k].x.push_back(x);
      ser[k].y.push_back(y);
    }
    if (had_value && kx != Kind::Finite) ++no_x;
  }

  ZAYA_CHECK(d.records > 0, path, ": empty metrics file (no JSON lines)");
  ZAYA_CHECK(d.records_with_x > 0, path, ": no line has a numeric \"", x_key, "\" field (numeric keys: ",
             join_keys(numeric_keys), ")");

  std::string skipped_detail;
  for (size_t k = 0; k < keys.size(); ++k) {
    ser[k].name = keys[k];
    const size_t n = ser[k].x.size();
    ser[k].markers = n > 0 && n <= 1000 && (n * 2 <= d.records_with_x || n == 1);
    if (nonfinite[k]) {
      d.skipped_nonfinite += nonfinite[k];
      skipped_detail += (skipped_detail.empty() ? "" : ", ") + keys[k] + ": " + std::to_string(nonfinite[k]);
    }
    if (defaults) {
      if (n > 0) d.series.push_back(std::move(ser[k]));
      continue;
    }
    ZAYA_CHECK(seen[k], path, ": key \"", keys[k], "\" not found (numeric keys: ", join_keys(numeric_keys), ")");
    ZAYA_CHECK(n > 0, path, ": key \"", keys[k], "\" has no finite values on lines with a numeric \"", x_key, "\"");
    d.series.push_back(std::move(ser[k]));
  }
  ZAYA_CHECK(!d.series.empty(), path, ": no finite \"loss\" or \"val_loss\" values (numeric keys: ",
             join_keys(numeric_keys), "); choose keys with --keys");
  if (d.skipped_nonfinite)
    d.notes.push_back("skipped " + std::to_string(d.skipped_nonfinite) + " non-finite value(s) (" + skipped_detail +
                      ")");
  if (no_x)
    d.notes.push_back(std::to_string(no_x) + " line(s) without a numeric \"" + x_key + "\" were left out");
  return d;
}

}  // namespace zaya
