// jinja2's builtin tests (jinja2/tests.py, 3.1) for zaya's Jinja interpreter: `x is defined`,
// `x is string`, `n is divisibleby 3`, ...
#include <unordered_map>

#include "core/error.h"
#include "serve/jinja_objects.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {

using TestFn = bool (*)(Interp& ip, const Value& v, CallArgs& a);

struct TestDef {
  TestFn fn;
  int args;          // arguments after the value: 0 or 1
  const char* py;    // the Python function jinja2 calls, for argument-count errors
  const char* param;  // the name of the second parameter
};

// Python's TypeError for a wrong number of arguments to the function behind a test.
void check_arity(const TestDef& d, const CallArgs& a) {
  if (!a.kw.empty() && std::string(d.py).rfind("test_", 0) == 0) {
    bool known = d.args == 1 && a.kw[0].first == d.param;
    if (!known) throw_error(d.py, "() got an unexpected keyword argument '", a.kw[0].first, "'");
  }
  const size_t given = 1 + a.pos.size() + a.kw.size(), want = size_t(1 + d.args);
  if (given == want) return;
  const std::string py = d.py;
  if (py == "callable") throw_error("callable() takes exactly one argument (", given, " given)");
  if (py.rfind("test_", 0) != 0) throw_error(py, " expected 2 arguments, got ", given);  // operator.eq, ...
  if (given < want) throw_error(py, "() missing 1 required positional argument: '", d.param, "'");
  throw_error(py, "() takes ", want, " positional argument", want == 1 ? "" : "s", " but ", given, " were given");
}

const Value& arg(const CallArgs& a, const char* test) {
  if (a.pos.empty()) throw_error("test '", test, "' takes an argument");
  return a.pos[0];
}

bool t_defined(Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interp&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interp&, const Value& v, CallArgs&) { return v.kind == Kind::Bool; }
bool t_false(Interp&, const Value& v, CallArgs&) { return v.kind == Kind::Bool && !v.b; }
bool t_true(Interp&, const Value& v, CallArgs&) { return v.kind == Kind::Bool && v.b; }
bool t_integer(Interp&, const Value& v, CallArgs&) { return v.kind == Kind::Int; }
bool t_float(Interp&, const Value& v, CallArgs&) { return v.kind == Kind::Float; }
bool t_number(Interp&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interp&, const Value& v, CallArgs&) { return v.is_str(); }
bool t_mapping(Interp&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(Interp&, const Value& v, CallArgs&) {
  if (v.is_object()) return dynamic_cast<const LoopContext*>(&v.obj()) != nullptr;
  return v.is_undefined() || v.is_str() || v.is_list() || v.is_dict();
}
bool t_sequence(Interp&, const Value& v, CallArgs&) {
  if (v.is_list()) return !v.list().one_shot() && v.list().seq != Seq::Keys && v.list().seq != Seq::Values && v.list().seq != Seq::Items;
  return v.is_undefined() || v.is_str() || v.is_dict();
}
bool t_callable(Interp&, const Value& v, CallArgs&) { return v.is_undefined() || (v.is_object() && v.obj().callable()); }
bool t_escaped(Interp&, const Value&, CallArgs&) { return false; }  // no Markup values: nothing is pre-escaped

bool t_sameas(Interp&, const Value& v, CallArgs& a) {
  const Value& o = arg(a, "sameas");
  if (v.kind != o.kind) return false;
  switch (v.kind) {
    case Kind::None: return true;
    case Kind::Bool: return v.b == o.b;
    case Kind::Int: return v.i == o.i && v.i >= -5 && v.i <= 256;  // CPython's cached small ints
    case Kind::Str: return v.s == o.s;
    case Kind::Float:
    case Kind::Undefined: return false;
    default: return v.h == o.h;
  }
}

bool t_odd(Interp& ip, const Value& v, CallArgs&) { return py_equal(ip, ip.binary(OpMod, v, Value::integer(2)), Value::integer(1)); }
bool t_even(Interp& ip, const Value& v, CallArgs&) { return py_equal(ip, ip.binary(OpMod, v, Value::integer(2)), Value::integer(0)); }
bool t_divisibleby(Interp& ip, const Value& v, CallArgs& a) {
  return py_equal(ip, ip.binary(OpMod, v, arg(a, "divisibleby")), Value::integer(0));
}

bool t_eq(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpEq, v, arg(a, "eq")); }
bool t_ne(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpNe, v, arg(a, "ne")); }
bool t_lt(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpLt, v, arg(a, "lt")); }
bool t_le(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpLe, v, arg(a, "le")); }
bool t_gt(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpGt, v, arg(a, "gt")); }
bool t_ge(Interp& ip, const Value& v, CallArgs& a) { return ip.compare(CmpGe, v, arg(a, "ge")); }
bool t_in(Interp& ip, const Value& v, CallArgs& a) { return ip.contains(arg(a, "in"), v); }

bool t_lower(Interp& ip, const Value& v, CallArgs&) {
  CallArgs none;
  return truthy(ip.call(ip.method(Value::string(py_str(ip, v)), "islower"), none));
}
bool t_upper(Interp& ip, const Value& v, CallArgs&) {
  CallArgs none;
  return truthy(ip.call(ip.method(Value::string(py_str(ip, v)), "isupper"), none));
}

bool t_filter(Interp& ip, const Value& v, CallArgs&) { return v.is_str() && is_known_filter(v.str()) && (void(ip), true); }
bool t_test(Interp& ip, const Value& v, CallArgs&) { return v.is_str() && is_known_test(v.str()) && (void(ip), true); }

const std::unordered_map<std::string, TestDef>& tests() {
  static const std::unordered_map<std::string, TestDef> t = {
      {"defined", {t_defined, 0, "test_defined", ""}},
      {"undefined", {t_undefined, 0, "test_undefined", ""}},
      {"none", {t_none, 0, "test_none", ""}},
      {"boolean", {t_boolean, 0, "test_boolean", ""}},
      {"false", {t_false, 0, "test_false", ""}},
      {"true", {t_true, 0, "test_true", ""}},
      {"integer", {t_integer, 0, "test_integer", ""}},
      {"float", {t_float, 0, "test_float", ""}},
      {"number", {t_number, 0, "test_number", ""}},
      {"string", {t_string, 0, "test_string", ""}},
      {"mapping", {t_mapping, 0, "test_mapping", ""}},
      {"iterable", {t_iterable, 0, "test_iterable", ""}},
      {"sequence", {t_sequence, 0, "test_sequence", ""}},
      {"callable", {t_callable, 0, "callable", ""}},
      {"sameas", {t_sameas, 1, "test_sameas", "other"}},
      {"escaped", {t_escaped, 0, "test_escaped", ""}},
      {"odd", {t_odd, 0, "test_odd", ""}},
      {"even", {t_even, 0, "test_even", ""}},
      {"divisibleby", {t_divisibleby, 1, "test_divisibleby", "num"}},
      {"eq", {t_eq, 1, "eq", ""}}, {"equalto", {t_eq, 1, "eq", ""}}, {"==", {t_eq, 1, "eq", ""}},
      {"ne", {t_ne, 1, "ne", ""}}, {"!=", {t_ne, 1, "ne", ""}},
      {"lt", {t_lt, 1, "lt", ""}}, {"lessthan", {t_lt, 1, "lt", ""}}, {"<", {t_lt, 1, "lt", ""}},
      {"le", {t_le, 1, "le", ""}}, {"<=", {t_le, 1, "le", ""}},
      {"gt", {t_gt, 1, "gt", ""}}, {"greaterthan", {t_gt, 1, "gt", ""}}, {">", {t_gt, 1, "gt", ""}},
      {"ge", {t_ge, 1, "ge", ""}}, {">=", {t_ge, 1, "ge", ""}},
      {"in", {t_in, 1, "test_in", "seq"}},
      {"lower", {t_lower, 0, "test_lower", ""}},
      {"upper", {t_upper, 0, "test_upper", ""}},
      {"filter", {t_filter, 0, "test_filter", ""}},
      {"test", {t_test, 0, "test_test", ""}}};
  return t;
}

}  // namespace

bool is_known_test(const std::string& name) { return tests().count(name) != 0; }

bool Interp::test(const std::string& name, const Value& v, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw_error("No test named ", str_repr(name), ".");
  tick();
  charge(v);
  check_arity(it->second, args);
  return it->second.fn(*this, v, args);
}

}  // namespace zaya::jinja
