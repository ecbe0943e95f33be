// The "rsa" request extension of /v1/completions and /v1/chat/completions (docs/serving.md "RSA";
// docs/rsa.md): Markovian RSA (infer/rsa.h) over the server's engine. Every call of a round is
// submitted at once and runs in concurrent slots; the client's connection is watched throughout,
// so a client that leaves cancels the whole run. The answer is the final text; usage sums all calls.
#include <algorithm>

#include "infer/rsa.h"
#include "serve/server_impl.h"

namespace zaya::serve {

namespace {
struct ClientGone {};
}  // namespace

json run_rsa_request(Core& core, ServedModel& m, const std::string& problem, const json& rsa_cfg,
                     const httplib::Request& req) {
  RsaConfig cfg;
  try {
    cfg = RsaConfig::from_json(rsa_cfg);
  } catch (const Error& e) {
    api::bad_request("rsa", e.what());
  }
  ConnWatch watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port, &core.stopping);
  Engine& engine = *m.engine;
  const Tokenizer& tok = *m.tok;
  auto encode = [&](const std::string& user_text) {
    if (!m.chat) return tok.encode(user_text, true);
    json msgs = json::array({{{"role", "user"}, {"content", user_text}}});
    std::string text;
    try {
      text = m.chat->render(msgs, nullptr, true);
    } catch (const Error& e) {
      throw api::ApiError(400, "invalid_request_error", std::string("rsa: the chat template failed: ") + e.what(), "rsa");
    }
    return tok.encode(text, false);
  };
  // The calls of the last batch, to report whether the chosen text finished with a stop.
  std::vector<RsaOutput> last_batch;
  const size_t window =
      size_t(std::max<int64_t>(1, std::min<int64_t>(engine.options().max_queue, 4 * int64_t(engine.options().slots))));

  RsaBackend backend = [&](const std::vector<RsaCall>& calls) {
    std::vector<RsaOutput> outs(calls.size());
    for (size_t start = 0; start < calls.size(); start += window) {
      const size_t end = std::min(calls.size(), start + window);
      std::vector<Choice> choices;
      struct Guard {
        std::vector<Choice>& cs;
        Core& core;
        ~Guard() { retire(cs, *core.reaper, core.recorder()); }
      } guard{choices, core};
      for (size_t i = start; i < end; ++i) {
        const RsaCall& c = calls[i];
        PromptPlan plan;
        plan.ids = encode(c.prompt_text);
        const int64_t P = int64_t(plan.ids.size());
        if (P + 1 > engine.ctx())
          throw api::ApiError(400, "invalid_request_error",
                              "rsa: call " + std::to_string(i) + " of the round has a prompt of " + std::to_string(P) +
                                  " tokens, which leaves no room in the model's context of " +
                                  std::to_string(engine.ctx()) + " tokens (lower tau or k)",
                              "rsa");
        api::Sampling s;
        s.temperature = c.temperature < 1e-5f ? 0.0f : c.temperature;
        s.top_p = c.top_p;
        s.top_k = c.top_k;
        s.seed = int64_t(c.seed);
        s.skip_special_tokens = false;  // keep </think> in the traces, whatever kind of token it is
        std::vector<Choice> one =
            submit_choices(m, {plan}, s, std::min<int64_t>(c.max_tokens, engine.ctx() - P), false, 0, false, false);
        choices.push_back(std::move(one[0]));
      }
      std::string err = drive(choices, watch, [](Choice&, const std::string&, bool) { return true; });
      if (err == "client") throw ClientGone{};
      if (!err.empty()) throw api::ApiError(500, "server_error", "rsa: " + err);
      for (size_t k = 0; k < choices.size(); ++k) {
        RsaOutput& o = outs[start + k];
        o.text = choices[k].out;
        o.prompt_tokens = choices[k].prompt_tokens;
        o.completion_tokens = choices[k].text->tokens();
        o.finished = choices[k].finish == "stop";
      }
    }
    last_batch = outs;
    return outs;
  };

  RsaResult res;
  try {
    res = run_rsa(cfg, problem, tok, backend);
  } catch (const ClientGone&) {
    return nullptr;
  } catch (const api::ApiError&) {
    throw;
  } catch (const Error& e) {
    throw api::ApiError(400, "invalid_request_error", e.what(), "rsa");
  }
  bool finished = false;
  for (auto& o : last_batch)
    if (o.text == res.final_text) {
      finished = o.finished;
      break;
    }
  return {{"text", res.final_text},
          {"finish_reason", finished ? "stop" : "length"},
          {"usage", usage_json(res.prompt_tokens, res.completion_tokens)},
          {"rsa", res.to_json()}};
}

}  // namespace zaya::serve
