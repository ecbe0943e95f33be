// ChatTemplate (serve/chat.h): finding a model directory's chat template and rendering it with the
// variables transformers' apply_chat_template passes: the tokenizer's special tokens map
// (bos_token, eos_token, unk_token, pad_token, ...), then the extra kwargs, then messages, tools
// (None when absent), documents (None) and add_generation_prompt.
#include "serve/chat.h"

#include "core/error.h"
#include "core/fileutil.h"
#include "serve/jinja.h"

namespace zaya {

ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

namespace {

using ojson = nlohmann::ordered_json;

// A special token in tokenizer_config.json: a string, or an AddedToken {"content": ...}; null/absent
// gives nullopt.
std::optional<std::string> token_string(const ojson& cfg, const std::string& key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  throw_error(file, ": \"", key, "\" must be a string or an object with a string \"content\"");
}

ojson parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return ojson::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_error(path, ": not valid JSON (", e.what(), ")");
  }
}

std::unique_ptr<jinja::Template> compile(const std::string& source, const std::string& what) {
  jinja::Options opt;
  opt.name = what;
  return std::make_unique<jinja::Template>(jinja::Template::parse(source, opt));
}

}  // namespace

std::optional<ChatTemplate> ChatTemplate::load(const std::string& model_dir) {
  const std::string cfg_path = path_join(model_dir, "tokenizer_config.json");
  const std::string jinja_path = path_join(model_dir, "chat_template.jinja");
  const std::string map_path = path_join(model_dir, "special_tokens_map.json");
  ojson cfg = file_exists(cfg_path) ? parse_json_file(cfg_path) : ojson::object();
  if (!cfg.is_object()) throw_error(cfg_path, ": expected a JSON object");
  ojson map = file_exists(map_path) ? parse_json_file(map_path) : ojson::object();
  if (!map.is_object()) throw_error(map_path, ": expected a JSON object");

  ChatTemplate t;
  std::string what;
  std::string tool_source;
  if (file_exists(jinja_path)) {
    t.source_ = read_file(jinja_path);
    what = jinja_path;
  } else if (auto it = cfg.find("chat_template"); it != cfg.end() && !it->is_null()) {
    if (it->is_string()) {
      t.source_ = it->get<std::string>();
      what = cfg_path + " chat_template";
    } else if (it->is_array()) {
      // named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
      bool found = false;
      for (const ojson& e : *it) {
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("template") ||
            !e["template"].is_string())
          throw_error(cfg_path, ": each entry of \"chat_template\" must be {\"name\": string, \"template\": string}");
        const std::string name = e["name"].get<std::string>();
        if (name == "default") {
          t.source_ = e["template"].get<std::string>();
          found = true;
        } else if (name == "tool_use") {
          tool_source = e["template"].get<std::string>();
        }
      }
      if (!found)
        throw_error(cfg_path, ": \"chat_template\" is a list of named templates without one named \"default\"");
      what = cfg_path + " chat_template[default]";
    } else {
      throw_error(cfg_path, ": \"chat_template\" must be a string or a list of {name, template}");
    }
  } else {
    return std::nullopt;
  }

  // transformers' special_tokens_map: the named special tokens that are set, tokenizer_config.json
  // first, then special_tokens_map.json.
  static const char* const kNames[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                       "pad_token", "cls_token", "mask_token"};
  for (const char* name : kNames) {
    std::optional<std::string> v = token_string(cfg, name, cfg_path);
    if (!v) v = token_string(map, name, map_path);
    if (v) t.special_[name] = *v;
  }
  for (const ojson* src : {&cfg, &map}) {
    auto it = src->find("additional_special_tokens");
    if (it == src->end() || it->is_null()) continue;
    if (!it->is_array()) throw_error(src == &cfg ? cfg_path : map_path, ": \"additional_special_tokens\" must be a list");
    ojson list = ojson::array();
    for (size_t k = 0; k < it->size(); ++k) {
      ojson holder = {{"t", (*it)[k]}};
      std::optional<std::string> s = token_string(holder, "t", src == &cfg ? cfg_path : map_path);
      if (s) list.push_back(*s);
    }
    t.special_["additional_special_tokens"] = list;
    break;
  }
  t.bos_ = t.special_.value("bos_token", "");
  t.eos_ = t.special_.value("eos_token", "");
  t.pad_ = t.special_.value("pad_token", "");
  t.tmpl_ = compile(t.source_, what);
  if (!tool_source.empty()) t.tool_tmpl_ = compile(tool_source, cfg_path + " chat_template[tool_use]");
  return t;
}

ChatTemplate ChatTemplate::from_string(const std::string& source, const std::string& bos_token,
                                       const std::string& eos_token, const std::string& what) {
  ChatTemplate t;
  t.source_ = source;
  t.bos_ = bos_token;
  t.eos_ = eos_token;
  if (!bos_token.empty()) t.special_["bos_token"] = bos_token;
  if (!eos_token.empty()) t.special_["eos_token"] = eos_token;
  t.tmpl_ = compile(source, what);
  return t;
}

template <typename J>
std::string ChatTemplate::render_impl(const J& messages, const J& tools, bool add_generation_prompt,
                                      const J& extra) const {
  if (!messages.is_array()) throw Error("chat template: \"messages\" must be a list");
  if (!tools.is_null() && !tools.is_array()) throw Error("chat template: \"tools\" must be a list or null");
  if (!extra.is_null() && !extra.is_object()) throw Error("chat template: chat_template_kwargs must be an object");
  J ctx = J::object();
  for (auto it = special_.begin(); it != special_.end(); ++it) ctx[it.key()] = it.value();
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      const std::string& k = it.key();
      if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
        throw_error("chat template: chat_template_kwargs may not set \"", k, "\" (it is a parameter of its own)");
      ctx[k] = it.value();
    }
  }
  ctx["messages"] = messages;
  ctx["tools"] = tools;
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  const jinja::Template& t = (!tools.is_null() && tool_tmpl_) ? *tool_tmpl_ : *tmpl_;
  return t.render(ctx);
}

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                                 const nlohmann::json& extra) const {
  return render_impl(messages, tools, add_generation_prompt, extra);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt, const nlohmann::ordered_json& extra) const {
  return render_impl(messages, tools, add_generation_prompt, extra);
}

}  // namespace zaya
