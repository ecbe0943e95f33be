// Text helpers and task-file parsing of `zaya eval` (eval.h, docs/eval.md): Python's notions of
// whitespace and string length, and the JSONL task formats.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fileutil.h"
#include "core/jsonl.h"
#include "infer/eval.h"

namespace zaya {

namespace {
// One code point starting at s[i]: its value and byte length; an invalid byte is (-1, 1).
std::pair<int32_t, size_t> next_cp(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint8_t(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return {c, 1};
  size_t len = 0;
  int32_t cp = 0, min = 0;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
  else return {-1, 1};
  if (i + len > s.size()) return {-1, 1};
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {-1, 1};
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {-1, 1};
  return {cp, len};
}

// Python's str.isspace() / the Unicode `\s` of the re module (bidirectional class WS, B or S, or Zs).
bool py_space(int32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20)) return true;
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}
}  // namespace

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += next_cp(s, i).second) ++n;
  return n;
}

int64_t count_words(std::string_view doc) {
  // re.split(r"\s+", doc) yields one piece more than there are maximal whitespace runs, including
  // runs at the very start or end (they produce empty pieces).
  int64_t pieces = 1;
  bool in_run = false;
  for (size_t i = 0; i < doc.size();) {
    auto [cp, len] = next_cp(doc, i);
    const bool sp = cp >= 0 && py_space(cp);
    if (sp && !in_run) ++pieces;
    in_run = sp;
    i += len;
  }
  return pieces;
}

size_t rstrip_length(std::string_view s) {
  size_t keep = 0;
  for (size_t i = 0; i < s.size();) {
    auto [cp, len] = next_cp(s, i);
    i += len;
    if (!(cp >= 0 && py_space(cp))) keep = i;
  }
  return keep;
}

std::string strip_ws(std::string_view s) {
  s = s.substr(0, rstrip_length(s));
  size_t start = 0;
  while (start < s.size()) {
    auto [cp, len] = next_cp(s, start);
    if (!(cp >= 0 && py_space(cp))) break;
    start += len;
  }
  return std::string(s.substr(start));
}

// ---------------------------------------------------------------- files
namespace {
template <typename F>
void for_each_line(const std::string& path, F&& f) {
  const std::string data = read_file(path);
  int64_t lineno = 0;
  for (size_t pos = 0; pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string line = data.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (strip_ws(line).empty()) continue;
    if (!f(line, lineno)) return;
  }
}

std::string want_string(const nlohmann::json& j, const char* key, const std::string& where) {
  ZAYA_CHECK(j.contains(key), where, ": missing key \"", key, "\"");
  ZAYA_CHECK(j[key].is_string(), where, ": \"", key, "\" must be a string");
  return j[key].get<std::string>();
}
}  // namespace

TaskFile load_task(const std::string& path, int64_t limit) {
  TaskFile t;
  bool kind_known = false;
  for_each_line(path, [&](const std::string& line, int64_t lineno) {
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw_error(where, ": invalid JSON: ", e.what());
    }
    ZAYA_CHECK(j.is_object(), where, ": expected a JSON object");
    const bool mc = j.contains("choices"), gen = j.contains("prompt");
    ZAYA_CHECK(mc != gen, where,
               mc ? ": an item has either \"choices\" (multiple choice) or \"prompt\" (generation), not both"
                  : ": expected {\"context\", \"choices\", \"gold\"} (multiple choice) or {\"prompt\", \"answer\"} "
                    "(generation)");
    if (!kind_known) t.generation = gen, kind_known = true;
    ZAYA_CHECK(gen == t.generation, where, ": a ", gen ? "generation" : "multiple-choice", " item in a ",
               t.generation ? "generation" : "multiple-choice", " task file (the first item decides)");
    if (gen) {
      GenItem g;
      g.prompt = want_string(j, "prompt", where);
      ZAYA_CHECK(j.contains("answer"), where, ": missing key \"answer\"");
      const auto& a = j["answer"];
      ZAYA_CHECK(a.is_string() || a.is_number(), where, ": \"answer\" must be a string or a number");
      g.answer = a.is_string() ? a.get<std::string>() : a.dump();
      t.gen.push_back(std::move(g));
    } else {
      McItem m;
      m.context = want_string(j, "context", where);
      const auto& c = j["choices"];
      ZAYA_CHECK(c.is_array() && c.size() >= 2, where, ": \"choices\" must be a list of at least 2 strings");
      for (size_t k = 0; k < c.size(); ++k) {
        ZAYA_CHECK(c[k].is_string(), where, ": choice ", k, " must be a string");
        m.choices.push_back(c[k].get<std::string>());
        ZAYA_CHECK(!m.choices.back().empty(), where, ": choice ", k, " is empty (acc_norm divides by its length)");
      }
      ZAYA_CHECK(j.contains("gold"), where, ": missing key \"gold\"");
      ZAYA_CHECK(j["gold"].is_number_integer(), where, ": \"gold\" must be an integer index into \"choices\"");
      m.gold = j["gold"].get<int64_t>();
      ZAYA_CHECK(m.gold >= 0 && m.gold < int64_t(m.choices.size()), where, ": \"gold\" ", m.gold,
                 " is out of range for ", m.choices.size(), " choices");
      t.mc.push_back(std::move(m));
    }
    const int64_t n = int64_t(t.generation ? t.gen.size() : t.mc.size());
    return limit <= 0 || n < limit;
  });
  ZAYA_CHECK(kind_known, path, ": no items (expected one JSON object per line)");
  return t;
}

std::vector<std::string> load_perplexity_docs(const std::string& path, int64_t limit) {
  std::vector<std::string> docs;
  const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  if (!jsonl) {
    docs.push_back(read_file(path));
    return docs;
  }
  for_each_line(path, [&](const std::string& line, int64_t lineno) {
    docs.push_back(jsonl_text(line, path, lineno));
    return limit <= 0 || int64_t(docs.size()) < limit;
  });
  ZAYA_CHECK(!docs.empty(), path, ": no documents (expected one {\"text\": ...} object per line)");
  return docs;
}

}  // namespace zaya
