// Python operators, jinja2's sandboxed attribute/item access, calls and argument binding for
// zaya's Jinja interpreter (serve/jinja_interp.h).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "serve/jinja_objects.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {

[[noreturn]] void overflow() { throw Error("integer overflow (this interpreter's integers are 64-bit)"); }

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  throw_error("unsupported operand type(s) for ", op, ": '", type_name(a), "' and '", type_name(b), "'");
}

const char* op_text(int op) {
  switch (op) {
    case OpAdd: return "+";
    case OpSub: return "-";
    case OpMul: return "*";
    case OpDiv: return "/";
    case OpFloorDiv: return "//";
    case OpMod: return "%";
    default: return "** or pow()";
  }
}

bool plain_seq(const Value& v) { return v.is_list() && (v.list().seq == Seq::List || v.list().seq == Seq::Tuple); }

Value repeat(Interp& ip, const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_str()) {
    const size_t n = seq.str().size();
    if (n && uint64_t(times) > ip.lim.max_output_bytes / n) ip.too_large(n * size_t(std::min<int64_t>(times, INT32_MAX)));
    std::string out;
    out.reserve(n * size_t(times));
    for (int64_t k = 0; k < times; ++k) out += seq.str();
    ip.tick(times);
    return Value::string(std::move(out));
  }
  const auto& items = seq.list().items;
  if (!items.empty() && uint64_t(times) > ip.lim.max_list_items / items.size()) ip.too_many(items.size() * size_t(std::min<int64_t>(times, INT32_MAX)));
  std::vector<Value> out;
  out.reserve(items.size() * size_t(times));
  for (int64_t k = 0; k < times; ++k) out.insert(out.end(), items.begin(), items.end());
  ip.tick(int64_t(out.size()));
  return make_list(std::move(out), seq.list().seq);
}

int64_t int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1)
      if (__builtin_mul_overflow(result, base, &result)) overflow();
    exp >>= 1;
    if (exp && __builtin_mul_overflow(base, base, &base)) overflow();
  }
  return result;
}

// CPython's float_divmod.
void float_divmod(double vx, double wx, double* floordiv, double* mod_out) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double fd;
  if (div != 0) {
    fd = std::floor(div);
    if (div - fd > 0.5) fd += 1.0;
  } else {
    fd = std::copysign(0.0, vx / wx);
  }
  *floordiv = fd;
  *mod_out = mod;
}

}  // namespace

Value Interp::binary(int op, const Value& a, const Value& b) {
  if (op == OpMod && a.is_str()) return str_format_percent(a.str(), b);  // str.__mod__ comes first
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = a.is_int() && b.is_int();
  switch (op) {
    case OpAdd:
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() + b.as_double());
      if (a.is_str() && b.is_str()) {
        check_size(a.str().size() + b.str().size());
        return Value::string(a.str() + b.str());
      }
      if (plain_seq(a) && plain_seq(b) && a.list().seq == b.list().seq) {
        std::vector<Value> items = a.list().items;
        check_items(items.size() + b.list().items.size());
        items.insert(items.end(), b.list().items.begin(), b.list().items.end());
        tick(int64_t(items.size()));
        return make_list(std::move(items), a.list().seq);
      }
      if (a.is_str() || plain_seq(a))
        throw_error("can only concatenate ", type_name(a), " (not \"", type_name(b), "\") to ", type_name(a));
      unsupported("+", a, b);
    case OpSub:
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() - b.as_double());
      unsupported("-", a, b);
    case OpMul:
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() * b.as_double());
      if ((a.is_str() || plain_seq(a)) && b.is_int()) return repeat(*this, a, b.as_int());
      if ((b.is_str() || plain_seq(b)) && a.is_int()) return repeat(*this, b, a.as_int());
      if (a.is_str() || plain_seq(a)) throw_error("can't multiply sequence by non-int of type '", type_name(b), "'");
      if (b.is_str() || plain_seq(b)) throw_error("can't multiply sequence by non-int of type '", type_name(a), "'");
      unsupported("*", a, b);
    case OpDiv:
      if (nums) {
        if (b.as_double() == 0) throw Error(ints ? "division by zero" : "float division by zero");
        return Value::number(a.as_double() / b.as_double());
      }
      unsupported("/", a, b);
    case OpFloorDiv:
    case OpMod:
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) throw Error(op == OpMod ? "integer modulo by zero" : "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) {
          if (op == OpMod) return Value::integer(0);
          overflow();
        }
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {
          q -= 1;
          r += y;
        }
        return Value::integer(op == OpMod ? r : q);
      }
      if (nums) {
        const double y = b.as_double();
        if (y == 0) throw Error(op == OpMod ? "float modulo" : "float floor division by zero");
        double fd, m;
        float_divmod(a.as_double(), y, &fd, &m);
        return Value::number(op == OpMod ? m : fd);
      }
      unsupported(op_text(op), a, b);
    case OpPow:
      if (ints && b.as_int() >= 0) return Value::integer(int_pow(a.as_int(), b.as_int()));
      if (nums) {
        const double x = a.as_double(), y = b.as_double();
        if (x == 0 && y < 0) throw Error("0.0 cannot be raised to a negative power");
        if (x < 0 && std::floor(y) != y && std::isfinite(y)) throw Error("complex numbers are not supported by this interpreter");
        const double r = std::pow(x, y);
        if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) throw Error("(34, 'Numerical result out of range')");
        return Value::number(r);
      }
      unsupported("** or pow()", a, b);
    default: throw Error("internal error: unknown operator");
  }
}

bool Interp::compare(int op, const Value& a, const Value& b) {
  charge(a);
  charge(b);
  switch (op) {
    case CmpEq: return py_equal(*this, a, b);
    case CmpNe: return !py_equal(*this, a, b);
    case CmpIn: return contains(b, a);
    case CmpNotIn: return !contains(b, a);
    default: break;
  }
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  static const char* const kOps[] = {"==", "!=", "<", "<=", ">", ">="};
  const int c = py_compare3(*this, a, b, kOps[op]);
  switch (op) {
    case CmpLt: return c == -1;
    case CmpLe: return c == -1 || c == 0;
    case CmpGt: return c == 1;
    default: return c == 1 || c == 0;
  }
}

bool Interp::contains(const Value& container, const Value& item) {
  charge(container);
  switch (container.kind) {
    case Kind::Str:
      if (!item.is_str()) throw_error("'in <string>' requires string as left operand, not ", type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Kind::Undefined: return false;
    case Kind::Dict: {
      const std::string key = hash_key(*this, item);
      return container.dict().find(key) != nullptr;
    }
    case Kind::List: {
      ListData& l = container.list();
      for (size_t k = l.one_shot() ? l.pos : 0; k < l.items.size(); ++k) {
        if (py_equal(*this, l.items[k], item)) {
          if (l.one_shot()) l.pos = k + 1;
          return true;
        }
      }
      if (l.one_shot()) l.pos = l.items.size();
      return false;
    }
    default: throw_error("argument of type '", type_name(container), "' is not iterable");
  }
}

namespace {
Value no_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(str_repr(object_type_repr(obj)) + " has no attribute " + str_repr(name));
}
Value no_element(Interp& ip, const Value& obj, const Value& key) {
  return Value::undefined(object_type_repr(obj) + " has no element " + py_repr(ip, key));
}
}  // namespace

Value Interp::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) raise_undefined(obj);
  Value m = method(obj, name);
  if (given(m)) return m;
  if (obj.is_dict()) {
    if (const Value* v = obj.dict().find_str(name)) return *v;
  } else if (obj.is_object()) {
    return obj.obj().getattr(*this, obj, name);
  }
  return no_attribute(obj, name);
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  auto fallback = [&]() -> Value {
    if (key.is_str()) return getattr(obj, key.str());
    return no_element(*this, obj, key);
  };
  switch (obj.kind) {
    case Kind::Dict: {
      std::string h;
      try {
        h = hash_key(*this, key);
      } catch (const Error&) {
        return fallback();  // unhashable key: jinja2 catches the TypeError
      }
      if (const Value* v = obj.dict().find(h)) return *v;
      return fallback();
    }
    case Kind::List: {
      const ListData& l = obj.list();
      const bool indexable = l.seq == Seq::List || l.seq == Seq::Tuple || l.seq == Seq::Range;
      if (!indexable || !key.is_int()) return fallback();
      int64_t i = key.as_int();
      const int64_t n = int64_t(l.items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return no_element(*this, obj, key);
      return l.items[size_t(i)];
    }
    case Kind::Str: {
      if (!key.is_int()) return fallback();
      const std::string& s = obj.str();
      int64_t i = key.as_int();
      const int64_t n = int64_t(uni::count_cps(s));
      if (i < 0) i += n;
      if (i < 0 || i >= n) return no_element(*this, obj, key);
      if (uni::is_ascii(s)) return Value::string(s.substr(size_t(i), 1));
      size_t pos = 0, len = 0;
      for (int64_t k = 0; k <= i; ++k) {
        pos += len;
        uni::next_cp(s, pos, &len);
      }
      tick(i);
      return Value::string(s.substr(pos, len));
    }
    default: return fallback();
  }
}

namespace {
// Python's PySlice_AdjustIndices: the positions start, start+step, ... before stop.
std::vector<int64_t> slice_positions(int64_t n, const Value& start, const Value& stop, int64_t step) {
  int64_t lo, hi;
  if (start.is_none()) {
    lo = step < 0 ? n - 1 : 0;
  } else {
    lo = start.as_int();
    if (lo < 0) {
      lo += n;
      if (lo < 0) lo = step < 0 ? -1 : 0;
    } else if (lo >= n) {
      lo = step < 0 ? n - 1 : n;
    }
  }
  if (stop.is_none()) {
    hi = step < 0 ? -1 : n;
  } else {
    hi = stop.as_int();
    if (hi < 0) {
      hi += n;
      if (hi < 0) hi = step < 0 ? -1 : 0;
    } else if (hi >= n) {
      hi = step < 0 ? n - 1 : n;
    }
  }
  std::vector<int64_t> out;
  for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) out.push_back(i);
  return out;
}
}  // namespace

Value Interp::slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) raise_undefined(obj);
  auto index_ok = [](const Value& v) { return v.is_none() || v.is_int(); };
  auto as_undefined = [&]() {
    return Value::undefined(object_type_repr(obj) + " has no element slice(" + py_repr(*this, start) + ", " +
                            py_repr(*this, stop) + ", " + py_repr(*this, step) + ")");
  };
  const bool seq = obj.is_str() || (obj.is_list() && !obj.list().one_shot() && obj.list().seq != Seq::Keys &&
                                    obj.list().seq != Seq::Values && obj.list().seq != Seq::Items);
  if (!seq || !index_ok(start) || !index_ok(stop) || !index_ok(step)) return as_undefined();
  const int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) throw Error("slice step cannot be zero");
  if (obj.is_str()) {
    const std::string& s = obj.str();
    if (uni::is_ascii(s)) {
      std::string out;
      for (int64_t i : slice_positions(int64_t(s.size()), start, stop, st)) out.push_back(s[size_t(i)]);
      tick(int64_t(out.size()));
      return Value::string(std::move(out));
    }
    const std::u32string u = uni::decode(s);
    std::u32string out;
    for (int64_t i : slice_positions(int64_t(u.size()), start, stop, st)) out.push_back(u[size_t(i)]);
    tick(int64_t(u.size()));
    return Value::string(uni::encode(out));
  }
  const ListData& l = obj.list();
  std::vector<Value> out;
  for (int64_t i : slice_positions(int64_t(l.items.size()), start, stop, st)) out.push_back(l.items[size_t(i)]);
  tick(int64_t(out.size()));
  return make_list(std::move(out), l.seq == Seq::Tuple ? Seq::Tuple : Seq::List);
}

Value Interp::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) raise_undefined(callee);
  if (callee.is_object() && callee.obj().callable()) {
    if (auto* b = dynamic_cast<Builtin*>(&callee.obj())) charge(b->self);
    for (const Value& v : args.pos) charge(v);
    Value r = callee.obj().call(*this, args);
    charge(r);
    return r;
  }
  throw_error("'", type_name(callee), "' object is not callable");
}

std::vector<Value> bind(const CallArgs& args, const char* fn, std::initializer_list<const char*> names, size_t required) {
  const size_t n = names.size();
  std::vector<Value> out(n);
  const std::string f = fn;
  const bool def_style = f.rfind("do_", 0) == 0 || f.rfind("sync_do_", 0) == 0;  // do_x(value, ...)
  if (args.pos.size() > n) {
    if (def_style) {
      const size_t total = n + 1, least = required + 1, got = args.pos.size() + 1;
      if (least == total) throw_error(fn, "() takes ", total, " positional argument", total == 1 ? "" : "s", " but ", got, " were given");
      throw_error(fn, "() takes from ", least, " to ", total, " positional arguments but ", got, " were given");
    }
    if (n == 0) throw_error(fn, "() takes no arguments (", args.pos.size(), " given)");
    throw_error(fn, "() takes at most ", n, " argument", n == 1 ? "" : "s", " (", args.pos.size(), " given)");
  }
  for (size_t k = 0; k < args.pos.size(); ++k) out[k] = args.pos[k];
  for (const auto& [key, val] : args.kw) {
    size_t idx = 0;
    for (const char* nm : names) {
      if (key == nm) break;
      ++idx;
    }
    if (idx == n) throw_error(fn, "() got an unexpected keyword argument '", key, "'");
    if (given(out[idx])) throw_error(fn, "() got multiple values for argument '", key, "'");
    out[idx] = val;
  }
  size_t k = 0;
  for (const char* nm : names) {
    if (k < required && !given(out[k])) throw_error(fn, "() missing 1 required positional argument: '", nm, "'");
    ++k;
  }
  return out;
}

}  // namespace zaya::jinja
