// Python's string formatting for zaya's Jinja interpreter: `fmt % args` (printf-style, also the
// `format` filter) and str.format() with the format-spec mini-language.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "serve/jinja_interp.h"
#include "serve/jinja_strings.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {
// The largest %-format width or precision accepted (a field of 1 MiB; Python allows more, but a chat
// template that asks for more is runaway).
constexpr int64_t kMaxFieldWidth = int64_t(1) << 20;

std::string c_format(const char* spec, double d) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, spec, d);
  if (n < 0 || size_t(n) >= sizeof buf) {
    std::string big(size_t(std::max(n, 0)) + 1, '\0');
    std::snprintf(big.data(), big.size(), spec, d);
    big.resize(size_t(std::max(n, 0)));
    return big;
  }
  return std::string(buf, size_t(n));
}

std::string c_format_int(const char* spec, long long v) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, spec, v);
  if (n < 0 || size_t(n) >= sizeof buf) {  // a wide field: format again into a buffer of its size
    std::string big(size_t(std::max(n, 0)) + 1, '\0');
    std::snprintf(big.data(), big.size(), spec, v);
    big.resize(size_t(std::max(n, 0)));
    return big;
  }
  return std::string(buf, size_t(n));
}

std::string pad(const std::string& s, int64_t width, bool left_align) {
  const int64_t n = int64_t(uni::count_cps(s));
  if (width <= n) return s;
  const std::string fill(size_t(width - n), ' ');
  return left_align ? s + fill : fill + s;
}

std::string truncate_cps(const std::string& s, int64_t prec) {
  if (prec < 0) return s;
  size_t i = 0;
  for (int64_t k = 0; k < prec && i < s.size(); ++k) {
    size_t len;
    uni::next_cp(s, i, &len);
    i += len;
  }
  return s.substr(0, i);
}

}  // namespace

Value Interp::str_format_percent(const std::string& fmt, const Value& args) {
  std::vector<Value> pos;
  const bool mapping = args.is_dict();
  // PyUnicode_Format: an argument with __getitem__ that is not a tuple or str (a dict, a list, an
  // undefined) may leave arguments unconverted
  const bool mapping_like = mapping || args.is_undefined() || (args.is_list() && args.list().seq != Seq::Tuple);
  if (args.is_list() && args.list().seq == Seq::Tuple)
    pos = args.list().items;
  else
    pos = {args};
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  auto take = [&]() -> const Value& {
    if (next >= pos.size()) throw Error("not enough arguments for format string");
    return pos[next++];
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    const size_t start = i++;
    if (i >= fmt.size()) throw Error("incomplete format");
    const Value* keyed = nullptr;
    Value keyed_value;
    if (fmt[i] == '(') {
      if (!mapping) throw Error("format requires a mapping");
      int depth = 1;
      const size_t k0 = ++i;
      while (i < fmt.size() && depth) {
        if (fmt[i] == '(') ++depth;
        if (fmt[i] == ')') --depth;
        ++i;
      }
      if (depth) throw Error("incomplete format key");
      const std::string key = fmt.substr(k0, i - 1 - k0);
      const Value* v = args.dict().find_str(key);
      if (!v) throw Error(str_repr(key));  // KeyError
      keyed_value = *v;
      keyed = &keyed_value;
      used_mapping = true;
    }
    std::string flags;
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i])) flags.push_back(fmt[i++]);
    int64_t width = -1, prec = -1;
    if (i < fmt.size() && fmt[i] == '*') {
      ++i;
      const Value& w = take();
      if (!w.is_int()) throw Error("* wants int");
      width = w.as_int();
      if (width < 0) {
        flags.push_back('-');
        width = width == INT64_MIN ? kMaxFieldWidth + 1 : -width;
      }
    } else {
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
        width = std::max<int64_t>(width, 0) * 10 + (fmt[i++] - '0');
        if (width > kMaxFieldWidth) break;
      }
    }
    // Python raises for widths that do not fit its size type; a template may not ask for gigabytes.
    if (width > kMaxFieldWidth) throw Error("width too big");
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      prec = 0;
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        const Value& p = take();
        if (!p.is_int()) throw Error("* wants int");
        prec = p.as_int();
      } else {
        while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
          prec = prec * 10 + (fmt[i++] - '0');
          if (prec > kMaxFieldWidth) break;
        }
      }
      if (prec > kMaxFieldWidth) throw Error("precision too big");
    }
    while (i < fmt.size() && std::strchr("hlL", fmt[i])) ++i;
    if (i >= fmt.size()) throw Error("incomplete format");
    const char conv = fmt[i];
    check_size(size_t(std::max<int64_t>(width, 0)) + size_t(std::max<int64_t>(prec, 0)));
    if (conv == '%' && i == start + 1) {
      out.push_back('%');
      continue;
    }
    const Value& v = keyed ? *keyed : take();
    const bool left = flags.find('-') != std::string::npos;
    std::string cflags = flags;
    std::string piece;
    switch (conv) {
      case 's': piece = pad(truncate_cps(py_str(*this, v), prec), width, left); break;
      case 'r':
      case 'a': piece = pad(truncate_cps(py_repr(*this, v), prec), width, left); break;
      case 'd':
      case 'i':
      case 'u':
      case 'o':
      case 'x':
      case 'X': {
        int64_t n;
        if (v.is_int()) {
          n = v.as_int();
        } else if (v.kind == Kind::Float && (conv == 'd' || conv == 'i' || conv == 'u')) {
          if (!std::isfinite(v.f)) throw Error("cannot convert float infinity to integer");
          // Python would print the float's exact big integer; integers here are 64-bit.
          if (!(std::fabs(v.f) < 9.2233720368547758e18)) throw Error("%d format: the float is outside the 64-bit integer range");
          n = int64_t(std::trunc(v.f));
        } else {
          throw_error("%", conv, " format: ", (conv == 'o' || conv == 'x' || conv == 'X') ? "an integer" : "a real number",
                      " is required, not ", type_name(v));
        }
        std::string spec = "%" + cflags + (width >= 0 ? std::to_string(width) : "") +
                           (prec >= 0 ? "." + std::to_string(prec) : "") + "ll" + (conv == 'u' || conv == 'i' ? 'd' : conv);
        if ((conv == 'o') && flags.find('#') != std::string::npos) {
          // Python's %#o is 0o17 where C gives 017
          std::string body = c_format_int(("%" + std::string(prec >= 0 ? "." + std::to_string(prec) : "") + "llo").c_str(), std::llabs(n));
          body = (n < 0 ? "-" : flags.find('+') != std::string::npos ? "+" : "") + std::string("0o") + body;
          piece = pad(body, width, left);
        } else {
          piece = c_format_int(spec.c_str(), n);
        }
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!v.is_number()) throw_error("must be real number, not ", type_name(v));
        std::string spec = "%" + cflags + (width >= 0 ? std::to_string(width) : "") + "." +
                           std::to_string(prec >= 0 ? prec : 6) + conv;
        piece = c_format(spec.c_str(), v.as_double());
        break;
      }
      case 'c': {
        std::string ch;
        if (v.is_int()) {
          if (v.as_int() < 0 || v.as_int() > 0x10FFFF) throw Error("%c arg not in range(0x110000)");
          uni::append_cp(ch, uint32_t(v.as_int()));
        } else if (v.is_str() && uni::count_cps(v.str()) == 1) {
          ch = v.str();
        } else {
          throw Error("%c requires int or char");
        }
        piece = pad(ch, width, left);
        break;
      }
      default: {
        // CPython: the character if printable ASCII, else '?'; the index in code points
        size_t len;
        const uint32_t cp = uni::next_cp(fmt, i, &len);
        char msg[128];
        std::snprintf(msg, sizeof msg, "unsupported format character '%c' (0x%x) at index %zu",
                      (cp >= 32 && cp <= 126) ? char(cp) : '?', unsigned(cp), uni::count_cps(std::string_view(fmt).substr(0, i)));
        throw Error(msg);
      }
    }
    (void)start;
    out += piece;
    check_size(out.size());
  }
  if (!mapping_like && !used_mapping && next < pos.size()) throw Error("not all arguments converted during string formatting");
  return Value::string(std::move(out));
}

namespace {

struct Spec {
  uint32_t fill = ' ';
  char align = 0;  // < > ^ =
  char sign = '-';
  bool alt = false, zero = false;
  int64_t width = -1, prec = -1;
  char grouping = 0;
  char type = 0;
};

Spec parse_spec(const std::string& s, const std::string& type) {
  Spec sp;
  std::u32string u = pystr::u(s);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (u.size() >= 2 && is_align(u[1])) {
    sp.fill = u[0];
    sp.align = char(u[1]);
    i = 2;
  } else if (!u.empty() && is_align(u[0])) {
    sp.align = char(u[0]);
    i = 1;
  }
  if (i < u.size() && (u[i] == '+' || u[i] == '-' || u[i] == ' ')) sp.sign = char(u[i++]);
  if (i < u.size() && u[i] == '#') sp.alt = true, ++i;
  if (i < u.size() && u[i] == '0') sp.zero = true, ++i;
  while (i < u.size() && u[i] >= '0' && u[i] <= '9') {
    sp.width = std::max<int64_t>(sp.width, 0) * 10 + (u[i++] - '0');
    if (sp.width > kMaxFieldWidth) throw Error("Too many decimal digits in format string");
  }
  if (i < u.size() && (u[i] == ',' || u[i] == '_')) sp.grouping = char(u[i++]);
  if (i < u.size() && u[i] == '.') {
    ++i;
    sp.prec = 0;
    while (i < u.size() && u[i] >= '0' && u[i] <= '9') {
      sp.prec = sp.prec * 10 + (u[i++] - '0');
      if (sp.prec > kMaxFieldWidth) throw Error("Too many decimal digits in format string");
    }
  }
  if (i < u.size()) sp.type = char(u[i++]);
  if (i != u.size()) throw_error("Invalid format specifier '", s, "' for object of type '", type, "'");
  return sp;
}

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  const size_t n = digits.size();
  for (size_t k = 0; k < n; ++k) {
    if (k && (n - k) % 3 == 0) out.push_back(sep);
    out.push_back(digits[k]);
  }
  return out;
}

std::string apply_spec(Interp& ip, const Value& v, const std::string& spec_text) {
  if (!v.is_str() && !v.is_number()) {  // object.__format__
    if (!spec_text.empty()) throw_error("unsupported format string passed to ", type_name(v), ".__format__");
    return py_str(ip, v);
  }
  if (v.kind == Kind::Bool && spec_text.empty()) return py_str(ip, v);
  const Spec sp = parse_spec(spec_text, type_name(v));
  ip.check_size(size_t(std::max<int64_t>(sp.width, 0)));
  std::string body, sign;
  char default_align = '<';
  if (v.is_number() && !(sp.type == 's')) {
    default_align = '>';
    if (v.is_int() && sp.type && !std::strchr("dbxXocneEfFgG%", sp.type))
      throw_error("Unknown format code '", sp.type, "' for object of type 'int'");
    const bool as_int = v.is_int() && (sp.type == 0 || std::strchr("dbxXocn", sp.type));
    if (as_int) {
      int64_t n = v.as_int();
      const bool neg = n < 0;
      const uint64_t mag = neg ? uint64_t(0) - uint64_t(n) : uint64_t(n);
      char buf[80];
      switch (sp.type) {
        case 'x': std::snprintf(buf, sizeof buf, "%llx", (unsigned long long)mag); body = buf; if (sp.alt) body = "0x" + body; break;
        case 'X': std::snprintf(buf, sizeof buf, "%llX", (unsigned long long)mag); body = buf; if (sp.alt) body = "0X" + body; break;
        case 'o': std::snprintf(buf, sizeof buf, "%llo", (unsigned long long)mag); body = buf; if (sp.alt) body = "0o" + body; break;
        case 'b': {
          std::string b;
          for (uint64_t m = mag; m; m >>= 1) b.insert(b.begin(), char('0' + (m & 1)));
          body = b.empty() ? "0" : b;
          if (sp.alt) body = "0b" + body;
          break;
        }
        case 'c': body.clear(); uni::append_cp(body, uint32_t(n)); break;
        default: body = std::to_string(mag); if (sp.grouping) body = group_digits(body, sp.grouping);
      }
      sign = neg ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
    } else {
      const double d = v.as_double();
      const char t = sp.type;
      if (t && !std::strchr("eEfFgG%n", t)) throw_error("Unknown format code '", t, "' for object of type 'float'");
      const double mag = std::fabs(d);
      const int64_t prec = sp.prec >= 0 ? sp.prec : 6;
      if (t == 0 && sp.prec < 0) {
        body = float_repr(mag);
      } else if (t == 0) {
        // like 'g', but with exponent notation from exp >= p - 1 and at least one decimal
        const int64_t p = std::max<int64_t>(prec, 1);
        const std::string sci = c_format(("%." + std::to_string(p - 1) + "e").c_str(), mag);
        const size_t epos = sci.find('e');
        const int64_t exp = epos == std::string::npos ? 0 : std::atoll(sci.c_str() + epos + 1);
        if (!std::isfinite(mag)) {
          body = float_repr(mag);
        } else if (exp < -4 || exp >= p - 1) {
          std::string mant = sci.substr(0, epos);
          if (mant.find('.') != std::string::npos) {
            while (mant.back() == '0') mant.pop_back();
            if (mant.back() == '.') mant.pop_back();
          }
          body = mant + sci.substr(epos);
        } else {
          body = c_format(("%." + std::to_string(p - 1 - exp) + "f").c_str(), mag);
          if (body.find('.') != std::string::npos) {
            while (body.back() == '0') body.pop_back();
            if (body.back() == '.') body.pop_back();
          }
          if (body.find('.') == std::string::npos) body += ".0";
        }
      } else if (t == '%') {
        body = c_format(("%." + std::to_string(prec) + "f").c_str(), mag * 100) + "%";
      } else {
        const char ct = t == 'n' ? 'g' : t;
        body = c_format(((sp.alt ? "%#." : "%.") + std::to_string(prec) + ct).c_str(), mag);
      }
      if (sp.grouping && (t == 'f' || t == 'F' || t == 0)) {
        const size_t dot = body.find('.');
        body = group_digits(body.substr(0, dot), sp.grouping) + (dot == std::string::npos ? "" : body.substr(dot));
      }
      sign = std::signbit(d) && !std::isnan(d) ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
    }
  } else {
    if (sp.type && sp.type != 's') throw_error("Unknown format code '", sp.type, "' for object of type '", type_name(v), "'");
    body = py_str(ip, v);
    if (sp.prec >= 0) body = truncate_cps(body, sp.prec);
  }
  const char align = sp.align ? sp.align : (sp.zero && default_align == '>' ? '=' : default_align);
  const uint32_t fill = sp.align ? sp.fill : (sp.zero ? '0' : ' ');
  const int64_t len = int64_t(uni::count_cps(sign + body));
  const int64_t padn = std::max<int64_t>(0, sp.width - len);
  std::string f;
  for (int64_t k = 0; k < padn; ++k) uni::append_cp(f, fill);
  switch (align) {
    case '<': return sign + body + f;
    case '>': return f + sign + body;
    case '=': return sign + f + body;
    default: {
      std::string l, r;
      const int64_t left = padn / 2;
      for (int64_t k = 0; k < left; ++k) uni::append_cp(l, fill);
      for (int64_t k = left; k < padn; ++k) uni::append_cp(r, fill);
      return l + sign + body + r;
    }
  }
}

}  // namespace

Value Interp::str_format(const std::string& fmt, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool manual = false, automatic = false;
  std::function<std::string(const std::string&, int)> render_field;
  auto resolve = [&](const std::string& field) -> Value {
    // arg_name ("." attribute | "[" key "]")*
    size_t i = 0;
    while (i < field.size() && field[i] != '.' && field[i] != '[') ++i;
    const std::string name = field.substr(0, i);
    Value v;
    if (name.empty()) {
      if (manual) throw Error("cannot switch from manual field specification to automatic field numbering");
      automatic = true;
      if (auto_index >= args.pos.size()) throw Error("tuple index out of range");
      v = args.pos[auto_index++];
    } else if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (automatic && auto_index > 0)
        throw Error("cannot switch from manual field specification to automatic field numbering");  // sic
      manual = true;
      const size_t idx = name.size() > 18 ? SIZE_MAX : std::stoul(name);
      if (idx >= args.pos.size()) throw Error("tuple index out of range");
      v = args.pos[idx];
    } else {
      bool found = false;
      for (const auto& [k, val] : args.kw)
        if (k == name) v = val, found = true;
      if (!found) throw Error(str_repr(name));  // KeyError
    }
    while (i < field.size()) {
      if (field[i] == '.') {
        size_t j = ++i;
        while (j < field.size() && field[j] != '.' && field[j] != '[') ++j;
        if (j == i) throw Error("Empty attribute in format string");
        v = getattr(v, field.substr(i, j - i));
        i = j;
      } else if (field[i] != '[') {
        throw Error("Only '.' or '[' may follow ']' in format field specifier");
      } else {
        const size_t close = field.find(']', i);
        if (close == std::string::npos) throw Error("Missing ']' in format string");
        const std::string key = field.substr(i + 1, close - i - 1);
        const bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = getitem(v, digits ? Value::integer(std::stoll(key)) : Value::string(key));
        i = close + 1;
      }
    }
    return v;
  };
  render_field = [&](const std::string& text, int depth) -> std::string {
    std::string res;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '{' && i + 1 < text.size() && text[i + 1] == '{' && depth == 0) {
        res.push_back('{');
        ++i;
        continue;
      }
      if (c == '}' && i + 1 < text.size() && text[i + 1] == '}' && depth == 0) {
        res.push_back('}');
        ++i;
        continue;
      }
      if (c == '}') throw Error("Single '}' encountered in format string");
      if (c != '{') {
        res.push_back(c);
        continue;
      }
      // a replacement field, possibly with nested fields in its spec
      int level = 1;
      size_t j = i + 1;
      for (; j < text.size() && level; ++j) {
        if (text[j] == '{') ++level;
        if (text[j] == '}') --level;
      }
      if (level) throw Error("expected '}' before end of string");
      std::string field = text.substr(i + 1, j - i - 2);
      i = j - 1;
      std::string spec;
      char conv = 0;
      size_t colon = std::string::npos, bang = std::string::npos;
      int br = 0;
      for (size_t k = 0; k < field.size(); ++k) {
        if (field[k] == '[') ++br;
        if (field[k] == ']') --br;
        if (br == 0 && field[k] == '!' && bang == std::string::npos && colon == std::string::npos) bang = k;
        if (br == 0 && field[k] == ':' && colon == std::string::npos) colon = k;
      }
      if (colon != std::string::npos) {
        spec = field.substr(colon + 1);
        field = field.substr(0, colon);
      }
      if (field.substr(0, bang).find('{') != std::string::npos) throw Error("unexpected '{' in field name");
      if (bang != std::string::npos && bang < field.size()) {
        if (bang + 2 != field.size()) throw Error("expected ':' after conversion specifier");
        conv = field[bang + 1];
        field = field.substr(0, bang);
      }
      if (depth > 1) throw Error("Max string recursion exceeded");
      if (spec.find('{') != std::string::npos) spec = render_field(spec, depth + 1);
      Value v = resolve(field);
      if (conv == 'r' || conv == 'a') v = Value::string(py_repr(*this, v));
      else if (conv == 's') v = Value::string(py_str(*this, v));
      else if (conv) throw_error("Unknown conversion specifier ", conv);
      res += apply_spec(*this, v, spec);
      check_size(res.size());
    }
    return res;
  };
  out = render_field(fmt, 0);
  return Value::string(std::move(out));
}

}  // namespace zaya::jinja
