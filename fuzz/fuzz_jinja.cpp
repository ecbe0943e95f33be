// libFuzzer target: the input is a Jinja template, parsed and rendered by zaya's interpreter
// (src/serve/jinja*.cpp) against a fixed chat context, with small limits. The only exception
// allowed to escape is zaya::Error; rendering must stay within its limits (steps bound the time,
// output bytes and nesting bound memory and stack) and give the same text when repeated.
//
// fuzz-sources: src/serve/jinja.cpp src/serve/jinja_eval.cpp src/serve/jinja_filters.cpp src/serve/jinja_filters_seq.cpp src/serve/jinja_format.cpp src/serve/jinja_globals.cpp src/serve/jinja_json.cpp src/serve/jinja_lex.cpp src/serve/jinja_methods.cpp src/serve/jinja_objects.cpp src/serve/jinja_ops.cpp src/serve/jinja_parse.cpp src/serve/jinja_parse_expr.cpp src/serve/jinja_strings.cpp src/serve/jinja_tests.cpp src/serve/jinja_unicode.cpp src/serve/jinja_value.cpp
// (read by fuzz/run.sh when it compiles this target without CMake)
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "serve/jinja.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "bos_token": "<bos>", "eos_token": "<eos>", "add_generation_prompt": true, "documents": null,
    "enable_thinking": false,
    "messages": [
      {"role": "system", "content": "You are helpful. ✨"},
      {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "image"}]},
      {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHello", "reasoning_content": "hm",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "f", "arguments": {"x": 1, "y": [true, null, 2.5, "s"]}}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\": 1}"},
      {"role": "user", "content": ""}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
               "parameters": {"type": "object", "properties": {"x": {"type": "integer", "enum": [1, 2]}},
                              "required": ["x"]}}}]
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  zaya::jinja::Options opt;
  opt.name = "fuzz.jinja";
  opt.limits.max_steps = 200000;
  opt.limits.max_output_bytes = 1 << 20;
  opt.limits.max_list_items = 1 << 16;
  opt.limits.max_range = 10000;
  opt.limits.max_call_depth = 50;
  opt.limits.max_parse_depth = 100;
  opt.now = [] {
    std::tm t{};
    t.tm_year = 124, t.tm_mon = 6, t.tm_mday = 26;
    return t;
  };
  try {
    const zaya::jinja::Template t = zaya::jinja::Template::parse(source, opt);
    std::string first;
    try {
      first = t.render(context());
    } catch (const zaya::Error&) {
      return 0;
    }
    if (first.size() > opt.limits.max_output_bytes) __builtin_trap();
    if (t.render(context()) != first) __builtin_trap();  // rendering holds no state between calls
  } catch (const zaya::Error&) {
  }
  return 0;
}
