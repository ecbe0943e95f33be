// POST /v1/completions (docs/serving.md "Completions"): vLLM's shapes for text and token-id prompts,
// lists of prompts with n choices each (index = prompt·n + j), echo, logprobs and streaming.
#include "serve/server_impl.h"

namespace zaya::serve {

namespace {

// The legacy completions logprobs object, built entry by entry (offsets continue across chunks).
struct CompletionLogprobs {
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(),
       text_offset = json::array();
  int64_t offset = 0;
  void add(const Tokenizer& tok, const TokenLogprob& t, bool first_prompt_token) {
    std::string s = token_text(tok, t.id);
    tokens.push_back(s);
    text_offset.push_back(offset);
    offset += utf8_length(s);
    if (first_prompt_token) {  // no context: null logprob and null alternatives (vLLM)
      token_logprobs.push_back(nullptr);
      top_logprobs.push_back(nullptr);
      return;
    }
    token_logprobs.push_back(clamp_logprob(t.logprob));
    json top = json::object();  // the alternatives, and the chosen token itself (vLLM adds it)
    for (auto& [id, lp] : t.top) {
      std::string k = token_text(tok, id);
      if (!top.contains(k)) top[k] = clamp_logprob(lp);
    }
    if (!top.contains(s)) top[s] = clamp_logprob(t.logprob);
    top_logprobs.push_back(std::move(top));
  }
  json take() {
    json j = {{"tokens", std::move(tokens)},
              {"token_logprobs", std::move(token_logprobs)},
              {"top_logprobs", std::move(top_logprobs)},
              {"text_offset", std::move(text_offset)}};
    tokens = token_logprobs = top_logprobs = text_offset = json::array();
    return j;
  }
};

}  // namespace

void handle_completions(Core& core, const httplib::Request& req, httplib::Response& res) {
  api::CompletionRequest r = api::parse_completion_request(req.body);
  ServedModel& m = core.require_model();
  core.check_model(r.model);
  const Tokenizer& tok = *m.tok;
  const int64_t created = std::time(nullptr);

  if (r.s.rsa) {
    json out = run_rsa_request(core, m, r.prompts[0].text, *r.s.rsa, req);
    if (out.is_null()) return client_gone(core, res);
    json choice = {{"index", 0}, {"text", out["text"]}, {"logprobs", nullptr}, {"finish_reason", out["finish_reason"]}};
    reply_json(res, 200,
               {{"id", new_response_id("cmpl-")}, {"object", "text_completion"}, {"created", created},
                {"model", core.model_id}, {"choices", json::array({choice})}, {"usage", out["usage"]},
                {"rsa", out["rsa"]}});
    return;
  }

  std::vector<PromptPlan> plans;
  int64_t prompt_total = 0;
  const int64_t max_tokens = r.s.max_tokens.value_or(16);
  for (auto& p : r.prompts) {
    PromptPlan pl;
    pl.ids = p.is_text ? tok.encode(p.text, r.add_special_tokens) : p.ids;
    if (pl.ids.empty()) api::bad_request("prompt", "the prompt is empty after tokenization");
    pl.text = p.is_text ? p.text : tok.decode(pl.ids, false);
    check_context(*m.engine, int64_t(pl.ids.size()), max_tokens, "prompt");
    prompt_total += int64_t(pl.ids.size());
    plans.push_back(std::move(pl));
  }
  const bool want_lp = r.logprobs >= 0;
  std::vector<Choice> choices = submit_choices(m, plans, r.s, max_tokens, want_lp, std::max(0, r.logprobs),
                                               r.echo && want_lp, false);
  auto cleanup = [&core, &choices, rec = core.recorder()] { retire(choices, *core.reaper, rec); };
  const int n = r.s.n;
  const std::string id = new_response_id("cmpl-");

  if (!r.s.stream) {
    struct Guard {
      std::function<void()> f;
      ~Guard() { f(); }
    } guard{cleanup};
    ConnWatch watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port, &core.stopping);
    std::string err = drive(choices, watch, [](Choice&, const std::string&, bool) { return true; });
    if (err == "client") return client_gone(core, res);
    if (!err.empty()) throw api::ApiError(500, "server_error", err);
    json out = json::array();
    int64_t completion_total = 0;
    for (auto& c : choices) {
      const PromptPlan& pl = plans[size_t(c.index / n)];
      json lp = nullptr;
      if (want_lp) {
        CompletionLogprobs b;
        if (r.echo)
          for (size_t k = 0; k < c.prompt_logprobs.size(); ++k) b.add(tok, c.prompt_logprobs[k], k == 0);
        for (auto& t : c.logprobs) b.add(tok, t, false);
        lp = b.take();
      }
      completion_total += c.text->tokens();
      out.push_back({{"index", c.index},
                     {"text", (r.echo ? pl.text : std::string()) + c.out},
                     {"logprobs", std::move(lp)},
                     {"finish_reason", c.finish},
                     {"stop_reason", c.text->stop_reason()}});
    }
    reply_json(res, 200,
               {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", core.model_id},
                {"choices", std::move(out)}, {"usage", usage_json(prompt_total, completion_total)}});
    return;
  }

  // Streaming: one chunk per piece of new text; each choice ends with its own chunk carrying
  // finish_reason and empty text; then the usage chunk (stream_options.include_usage); then [DONE].
  struct Stream {
    std::vector<Choice> choices;
    std::vector<PromptPlan> plans;
    std::vector<CompletionLogprobs> lps;
    std::vector<bool> started;
    ConnWatch watch;
  };
  auto st = std::make_shared<Stream>();
  st->choices = std::move(choices);
  st->plans = std::move(plans);
  st->lps.resize(st->choices.size());
  st->started.assign(st->choices.size(), false);
  st->watch = ConnWatch(req.local_addr, req.local_port, req.remote_addr, req.remote_port, &core.stopping);
  const bool echo = r.echo, include_usage = r.s.include_usage;
  const std::string model_id = core.model_id;
  auto chunk = [id, created, model_id](json choice) {
    return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model_id},
                {"choices", json::array({std::move(choice)})}};
  };
  const Core* core_p = &core;
  auto job = [st, chunk, core_p, echo, include_usage, want_lp, n, prompt_total, id, created, model_id,
              &tok](const std::function<bool(const std::string&)>& write) {
    auto on_delta = [&](Choice& c, const std::string& delta, bool final) {
      const size_t k = size_t(&c - st->choices.data());
      CompletionLogprobs& b = st->lps[k];
      std::string text = delta;
      bool first = !st->started[k];
      if (first) {
        st->started[k] = true;
        if (echo) {
          text = st->plans[size_t(c.index / n)].text + text;
          for (size_t i = 0; i < c.prompt_logprobs.size(); ++i) b.add(tok, c.prompt_logprobs[i], i == 0);
        }
      }
      const bool new_lp = want_lp && c.logprobs_sent < c.logprobs.size();
      if (want_lp)
        for (; c.logprobs_sent < c.logprobs.size(); ++c.logprobs_sent) b.add(tok, c.logprobs[c.logprobs_sent], false);
      if (!text.empty() || new_lp || (first && echo && want_lp)) {
        json lp = want_lp ? b.take() : json(nullptr);
        if (!write(sse(chunk({{"index", c.index}, {"text", text}, {"logprobs", lp}, {"finish_reason", nullptr}}))))
          return false;
      }
      if (final)
        return write(sse(chunk({{"index", c.index}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", c.finish},
                                {"stop_reason", c.text->stop_reason()}})));
      return true;
    };
    end_stream(*core_p, drive(st->choices, st->watch, on_delta), st->choices, include_usage,
               {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model_id}}, prompt_total, write);
  };
  stream_response(res, job, [st, &core, rec = core.recorder()] { retire(st->choices, *core.reaper, rec); });
}

}  // namespace zaya::serve
