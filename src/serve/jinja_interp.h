// The evaluator of zaya's Jinja interpreter (serve/jinja.h): scopes, the step/size budget, and
// the operations on values that need the interpreter (attribute access, calls, filters, tests).
#pragma once
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "serve/jinja.h"
#include "serve/jinja_ast.h"
#include "serve/jinja_value.h"

namespace zaya::jinja {

// Variables of one jinja2 frame. Loop iterations, macro calls, with/filter/call blocks each get a
// new scope whose parent is the enclosing one; if-blocks and set do not (jinja2's scoping).
struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  explicit Scope(std::shared_ptr<Scope> p = nullptr) : parent(std::move(p)) {}
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get())
      for (const auto& kv : s->vars)
        if (kv.first == name) return &kv.second;
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& kv : vars)
      if (kv.first == name) {
        kv.second = std::move(v);
        return;
      }
    vars.emplace_back(name, std::move(v));
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { Normal, Break, Continue };

class Interp {
 public:
  explicit Interp(const Options& options) : opt(options), lim(options.limits) {}
  ~Interp() {
    for (const auto& o : cyclic_) o->drop_refs();
  }
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;
  // Objects that can close a reference cycle (macros, namespaces, loops); see Object::drop_refs.
  void track(const std::shared_ptr<Object>& o) { cyclic_.push_back(o); }

  const Options& opt;
  const Limits& lim;
  int64_t steps = 0;
  int call_depth = 0;
  const Node* cur = nullptr;  // the innermost node being evaluated (for error locations)

  void tick(int64_t n = 1) {
    steps += n;
    if (steps > lim.max_steps) over_budget();
  }
  // Work on big values costs steps too: one per 32 bytes of a string, per 4 items of a container.
  void charge(const Value& v) {
    if (v.is_str())
      tick(int64_t(v.s->size() >> 5));
    else if (v.is_list())
      tick(int64_t(v.list().items.size() >> 2));
    else if (v.is_dict())
      tick(int64_t(v.dict().items.size() >> 2));
  }
  void check_size(size_t bytes) const {
    if (bytes > lim.max_output_bytes) too_large(bytes);
  }
  void check_items(size_t n) const {
    if (n > lim.max_list_items) too_many(n);
  }
  [[noreturn]] void over_budget() const;
  [[noreturn]] void too_large(size_t bytes) const;
  [[noreturn]] void too_many(size_t n) const;

  // Statements append to `out`; expressions return values.
  Flow exec_body(const std::vector<NodePtr>& body, const ScopePtr& scope, std::string& out);
  Value eval(const Node& n, const ScopePtr& scope);

  // Python/jinja2 operations (jinja_ops.cpp).
  Value getattr(const Value& obj, const std::string& name);  // jinja2 sandbox getattr
  Value getitem(const Value& obj, const Value& key);         // jinja2 sandbox getitem
  Value call(const Value& callee, CallArgs& args);
  Value binary(int op, const Value& a, const Value& b);
  bool compare(int op, const Value& a, const Value& b);
  bool contains(const Value& container, const Value& item);
  Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
  Value lookup(const ScopePtr& scope, const std::string& name);
  Value filter(const std::string& name, Value input, CallArgs& args);  // jinja_filters.cpp
  bool test(const std::string& name, const Value& v, CallArgs& args);   // jinja_tests.cpp
  Value method(const Value& self, const std::string& name);             // jinja_methods.cpp; undefined if none
  Value global(const std::string& name);                                // jinja_methods.cpp
  Value str_format_percent(const std::string& fmt, const Value& args);  // jinja_format.cpp: fmt % args
  Value str_format(const std::string& fmt, CallArgs& args);             // jinja_format.cpp: fmt.format(...)

  std::string render_body(const std::vector<NodePtr>& body, const ScopePtr& scope);
  Value call_macro(const Node& def, const ScopePtr& closure, CallArgs& args, const Value* caller);

 private:
  std::vector<std::shared_ptr<Object>> cyclic_;
  void assign(const Node& target, const Value& v, const ScopePtr& scope);
  Flow exec(const Node& n, const ScopePtr& scope, std::string& out);
  Flow exec_for(const Node& n, const ScopePtr& scope, std::string& out);
  CallArgs eval_args(const Args& a, const ScopePtr& scope);
  Value eval_compare(const Node& n, const ScopePtr& scope);
};

// Sets Interp::cur for the lifetime of the guard; on an exception it is left pointing at the
// node that failed, so the error names that node's line and column.
class AtNode {
 public:
  AtNode(Interp& ip, const Node& n) : ip_(ip), prev_(ip.cur), exceptions_(std::uncaught_exceptions()) { ip.cur = &n; }
  ~AtNode() {
    if (std::uncaught_exceptions() == exceptions_) ip_.cur = prev_;
  }
  AtNode(const AtNode&) = delete;
  AtNode& operator=(const AtNode&) = delete;

 private:
  Interp& ip_;
  const Node* prev_;
  int exceptions_;
};

// Binds call arguments the way a Python signature does: `names` are the parameters in order,
// the first `required` of them without defaults. Returns one slot per name (undefined kind with
// an empty message when not given). Errors follow Python's TypeError wording.
std::vector<Value> bind(const CallArgs& args, const char* fn, std::initializer_list<const char*> names,
                        size_t required = 0);
inline bool given(const Value& v) { return !(v.is_undefined() && v.s == nullptr); }

}  // namespace zaya::jinja
