// Evaluation of statements and expressions (serve/jinja_interp.h), with jinja2's scoping: a for
// loop body, macro call, with/filter/call/set block gets a new scope; if-blocks and set do not.
#include <algorithm>

#include "core/error.h"
#include "serve/jinja_objects.h"

namespace zaya::jinja {

void Interp::over_budget() const {
  throw_error("template rendering exceeded ", lim.max_steps, " evaluation steps");
}
void Interp::too_large(size_t bytes) const {
  throw_error("template rendering built a string of ", bytes, " bytes, over the limit of ", lim.max_output_bytes);
}
void Interp::too_many(size_t n) const {
  throw_error("template rendering built a list of ", n, " items, over the limit of ", lim.max_list_items);
}

Value Interp::lookup(const ScopePtr& scope, const std::string& name) {
  if (const Value* v = scope->find(name)) return *v;
  Value g = global(name);
  if (given(g)) return g;
  return Value::undefined(str_repr(name) + " is undefined");
}

CallArgs Interp::eval_args(const Args& a, const ScopePtr& scope) {
  CallArgs out;
  out.pos.reserve(a.pos.size());
  for (const auto& p : a.pos) out.pos.push_back(eval(*p, scope));
  for (const auto& [k, v] : a.kw) out.kw.emplace_back(k, eval(*v, scope));
  if (a.star) {
    const Value v = eval(*a.star, scope);
    if (!(v.is_list() || v.is_dict() || v.is_str() || v.is_undefined()))
      throw_error("Value after * must be an iterable, not ", type_name(v));
    for (Value& x : iterate(*this, v)) out.pos.push_back(std::move(x));
  }
  if (a.dstar) {
    const Value d = eval(*a.dstar, scope);
    if (!d.is_dict())
      throw_error("jinja2.sandbox.SandboxedEnvironment.call() argument after ** must be a mapping, not ", type_name(d));
    for (const auto& [k, v] : d.dict().items) {
      if (!k.is_str()) throw Error("keywords must be strings");
      out.kw.emplace_back(k.str(), v);
    }
  }
  return out;
}

Value Interp::eval_compare(const Node& n, const ScopePtr& scope) {
  Value left = eval(*n.kids[0], scope);
  for (size_t k = 0; k < n.cmp_ops.size(); ++k) {
    Value right = eval(*n.kids[k + 1], scope);
    if (!compare(n.cmp_ops[k], left, right)) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

namespace {
// A filter chain whose innermost input is null (filter blocks, set blocks) applied to `input`.
Value apply_chain(Interp& ip, const Node& f, Value input, const ScopePtr& scope) {
  Value in = f.kids[0] ? apply_chain(ip, *f.kids[0], std::move(input), scope) : std::move(input);
  AtNode at(ip, f);
  if (!is_known_filter(f.name)) throw_error("No filter named ", str_repr(f.name), " found.");
  CallArgs args;
  for (const auto& p : f.args.pos) args.pos.push_back(ip.eval(*p, scope));
  for (const auto& [k, v] : f.args.kw) args.kw.emplace_back(k, ip.eval(*v, scope));
  return ip.filter(f.name, std::move(in), args);
}
}  // namespace

Value Interp::eval(const Node& n, const ScopePtr& scope) {
  tick();
  AtNode at(*this, n);
  switch (n.kind) {
    case NK::Const: return n.value;
    case NK::Name: return lookup(scope, n.name);
    case NK::List:
    case NK::Tuple: {
      std::vector<Value> items;
      items.reserve(n.kids.size());
      for (const auto& k : n.kids) items.push_back(eval(*k, scope));
      return make_list(std::move(items), n.kind == NK::List ? Seq::List : Seq::Tuple);
    }
    case NK::Dict: {
      Value d = make_dict();
      for (size_t k = 0; k + 1 < n.kids.size(); k += 2) {
        Value key = eval(*n.kids[k], scope);
        Value val = eval(*n.kids[k + 1], scope);
        std::string h = hash_key(*this, key);
        d.dict().put(std::move(h), std::move(key), std::move(val));
      }
      return d;
    }
    case NK::GetAttr: return getattr(eval(*n.kids[0], scope), n.name);
    case NK::GetItem: {
      Value obj = eval(*n.kids[0], scope);
      const Node& sub = *n.kids[1];
      if (sub.kind == NK::Slice) {
        auto part = [&](size_t k) { return sub.kids[k] ? eval(*sub.kids[k], scope) : Value::none(); };
        Value a = part(0), b = part(1), c = part(2);
        return slice(obj, a, b, c);
      }
      return getitem(obj, eval(sub, scope));
    }
    case NK::Slice: throw Error("a slice is only valid inside [ ]");
    case NK::Call: {
      Value callee = eval(*n.kids[0], scope);
      CallArgs args = eval_args(n.args, scope);
      return call(callee, args);
    }
    case NK::Filter: {
      if (!is_known_filter(n.name)) throw_error("No filter named ", str_repr(n.name), " found.");
      Value in = n.kids[0] ? eval(*n.kids[0], scope) : Value::string("");
      CallArgs args = eval_args(n.args, scope);
      return filter(n.name, std::move(in), args);
    }
    case NK::Test: {
      if (!is_known_test(n.name)) throw_error("No test named ", str_repr(n.name), " found.");
      Value v = eval(*n.kids[0], scope);
      CallArgs args = eval_args(n.args, scope);
      return Value::boolean(test(n.name, v, args));
    }
    case NK::Unary: {
      Value v = eval(*n.kids[0], scope);
      if (n.op == 'n') return Value::boolean(!truthy(v));
      if (v.is_undefined()) raise_undefined(v);
      if (v.is_int()) {
        if (n.op == '+') return Value::integer(v.as_int());
        if (v.as_int() == INT64_MIN) throw Error("integer overflow (this interpreter's integers are 64-bit)");
        return Value::integer(-v.as_int());
      }
      if (v.kind == Kind::Float) return Value::number(n.op == '-' ? -v.f : v.f);
      throw_error("bad operand type for unary ", char(n.op), ": '", type_name(v), "'");
    }
    case NK::Binary: {
      Value a = eval(*n.kids[0], scope);
      Value b = eval(*n.kids[1], scope);
      charge(a);
      charge(b);
      return binary(n.op, a, b);
    }
    case NK::And: {
      Value a = eval(*n.kids[0], scope);
      return truthy(a) ? eval(*n.kids[1], scope) : a;
    }
    case NK::Or: {
      Value a = eval(*n.kids[0], scope);
      return truthy(a) ? a : eval(*n.kids[1], scope);
    }
    case NK::Compare: return eval_compare(n, scope);
    case NK::Concat: {
      std::string s;
      for (const auto& k : n.kids) {
        const size_t before = s.size();
        append_str(*this, eval(*k, scope), s);
        check_size(s.size());
        tick(int64_t((s.size() - before) >> 5));
      }
      return Value::string(std::move(s));
    }
    case NK::CondExpr: {
      if (truthy(eval(*n.kids[1], scope))) return eval(*n.kids[0], scope);
      if (n.kids[2]) return eval(*n.kids[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(n.line) +
                              " evaluated to false and no else section was defined.");
    }
    case NK::NSRef: throw Error("a namespace reference is only valid as an assignment target");
    default: throw Error("internal error: statement evaluated as an expression");
  }
}

void Interp::assign(const Node& target, const Value& v, const ScopePtr& scope) {
  if (target.kind == NK::Name) {
    scope->set(target.name, v);
    return;
  }
  if (target.kind == NK::NSRef) {
    Value ns = lookup(scope, target.name);
    auto* obj = ns.is_object() ? dynamic_cast<Namespace*>(&ns.obj()) : nullptr;
    if (!obj) throw Error("cannot assign attribute on non-namespace object");
    obj->attrs.put_str(target.attr, v);
    return;
  }
  // a tuple of names
  std::vector<Value> items = iterate(*this, v);
  const size_t want = target.kids.size();
  if (items.size() > want) throw_error("too many values to unpack (expected ", want, ")");
  if (items.size() < want) throw_error("not enough values to unpack (expected ", want, ", got ", items.size(), ")");
  for (size_t k = 0; k < want; ++k) assign(*target.kids[k], items[k], scope);
}

Flow Interp::exec_body(const std::vector<NodePtr>& body, const ScopePtr& scope, std::string& out) {
  for (const auto& st : body) {
    const Flow f = exec(*st, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Interp::render_body(const std::vector<NodePtr>& body, const ScopePtr& scope) {
  std::string out;
  exec_body(body, scope, out);
  return out;
}

Flow Interp::exec_for(const Node& n, const ScopePtr& scope, std::string& out) {
  std::vector<Value> items = iterate(*this, eval(*n.kids[0], scope));
  if (n.kids[1]) {
    std::vector<Value> kept;
    for (Value& item : items) {
      tick();
      auto s = std::make_shared<Scope>(scope);
      assign(*n.target, item, s);
      if (truthy(eval(*n.kids[1], s))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto s = std::make_shared<Scope>(scope);
    return exec_body(n.else_body, s, out);  // a break here belongs to an enclosing loop
  }
  auto loop = std::make_shared<LoopContext>();
  track(loop);
  loop->items = std::make_shared<const std::vector<Value>>(std::move(items));
  const Value loop_value = make_object(loop);
  for (size_t k = 0; k < loop->items->size(); ++k) {
    tick();
    loop->index0 = int64_t(k);
    auto s = std::make_shared<Scope>(scope);
    s->vars.emplace_back("loop", loop_value);
    assign(*n.target, (*loop->items)[k], s);
    if (exec_body(n.body, s, out) == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Interp::call_macro(const Node& def, const ScopePtr& closure, CallArgs& args, const Value* caller) {
  struct Depth {
    Interp& ip;
    explicit Depth(Interp& i) : ip(i) {
      if (++ip.call_depth > ip.lim.max_call_depth)
        throw_error("maximum recursion depth exceeded (macro calls nested more than ", ip.lim.max_call_depth, " deep)");
    }
    ~Depth() { --ip.call_depth; }
  } depth(*this);
  const std::string name = def.kind == NK::Macro ? def.name : "caller";
  const size_t np = def.params.size();
  if (args.pos.size() > np && !def.uses_varargs)
    throw_error("macro '", name, "' takes not more than ", np, " argument(s)");
  auto s = std::make_shared<Scope>(closure);
  std::vector<bool> bound(np, false);
  for (size_t k = 0; k < std::min(np, args.pos.size()); ++k) {
    s->vars.emplace_back(def.params[k], args.pos[k]);
    bound[k] = true;
  }
  Value kwargs = make_dict();
  Value caller_value = caller ? *caller : Value::undefined("No caller defined");
  for (auto& [key, val] : args.kw) {
    // jinja2 takes keywords only for the parameters left after the positional ones; a keyword
    // naming a parameter already given positionally is an extra keyword argument.
    auto it = std::find(def.params.begin(), def.params.end(), key);
    const size_t idx = size_t(it - def.params.begin());
    if (it != def.params.end() && !bound[idx]) {
      s->vars.emplace_back(key, val);
      bound[idx] = true;
    } else if (key == "caller" && def.uses_caller) {
      caller_value = val;
    } else if (def.uses_kwargs) {
      kwargs.dict().put_str(key, val);
    } else {
      throw_error("macro '", name, "' takes no keyword argument '", key, "'");
    }
  }
  const size_t first_default = np - def.defaults.size();
  for (size_t k = 0; k < np; ++k) {
    if (bound[k]) continue;
    if (k >= first_default)
      s->set(def.params[k], eval(*def.defaults[k - first_default], s));
    else
      s->set(def.params[k], Value::undefined("parameter " + str_repr(def.params[k]) + " was not provided"));
  }
  if (def.uses_varargs) {
    std::vector<Value> extra;
    for (size_t k = np; k < args.pos.size(); ++k) extra.push_back(args.pos[k]);
    s->set("varargs", make_list(std::move(extra), Seq::Tuple));
  }
  if (def.uses_kwargs) s->set("kwargs", kwargs);
  if (def.uses_caller) s->set("caller", caller_value);
  return Value::string(render_body(def.body, s));
}

Flow Interp::exec(const Node& n, const ScopePtr& scope, std::string& out) {
  tick();
  AtNode at(*this, n);
  switch (n.kind) {
    case NK::Data:
      out += n.name;
      check_size(out.size());
      return Flow::Normal;
    case NK::Output: {
      const size_t before = out.size();
      append_str(*this, eval(*n.kids[0], scope), out);
      check_size(out.size());
      tick(int64_t((out.size() - before) >> 5));
      return Flow::Normal;
    }
    case NK::If:
      return exec_body(truthy(eval(*n.kids[0], scope)) ? n.body : n.else_body, scope, out);
    case NK::For: return exec_for(n, scope, out);
    case NK::Set: assign(*n.target, eval(*n.kids[0], scope), scope); return Flow::Normal;
    case NK::SetBlock: {
      auto s = std::make_shared<Scope>(scope);
      std::string text;
      const Flow f = exec_body(n.body, s, text);
      if (f != Flow::Normal) return f;
      Value v = Value::string(std::move(text));
      if (n.kids[0]) v = apply_chain(*this, *n.kids[0], std::move(v), scope);
      assign(*n.target, v, scope);
      return Flow::Normal;
    }
    case NK::Macro: {
      auto m = std::make_shared<Macro>();
      m->def = &n;
      m->closure = scope;
      m->name = n.name;
      track(m);
      scope->set(n.name, make_object(std::move(m)));
      return Flow::Normal;
    }
    case NK::CallBlock: {
      const Node& call_node = *n.kids[0];
      Value callee = eval(*call_node.kids[0], scope);
      CallArgs args = eval_args(call_node.args, scope);
      auto c = std::make_shared<Macro>();
      c->def = &n;
      c->closure = scope;
      c->name = "caller";
      track(c);
      args.kw.emplace_back("caller", make_object(std::move(c)));
      append_str(*this, call(callee, args), out);
      check_size(out.size());
      return Flow::Normal;
    }
    case NK::FilterBlock: {
      auto s = std::make_shared<Scope>(scope);
      std::string text;
      const Flow f = exec_body(n.body, s, text);
      if (f != Flow::Normal) return f;
      append_str(*this, apply_chain(*this, *n.kids[0], Value::string(std::move(text)), s), out);
      check_size(out.size());
      return Flow::Normal;
    }
    case NK::With: {
      std::vector<Value> values;
      for (const auto& d : n.defaults) values.push_back(eval(*d, scope));
      auto s = std::make_shared<Scope>(scope);
      for (size_t k = 0; k < n.kids.size(); ++k) assign(*n.kids[k], values[k], s);
      return exec_body(n.body, s, out);
    }
    case NK::Scope: {
      if (!n.kids.empty() && truthy(eval(*n.kids[0], scope)))
        throw Error("{% autoescape true %} is not supported by this interpreter (chat templates render without escaping)");
      auto s = std::make_shared<Scope>(scope);
      return exec_body(n.body, s, out);
    }
    case NK::Break: return Flow::Break;
    case NK::Continue: return Flow::Continue;
    case NK::Fail: throw Error(n.name);
    default: throw Error("internal error: expression executed as a statement");
  }
}

}  // namespace zaya::jinja
