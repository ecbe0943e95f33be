// Python semantics of the Jinja interpreter's values (serve/jinja_value.h): str(), repr(),
// equality, ordering, hashing, iteration and len(). JSON conversion is in jinja_json.cpp.
#include "serve/jinja_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "serve/jinja_interp.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {
constexpr int kMaxDepth = 500;  // nesting of values walked by repr/==/</json (Python: RecursionError)

void check_depth(int depth) {
  if (depth > kMaxDepth) throw Error("maximum recursion depth exceeded while walking a nested value");
}
}  // namespace

std::string Object::type_repr() const { return std::string(type_name()) + " object"; }
std::string Object::repr(Interp&) const { return std::string("<") + type_name() + " object>"; }
Value Object::call(Interp&, CallArgs&) { throw_error("'", type_name(), "' object is not callable"); }
Value Object::getattr(Interp&, const Value&, const std::string& name) {
  return Value::undefined(str_repr(type_repr()) + " has no attribute " + str_repr(name));
}

void too_deep() {
  throw Error("maximum recursion depth exceeded (a value nested more than 500 levels deep)");
}

Value make_list(std::vector<Value> items, Seq seq) {
  int depth = 0;
  for (const Value& v : items) depth = std::max(depth, value_depth(v));
  if (depth + 1 > kMaxValueDepth) too_deep();
  auto d = std::make_shared<ListData>();
  d->depth = depth + 1;
  d->items = std::move(items);
  d->seq = seq;
  Value v;
  v.kind = Kind::List;
  v.h = std::move(d);
  return v;
}

Value make_dict() {
  Value v;
  v.kind = Kind::Dict;
  v.h = std::make_shared<DictData>();
  return v;
}

Value make_object(std::shared_ptr<Object> o) {
  Value v;
  v.kind = Kind::Object;
  v.h = std::move(o);
  return v;
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i != 0;
    case Kind::Float: return v.f != 0;
    case Kind::Str: return !v.str().empty();
    case Kind::List: return v.list().one_shot() || !v.list().items.empty();
    case Kind::Dict: return !v.dict().items.empty();
    case Kind::Object: return true;
  }
  return false;
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Dict: return "dict";
    case Kind::Object: return v.obj().type_name();
    case Kind::List:
      switch (v.list().seq) {
        case Seq::List: return "list";
        case Seq::Tuple: return "tuple";
        case Seq::Keys: return "dict_keys";
        case Seq::Values: return "dict_values";
        case Seq::Items: return "dict_items";
        case Seq::Range: return "range";
        case Seq::Gen: return "generator";
        case Seq::RevIter: return "list_reverseiterator";
      }
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_undefined()) return "jinja2.runtime.Undefined object";
  if (v.is_object()) return v.obj().type_repr();
  return type_name(v) + " object";
}

[[noreturn]] void raise_undefined(const Value& v) { throw Error(v.s ? *v.s : std::string("undefined value")); }

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, laid out the way Python's repr(float) does: exponent notation
  // when the decimal point would sit before the 4th leading zero or after the 16th digit.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp10 = std::atoi(sci.c_str() + e + 1);
  std::string out;
  if (mant[0] == '-') {
    out = "-";
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant)
    if (c != '.') digits.push_back(c);
  const int decpt = exp10 + 1;  // digits d1 d2 ... with the point after `decpt` of them
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    return out + eb;
  }
  if (decpt <= 0) return out + "0." + std::string(size_t(-decpt), '0') + digits;
  if (size_t(decpt) >= digits.size()) return out + digits + std::string(size_t(decpt) - digits.size(), '0') + ".0";
  return out + digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
}

std::string str_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t cp = uni::next_cp(s, i, &len);
    if (cp == uint32_t(q) || cp == '\\') {
      out.push_back('\\');
      out.push_back(char(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80 ? (cp < 0x20 || cp == 0x7F) : !uni::is_printable(cp)) {
      char b[16];
      if (cp < 0x100)
        std::snprintf(b, sizeof b, "\\x%02x", cp);
      else if (cp < 0x10000)
        std::snprintf(b, sizeof b, "\\u%04x", cp);
      else
        std::snprintf(b, sizeof b, "\\U%08x", cp);
      out += b;
    } else {
      out.append(s.substr(i, len));
    }
  }
  out.push_back(q);
  return out;
}

namespace {

void append_repr(Interp& ip, const Value& v, std::string& out, int depth);

void append_seq(Interp& ip, const std::vector<Value>& items, std::string& out, int depth) {
  for (size_t k = 0; k < items.size(); ++k) {
    if (k) out += ", ";
    append_repr(ip, items[k], out, depth + 1);
    ip.check_size(out.size());
  }
}

void append_repr(Interp& ip, const Value& v, std::string& out, int depth) {
  check_depth(depth);
  ip.tick();
  switch (v.kind) {
    case Kind::Str: out += str_repr(v.str()); return;
    case Kind::Undefined: out += "Undefined"; return;
    case Kind::List: {
      const ListData& l = v.list();
      switch (l.seq) {
        case Seq::List: out += "["; append_seq(ip, l.items, out, depth); out += "]"; return;
        case Seq::Tuple:
          out += "(";
          append_seq(ip, l.items, out, depth);
          out += l.items.size() == 1 ? ",)" : ")";
          return;
        case Seq::Keys: out += "dict_keys(["; append_seq(ip, l.items, out, depth); out += "])"; return;
        case Seq::Values: out += "dict_values(["; append_seq(ip, l.items, out, depth); out += "])"; return;
        case Seq::Items: out += "dict_items(["; append_seq(ip, l.items, out, depth); out += "])"; return;
        case Seq::Range:
          out += "range(" + std::to_string(l.start) + ", " + std::to_string(l.stop);
          if (l.step != 1) out += ", " + std::to_string(l.step);
          out += ")";
          return;
        case Seq::Gen: out += "<generator object>"; return;
        case Seq::RevIter: out += "<list_reverseiterator object>"; return;
      }
      return;
    }
    case Kind::Dict: {
      out += "{";
      bool first = true;
      for (const auto& [k, val] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr(ip, k, out, depth + 1);
        out += ": ";
        append_repr(ip, val, out, depth + 1);
        ip.check_size(out.size());
      }
      out += "}";
      return;
    }
    case Kind::Object: out += v.obj().repr(ip); return;
    default: append_str(ip, v, out); return;
  }
}

}  // namespace

void append_str(Interp& ip, const Value& v, std::string& out) {
  switch (v.kind) {
    case Kind::Undefined: return;
    case Kind::None: out += "None"; return;
    case Kind::Bool: out += v.b ? "True" : "False"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float: out += float_repr(v.f); return;
    case Kind::Str: out += v.str(); return;
    default: append_repr(ip, v, out, 0); return;
  }
}

std::string py_str(Interp& ip, const Value& v) {
  if (v.is_str()) return v.str();
  std::string out;
  append_str(ip, v, out);
  return out;
}

std::string py_repr(Interp& ip, const Value& v) {
  std::string out;
  append_repr(ip, v, out, 0);
  return out;
}

namespace {

// Exact comparison of Python numbers (int vs float compares the exact values).
int num_cmp(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    const int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const double x = a.as_double(), y = b.as_double();
  if (a.is_int() != b.is_int()) {
    // int vs float: compare exactly when the float is integral and within int64.
    const bool a_int = a.is_int();
    const double fl = a_int ? y : x;
    const int64_t in = a_int ? a.as_int() : b.as_int();
    if (std::isfinite(fl) && std::floor(fl) == fl && std::fabs(fl) < 9.2e18) {
      const int64_t fi = int64_t(fl);
      const int c = in < fi ? -1 : in > fi ? 1 : 0;
      return a_int ? c : -c;
    }
  }
  if (x < y) return -1;
  if (x > y) return 1;
  if (x == y) return 0;
  return 2;  // unordered (NaN)
}

bool equal_rec(Interp& ip, const Value& a, const Value& b, int depth) {
  check_depth(depth);
  ip.tick();
  if (a.is_number() && b.is_number()) return num_cmp(a, b) == 0;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::Str:
      if (a.s == b.s) return true;
      ip.tick(int64_t(std::min(a.str().size(), b.str().size()) >> 5));
      return a.str() == b.str();
    case Kind::List: {
      if (a.h == b.h) return true;
      const ListData &x = a.list(), &y = b.list();
      if (x.one_shot() || y.one_shot()) return false;
      const bool xs = x.seq == Seq::Tuple, ys = y.seq == Seq::Tuple;
      if (xs != ys || (x.seq == Seq::Range) != (y.seq == Seq::Range)) return false;
      if (x.items.size() != y.items.size()) return false;
      for (size_t k = 0; k < x.items.size(); ++k)
        if (!equal_rec(ip, x.items[k], y.items[k], depth + 1)) return false;
      return true;
    }
    case Kind::Dict: {
      if (a.h == b.h) return true;
      const DictData &x = a.dict(), &y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [key, idx] : x.index) {
        const Value* other = y.find(key);
        if (!other || !equal_rec(ip, x.items[idx].second, *other, depth + 1)) return false;
      }
      return true;
    }
    case Kind::Object: return a.h == b.h;
    default: return false;
  }
}

[[noreturn]] void unorderable(const Value& a, const Value& b, const char* op) {
  throw_error("'", op, "' not supported between instances of '", type_name(a), "' and '", type_name(b), "'");
}

// -1/0/1 for a vs b, 2 when unordered (NaN involved).
int cmp_rec(Interp& ip, const Value& a, const Value& b, const char* op, int depth) {
  check_depth(depth);
  ip.tick();
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (a.is_number() && b.is_number()) return num_cmp(a, b);
  if (a.is_str() && b.is_str()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const ListData &x = a.list(), &y = b.list();
    const bool same = (x.seq == Seq::List && y.seq == Seq::List) || (x.seq == Seq::Tuple && y.seq == Seq::Tuple);
    if (!same) unorderable(a, b, op);
    const size_t n = std::min(x.items.size(), y.items.size());
    for (size_t k = 0; k < n; ++k)
      if (!equal_rec(ip, x.items[k], y.items[k], depth + 1)) return cmp_rec(ip, x.items[k], y.items[k], op, depth + 1);
    return x.items.size() < y.items.size() ? -1 : x.items.size() > y.items.size() ? 1 : 0;
  }
  unorderable(a, b, op);
}

}  // namespace

bool py_equal(Interp& ip, const Value& a, const Value& b) { return equal_rec(ip, a, b, 0); }

bool py_less(Interp& ip, const Value& a, const Value& b, const char* op) { return cmp_rec(ip, a, b, op, 0) == -1; }

int py_compare3(Interp& ip, const Value& a, const Value& b, const char* op) { return cmp_rec(ip, a, b, op, 0); }

std::string hash_key(Interp& ip, const Value& v) {
  ip.tick();
  ip.charge(v);
  switch (v.kind) {
    case Kind::Str: return "s" + v.str();
    case Kind::Bool:
    case Kind::Int: return "n" + std::to_string(v.as_int());
    case Kind::Float: {
      if (std::isfinite(v.f) && std::floor(v.f) == v.f && std::fabs(v.f) < 9.2e18) return "n" + std::to_string(int64_t(v.f));
      char b[32];
      std::snprintf(b, sizeof b, "f%a", v.f);
      return b;
    }
    case Kind::None: return "N";
    case Kind::Undefined: return "U";
    case Kind::Object:
    obj_hash: {
      char b[32];
      std::snprintf(b, sizeof b, "o%p", static_cast<const void*>(v.h.get()));
      return b;
    }
    case Kind::List:
      if (v.list().one_shot()) goto obj_hash;
      if (v.list().seq == Seq::Tuple) {
        std::string out = "t" + std::to_string(v.list().items.size());
        for (const Value& x : v.list().items) {
          const std::string k = hash_key(ip, x);
          out.append(":").append(std::to_string(k.size())).append(":").append(k);
        }
        return out;
      }
      break;
    case Kind::Dict: break;
  }
  throw_error("unhashable type: '", type_name(v), "'");
}

std::vector<Value> iterate(Interp& ip, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: {
      ListData& l = v.list();
      if (!l.one_shot()) return l.items;
      std::vector<Value> rest(l.items.begin() + ptrdiff_t(l.pos), l.items.end());
      l.pos = l.items.size();
      return rest;
    }
    case Kind::Dict: {
      std::vector<Value> out;
      out.reserve(v.dict().items.size());
      for (const auto& kv : v.dict().items) out.push_back(kv.first);
      return out;
    }
    case Kind::Str: {
      const std::string& s = v.str();
      std::vector<Value> out;
      ip.tick(int64_t(s.size()));
      for (size_t i = 0, len; i < s.size(); i += len) {
        uni::next_cp(s, i, &len);
        out.push_back(Value::string(s.substr(i, len)));
      }
      return out;
    }
    default: throw_error("'", type_name(v), "' object is not iterable");
  }
}

int64_t py_len(Interp& ip, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::Str: return int64_t(uni::count_cps(v.str()));
    case Kind::List:
      if (v.list().one_shot()) break;
      return int64_t(v.list().items.size());
    case Kind::Dict: return int64_t(v.dict().items.size());
    default: break;
  }
  (void)ip;
  throw_error("object of type '", type_name(v), "' has no len()");
}

}  // namespace zaya::jinja
