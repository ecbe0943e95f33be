// Shared pieces of the filters of zaya's Jinja interpreter (internal to jinja_filters*.cpp):
// jinja_filters.cpp holds the string and number filters and the table, jinja_filters_seq.cpp the
// filters over sequences.
#pragma once
#include <string>
#include <vector>

#include "serve/jinja_interp.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja::filt {

using FilterFn = Value (*)(Interp& ip, Value& in, CallArgs& a);

inline Value gen(std::vector<Value> items) { return make_list(std::move(items), Seq::Gen); }
inline Value ignore_case(const Value& v) { return v.is_str() ? Value::string(uni::lower(v.str())) : v; }
inline bool flag(const Value& v, bool dflt) { return given(v) ? truthy(v) : dflt; }
// An argument that Python would use in arithmetic or as an index: an undefined one raises.
inline const Value& used(const Value& v) {
  if (v.is_undefined() && v.s) raise_undefined(v);
  return v;
}
inline std::string soft_str(Interp& ip, const Value& v) { return py_str(ip, v); }

// jinja2's make_attrgetter / make_multi_attrgetter
std::vector<Value> attribute_parts(Interp& ip, const Value& attribute);
Value get_attr_path(Interp& ip, Value item, const std::vector<Value>& parts, const Value* dflt);
std::vector<std::vector<Value>> multi_parts(Interp& ip, const Value& attribute);

// jinja_filters_seq.cpp
Value f_list(Interp& ip, Value& in, CallArgs& a);
Value f_first(Interp& ip, Value& in, CallArgs& a);
Value f_last(Interp& ip, Value& in, CallArgs& a);
Value f_join(Interp& ip, Value& in, CallArgs& a);
Value f_map(Interp& ip, Value& in, CallArgs& a);
Value f_select(Interp& ip, Value& in, CallArgs& a);
Value f_reject(Interp& ip, Value& in, CallArgs& a);
Value f_selectattr(Interp& ip, Value& in, CallArgs& a);
Value f_rejectattr(Interp& ip, Value& in, CallArgs& a);
Value f_unique(Interp& ip, Value& in, CallArgs& a);
Value f_sort(Interp& ip, Value& in, CallArgs& a);
Value f_dictsort(Interp& ip, Value& in, CallArgs& a);
Value f_items(Interp& ip, Value& in, CallArgs& a);
Value f_reverse(Interp& ip, Value& in, CallArgs& a);
Value f_batch(Interp& ip, Value& in, CallArgs& a);
Value f_slice(Interp& ip, Value& in, CallArgs& a);
Value f_sum(Interp& ip, Value& in, CallArgs& a);
Value f_max(Interp& ip, Value& in, CallArgs& a);
Value f_min(Interp& ip, Value& in, CallArgs& a);
Value f_unsupported(Interp& ip, Value& in, CallArgs& a);

}  // namespace zaya::jinja::filt
