// Values of zaya's Jinja interpreter (serve/jinja.h): the Python objects a jinja2 template sees.
// Scalars are held inline; strings, lists, dicts and objects are shared and never mutated after
// construction, except namespace() objects (which `{% set ns.x = ... %}` writes, as in jinja2).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zaya::jinja {

class Interp;

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, Str, List, Dict, Object };

struct Heap {
  virtual ~Heap() = default;
};
struct ListData;
struct DictData;
struct Object;

struct Value {
  Kind kind = Kind::Undefined;
  union {
    bool b;
    int64_t i;
    double f;
  };
  std::shared_ptr<const std::string> s;  // Str: the text. Undefined: the error its use raises.
  std::shared_ptr<Heap> h;               // List, Dict, Object

  Value() : i(0) {}
  static Value none() {
    Value v;
    v.kind = Kind::None;
    return v;
  }
  static Value boolean(bool x) {
    Value v;
    v.kind = Kind::Bool;
    v.i = 0;
    v.b = x;
    return v;
  }
  static Value integer(int64_t x) {
    Value v;
    v.kind = Kind::Int;
    v.i = x;
    return v;
  }
  static Value number(double x) {
    Value v;
    v.kind = Kind::Float;
    v.f = x;
    return v;
  }
  static Value string(std::string x) {
    Value v;
    v.kind = Kind::Str;
    v.s = std::make_shared<const std::string>(std::move(x));
    return v;
  }
  // An undefined value; `message` is what using it raises (jinja2's UndefinedError wording).
  static Value undefined(std::string message) {
    Value v;
    v.s = std::make_shared<const std::string>(std::move(message));
    return v;
  }

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_str() const { return kind == Kind::Str; }
  bool is_int() const { return kind == Kind::Int || kind == Kind::Bool; }  // Python int, bool included
  bool is_number() const { return is_int() || kind == Kind::Float; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_object() const { return kind == Kind::Object; }
  const std::string& str() const { return *s; }
  int64_t as_int() const { return kind == Kind::Bool ? int64_t(b) : i; }
  double as_double() const { return kind == Kind::Float ? f : double(as_int()); }
  ListData& list() const;
  DictData& dict() const;
  Object& obj() const;
};

// Lists, tuples, dict views, ranges, and the one-shot iterators that filters such as map, select
// and reverse return (Gen, RevIter: always true, no len(), consumed by iterating, as in Python).
enum class Seq : uint8_t { List, Tuple, Keys, Values, Items, Range, Gen, RevIter };

struct ListData : Heap {
  std::vector<Value> items;
  Seq seq = Seq::List;
  int64_t start = 0, stop = 0, step = 1;  // Seq::Range: what repr() shows
  size_t pos = 0;                         // Gen, RevIter: items already consumed
  int depth = 1;                          // nesting of lists/dicts, at most kMaxValueDepth
  bool one_shot() const { return seq == Seq::Gen || seq == Seq::RevIter; }
};

// An insertion-ordered dict whose keys follow Python's hashing (1, 1.0 and True are one key).
// Values nest at most this deep (Python would hit its recursion limit printing them); it also
// bounds the recursion of destroying a value.
constexpr int kMaxValueDepth = 500;
int value_depth(const Value& v);
[[noreturn]] void too_deep();

struct DictData : Heap {
  std::vector<std::pair<Value, Value>> items;
  std::unordered_map<std::string, size_t> index;  // hash_key(key) -> position in items
  int depth = 1;

  const Value* find(const std::string& key) const {
    auto it = index.find(key);
    return it == index.end() ? nullptr : &items[it->second].second;
  }
  const Value* find_str(std::string_view k) const { return find(str_key(k)); }
  void put(std::string key, Value k, Value v) {
    const int d = 1 + std::max(value_depth(k), value_depth(v));
    if (d > kMaxValueDepth) too_deep();
    depth = std::max(depth, d);
    auto it = index.find(key);
    if (it != index.end()) {
      items[it->second].second = std::move(v);
      return;
    }
    index.emplace(std::move(key), items.size());
    items.emplace_back(std::move(k), std::move(v));
  }
  void put_str(const std::string& k, Value v) { put(str_key(k), Value::string(k), std::move(v)); }
  static std::string str_key(std::string_view k) {
    std::string out = "s";
    out.append(k);
    return out;
  }
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

// Namespaces, loop contexts, macros, builtin functions and bound methods.
struct Object : Heap {
  virtual const char* type_name() const = 0;   // Python's type(x).__name__
  virtual std::string type_repr() const;       // jinja2's object_type_repr: "<module>.<type> object"
  virtual std::string repr(Interp& ip) const;  // Python repr()
  virtual bool callable() const { return false; }
  virtual Value call(Interp& ip, CallArgs& args);
  // `self` is the value holding this object (bound methods keep it alive). Undefined when absent.
  virtual Value getattr(Interp& ip, const Value& self, const std::string& name);
  // Drops the references this object took after it was made (a macro's scope, a namespace's
  // attributes): the interpreter calls it on every such object when a render ends, which breaks
  // the reference cycles a template can build (a macro stored in the scope it closes over).
  virtual void drop_refs() {}
};

inline ListData& Value::list() const { return static_cast<ListData&>(*h); }
inline DictData& Value::dict() const { return static_cast<DictData&>(*h); }
inline int value_depth(const Value& v) {
  return v.kind == Kind::List ? v.list().depth : v.kind == Kind::Dict ? v.dict().depth : 0;
}
inline Object& Value::obj() const { return static_cast<Object&>(*h); }

Value make_list(std::vector<Value> items, Seq seq = Seq::List);
Value make_dict();  // an empty dict
Value make_object(std::shared_ptr<Object> o);

// Python semantics. Each takes the interpreter for its step budget and size limits.
bool truthy(const Value& v);
std::string type_name(const Value& v);         // 'int', 'str', 'NoneType', 'list', ...
std::string object_type_repr(const Value& v);  // "None", "dict object", "str object", ...
void append_str(Interp& ip, const Value& v, std::string& out);  // out += str(v)
std::string py_str(Interp& ip, const Value& v);
std::string py_repr(Interp& ip, const Value& v);
std::string str_repr(std::string_view s);  // repr() of a str
std::string float_repr(double d);          // repr() of a float: "1.0", "1e+16", "0.1", "inf"
bool py_equal(Interp& ip, const Value& a, const Value& b);
// a < b, or TypeError "'<' not supported between instances of 'str' and 'int'" naming `op`.
bool py_less(Interp& ip, const Value& a, const Value& b, const char* op = "<");
// -1, 0 or 1 for a vs b; 2 when unordered (a NaN is involved). TypeError as py_less.
int py_compare3(Interp& ip, const Value& a, const Value& b, const char* op);
// Python hash identity: equal hash keys <=> equal hashable values; TypeError "unhashable type".
std::string hash_key(Interp& ip, const Value& v);
// The items of iter(v): list items, dict keys, str characters, nothing for undefined.
std::vector<Value> iterate(Interp& ip, const Value& v);
// len(v), or TypeError "object of type 'int' has no len()".
int64_t py_len(Interp& ip, const Value& v);
[[noreturn]] void raise_undefined(const Value& v);  // throws the undefined's message

// JSON null is None, objects are dicts in the JSON object's key order (use ordered_json to keep the
// order of the request, as Python's json.loads does).
Value from_json(const nlohmann::json& j, int depth = 0);
Value from_json(const nlohmann::ordered_json& j, int depth = 0);

struct JsonStyle {
  bool ensure_ascii = false;
  bool indent_set = false;
  std::string indent;  // the string repeated per level (Python's indent=int gives spaces)
  std::string item_sep = ", ", key_sep = ": ";
  bool sort_keys = false;
};
// Python's json.dumps(v, ...) with the given style; TypeError for values JSON cannot hold.
void to_json(Interp& ip, const Value& v, const JsonStyle& style, std::string& out, int level = 0);

}  // namespace zaya::jinja
