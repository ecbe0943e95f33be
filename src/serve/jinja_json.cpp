// JSON and the values of zaya's Jinja interpreter (serve/jinja_value.h): from_json (the template
// context) and to_json, which writes what Python's json.dumps writes (transformers' tojson filter).
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "serve/jinja_interp.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {
void check_depth(int depth) {
  if (depth > kMaxValueDepth) throw Error("maximum recursion depth exceeded while walking a nested value");
}
}  // namespace

namespace {
template <typename J>
Value from_json_impl(const J& j, int depth) {
  if (depth > kMaxValueDepth) throw Error("JSON value nested more than 500 levels deep");
  switch (j.type()) {
    case J::value_t::null: return Value::none();
    case J::value_t::boolean: return Value::boolean(j.template get<bool>());
    case J::value_t::number_integer: return Value::integer(j.template get<int64_t>());
    case J::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      return u <= uint64_t(INT64_MAX) ? Value::integer(int64_t(u)) : Value::number(double(u));
    }
    case J::value_t::number_float: return Value::number(j.template get<double>());
    case J::value_t::string: return Value::string(j.template get<std::string>());
    case J::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json_impl(x, depth + 1));
      return make_list(std::move(items));
    }
    case J::value_t::object: {
      Value d = make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict().put_str(it.key(), from_json_impl(it.value(), depth + 1));
      return d;
    }
    default: return Value::none();  // binary / discarded: not produced by the JSON parser
  }
}
}  // namespace

Value from_json(const nlohmann::json& j, int depth) { return from_json_impl(j, depth); }
Value from_json(const nlohmann::ordered_json& j, int depth) { return from_json_impl(j, depth); }

namespace {

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t cp = uni::next_cp(s, i, &len);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char b[16];
        if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
          if (cp >= 0x10000) {
            const uint32_t c = cp - 0x10000;
            std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
          } else {
            std::snprintf(b, sizeof b, "\\u%04x", cp);
          }
          out += b;
        } else {
          out.append(s, i, len);
        }
      }
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return float_repr(d);
}

[[noreturn]] void not_serializable(const Value& v) {
  throw_error("Object of type ", type_name(v), " is not JSON serializable");
}

void newline_indent(const JsonStyle& st, int level, std::string& out) {
  out.push_back('\n');
  for (int k = 0; k < level; ++k) out += st.indent;
}

}  // namespace

void to_json(Interp& ip, const Value& v, const JsonStyle& st, std::string& out, int level) {
  check_depth(level);
  ip.tick();
  ip.check_size(out.size());
  switch (v.kind) {
    case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float: out += json_float(v.f); return;
    case Kind::Str: json_string(v.str(), st.ensure_ascii, out); return;
    case Kind::List: {
      const ListData& l = v.list();
      if (l.seq != Seq::List && l.seq != Seq::Tuple) not_serializable(v);
      if (l.items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t k = 0; k < l.items.size(); ++k) {
        if (k) out += st.item_sep;
        if (st.indent_set) newline_indent(st, level + 1, out);
        to_json(ip, l.items[k], st, out, level + 1);
      }
      if (st.indent_set) newline_indent(st, level, out);
      out.push_back(']');
      return;
    }
    case Kind::Dict: {
      const DictData& d = v.dict();
      if (d.items.empty()) {
        out += "{}";
        return;
      }
      std::vector<size_t> order(d.items.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      if (st.sort_keys)
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return py_less(ip, d.items[x].first, d.items[y].first); });
      out.push_back('{');
      bool first = true;
      for (size_t k : order) {
        const auto& [key, val] = d.items[k];
        if (!first) out += st.item_sep;
        first = false;
        if (st.indent_set) newline_indent(st, level + 1, out);
        switch (key.kind) {
          case Kind::Str: json_string(key.str(), st.ensure_ascii, out); break;
          case Kind::Bool: out += key.b ? "\"true\"" : "\"false\""; break;
          case Kind::Int: out.append("\"").append(std::to_string(key.i)).append("\""); break;
          case Kind::Float: out.append("\"").append(json_float(key.f)).append("\""); break;
          case Kind::None: out += "\"null\""; break;
          default: throw_error("keys must be str, int, float, bool or None, not ", type_name(key));
        }
        out += st.key_sep;
        to_json(ip, val, st, out, level + 1);
      }
      if (st.indent_set) newline_indent(st, level, out);
      out.push_back('}');
      return;
    }
    default: not_serializable(v);
  }
}

}  // namespace zaya::jinja
