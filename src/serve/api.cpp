// Request parsing and validation of the OpenAI-compatible API (api.h; docs/serving.md "Parameters").
// Field semantics follow vLLM's OpenAI server (spec interfaces §1 "vLLM's OpenAI server").
#include "serve/api.h"

#include <cmath>
#include <limits>

namespace zaya::api {

using nlohmann::json;

std::string error_type(int status) {
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "unavailable_error";
    default: return "server_error";
  }
}

void bad_request(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_request_error", message, param);
}

json error_json(int status, const std::string& type, const std::string& message, const std::string& param) {
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}};
  if (!param.empty()) e["param"] = param;
  return json{{"error", std::move(e)}};
}

json error_json(const ApiError& e) { return error_json(e.status, e.type, e.what(), e.param); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a number";
    default: return "an integer";
  }
}

[[noreturn]] void wrong_type(const std::string& name, const json& v, const char* want) {
  bad_request(name, "'" + name + "' must be " + want + ", not " + type_name(v));
}

// Integers: JSON integers or integral floats (pydantic's lax mode), range-checked before any cast.
int64_t as_int(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  auto out_of_range = [&]() {
    bad_request(name, "'" + name + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > uint64_t(hi)) out_of_range();
    int64_t x = int64_t(u);
    if (x < lo) out_of_range();
    return x;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) out_of_range();
    return x;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) wrong_type(name, v, "an integer");
    // Compare as doubles first: any double outside [lo, hi] must not reach the cast (UB).
    if (d < double(lo) || d > double(hi)) out_of_range();
    int64_t x = d >= 9.2e18 ? std::numeric_limits<int64_t>::max() : int64_t(d);
    if (x < lo || x > hi) out_of_range();
    return x;
  }
  wrong_type(name, v, "an integer");
}

double as_number(const json& v, const std::string& name, double lo, double hi) {
  if (!v.is_number()) wrong_type(name, v, "a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    bad_request(name, "'" + name + "' must be a number in [" + json(lo).dump() + ", " + json(hi).dump() + "]");
  return d;
}

bool as_bool(const json& v, const std::string& name) {
  if (!v.is_boolean()) wrong_type(name, v, "a boolean");
  return v.get<bool>();
}

std::string as_string(const json& v, const std::string& name) {
  if (!v.is_string()) wrong_type(name, v, "a string");
  return v.get<std::string>();
}

// The field if present and not null.
const json* field(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}

std::vector<int32_t> as_ids(const json& v, const std::string& name, bool allow_empty) {
  if (!v.is_array()) wrong_type(name, v, "a list of token ids");
  if (v.empty() && !allow_empty) bad_request(name, "'" + name + "' must not be empty");
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    ids.push_back(int32_t(as_int(v[i], name + "[" + std::to_string(i) + "]", 0, std::numeric_limits<int32_t>::max())));
  return ids;
}

// Depth of nesting, strings skipped (nlohmann's dump and the template walk values recursively).
void check_depth(std::string_view s) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        bad_request("", "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// Fields the engine cannot honour: accepted at their neutral value, refused otherwise (never ignored).
void check_unsupported(const json& o) {
  for (const char* k : {"presence_penalty", "frequency_penalty"})
    if (const json* v = field(o, k); v && as_number(*v, k, -2.0, 2.0) != 0.0)
      bad_request(k, std::string("'") + k + "' other than 0 is not supported by this server");
  if (const json* v = field(o, "repetition_penalty"); v && as_number(*v, "repetition_penalty", 0.0, 1e9) != 1.0)
    bad_request("repetition_penalty", "'repetition_penalty' other than 1 is not supported by this server");
  if (const json* v = field(o, "min_p"); v && as_number(*v, "min_p", 0.0, 1.0) != 0.0)
    bad_request("min_p", "'min_p' other than 0 is not supported by this server");
  if (const json* v = field(o, "logit_bias")) {
    if (!v->is_object()) wrong_type("logit_bias", *v, "an object");
    if (!v->empty()) bad_request("logit_bias", "'logit_bias' is not supported by this server");
  }
  if (const json* v = field(o, "response_format")) {
    if (!v->is_object()) wrong_type("response_format", *v, "an object");
    const json* t = field(*v, "type");
    if (t && as_string(*t, "response_format.type") != "text")
      bad_request("response_format", "only response_format {\"type\": \"text\"} is supported by this server");
  }
  if (const json* v = field(o, "continue_final_message"); v && as_bool(*v, "continue_final_message"))
    bad_request("continue_final_message", "'continue_final_message' is not supported by this server");
}

Sampling parse_sampling(const json& o, bool chat) {
  Sampling s;
  check_unsupported(o);
  const char* mt = "max_tokens";
  const json* m = field(o, "max_tokens");
  if (chat && !m) {
    m = field(o, "max_completion_tokens");
    mt = "max_completion_tokens";
  }
  if (m) s.max_tokens = as_int(*m, mt, 0, kMaxTokensLimit);
  if (const json* v = field(o, "temperature")) {
    double t = as_number(*v, "temperature", 0.0, 100.0);
    s.temperature = t < 1e-5 ? 0.0f : float(t);
  }
  if (const json* v = field(o, "top_p")) {
    double p = as_number(*v, "top_p", 0.0, 1.0);
    if (p <= 0) bad_request("top_p", "'top_p' must be in (0, 1]");
    s.top_p = float(p);
  }
  if (const json* v = field(o, "top_k")) {
    int64_t k = as_int(*v, "top_k", -1, std::numeric_limits<int32_t>::max());
    s.top_k = k <= 0 ? 0 : int(k);
  }
  if (const json* v = field(o, "seed"))
    s.seed = as_int(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (const json* v = field(o, "n")) s.n = int(as_int(*v, "n", 1, kMaxN));
  if (const json* v = field(o, "best_of"); v && as_int(*v, "best_of", 1, kMaxN) != s.n)
    bad_request("best_of", "'best_of' other than n is not supported by this server");
  if (const json* v = field(o, "stop")) {
    auto add = [&](const json& x, const std::string& name) {
      std::string st = as_string(x, name);
      if (st.empty()) bad_request(name, "stop strings must not be empty");
      s.stop.push_back(std::move(st));
    };
    if (v->is_string()) {
      add(*v, "stop");
    } else if (v->is_array()) {
      if (v->size() > size_t(kMaxStops))
        bad_request("stop", "at most " + std::to_string(kMaxStops) + " stop strings are allowed");
      for (size_t i = 0; i < v->size(); ++i) add((*v)[i], "stop[" + std::to_string(i) + "]");
    } else {
      wrong_type("stop", *v, "a string or a list of strings");
    }
  }
  if (const json* v = field(o, "stop_token_ids")) {
    if (v->is_array() && v->size() > size_t(kMaxStopTokenIds))
      bad_request("stop_token_ids", "at most " + std::to_string(kMaxStopTokenIds) + " stop token ids are allowed");
    s.stop_token_ids = as_ids(*v, "stop_token_ids", true);
  }
  if (const json* v = field(o, "ignore_eos")) s.ignore_eos = as_bool(*v, "ignore_eos");
  if (const json* v = field(o, "min_tokens")) {
    s.min_tokens = as_int(*v, "min_tokens", 0, kMaxTokensLimit);
    if (s.max_tokens && s.min_tokens > *s.max_tokens)
      bad_request("min_tokens", "min_tokens must be less than or equal to max_tokens=" + std::to_string(*s.max_tokens) +
                                    ", got " + std::to_string(s.min_tokens) + ".");
  }
  if (const json* v = field(o, "skip_special_tokens")) s.skip_special_tokens = as_bool(*v, "skip_special_tokens");
  if (const json* v = field(o, "stream")) s.stream = as_bool(*v, "stream");
  if (const json* v = field(o, "stream_options")) {
    if (!v->is_object()) wrong_type("stream_options", *v, "an object");
    if (const json* u = field(*v, "include_usage")) s.include_usage = as_bool(*u, "stream_options.include_usage");
    if (!s.stream) bad_request("stream_options", "'stream_options' is only allowed when 'stream' is true");
  }
  if (const json* v = field(o, "rsa")) {
    if (!v->is_object()) wrong_type("rsa", *v, "an object");
    if (s.stream) bad_request("rsa", "'rsa' cannot be combined with 'stream': true");
    if (s.n != 1) bad_request("rsa", "'rsa' returns one answer: 'n' must be 1 (the population is rsa.n)");
    s.rsa = *v;
  }
  return s;
}

std::optional<std::string> parse_model(const json& o) {
  if (const json* v = field(o, "model")) return as_string(*v, "model");
  return std::nullopt;
}

json parse_messages(const json& o, const char* name) {
  const json* v = field(o, name);
  if (!v) bad_request(name, std::string("'") + name + "' is required");
  if (!v->is_array()) wrong_type(name, *v, "a list of messages");
  if (v->empty()) bad_request(name, std::string("'") + name + "' must not be empty");
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string p = std::string(name) + "[" + std::to_string(i) + "]";
    const json& m = (*v)[i];
    if (!m.is_object()) wrong_type(p, m, "an object");
    const json* role = field(m, "role");
    if (!role) bad_request(p + ".role", "'" + p + ".role' is required");
    std::string r = as_string(*role, p + ".role");
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer")
      bad_request(p + ".role", "'" + p + ".role' must be system, developer, user, assistant or tool, not '" + r + "'");
    auto c = m.find("content");
    if (c != m.end()) content_text(*c, p + ".content");
    else if (r != "assistant") bad_request(p + ".content", "'" + p + ".content' is required");
    if (const json* tc = field(m, "tool_calls"); tc && !tc->is_array()) wrong_type(p + ".tool_calls", *tc, "a list");
    if (const json* rc = field(m, "reasoning_content")) as_string(*rc, p + ".reasoning_content");
  }
  return *v;
}

json parse_tools(const json& o) {
  const json* v = field(o, "tools");
  if (!v) return nullptr;
  if (!v->is_array()) wrong_type("tools", *v, "a list");
  for (size_t i = 0; i < v->size(); ++i)
    if (!(*v)[i].is_object()) wrong_type("tools[" + std::to_string(i) + "]", (*v)[i], "an object");
  return *v;
}

json parse_template_kwargs(const json& o) {
  const json* v = field(o, "chat_template_kwargs");
  if (!v) return json::object();
  if (!v->is_object()) wrong_type("chat_template_kwargs", *v, "an object");
  return *v;
}

}  // namespace

std::string content_text(const json& content, const std::string& param) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) wrong_type(param, content, "a string or a list of content parts");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    const json& part = content[i];
    if (!part.is_object()) wrong_type(p, part, "an object");
    const json* t = field(part, "type");
    if (!t) bad_request(p + ".type", "'" + p + ".type' is required");
    std::string type = as_string(*t, p + ".type");
    if (type != "text") bad_request(p + ".type", "content parts of type '" + type + "' are not supported (text only)");
    const json* tx = field(part, "text");
    if (!tx) bad_request(p + ".text", "'" + p + ".text' is required");
    out += as_string(*tx, p + ".text");
  }
  return out;
}

json parse_body(std::string_view body) {
  check_depth(body);
  json j;
  try {
    j = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {
    bad_request("", std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad_request("", std::string("the request body must be a JSON object, not ") + type_name(j));
  return j;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json o = parse_body(body);
  CompletionRequest r;
  r.model = parse_model(o);
  const json* p = field(o, "prompt");
  if (!p) bad_request("prompt", "'prompt' is required");
  auto text = [](std::string t) {
    Prompt x;
    x.text = std::move(t);
    return x;
  };
  auto ids = [](std::vector<int32_t> v) {
    Prompt x;
    x.is_text = false;
    x.ids = std::move(v);
    return x;
  };
  if (p->is_string()) {
    r.prompts.push_back(text(p->get<std::string>()));
  } else if (p->is_array()) {
    if (p->empty()) bad_request("prompt", "'prompt' must not be empty");
    const json& first = (*p)[0];
    if (first.is_string()) {
      for (size_t i = 0; i < p->size(); ++i) r.prompts.push_back(text(as_string((*p)[i], "prompt[" + std::to_string(i) + "]")));
    } else if (first.is_array()) {
      for (size_t i = 0; i < p->size(); ++i) r.prompts.push_back(ids(as_ids((*p)[i], "prompt[" + std::to_string(i) + "]", false)));
    } else if (first.is_number()) {
      r.prompts.push_back(ids(as_ids(*p, "prompt", false)));
    } else {
      wrong_type("prompt[0]", first, "a string, a token id or a list of token ids");
    }
  } else {
    wrong_type("prompt", *p, "a string, a list of strings, a list of token ids or a list of such lists");
  }
  r.s = parse_sampling(o, false);
  if (int64_t(r.prompts.size()) * r.s.n > kMaxChoices)
    bad_request("n", "prompts × n must be at most " + std::to_string(kMaxChoices));
  if (const json* v = field(o, "logprobs")) r.logprobs = int(as_int(*v, "logprobs", 0, kMaxLogprobs));
  if (const json* v = field(o, "echo")) r.echo = as_bool(*v, "echo");
  if (const json* v = field(o, "add_special_tokens")) r.add_special_tokens = as_bool(*v, "add_special_tokens");
  if (const json* v = field(o, "suffix"); v && !(v->is_string() && v->get<std::string>().empty()))
    bad_request("suffix", "'suffix' is not supported by this server");
  if (r.s.rsa && r.prompts.size() != 1) bad_request("rsa", "'rsa' needs exactly one prompt");
  if (r.s.rsa && !r.prompts[0].is_text) bad_request("rsa", "'rsa' needs a text prompt");
  return r;
}

ChatRequest parse_chat_request(std::string_view body) {
  const json o = parse_body(body);
  ChatRequest r;
  r.model = parse_model(o);
  r.messages = parse_messages(o, "messages");
  r.tools = parse_tools(o);
  if (const json* v = field(o, "tool_choice")) {
    if (!v->is_string()) bad_request("tool_choice", "only tool_choice \"auto\" or \"none\" is supported by this server");
    std::string c = v->get<std::string>();
    if (c != "auto" && c != "none")
      bad_request("tool_choice", "only tool_choice \"auto\" or \"none\" is supported by this server, not '" + c + "'");
    if (c == "none") r.tools = nullptr;
  }
  if (const json* v = field(o, "add_generation_prompt")) r.add_generation_prompt = as_bool(*v, "add_generation_prompt");
  if (const json* v = field(o, "add_special_tokens")) r.add_special_tokens = as_bool(*v, "add_special_tokens");
  r.chat_template_kwargs = parse_template_kwargs(o);
  r.s = parse_sampling(o, true);
  if (const json* v = field(o, "logprobs")) r.logprobs = as_bool(*v, "logprobs");
  if (const json* v = field(o, "top_logprobs")) {
    r.top_logprobs = int(as_int(*v, "top_logprobs", 0, kMaxLogprobs));
    if (r.top_logprobs > 0 && !r.logprobs) bad_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  }
  if (r.s.rsa) {
    const json& last = r.messages.back();
    if (r.messages.size() != 1 || last.value("role", "") != "user")
      bad_request("rsa", "'rsa' needs exactly one user message (the problem)");
  }
  return r;
}

TokenizeRequest parse_tokenize_request(std::string_view body) {
  const json o = parse_body(body);
  TokenizeRequest r;
  r.model = parse_model(o);
  if (field(o, "messages")) {
    r.is_chat = true;
    r.messages = parse_messages(o, "messages");
    r.tools = parse_tools(o);
    r.add_special_tokens = false;
    if (const json* v = field(o, "add_generation_prompt")) r.add_generation_prompt = as_bool(*v, "add_generation_prompt");
    r.chat_template_kwargs = parse_template_kwargs(o);
  } else {
    const json* p = field(o, "prompt");
    if (!p) bad_request("prompt", "'prompt' (or 'messages') is required");
    r.prompt = as_string(*p, "prompt");
  }
  if (const json* v = field(o, "add_special_tokens")) r.add_special_tokens = as_bool(*v, "add_special_tokens");
  if (const json* v = field(o, "return_token_strs")) r.return_token_strs = as_bool(*v, "return_token_strs");
  return r;
}

DetokenizeRequest parse_detokenize_request(std::string_view body) {
  const json o = parse_body(body);
  DetokenizeRequest r;
  r.model = parse_model(o);
  const json* t = field(o, "tokens");
  if (!t) bad_request("tokens", "'tokens' is required");
  r.tokens = as_ids(*t, "tokens", true);
  return r;
}

}  // namespace zaya::api
