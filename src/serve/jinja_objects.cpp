// namespace(), loop, macros, builtins, cycler(), joiner() and the global functions of zaya's
// Jinja interpreter: jinja2's defaults (range, dict, namespace, cycler, joiner, lipsum) and
// transformers' raise_exception() and strftime_now().
#include "serve/jinja_objects.h"

#include <ctime>

#include "core/error.h"

namespace zaya::jinja {

std::string Namespace::repr(Interp& ip) const {
  Value d = make_dict();
  d.dict() = attrs;
  return "<Namespace " + py_repr(ip, d) + ">";
}

Value Namespace::getattr(Interp&, const Value&, const std::string& name) {
  if (const Value* v = attrs.find_str(name)) return *v;
  return Value::undefined(str_repr(type_repr()) + " has no attribute " + str_repr(name));
}

std::string LoopContext::repr(Interp&) const {
  return "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(items->size()) + ">";
}

Value LoopContext::call(Interp&, CallArgs&) {
  throw Error("The loop must have the 'recursive' marker to be called recursively.");
}

namespace {

Value loop_cycle(Interp&, const Value& self, CallArgs& args) {
  auto& loop = static_cast<LoopContext&>(self.obj());
  if (!args.kw.empty()) throw Error("cycle() takes no keyword arguments");
  if (args.pos.empty()) throw Error("no items for cycling given");
  return args.pos[size_t(loop.index0) % args.pos.size()];
}

Value loop_changed(Interp& ip, const Value& self, CallArgs& args) {
  auto& loop = static_cast<LoopContext&>(self.obj());
  Value now = make_list(args.pos, Seq::Tuple);
  if (!loop.changed_set || !py_equal(ip, now, loop.last_changed)) {
    loop.changed_set = true;
    loop.last_changed = now;
    return Value::boolean(true);
  }
  return Value::boolean(false);
}

}  // namespace

Value LoopContext::getattr(Interp& ip, const Value& self, const std::string& name) {
  const int64_t n = int64_t(items->size());
  if (name == "index") return Value::integer(index0 + 1);
  if (name == "index0") return Value::integer(index0);
  if (name == "revindex") return Value::integer(n - index0);
  if (name == "revindex0") return Value::integer(n - index0 - 1);
  if (name == "first") return Value::boolean(index0 == 0);
  if (name == "last") return Value::boolean(index0 == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem")
    return index0 > 0 ? (*items)[size_t(index0 - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return index0 + 1 < n ? (*items)[size_t(index0 + 1)] : Value::undefined("there is no next item");
  if (name == "cycle") return make_builtin("cycle", loop_cycle, self);
  if (name == "changed") return make_builtin("changed", loop_changed, self);
  return Object::getattr(ip, self, name);
}

Value Macro::call(Interp& ip, CallArgs& args) { return ip.call_macro(*def, closure, args, nullptr); }

std::string Builtin::repr(Interp&) const {
  if (given(self)) return "<built-in method " + name + " of " + jinja::type_name(self) + " object>";
  return "<built-in function " + name + ">";
}

Value make_builtin(std::string name, BuiltinFn fn, Value self) {
  auto b = std::make_shared<Builtin>();
  b->name = std::move(name);
  b->fn = fn;
  b->self = std::move(self);
  return make_object(std::move(b));
}

Value Cycler::getattr(Interp& ip, const Value& self, const std::string& name) {
  if (name == "current") return items[pos];
  if (name == "next")
    return make_builtin("next", [](Interp&, const Value& s, CallArgs&) {
      auto& c = static_cast<Cycler&>(s.obj());
      Value v = c.items[c.pos];
      c.pos = (c.pos + 1) % c.items.size();
      return v;
    }, self);
  if (name == "reset")
    return make_builtin("reset", [](Interp&, const Value& s, CallArgs&) {
      static_cast<Cycler&>(s.obj()).pos = 0;
      return Value::none();
    }, self);
  return Object::getattr(ip, self, name);
}

Value Joiner::call(Interp&, CallArgs&) {
  if (!used) {
    used = true;
    return Value::string("");
  }
  return Value::string(sep);
}

}  // namespace zaya::jinja
