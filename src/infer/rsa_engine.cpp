// RsaBackend over the engine (infer/rsa_engine.h, docs/rsa.md).
#include "infer/rsa_engine.h"

#include <algorithm>

#include "core/error.h"

namespace zaya {

RsaBackend engine_rsa_backend(Engine& engine, const Tokenizer& tok, EngineRsaOptions opt) {
  ZAYA_CHECK(bool(opt.encode_prompt), "rsa: engine backend without a prompt encoder");
  return [&engine, &tok, opt](const std::vector<RsaCall>& calls) {
    std::vector<RequestParams> reqs;
    reqs.reserve(calls.size());
    for (size_t i = 0; i < calls.size(); ++i) {
      const RsaCall& c = calls[i];
      RequestParams p;
      p.prompt = opt.encode_prompt(c.prompt_text);
      const int64_t P = int64_t(p.prompt.size());
      ZAYA_CHECK(P + 1 <= engine.ctx(), "rsa: call ", i, " of the round has a prompt of ", P,
                 " tokens, which leaves no room in the context of ", engine.ctx(),
                 " tokens (lower tau or k, or use a model with a longer context)");
      p.max_tokens = std::min<int64_t>(c.max_tokens, engine.ctx() - P);
      p.sampler.temperature = c.temperature;
      p.sampler.top_p = c.top_p;
      p.sampler.top_k = c.top_k;
      p.sampler.seed = c.seed;
      p.stop_ids = opt.stop_ids;
      reqs.push_back(std::move(p));
    }
    std::vector<Completion> done;
    try {
      done = run_all(engine, std::move(reqs), opt.progress);
    } catch (const EngineRefused& e) {
      throw_error("rsa: the engine refused a call: ", e.what());
    }
    std::vector<RsaOutput> outs(done.size());
    for (size_t i = 0; i < done.size(); ++i) {
      const Completion& c = done[i];
      std::vector<int32_t> ids = c.ids;
      const bool stopped = c.finish == FinishReason::Stop;
      if (stopped && !ids.empty() && std::find(opt.stop_ids.begin(), opt.stop_ids.end(), ids.back()) != opt.stop_ids.end())
        ids.pop_back();
      outs[i].text = tok.decode(ids, false);
      outs[i].prompt_tokens = c.prompt_tokens;
      outs[i].completion_tokens = int64_t(c.ids.size());
      outs[i].finished = stopped;
    }
    return outs;
  };
}

}  // namespace zaya
