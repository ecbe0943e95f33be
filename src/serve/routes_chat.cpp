// POST /v1/chat/completions (docs/serving.md "Chat"): the chat template renders the messages, the
// rendered text is tokenized without adding special tokens again (the template holds bos, as vLLM),
// and the reasoning split (qwen3 parser) fills reasoning_content.
#include "serve/server_impl.h"

namespace zaya::serve {

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

// One entry of chat logprobs: {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}.
json chat_logprob(const Tokenizer& tok, const TokenLogprob& t) {
  std::string s = token_text(tok, t.id);
  json top = json::array();
  for (auto& [id, lp] : t.top) {
    std::string k = token_text(tok, id);
    top.push_back({{"token", k}, {"logprob", clamp_logprob(lp)}, {"bytes", bytes_of(k)}});
  }
  return {{"token", s}, {"logprob", clamp_logprob(t.logprob)}, {"bytes", bytes_of(s)}, {"top_logprobs", std::move(top)}};
}

std::string render_prompt(const ServedModel& m, const api::ChatRequest& r) {
  if (!m.chat)
    throw api::ApiError(400, "invalid_request_error",
                        "this model has no chat template (no chat_template.jinja or tokenizer_config.json "
                        "\"chat_template\" in its directory); use /v1/completions",
                        "messages");
  try {
    return m.chat->render(r.messages, r.tools, r.add_generation_prompt, r.chat_template_kwargs);
  } catch (const api::ApiError&) {
    throw;
  } catch (const Error& e) {
    api::bad_request("messages", std::string("the chat template failed on these messages: ") + e.what());
  }
}

// Whether the rendered prompt already closes its think block (enable_thinking: false renders
// "<think>\n</think>\n\n"): then the whole output is content and the split is skipped, as vLLM does
// when the prompt holds the end of the reasoning (docs/serving-chat.md "The reasoning split").
bool prompt_ends_reasoning(const std::string& prompt) {
  const size_t end = prompt.rfind("</think>"), start = prompt.rfind("<think>");
  return end != std::string::npos && (start == std::string::npos || end > start);
}

}  // namespace

void handle_chat(Core& core, const httplib::Request& req, httplib::Response& res) {
  api::ChatRequest r = api::parse_chat_request(req.body);
  ServedModel& m = core.require_model();
  core.check_model(r.model);
  const Tokenizer& tok = *m.tok;
  const int64_t created = std::time(nullptr);
  const std::string id = new_response_id("chatcmpl-");
  bool reasoning = m.reasoning;  // the server splits reasoning; this request may not (below)

  if (r.s.rsa) {
    const std::string problem = api::content_text(r.messages[0]["content"], "messages[0].content");
    json out = run_rsa_request(core, m, problem, *r.s.rsa, req);
    if (out.is_null()) return client_gone(core, res);
    json msg = {{"role", "assistant"}};
    std::string text = out["text"].get<std::string>();
    if (reasoning) {
      ReasoningSplit sp = split_reasoning(text);
      msg["content"] = sp.content ? json(*sp.content) : json(nullptr);
      msg["reasoning_content"] = sp.reasoning ? json(*sp.reasoning) : json(nullptr);
    } else {
      msg["content"] = text;
    }
    json choice = {{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", out["finish_reason"]}};
    reply_json(res, 200,
               {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", core.model_id},
                {"choices", json::array({choice})}, {"usage", out["usage"]}, {"rsa", out["rsa"]}});
    return;
  }

  PromptPlan plan;
  const std::string rendered = render_prompt(m, r);
  const bool parser = m.reasoning;  // reasoning_content is in every message (null when empty)
  reasoning = parser && !prompt_ends_reasoning(rendered);
  plan.ids = tok.encode(rendered, r.add_special_tokens);
  if (plan.ids.empty()) api::bad_request("messages", "the rendered conversation is empty");
  const int64_t P = int64_t(plan.ids.size());
  // vLLM's default max_tokens for chat: whatever the context leaves (at least 1, so that a full
  // context is reported as too long).
  const int64_t max_tokens = r.s.max_tokens.value_or(std::max<int64_t>(1, m.engine->ctx() - P));
  check_context(*m.engine, P, max_tokens, "messages");
  std::vector<Choice> choices =
      submit_choices(m, {plan}, r.s, max_tokens, r.logprobs, r.top_logprobs, false, reasoning && r.s.stream);

  if (!r.s.stream) {
    struct Guard {
      std::function<void()> f;
      ~Guard() { f(); }
    } guard{[&core, &choices, rec = core.recorder()] { retire(choices, *core.reaper, rec); }};
    ConnWatch watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port, &core.stopping);
    std::string err = drive(choices, watch, [](Choice&, const std::string&, bool) { return true; });
    if (err == "client") return client_gone(core, res);
    if (!err.empty()) throw api::ApiError(500, "server_error", err);
    json out = json::array();
    int64_t completion_total = 0;
    for (auto& c : choices) {
      json msg = {{"role", "assistant"}};
      if (reasoning) {
        ReasoningSplit sp = split_reasoning(c.out);
        msg["content"] = sp.content ? json(*sp.content) : json(nullptr);
        msg["reasoning_content"] = sp.reasoning ? json(*sp.reasoning) : json(nullptr);
      } else {
        msg["content"] = c.out;
        if (parser) msg["reasoning_content"] = nullptr;
      }
      json lp = nullptr;
      if (r.logprobs) {
        json content = json::array();
        for (auto& t : c.logprobs) content.push_back(chat_logprob(tok, t));
        lp = {{"content", std::move(content)}};
      }
      completion_total += c.text->tokens();
      out.push_back({{"index", c.index},
                     {"message", std::move(msg)},
                     {"logprobs", std::move(lp)},
                     {"finish_reason", c.finish},
                     {"stop_reason", c.text->stop_reason()}});
    }
    reply_json(res, 200,
               {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", core.model_id},
                {"choices", std::move(out)}, {"usage", usage_json(P, completion_total)}});
    return;
  }

  // Streaming: per choice a first chunk with the role, content / reasoning_content deltas, and a final
  // chunk with an empty delta and finish_reason; then the usage chunk if asked; then [DONE].
  struct Stream {
    std::vector<Choice> choices;
    std::vector<bool> started;
    ConnWatch watch;
  };
  auto st = std::make_shared<Stream>();
  st->choices = std::move(choices);
  st->started.assign(st->choices.size(), false);
  st->watch = ConnWatch(req.local_addr, req.local_port, req.remote_addr, req.remote_port, &core.stopping);
  const bool want_lp = r.logprobs, include_usage = r.s.include_usage;
  const std::string model_id = core.model_id;
  auto chunk = [id, created, model_id](json choice) {
    return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_id},
                {"choices", json::array({std::move(choice)})}};
  };
  const Core* core_p = &core;
  auto job = [st, chunk, core_p, want_lp, include_usage, P, id, created, model_id,
              &tok](const std::function<bool(const std::string&)>& write) {
    auto on_delta = [&](Choice& c, const std::string& delta, bool final) {
      const size_t k = size_t(&c - st->choices.data());
      if (!st->started[k]) {
        st->started[k] = true;
        json d = {{"role", "assistant"}, {"content", ""}};
        if (!write(sse(chunk({{"index", c.index}, {"delta", d}, {"logprobs", nullptr}, {"finish_reason", nullptr}}))))
          return false;
      }
      auto emit = [&](const ReasoningSplit& sp, const std::string& plain) {
        json d = json::object();
        if (c.reasoning) {
          if (sp.reasoning && !sp.reasoning->empty()) d["reasoning_content"] = *sp.reasoning;
          if (sp.content && !sp.content->empty()) d["content"] = *sp.content;
        } else if (!plain.empty()) {
          d["content"] = plain;
        }
        json lp = nullptr;
        if (want_lp && c.logprobs_sent < c.logprobs.size()) {
          json content = json::array();
          for (; c.logprobs_sent < c.logprobs.size(); ++c.logprobs_sent)
            content.push_back(chat_logprob(tok, c.logprobs[c.logprobs_sent]));
          lp = {{"content", std::move(content)}};
        }
        if (d.empty() && lp.is_null()) return true;
        return write(sse(chunk({{"index", c.index}, {"delta", d}, {"logprobs", lp}, {"finish_reason", nullptr}})));
      };
      if (!final) return emit(c.reasoning ? c.reasoning->push(delta) : ReasoningSplit{}, delta);
      if (c.reasoning && !emit(c.reasoning->finish(), "")) return false;
      return write(sse(chunk({{"index", c.index}, {"delta", json::object()}, {"logprobs", nullptr},
                              {"finish_reason", c.finish}, {"stop_reason", c.text->stop_reason()}})));
    };
    end_stream(*core_p, drive(st->choices, st->watch, on_delta), st->choices, include_usage,
               {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_id}}, P, write);
  };
  stream_response(res, job, [st, &core, rec = core.recorder()] { retire(st->choices, *core.reaper, rec); });
}

}  // namespace zaya::serve
