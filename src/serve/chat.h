// Chat templates: the model directory's `chat_template` (tokenizer_config.json, or chat_template.jinja)
// rendered by zaya's Jinja interpreter (serve/jinja.h) the way transformers' apply_chat_template
// renders it (trim_blocks, lstrip_blocks, raise_exception, tojson, strftime_now; docs/serving.md).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace zaya {

namespace jinja {
class Template;
}

class ChatTemplate {
 public:
  // Looks in `model_dir` for chat_template.jinja, then tokenizer_config.json's "chat_template"
  // (a string, or a list of {"name","template"}: the one named "default"). nullopt if there is none.
  // bos_token / eos_token / pad_token come from tokenizer_config.json (strings or {"content": ...}).
  // Throws zaya::Error naming the file on malformed input or a template that does not parse.
  static std::optional<ChatTemplate> load(const std::string& model_dir);
  static ChatTemplate from_string(const std::string& source, const std::string& bos_token,
                                  const std::string& eos_token, const std::string& what = "chat_template");
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // messages: the OpenAI list (role, content as a string or a list of parts, tool_calls, name,
  // tool_call_id, reasoning_content); tools: the request's tools or null; extra: further template
  // variables (the request's chat_template_kwargs, e.g. enable_thinking). Throws zaya::Error on a
  // raise_exception() or an evaluation error, with the template's message.
  std::string render(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                     const nlohmann::json& extra = nlohmann::json::object()) const;
  // The same with the request's key order kept (nlohmann::json sorts object keys; Python's dicts,
  // and so `tools | tojson` in transformers, keep the order the client sent).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt,
                     const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  const std::string& pad_token() const { return pad_; }

 private:
  ChatTemplate() = default;
  std::string source_, bos_, eos_, pad_;
  std::unique_ptr<jinja::Template> tmpl_;
  std::unique_ptr<jinja::Template> tool_tmpl_;  // the "tool_use" template of a named list, if any
  nlohmann::ordered_json special_ = nlohmann::ordered_json::object();  // transformers' special_tokens_map
  template <typename J>
  std::string render_impl(const J& messages, const J& tools, bool add_generation_prompt, const J& extra) const;
};

}  // namespace zaya
