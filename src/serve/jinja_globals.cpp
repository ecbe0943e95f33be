// The global functions of zaya's Jinja interpreter: jinja2's defaults (range, dict, namespace,
// cycler, joiner, lipsum) and transformers' raise_exception() and strftime_now().
#include <ctime>
#include <unordered_map>

#include "core/error.h"
#include "serve/jinja_objects.h"

namespace zaya::jinja {


namespace {

Value g_range(Interp& ip, const Value&, CallArgs& a) {
  if (!a.kw.empty()) throw Error("range() takes no keyword arguments");
  if (a.pos.empty()) throw Error("range expected at least 1 argument, got 0");
  if (a.pos.size() > 3) throw_error("range expected at most 3 arguments, got ", a.pos.size());
  for (const Value& v : a.pos)
    if (!v.is_int()) throw_error("'", type_name(v), "' object cannot be interpreted as an integer");
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) {
    stop = a.pos[0].as_int();
  } else {
    start = a.pos[0].as_int();
    stop = a.pos[1].as_int();
    if (a.pos.size() == 3) step = a.pos[2].as_int();
  }
  if (step == 0) throw Error("range() arg 3 must not be zero");
  // length computed in wider arithmetic: (stop - start) may overflow int64
  __int128 len = 0;
  if (step > 0 && stop > start) len = ((__int128)stop - start + step - 1) / step;
  if (step < 0 && stop < start) len = ((__int128)start - stop - step - 1) / (-(__int128)step);
  if (len > ip.lim.max_range)
    throw_error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (", ip.lim.max_range, ").");
  std::vector<Value> items;
  items.reserve(size_t(len));
  for (int64_t k = 0; k < int64_t(len); ++k) items.push_back(Value::integer(start + k * step));
  ip.tick(int64_t(len));
  Value r = make_list(std::move(items), Seq::Range);
  r.list().start = start;
  r.list().stop = stop;
  r.list().step = step;
  return r;
}

void merge_into(Interp& ip, DictData& d, const Value& src) {
  if (src.is_dict()) {
    for (const auto& [k, v] : src.dict().items) d.put(hash_key(ip, k), k, v);
    return;
  }
  for (const Value& pair : iterate(ip, src)) {
    std::vector<Value> kv = iterate(ip, pair);
    if (kv.size() != 2) throw_error("dictionary update sequence element has length ", kv.size(), "; 2 is required");
    d.put(hash_key(ip, kv[0]), kv[0], kv[1]);
  }
}

Value g_dict(Interp& ip, const Value&, CallArgs& a) {
  if (a.pos.size() > 1) throw_error("dict expected at most 1 argument, got ", a.pos.size());
  Value d = make_dict();
  if (!a.pos.empty()) merge_into(ip, d.dict(), a.pos[0]);
  for (const auto& [k, v] : a.kw) d.dict().put_str(k, v);
  return d;
}

Value g_namespace(Interp& ip, const Value&, CallArgs& a) {
  auto ns = std::make_shared<Namespace>();
  ip.track(ns);
  if (a.pos.size() > 1) throw_error("namespace expected at most 1 argument, got ", a.pos.size());
  if (!a.pos.empty()) merge_into(ip, ns->attrs, a.pos[0]);
  for (const auto& [k, v] : a.kw) ns->attrs.put_str(k, v);
  return make_object(std::move(ns));
}

Value g_cycler(Interp&, const Value&, CallArgs& a) {
  if (a.pos.empty()) throw Error("at least one item has to be provided");
  auto c = std::make_shared<Cycler>();
  c->items = a.pos;
  return make_object(std::move(c));
}

Value g_joiner(Interp&, const Value&, CallArgs& a) {
  auto v = bind(a, "joiner", {"sep"});
  auto j = std::make_shared<Joiner>();
  j->sep = given(v[0]) ? v[0].is_str() ? v[0].str() : throw Error("joiner() sep must be a string") : ", ";
  return make_object(std::move(j));
}

Value g_raise_exception(Interp& ip, const Value&, CallArgs& a) {
  auto v = bind(a, "raise_exception", {"message"}, 1);
  throw Error(py_str(ip, v[0]));
}

Value g_strftime_now(Interp& ip, const Value&, CallArgs& a) {
  auto v = bind(a, "strftime_now", {"format"}, 1);
  if (!v[0].is_str()) throw_error("strftime() argument 1 must be str, not ", type_name(v[0]));
  std::tm tm{};
  if (ip.opt.now) {
    tm = ip.opt.now();
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  const std::string& fmt = v[0].str();
  if (fmt.empty()) return Value::string("");
  for (size_t cap = 256; cap <= (size_t(1) << 20); cap *= 4) {
    std::string buf(cap, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) {
      buf.resize(n);
      return Value::string(std::move(buf));
    }
  }
  return Value::string("");
}

Value g_lipsum(Interp&, const Value&, CallArgs&) { throw Error("lipsum() is not supported by zaya's template interpreter"); }

}  // namespace

Value Interp::global(const std::string& name) {
  static const std::unordered_map<std::string, BuiltinFn> kGlobals = {
      {"range", g_range},     {"dict", g_dict},     {"namespace", g_namespace},
      {"cycler", g_cycler},   {"joiner", g_joiner}, {"raise_exception", g_raise_exception},
      {"strftime_now", g_strftime_now}, {"lipsum", g_lipsum}};
  auto it = kGlobals.find(name);
  if (it == kGlobals.end()) return Value();
  Value v = make_builtin(name, it->second);
  // the sandbox's range is a function (safe_range); dict, namespace, cycler, joiner are classes
  const bool function = name == "range" || name == "raise_exception" || name == "strftime_now" || name == "lipsum";
  static_cast<Builtin&>(v.obj()).tname = function ? "function" : "type";
  return v;
}

}  // namespace zaya::jinja
