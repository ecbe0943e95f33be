// jinja2's builtin filters (jinja2/filters.py, 3.1) with transformers' tojson, for zaya's Jinja
// interpreter: the string and number filters and the filter table (the sequence filters are in
// jinja_filters_seq.cpp).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "serve/jinja_filters.h"
#include "serve/jinja_objects.h"
#include "serve/jinja_strings.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {

using namespace filt;


Value f_default(Interp&, Value& in, CallArgs& a) {
  auto v = bind(a, "do_default", {"default_value", "boolean"});
  if (in.is_undefined() || (flag(v[1], false) && !truthy(in))) return given(v[0]) ? v[0] : Value::string("");
  return in;
}

Value f_length(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_length", {});
  return Value::integer(py_len(ip, in));
}

Value f_string(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_string", {});
  return Value::string(soft_str(ip, in));
}

Value f_upper(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_upper", {});
  return Value::string(uni::upper(soft_str(ip, in)));
}
Value f_lower(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_lower", {});
  return Value::string(uni::lower(soft_str(ip, in)));
}
Value f_capitalize(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_capitalize", {});
  return Value::string(pystr::capitalize(soft_str(ip, in)));
}

// jinja2's title filter: words begin after '-', whitespace, or one of ({[<.
Value f_title(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_title", {});
  const std::u32string s = pystr::u(soft_str(ip, in));
  auto is_delim = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || uni::is_space(c); };
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    const bool delim = is_delim(s[i]);
    while (j < s.size() && is_delim(s[j]) == delim) ++j;
    // each item: first code point upper, the rest lower
    uni::append_upper(out, s[i]);
    for (size_t k = i + 1; k < j; ++k) uni::append_lower(out, s[k]);
    i = j;
  }
  return Value::string(std::move(out));
}

Value f_trim(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_trim", {"chars"});
  const std::string* chars = nullptr;
  std::string c;
  if (given(v[0]) && !v[0].is_none()) {
    if (!v[0].is_str()) throw Error("strip arg must be None or str");
    c = v[0].str();
    chars = &c;
  }
  return Value::string(pystr::strip(soft_str(ip, in), chars, true, true));
}

Value f_replace(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_replace", {"old", "new", "count"}, 2);
  used(v[2]);
  const int64_t count = (given(v[2]) && !v[2].is_none()) ? (v[2].is_int() ? v[2].as_int() : throw Error("replace() count must be an integer")) : -1;
  std::string r = pystr::replace(soft_str(ip, in), soft_str(ip, v[0]), soft_str(ip, v[1]), count);
  ip.check_size(r.size());
  return Value::string(std::move(r));
}

Value f_center(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_center", {"width"});
  used(v[0]);
  const int64_t w = given(v[0]) ? (v[0].is_int() ? v[0].as_int() : throw Error("center() width must be an integer")) : 80;
  ip.check_size(size_t(std::max<int64_t>(w, 0)));
  return Value::string(pystr::center(soft_str(ip, in), w, ' '));
}

Value f_indent(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_indent", {"width", "first", "blank"});
  used(in);  // jinja2's indent does s += "\n" on its input
  used(v[0]);
  std::string ind;
  if (given(v[0]) && v[0].is_str()) {
    ind = v[0].str();
  } else {
    const int64_t w = given(v[0]) ? (v[0].is_int() ? v[0].as_int() : throw Error("indent() width must be an int or a str")) : 4;
    ip.check_size(size_t(std::max<int64_t>(w, 0)));
    ind = std::string(size_t(std::max<int64_t>(w, 0)), ' ');
  }
  const std::string s = soft_str(ip, in) + "\n";
  std::vector<std::string> lines = pystr::splitlines(s, false);
  std::string rv;
  if (flag(v[2], false)) {
    for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) {
      rv.push_back('\n');
      if (!lines[k].empty()) rv += ind;
      rv += lines[k];
    }
  }
  if (flag(v[1], false)) rv = ind + rv;
  ip.check_size(rv.size());
  return Value::string(std::move(rv));
}

Value f_truncate(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_truncate", {"length", "killwords", "end", "leeway"});
  used(v[0]);
  used(v[3]);
  if (in.is_undefined()) return in;  // len(Undefined) is 0: returned as it is
  const int64_t length = given(v[0]) ? v[0].as_int() : 255;
  if (given(v[2]) && !v[2].is_str()) py_len(ip, v[2]);  // len(end): a TypeError for non-sequences
  const std::u32string end = pystr::u(given(v[2]) ? soft_str(ip, v[2]) : "...");
  const int64_t leeway = given(v[3]) && !v[3].is_none() ? v[3].as_int() : 5;
  if (length < int64_t(end.size())) throw_error("expected length >= ", end.size(), ", got ", length);
  if (leeway < 0) throw_error("expected leeway >= 0, got ", leeway);
  const std::u32string s = pystr::u(soft_str(ip, in));
  if (int64_t(s.size()) <= length + leeway) return Value::string(pystr::s8(s));
  std::u32string head = s.substr(0, size_t(length - int64_t(end.size())));
  if (!flag(v[1], false)) {
    const size_t sp = head.rfind(U' ');
    if (sp != std::u32string::npos) head = head.substr(0, sp);
  }
  return Value::string(pystr::s8(head + end));
}

Value f_wordcount(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_wordcount", {});
  const std::string s = soft_str(ip, in);
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0, len; i < s.size(); i += len) {
    const bool w = uni::is_word(uni::next_cp(s, i, &len));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

// Python int(str, base): optional sign, digits with single '_' separators, surrounding whitespace.
bool parse_int(const std::string& raw, int base, int64_t* out) {
  const std::string s = pystr::strip(raw, nullptr, true, true);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
  std::string digits;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (digits.empty()) return false;
  int64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return false;
  *out = neg ? -v : v;
  return true;
}

bool parse_float(const std::string& raw, double* out) {
  const std::string s = pystr::strip(raw, nullptr, true, true);
  if (s.empty()) return false;
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    t.push_back(s[i]);
  }
  std::string low = uni::lower(t);
  const size_t sign = (!low.empty() && (low[0] == '+' || low[0] == '-')) ? 1 : 0;
  const std::string body = low.substr(sign);
  if (body == "inf" || body == "infinity" || body == "nan") {
    const double v = body == "nan" ? NAN : INFINITY;
    *out = (sign && low[0] == '-') ? -v : v;
    return true;
  }
  for (char c : body)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) return false;
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return end && *end == '\0';
}

Value f_int(Interp&, Value& in, CallArgs& a) {
  auto v = bind(a, "do_int", {"default", "base"});
  const Value dflt = given(v[0]) ? v[0] : Value::integer(0);
  const int base = given(v[1]) ? int(v[1].as_int()) : 10;
  if (in.is_str()) {
    int64_t r;
    if (parse_int(in.str(), base, &r)) return Value::integer(r);
    double d;
    if (parse_float(in.str(), &d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(int64_t(d));
    return dflt;
  }
  if (in.is_int()) return Value::integer(in.as_int());
  if (in.kind == Kind::Float) {
    if (std::isfinite(in.f) && std::fabs(in.f) < 9.2e18) return Value::integer(int64_t(in.f));
    return dflt;
  }
  if (in.is_undefined()) raise_undefined(in);
  return dflt;
}

Value f_float(Interp&, Value& in, CallArgs& a) {
  auto v = bind(a, "do_float", {"default"});
  const Value dflt = given(v[0]) ? v[0] : Value::number(0.0);
  if (in.is_number()) return Value::number(in.as_double());
  if (in.is_str()) {
    double d;
    return parse_float(in.str(), &d) ? Value::number(d) : dflt;
  }
  if (in.is_undefined()) raise_undefined(in);
  return dflt;
}

Value f_abs(Interp&, Value& in, CallArgs& a) {
  bind(a, "do_abs", {});
  if (in.is_int()) {
    if (in.as_int() == INT64_MIN) throw Error("integer overflow (this interpreter's integers are 64-bit)");
    return Value::integer(std::llabs(in.as_int()));
  }
  if (in.kind == Kind::Float) return Value::number(std::fabs(in.f));
  throw_error("bad operand type for abs(): '", type_name(in), "'");
}

double round_half_even_digits(double x, int64_t nd) {
  if (!std::isfinite(x)) return x;
  if (nd >= 0) {
    if (nd > 300) return x;
    char buf[512];
    auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, int(nd));
    if (r.ec != std::errc()) return x;
    return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
  }
  const double p = std::pow(10.0, double(-nd));
  return std::nearbyint(x / p) * p;
}

Value f_round(Interp&, Value& in, CallArgs& a) {
  auto v = bind(a, "do_round", {"precision", "method"});
  used(v[0]);
  const int64_t prec = given(v[0]) ? (v[0].is_int() ? v[0].as_int() : throw Error("round() precision must be an integer")) : 0;
  const std::string method = given(v[1]) ? (v[1].is_str() ? v[1].str() : "") : "common";
  if (method != "common" && method != "ceil" && method != "floor") throw Error("method must be common, ceil or floor");
  if (method != "common" && in.is_undefined()) raise_undefined(in);  // value * 10 ** precision
  if (!in.is_number()) throw_error("type ", type_name(in), " doesn't define __round__ method");
  if (method == "common") {
    if (in.is_int()) return Value::integer(in.as_int());  // round(int, n >= 0) is the int
    return Value::number(round_half_even_digits(in.f, prec));
  }
  const double p = std::pow(10.0, double(prec));
  const double x = in.as_double() * p;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

Value f_tojson(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle st;
  st.ensure_ascii = flag(v[0], false);
  st.sort_keys = flag(v[3], false);
  if (given(v[1]) && !v[1].is_none()) {
    st.indent_set = true;
    if (v[1].is_str())
      st.indent = v[1].str();
    else if (v[1].is_int())
      st.indent = std::string(size_t(std::clamp<int64_t>(v[1].as_int(), 0, 1000)), ' ');
    else
      throw_error("indent must be an int or a str, not ", type_name(v[1]));
    st.item_sep = ",";
  }
  if (given(v[2]) && !v[2].is_none()) {
    std::vector<Value> seps = iterate(ip, v[2]);
    if (seps.size() != 2 || !seps[0].is_str() || !seps[1].is_str()) throw Error("separators must be a pair of strings");
    st.item_sep = seps[0].str();
    st.key_sep = seps[1].str();
  }
  std::string out;
  to_json(ip, in, st, out);
  return Value::string(std::move(out));
}

Value f_safe(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_safe", {});
  return Value::string(soft_str(ip, in));
}

Value f_escape(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_escape", {});
  const std::string s = soft_str(ip, in);
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out.push_back(c);
    }
  }
  return Value::string(std::move(out));
}

Value f_attr(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_attr", {"name"}, 1);
  const std::string name = soft_str(ip, v[0]);
  if (in.is_undefined()) raise_undefined(in);
  Value m = ip.method(in, name);
  if (given(m)) return m;
  if (in.is_object()) return in.obj().getattr(ip, in, name);
  return Value::undefined(str_repr(object_type_repr(in)) + " has no attribute " + str_repr(name));
}

Value f_format(Interp& ip, Value& in, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) throw Error("can't handle positional and keyword arguments at the same time");
  Value args;
  if (!a.kw.empty()) {
    args = make_dict();
    for (auto& [k, v] : a.kw) args.dict().put_str(k, v);
  } else {
    args = make_list(a.pos, Seq::Tuple);
  }
  return ip.str_format_percent(soft_str(ip, in), args);
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> t = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center},
      {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape}, {"filesizeformat", f_unsupported}, {"first", f_first}, {"float", f_float},
      {"forceescape", f_escape}, {"format", f_format}, {"groupby", f_unsupported}, {"indent", f_indent},
      {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
      {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
      {"pprint", f_unsupported}, {"random", f_unsupported}, {"reject", f_reject}, {"rejectattr", f_rejectattr},
      {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
      {"selectattr", f_selectattr}, {"slice", f_slice}, {"sort", f_sort}, {"string", f_string},
      {"striptags", f_unsupported}, {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique}, {"upper", f_upper}, {"urlencode", f_unsupported},
      {"urlize", f_unsupported}, {"wordcount", f_wordcount}, {"wordwrap", f_unsupported}, {"xmlattr", f_unsupported}};
  return t;
}

}  // namespace

bool is_known_filter(const std::string& name) { return filters().count(name) != 0; }

Value Interp::filter(const std::string& name, Value input, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw_error("No filter named ", str_repr(name), ".");
  tick();
  charge(input);
  Value r = it->second(*this, input, args);
  charge(r);
  return r;
}

}  // namespace zaya::jinja
