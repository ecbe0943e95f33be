// Filters over sequences for zaya's Jinja interpreter (jinja2/filters.py, 3.1): list, first,
// last, join, map, select/reject(attr), unique, sort, dictsort, items, reverse, batch, slice, sum,
// min, max. As in jinja2, map, select, reject, selectattr, rejectattr, unique, items, batch, slice
// and reverse of a list give one-shot iterators: always true, no length, used up when iterated.
#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "core/error.h"
#include "serve/jinja_filters.h"
#include "serve/jinja_strings.h"

namespace zaya::jinja::filt {

// jinja2's make_attrgetter: "a.b.0" looks up item a, then b, then 0 (getitem with getattr fallback).
std::vector<Value> attribute_parts(Interp& ip, const Value& attribute) {
  if (attribute.is_int()) return {attribute};
  const std::string s = py_str(ip, attribute);
  std::vector<Value> parts;
  size_t pos = 0;
  while (true) {
    const size_t dot = s.find('.', pos);
    const std::string part = s.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int64_t n = 0;
    if (digits && std::from_chars(part.data(), part.data() + part.size(), n).ec == std::errc())
      parts.push_back(Value::integer(n));
    else
      parts.push_back(Value::string(part));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return parts;
}

Value get_attr_path(Interp& ip, Value item, const std::vector<Value>& parts, const Value* dflt) {
  for (const Value& p : parts) item = ip.getitem(item, p);
  if (dflt && item.is_undefined()) return *dflt;
  return item;
}

// make_multi_attrgetter: "a,b" gives the list [item.a, item.b]; none gives [item].
std::vector<std::vector<Value>> multi_parts(Interp& ip, const Value& attribute) {
  std::vector<std::vector<Value>> out;
  if (!given(attribute) || attribute.is_none()) return out;
  if (attribute.is_str()) {
    const std::string& s = attribute.str();
    size_t pos = 0;
    while (true) {
      const size_t c = s.find(',', pos);
      out.push_back(attribute_parts(ip, Value::string(s.substr(pos, c == std::string::npos ? std::string::npos : c - pos))));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  } else {
    out.push_back(attribute_parts(ip, attribute));
  }
  return out;
}

Value f_list(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "sync_do_list", {});
  return make_list(iterate(ip, in));
}

Value f_first(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "sync_do_first", {});
  if (in.is_list() && in.list().one_shot()) {
    ListData& l = in.list();
    if (l.pos < l.items.size()) return l.items[l.pos++];
  } else {
    std::vector<Value> items = iterate(ip, in);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value f_last(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_last", {});
  if (in.is_list() && in.list().one_shot()) throw_error("'", type_name(in), "' object is not reversible");
  std::vector<Value> items = iterate(ip, in);
  if (!items.empty()) return items.back();
  return Value::undefined("No last item, sequence was empty.");
}

Value f_join(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "sync_do_join", {"d", "attribute"});
  const std::string d = given(v[0]) ? soft_str(ip, v[0]) : "";
  std::vector<Value> parts;
  const bool by_attr = given(v[1]) && !v[1].is_none();
  if (by_attr) parts = attribute_parts(ip, v[1]);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(ip, in)) {
    if (!first) out += d;
    first = false;
    append_str(ip, by_attr ? get_attr_path(ip, item, parts, nullptr) : item, out);
    ip.check_size(out.size());
  }
  return Value::string(std::move(out));
}

// map(filter, *args, **kwargs) or map(attribute=..., default=...)
Value f_map(Interp& ip, Value& in, CallArgs& a) {
  std::vector<Value> out;
  if (!truthy(in)) return gen({});
  std::vector<Value> items = iterate(ip, in);
  const bool by_attribute =
      a.pos.empty() && std::any_of(a.kw.begin(), a.kw.end(), [](const auto& kv) { return kv.first == "attribute"; });
  if (a.pos.empty() && !by_attribute) throw Error("map requires a filter argument");
  if (by_attribute) {
    Value attribute, dflt = Value::none();
    bool has_attr = false;
    for (auto& [k, v] : a.kw) {
      if (k == "attribute") {
        attribute = v;
        has_attr = true;
      } else if (k == "default") {
        dflt = v;
      } else {
        throw_error("Unexpected keyword argument ", str_repr(k));
      }
    }
    if (!has_attr) throw Error("map requires a filter argument");
    const std::vector<Value> parts = attribute_parts(ip, attribute);
    for (const Value& item : items) out.push_back(get_attr_path(ip, item, parts, dflt.is_none() ? nullptr : &dflt));
    return gen(std::move(out));
  }
  const std::string name = soft_str(ip, a.pos[0]);
  CallArgs rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const Value& item : items) {
    CallArgs copy = rest;
    out.push_back(ip.filter(name, item, copy));
  }
  return gen(std::move(out));
}

Value select_reject(Interp& ip, Value& in, CallArgs& a, bool want, bool by_attr) {
  if (!truthy(in)) return gen({});
  std::vector<Value> parts;
  size_t off = 0;
  if (by_attr) {
    if (a.pos.empty()) throw Error("Missing parameter for attribute name");
    parts = attribute_parts(ip, a.pos[0]);
    off = 1;
  }
  const bool has_test = a.pos.size() > off;
  const std::string test = has_test ? soft_str(ip, a.pos[off]) : "";
  CallArgs rest;
  if (has_test) rest.pos.assign(a.pos.begin() + ptrdiff_t(off) + 1, a.pos.end());
  rest.kw = a.kw;
  std::vector<Value> out;
  for (const Value& item : iterate(ip, in)) {
    const Value x = by_attr ? get_attr_path(ip, item, parts, nullptr) : item;
    bool ok;
    if (has_test) {
      CallArgs copy = rest;
      ok = ip.test(test, x, copy);
    } else {
      ok = truthy(x);
    }
    if (ok == want) out.push_back(item);
  }
  return gen(std::move(out));
}
Value f_select(Interp& ip, Value& in, CallArgs& a) { return select_reject(ip, in, a, true, false); }
Value f_reject(Interp& ip, Value& in, CallArgs& a) { return select_reject(ip, in, a, false, false); }
Value f_selectattr(Interp& ip, Value& in, CallArgs& a) { return select_reject(ip, in, a, true, true); }
Value f_rejectattr(Interp& ip, Value& in, CallArgs& a) { return select_reject(ip, in, a, false, true); }

Value f_unique(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "sync_do_unique", {"case_sensitive", "attribute"});
  const bool cs = flag(v[0], false);
  std::vector<Value> parts;
  const bool by_attr = given(v[1]) && !v[1].is_none();
  if (by_attr) parts = attribute_parts(ip, v[1]);
  std::unordered_set<std::string> seen;
  std::vector<Value> out;
  for (const Value& item : iterate(ip, in)) {
    Value key = by_attr ? get_attr_path(ip, item, parts, nullptr) : item;
    if (!cs) key = ignore_case(key);
    if (seen.insert(hash_key(ip, key)).second) out.push_back(item);
  }
  return gen(std::move(out));
}

struct SortKey {
  Value key;
  size_t index;
};

std::vector<Value> sorted_by(Interp& ip, std::vector<Value> items, const std::vector<std::vector<Value>>& attrs,
                             bool case_sensitive, bool reverse) {
  std::vector<SortKey> keys;
  keys.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    Value key;
    if (attrs.empty()) {
      key = case_sensitive ? items[k] : ignore_case(items[k]);
    } else {
      std::vector<Value> parts;
      for (const auto& p : attrs) {
        Value x = get_attr_path(ip, items[k], p, nullptr);
        parts.push_back(case_sensitive ? x : ignore_case(x));
      }
      key = make_list(std::move(parts));
    }
    keys.push_back({std::move(key), k});
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const SortKey& x, const SortKey& y) {
    return reverse ? py_less(ip, y.key, x.key) : py_less(ip, x.key, y.key);
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (const SortKey& k : keys) out.push_back(items[k.index]);
  return out;
}

Value f_sort(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_sort", {"reverse", "case_sensitive", "attribute"});
  return make_list(sorted_by(ip, iterate(ip, in), multi_parts(ip, v[2]), flag(v[1], false), flag(v[0], false)));
}

Value f_dictsort(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_dictsort", {"case_sensitive", "by", "reverse"});
  const std::string by = given(v[1]) ? soft_str(ip, v[1]) : "key";
  if (by != "key" && by != "value") throw Error("You can only sort by either \"key\" or \"value\"");
  if (in.is_undefined()) raise_undefined(in);
  if (!in.is_dict()) throw_error("'", type_name(in), "' object has no attribute 'items'");
  std::vector<Value> pairs;
  for (const auto& [k, val] : in.dict().items) pairs.push_back(make_list({k, val}, Seq::Tuple));
  std::vector<std::vector<Value>> attrs = {{Value::integer(by == "key" ? 0 : 1)}};
  std::vector<Value> sorted = sorted_by(ip, std::move(pairs), attrs, flag(v[0], false), flag(v[2], false));
  return make_list(std::move(sorted));
}

Value f_items(Interp&, Value& in, CallArgs& a) {
  bind(a, "do_items", {});
  if (in.is_undefined()) return gen({});
  if (!in.is_dict()) throw Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, v] : in.dict().items) out.push_back(make_list({k, v}, Seq::Tuple));
  return gen(std::move(out));
}

Value f_reverse(Interp& ip, Value& in, CallArgs& a) {
  bind(a, "do_reverse", {});
  if (in.is_str()) {
    std::u32string s = pystr::u(in.str());
    std::reverse(s.begin(), s.end());
    return Value::string(pystr::s8(s));
  }
  std::vector<Value> items = iterate(ip, in);
  std::reverse(items.begin(), items.end());
  if (in.is_list() && in.list().one_shot()) return make_list(std::move(items));  // list(value).reverse()
  return make_list(std::move(items), Seq::RevIter);
}

Value f_batch(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "do_batch", {"linecount", "fill_with"}, 1);
  used(v[0]);
  const int64_t n = v[0].is_int() ? v[0].as_int() : throw Error("batch() linecount must be an integer");
  std::vector<Value> out, tmp;
  for (const Value& item : iterate(ip, in)) {
    if (int64_t(tmp.size()) == n) {
      out.push_back(make_list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(item);
  }
  if (!tmp.empty()) {
    if (given(v[1]) && !v[1].is_none())
      while (int64_t(tmp.size()) < n) tmp.push_back(v[1]);
    out.push_back(make_list(std::move(tmp)));
  }
  return gen(std::move(out));
}

Value f_slice(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "sync_do_slice", {"slices", "fill_with"}, 1);
  used(v[0]);
  const int64_t slices = v[0].is_int() ? v[0].as_int() : throw Error("slice() slices must be an integer");
  if (slices <= 0) throw Error("integer division or modulo by zero");
  ip.check_items(size_t(slices));
  const std::vector<Value> seq = iterate(ip, in);
  const int64_t len = int64_t(seq.size()), per = len / slices, extra = len % slices;
  std::vector<Value> out;
  int64_t offset = 0;
  for (int64_t s = 0; s < slices; ++s) {
    const int64_t start = offset + s * per;
    if (s < extra) ++offset;
    const int64_t end = offset + (s + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (given(v[1]) && !v[1].is_none() && s >= extra) tmp.push_back(v[1]);
    out.push_back(make_list(std::move(tmp)));
  }
  return gen(std::move(out));
}

Value f_sum(Interp& ip, Value& in, CallArgs& a) {
  auto v = bind(a, "sync_do_sum", {"attribute", "start"});
  Value total = given(v[1]) ? v[1] : Value::integer(0);
  std::vector<Value> parts;
  const bool by_attr = given(v[0]) && !v[0].is_none();
  if (by_attr) parts = attribute_parts(ip, v[0]);
  for (const Value& item : iterate(ip, in)) total = ip.binary(OpAdd, total, by_attr ? get_attr_path(ip, item, parts, nullptr) : item);
  return total;
}

Value min_max(Interp& ip, Value& in, CallArgs& a, bool is_max) {
  auto v = bind(a, is_max ? "do_max" : "do_min", {"case_sensitive", "attribute"});
  const std::vector<Value> items = iterate(ip, in);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const bool cs = flag(v[0], false);
  std::vector<Value> parts;
  const bool by_attr = given(v[1]) && !v[1].is_none();
  if (by_attr) parts = attribute_parts(ip, v[1]);
  auto key = [&](const Value& x) {
    Value k = by_attr ? get_attr_path(ip, x, parts, nullptr) : x;
    return cs ? k : ignore_case(k);
  };
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t k = 1; k < items.size(); ++k) {
    Value kk = key(items[k]);
    if (is_max ? py_less(ip, best_key, kk, ">") : py_less(ip, kk, best_key)) {
      best = k;
      best_key = kk;
    }
  }
  return items[best];
}
Value f_max(Interp& ip, Value& in, CallArgs& a) { return min_max(ip, in, a, true); }
Value f_min(Interp& ip, Value& in, CallArgs& a) { return min_max(ip, in, a, false); }

Value f_unsupported(Interp&, Value&, CallArgs&) { throw Error("this filter is not supported by zaya's template interpreter"); }


}  // namespace zaya::jinja::filt
