// The text of one JSONL line of the form {"text": "..."}: the input format of zaya tokenize, zaya data
// and zaya tokenizer train. A bad line throws zaya::Error naming path:lineno.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace zaya {

inline std::string jsonl_text(const std::string& line, const std::string& path, int64_t lineno) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw_error(path, ":", lineno, ": invalid JSON: ", e.what());
  }
  ZAYA_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), path, ":", lineno,
             ": expected an object with a string field \"text\"");
  return std::move(j["text"].get_ref<std::string&>());
}

}  // namespace zaya
