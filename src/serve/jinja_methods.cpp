// Methods of str, dict, list and tuple values for zaya's Jinja interpreter: Python's, as jinja2's
// ImmutableSandboxedEnvironment exposes them (methods that would mutate a list or dict are
// "unsafe" and fail when called). The global functions are in jinja_globals.cpp.
#include <algorithm>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "core/error.h"
#include "serve/jinja_objects.h"
#include "serve/jinja_strings.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {

using pystr::s8;
using pystr::u;

const std::string* opt_str(const Value& v, const char* what) {
  if (!given(v) || v.is_none()) return nullptr;
  if (!v.is_str()) {
    if (std::strstr(what, "strip")) throw_error(what, " arg must be None or str");
    throw_error("must be str or None, not ", type_name(v));
  }
  return &v.str();
}

int64_t opt_int(const Value& v, int64_t dflt, const char* what) {
  if (!given(v) || v.is_none()) return dflt;
  if (!v.is_int()) throw_error("'", type_name(v), "' object cannot be interpreted as an integer (", what, ")");
  return v.as_int();
}

const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_str()) throw_error(what, " argument must be str, not ", type_name(v));
  return v.str();
}

// Python's slice bounds for the optional start/end arguments of find, count, startswith, ...
void bounds(const Value& start, const Value& end, int64_t n, int64_t* a, int64_t* b) {
  auto adj = [n](int64_t x) { return x < 0 ? std::max<int64_t>(0, x + n) : std::min(x, n); };
  *a = (!given(start) || start.is_none()) ? 0 : (start.is_int() ? adj(start.as_int()) : throw Error("slice indices must be integers or None"));
  *b = (!given(end) || end.is_none()) ? n : (end.is_int() ? adj(end.as_int()) : throw Error("slice indices must be integers or None"));
}

Value s_strip(Interp&, const Value& self, CallArgs& a, bool l, bool r, const char* fn) {
  auto v = bind(a, fn, {"chars"});
  return Value::string(pystr::strip(self.str(), opt_str(v[0], fn), l, r));
}
Value m_strip(Interp& ip, const Value& self, CallArgs& a) { return s_strip(ip, self, a, true, true, "strip"); }
Value m_lstrip(Interp& ip, const Value& self, CallArgs& a) { return s_strip(ip, self, a, true, false, "lstrip"); }
Value m_rstrip(Interp& ip, const Value& self, CallArgs& a) { return s_strip(ip, self, a, false, true, "rstrip"); }

Value str_list(Interp& ip, std::vector<std::string> parts) {
  ip.check_items(parts.size());
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  ip.tick(int64_t(out.size()));
  return make_list(std::move(out));
}
Value m_split(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "split", {"sep", "maxsplit"});
  return str_list(ip, pystr::split(self.str(), opt_str(v[0], "split"), opt_int(v[1], -1, "maxsplit")));
}
Value m_rsplit(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "rsplit", {"sep", "maxsplit"});
  return str_list(ip, pystr::rsplit(self.str(), opt_str(v[0], "rsplit"), opt_int(v[1], -1, "maxsplit")));
}
Value m_splitlines(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "splitlines", {"keepends"});
  return str_list(ip, pystr::splitlines(self.str(), given(v[0]) && truthy(v[0])));
}

Value prefix_test(Interp&, const Value& self, CallArgs& a, bool suffix) {
  const char* fn = suffix ? "endswith" : "startswith";
  auto v = bind(a, fn, {"prefix", "start", "end"}, 1);
  const std::u32string s = u(self.str());
  int64_t lo, hi;
  bounds(v[1], v[2], int64_t(s.size()), &lo, &hi);
  if (given(v[1]) && v[1].is_int() && v[1].as_int() > int64_t(s.size())) return Value::boolean(false);
  std::vector<std::u32string> cands;
  if (v[0].is_str()) {
    cands.push_back(u(v[0].str()));
  } else if (v[0].is_list() && v[0].list().seq == Seq::Tuple) {
    for (const Value& x : v[0].list().items) cands.push_back(u(need_str(x, fn)));
  } else {
    throw_error(fn, " first arg must be str or a tuple of str, not ", type_name(v[0]));
  }
  for (const auto& c : cands) {
    if (hi - lo < int64_t(c.size())) continue;
    const size_t at = suffix ? size_t(hi) - c.size() : size_t(lo);
    if (s.compare(at, c.size(), c) == 0) return Value::boolean(true);
  }
  return Value::boolean(false);
}
Value m_startswith(Interp& ip, const Value& self, CallArgs& a) { return prefix_test(ip, self, a, false); }
Value m_endswith(Interp& ip, const Value& self, CallArgs& a) { return prefix_test(ip, self, a, true); }

// find / rfind / index / rindex / count
Value search(Interp&, const Value& self, CallArgs& a, const char* fn) {
  auto v = bind(a, fn, {"sub", "start", "end"}, 1);
  const std::u32string s = u(self.str());
  const std::u32string sub = u(need_str(v[0], fn));
  int64_t lo, hi;
  bounds(v[1], v[2], int64_t(s.size()), &lo, &hi);
  const bool rev = fn[0] == 'r';
  const bool count = std::strcmp(fn, "count") == 0;
  if (count) {
    if (lo > hi) return Value::integer(0);
    if (sub.empty()) return Value::integer(hi - lo + 1);
    int64_t n = 0;
    for (size_t p = size_t(lo); p + sub.size() <= size_t(hi);) {
      if (s.compare(p, sub.size(), sub) == 0) {
        ++n;
        p += sub.size();
      } else {
        ++p;
      }
    }
    return Value::integer(n);
  }
  int64_t found = -1;
  if (lo <= hi && int64_t(sub.size()) <= hi - lo) {
    const std::u32string_view win = std::u32string_view(s).substr(size_t(lo), size_t(hi - lo));
    const size_t f = rev ? win.rfind(sub) : win.find(sub);
    if (f != std::u32string_view::npos) found = lo + int64_t(f);
  }
  if (found < 0 && std::strstr(fn, "index")) throw Error("substring not found");
  return Value::integer(found);
}
Value m_find(Interp& ip, const Value& self, CallArgs& a) { return search(ip, self, a, "find"); }
Value m_rfind(Interp& ip, const Value& self, CallArgs& a) { return search(ip, self, a, "rfind"); }
Value m_index(Interp& ip, const Value& self, CallArgs& a) { return search(ip, self, a, "index"); }
Value m_rindex(Interp& ip, const Value& self, CallArgs& a) { return search(ip, self, a, "rindex"); }
Value m_count(Interp& ip, const Value& self, CallArgs& a) { return search(ip, self, a, "count"); }

Value m_replace(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "replace", {"old", "new", "count"}, 2);
  std::string r = pystr::replace(self.str(), need_str(v[0], "replace"), need_str(v[1], "replace"), opt_int(v[2], -1, "count"));
  ip.check_size(r.size());
  return Value::string(std::move(r));
}

Value m_join(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "join", {"iterable"}, 1);
  std::string out;
  size_t k = 0;
  for (const Value& item : iterate(ip, v[0])) {
    if (!item.is_str())
      throw_error("sequence item ", k, ": expected str instance, ", type_name(item), " found");
    if (k++) out += self.str();
    out += item.str();
    ip.check_size(out.size());
  }
  return Value::string(std::move(out));
}

Value m_upper(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.upper", {});
  return Value::string(uni::upper(self.str()));
}
Value m_lower(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.lower", {});
  return Value::string(uni::lower(self.str()));
}
Value m_title(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.title", {});
  return Value::string(pystr::title(self.str()));
}
Value m_capitalize(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.capitalize", {});
  return Value::string(pystr::capitalize(self.str()));
}
Value m_swapcase(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.swapcase", {});
  return Value::string(pystr::swapcase(self.str()));
}

uint32_t fill_char(const Value& v) {
  if (!given(v)) return ' ';
  if (!v.is_str() || uni::count_cps(v.str()) != 1) throw Error("The fill character must be exactly one character long");
  size_t len;
  return uni::next_cp(v.str(), 0, &len);
}
Value justify(Interp& ip, const Value& self, CallArgs& a, const char* fn) {
  auto v = bind(a, fn, {"width", "fillchar"}, 1);
  const int64_t w = opt_int(v[0], 0, "width");
  ip.check_size(size_t(std::max<int64_t>(w, 0)) * 4);
  const uint32_t f = fill_char(v[1]);
  if (fn[0] == 'c') return Value::string(pystr::center(self.str(), w, f));
  if (fn[0] == 'l') return Value::string(pystr::ljust(self.str(), w, f));
  return Value::string(pystr::rjust(self.str(), w, f));
}
Value m_center(Interp& ip, const Value& self, CallArgs& a) { return justify(ip, self, a, "center"); }
Value m_ljust(Interp& ip, const Value& self, CallArgs& a) { return justify(ip, self, a, "ljust"); }
Value m_rjust(Interp& ip, const Value& self, CallArgs& a) { return justify(ip, self, a, "rjust"); }
Value m_zfill(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "zfill", {"width"}, 1);
  const int64_t w = opt_int(v[0], 0, "width");
  ip.check_size(size_t(std::max<int64_t>(w, 0)));
  std::string s = self.str();
  const int64_t n = int64_t(uni::count_cps(s));
  if (w <= n) return Value::string(s);
  const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
  return Value::string((sign ? s.substr(0, 1) : "") + std::string(size_t(w - n), '0') + s.substr(sign ? 1 : 0));
}

Value partition(Interp&, const Value& self, CallArgs& a, bool rev) {
  auto v = bind(a, rev ? "rpartition" : "partition", {"sep"}, 1);
  const std::string& sep = need_str(v[0], "partition");
  if (sep.empty()) throw Error("empty separator");
  const std::string& s = self.str();
  const size_t f = rev ? s.rfind(sep) : s.find(sep);
  std::vector<Value> parts;
  if (f == std::string::npos) {
    parts = rev ? std::vector<Value>{Value::string(""), Value::string(""), self}
                : std::vector<Value>{self, Value::string(""), Value::string("")};
  } else {
    parts = {Value::string(s.substr(0, f)), Value::string(sep), Value::string(s.substr(f + sep.size()))};
  }
  return make_list(std::move(parts), Seq::Tuple);
}
Value m_partition(Interp& ip, const Value& self, CallArgs& a) { return partition(ip, self, a, false); }
Value m_rpartition(Interp& ip, const Value& self, CallArgs& a) { return partition(ip, self, a, true); }

Value m_removeprefix(Interp&, const Value& self, CallArgs& a) {
  auto v = bind(a, "removeprefix", {"prefix"}, 1);
  const std::string& p = need_str(v[0], "removeprefix");
  const std::string& s = self.str();
  return s.compare(0, p.size(), p) == 0 ? Value::string(s.substr(p.size())) : self;
}
Value m_removesuffix(Interp&, const Value& self, CallArgs& a) {
  auto v = bind(a, "removesuffix", {"suffix"}, 1);
  const std::string& p = need_str(v[0], "removesuffix");
  const std::string& s = self.str();
  if (!p.empty() && s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0)
    return Value::string(s.substr(0, s.size() - p.size()));
  return self;
}

template <bool (*Pred)(uint32_t)>
Value all_of_cps(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.is...", {});
  const std::string& s = self.str();
  if (s.empty()) return Value::boolean(false);
  for (size_t i = 0, len; i < s.size(); i += len)
    if (!Pred(uni::next_cp(s, i, &len))) return Value::boolean(false);
  return Value::boolean(true);
}
bool cp_alnum(uint32_t c) { return uni::is_alpha(c) || uni::is_numeric(c); }
Value m_isascii(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.isascii", {});
  return Value::boolean(uni::is_ascii(self.str()));
}
// islower / isupper: at least one cased character, and no cased character of the other kind.
Value case_test(const Value& self, bool want_lower) {
  bool any = false;
  const std::string& s = self.str();
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t c = uni::next_cp(s, i, &len);
    if (want_lower ? uni::is_upper(c) : uni::is_lower(c)) return Value::boolean(false);
    if (uni::is_cased(c) && !uni::is_upper(c) && !uni::is_lower(c)) return Value::boolean(false);  // titlecase
    any = any || (want_lower ? uni::is_lower(c) : uni::is_upper(c));
  }
  return Value::boolean(any);
}
Value m_islower(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.islower", {});
  return case_test(self, true);
}
Value m_isupper(Interp&, const Value& self, CallArgs& a) {
  bind(a, "str.isupper", {});
  return case_test(self, false);
}

Value m_format(Interp& ip, const Value& self, CallArgs& a) { return ip.str_format(self.str(), a); }

Value unsupported_method(Interp&, const Value& self, CallArgs&) {
  throw_error("this ", type_name(self), " method is not supported by zaya's template interpreter");
}

// dict
Value m_items(Interp& ip, const Value& self, CallArgs& a) {
  bind(a, "dict.items", {});
  std::vector<Value> out;
  for (const auto& [k, v] : self.dict().items) out.push_back(make_list({k, v}, Seq::Tuple));
  ip.tick(int64_t(out.size()));
  return make_list(std::move(out), Seq::Items);
}
Value m_keys(Interp& ip, const Value& self, CallArgs& a) {
  bind(a, "dict.keys", {});
  std::vector<Value> out;
  for (const auto& kv : self.dict().items) out.push_back(kv.first);
  ip.tick(int64_t(out.size()));
  return make_list(std::move(out), Seq::Keys);
}
Value m_values(Interp& ip, const Value& self, CallArgs& a) {
  bind(a, "dict.values", {});
  std::vector<Value> out;
  for (const auto& kv : self.dict().items) out.push_back(kv.second);
  ip.tick(int64_t(out.size()));
  return make_list(std::move(out), Seq::Values);
}
Value m_get(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "get", {"key", "default"}, 1);
  if (const Value* x = self.dict().find(hash_key(ip, v[0]))) return *x;
  return given(v[1]) ? v[1] : Value::none();
}
Value m_copy(Interp&, const Value& self, CallArgs& a) {
  bind(a, "dict.copy", {});
  if (self.is_dict()) {
    Value d = make_dict();
    d.dict() = self.dict();
    return d;
  }
  return make_list(self.list().items, Seq::List);
}

// list / tuple
Value m_list_count(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "count", {"value"}, 1);
  int64_t n = 0;
  for (const Value& x : self.list().items) n += py_equal(ip, x, v[0]);
  return Value::integer(n);
}
Value m_list_index(Interp& ip, const Value& self, CallArgs& a) {
  auto v = bind(a, "index", {"value", "start", "stop"}, 1);
  const auto& items = self.list().items;
  int64_t lo, hi;
  bounds(v[1], v[2], int64_t(items.size()), &lo, &hi);
  for (int64_t k = lo; k < hi; ++k)
    if (py_equal(ip, items[size_t(k)], v[0])) return Value::integer(k);
  throw_error(self.list().seq == Seq::Tuple ? "tuple.index(x): x not in tuple" : py_repr(ip, v[0]) + " is not in list");
}

using MethodTable = std::unordered_map<std::string, BuiltinFn>;

const MethodTable& str_methods() {
  static const MethodTable t = {
      {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split}, {"rsplit", m_rsplit},
      {"splitlines", m_splitlines}, {"startswith", m_startswith}, {"endswith", m_endswith}, {"find", m_find},
      {"rfind", m_rfind}, {"index", m_index}, {"rindex", m_rindex}, {"count", m_count}, {"replace", m_replace},
      {"join", m_join}, {"upper", m_upper}, {"lower", m_lower}, {"casefold", m_lower}, {"title", m_title},
      {"capitalize", m_capitalize}, {"swapcase", m_swapcase}, {"center", m_center}, {"ljust", m_ljust},
      {"rjust", m_rjust}, {"zfill", m_zfill}, {"partition", m_partition}, {"rpartition", m_rpartition},
      {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix}, {"format", m_format},
      {"isalpha", all_of_cps<uni::is_alpha>}, {"isdigit", all_of_cps<uni::is_digit>},
      {"isdecimal", all_of_cps<uni::is_decimal>}, {"isnumeric", all_of_cps<uni::is_numeric>},
      {"isalnum", all_of_cps<cp_alnum>}, {"isspace", all_of_cps<uni::is_space>}, {"isascii", m_isascii},
      {"islower", m_islower}, {"isupper", m_isupper}, {"isprintable", unsupported_method},
      {"encode", unsupported_method}, {"expandtabs", unsupported_method}, {"format_map", unsupported_method},
      {"isidentifier", unsupported_method}, {"istitle", unsupported_method}, {"maketrans", unsupported_method},
      {"translate", unsupported_method}};
  return t;
}
const MethodTable& dict_methods() {
  static const MethodTable t = {{"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get},
                                {"copy", m_copy}, {"fromkeys", unsupported_method}};
  return t;
}
const MethodTable& list_methods() {
  static const MethodTable t = {{"count", m_list_count}, {"index", m_list_index}, {"copy", m_copy}};
  return t;
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute " + str_repr(name) + " of " + str_repr(type_name(obj)) + " object is unsafe.");
}

}  // namespace

Value Interp::method(const Value& self, const std::string& name) {
  const MethodTable* table = nullptr;
  if (self.is_str()) {
    table = &str_methods();
  } else if (self.is_dict()) {
    static const char* const kMutating[] = {"clear", "pop", "popitem", "setdefault", "update"};
    for (const char* m : kMutating)
      if (name == m) return unsafe(self, name);
    table = &dict_methods();
  } else if (self.is_list() && (self.list().seq == Seq::List || self.list().seq == Seq::Tuple)) {
    if (self.list().seq == Seq::List) {
      static const char* const kMutating[] = {"append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"};
      for (const char* m : kMutating)
        if (name == m) return unsafe(self, name);
      table = &list_methods();
    } else if (name == "count" || name == "index") {
      table = &list_methods();
    }
  }
  if (!table) return Value();
  auto it = table->find(name);
  if (it == table->end()) return Value();
  return make_builtin(name, it->second, self);
}

}  // namespace zaya::jinja
