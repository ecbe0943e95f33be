// The objects of zaya's Jinja interpreter (serve/jinja.h): namespace(), the loop variable, macros,
// builtin functions and bound methods, cycler() and joiner().
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "serve/jinja_interp.h"

namespace zaya::jinja {

// namespace(): the one mutable object, written by {% set ns.attr = value %}.
struct Namespace : Object {
  DictData attrs;
  const char* type_name() const override { return "Namespace"; }
  std::string type_repr() const override { return "jinja2.utils.Namespace object"; }
  std::string repr(Interp& ip) const override;
  Value getattr(Interp& ip, const Value& self, const std::string& name) override;
  void drop_refs() override { attrs = DictData(); }
};

// The `loop` variable of a for loop (jinja2.runtime.LoopContext).
struct LoopContext : Object {
  std::shared_ptr<const std::vector<Value>> items;
  int64_t index0 = 0;
  bool changed_set = false;
  Value last_changed;
  const char* type_name() const override { return "LoopContext"; }
  std::string type_repr() const override { return "jinja2.runtime.LoopContext object"; }
  std::string repr(Interp& ip) const override;
  bool callable() const override { return true; }
  Value call(Interp& ip, CallArgs& args) override;
  Value getattr(Interp& ip, const Value& self, const std::string& name) override;
  void drop_refs() override { last_changed = Value(); }
};

// A {% macro %} (def is the Macro node) or the `caller` of a {% call %} block (def is the
// CallBlock node). `closure` is the scope the macro was defined in: it reads the variables there
// at call time, as jinja2's macros do.
struct Macro : Object {
  const Node* def = nullptr;
  ScopePtr closure;
  std::string name;
  const char* type_name() const override { return "Macro"; }
  std::string type_repr() const override { return "jinja2.runtime.Macro object"; }
  std::string repr(Interp&) const override { return "<Macro " + str_repr(name) + ">"; }
  bool callable() const override { return true; }
  Value call(Interp& ip, CallArgs& args) override;
  void drop_refs() override { closure.reset(); }
};

using BuiltinFn = Value (*)(Interp& ip, const Value& self, CallArgs& args);

// A global function (range, dict, namespace, raise_exception, ...) or a method bound to a value
// ('abc'.upper, d.items, ...).
struct Builtin : Object {
  std::string name;
  Value self;  // undefined-with-no-message for plain functions
  BuiltinFn fn = nullptr;
  const char* tname = "builtin_function_or_method";
  const char* type_name() const override { return tname; }
  std::string repr(Interp& ip) const override;
  bool callable() const override { return true; }
  Value call(Interp& ip, CallArgs& args) override { return fn(ip, self, args); }
};
Value make_builtin(std::string name, BuiltinFn fn, Value self = Value());

struct Cycler : Object {
  std::vector<Value> items;
  size_t pos = 0;
  const char* type_name() const override { return "Cycler"; }
  std::string type_repr() const override { return "jinja2.utils.Cycler object"; }
  Value getattr(Interp& ip, const Value& self, const std::string& name) override;
};

struct Joiner : Object {
  std::string sep;
  bool used = false;
  const char* type_name() const override { return "Joiner"; }
  std::string type_repr() const override { return "jinja2.utils.Joiner object"; }
  bool callable() const override { return true; }
  Value call(Interp& ip, CallArgs& args) override;
};

}  // namespace zaya::jinja
