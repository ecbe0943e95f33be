// zaya's Jinja interpreter for Hugging Face chat templates (docs/serving.md, "Chat templates").
//
// It renders the way transformers' apply_chat_template does: jinja2's ImmutableSandboxedEnvironment
// with trim_blocks=True, lstrip_blocks=True and the loopcontrols extension, transformers' own
// `tojson` filter (json.dumps with ensure_ascii=False) and the globals raise_exception() and
// strftime_now(), plus the `{% generation %}` tag (rendered as its body). Values behave like the
// Python objects jinja2 would hold: None prints "None", lists print as ['a', 1], 1.0 prints "1.0",
// an undefined name prints "" but fails when used in arithmetic or attribute access, and methods
// that would mutate a list or dict (append, update, pop, ...) fail as jinja2's sandbox makes them.
//
// Rendering is bounded (Limits): evaluation steps, output bytes, call depth; an untrusted template
// or conversation cannot hang or exhaust memory, it gets a zaya::Error instead.
#pragma once
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace zaya::jinja {

struct Limits {
  int64_t max_steps = 50'000'000;         // expression/statement evaluations and value-traversal steps
  size_t max_output_bytes = 64u << 20;    // every string built (output, captured blocks, concatenations)
  int max_call_depth = 100;               // nested macro calls
  int max_parse_depth = 200;              // nesting of expressions and blocks in the source
  int64_t max_range = 100000;             // jinja2's sandbox MAX_RANGE
  size_t max_list_items = size_t(1) << 22;
};

struct Options {
  std::string name = "template";  // prefix of error messages: "<name>:<line>:<col>: <message>"
  Limits limits;
  // The local time strftime_now() formats; defaults to the current local time.
  std::function<std::tm()> now;
};

struct Program;  // the parsed template (jinja_ast.h)

class Template {
 public:
  // Throws zaya::Error "<name>:<line>:<col>: <message>" on a syntax error; the message is jinja2's
  // wording where jinja2 has one (e.g. "Encountered unknown tag 'foo'.").
  static Template parse(const std::string& source, const Options& options = {});

  // The context's top-level keys become template variables (they shadow the globals range, dict,
  // namespace, raise_exception, strftime_now, cycler, joiner). JSON null is Python None.
  // Throws zaya::Error "<name>:<line>:<col>: <message>" on raise_exception() (the message is the
  // template's), on an evaluation error (jinja2's / Python's wording) or when a limit is reached.
  // Prefer the ordered_json overload: Python dicts keep their insertion order (tojson of a tool's
  // JSON schema prints its keys in the request's order), nlohmann::json sorts object keys.
  std::string render(const nlohmann::json& context) const;
  std::string render(const nlohmann::ordered_json& context) const;

  const Options& options() const { return *options_; }

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

 private:
  Template();
  std::shared_ptr<const Program> program_;
  std::shared_ptr<const Options> options_;
};

}  // namespace zaya::jinja
