#include "infer/generate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace zaya {

std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt,
                                           const std::function<void(size_t, int32_t)>& on_token,
                                           GenerateStats* stats) {
  using clock = std::chrono::steady_clock;
  const size_t B = prompts.size();
  const int64_t V = model.config().vocab_size;
  std::vector<SeqState> states;
  std::vector<Sampler> samplers;
  const int64_t max_pos = model.config().max_position_embeddings;
  for (size_t i = 0; i < B; ++i) {
    ZAYA_CHECK(!prompts[i].empty(), "generate: prompt ", i, " is empty");
    const int64_t want = int64_t(prompts[i].size()) + std::max<int64_t>(opt.max_new_tokens, 0);
    ZAYA_CHECK(max_pos <= 0 || want <= max_pos, "generate: prompt ", i, " has ", prompts[i].size(),
               " tokens; with ", opt.max_new_tokens, " new tokens that is ", want,
               ", more than the model's max_position_embeddings (", max_pos, ")");
    states.push_back(model.new_state(int64_t(prompts[i].size()) + opt.max_new_tokens));
    SamplerConfig sc = opt.sampler;
    sc.seed += i;
    samplers.emplace_back(sc);
  }
  std::vector<std::vector<int32_t>> out(B);
  std::vector<int32_t> last(B, -1);
  std::vector<bool> done(B, opt.max_new_tokens <= 0);
  std::vector<float> logits;
  Workspace ws;
  GenerateStats st;
  auto emit = [&](size_t i, const float* lg) {
    int32_t id = samplers[i].sample(lg, V);
    out[i].push_back(id);
    last[i] = id;
    if (on_token) on_token(i, id);
    if (int64_t(out[i].size()) >= opt.max_new_tokens ||
        std::find(opt.stop_ids.begin(), opt.stop_ids.end(), id) != opt.stop_ids.end())
      done[i] = true;
  };

  // Prefill in rounds: every prompt advances by up to prefill_chunk tokens per forward call.
  auto t0 = clock::now();
  std::vector<size_t> consumed(B, 0);
  for (;;) {
    std::vector<SeqChunk> batch;
    std::vector<size_t> who;
    for (size_t i = 0; i < B; ++i) {
      size_t left = prompts[i].size() - consumed[i];
      if (left == 0) continue;
      int64_t n = std::min<int64_t>(int64_t(left), std::max<int64_t>(1, opt.prefill_chunk));
      batch.push_back({&states[i], prompts[i].data() + consumed[i], n});
      who.push_back(i);
    }
    if (batch.empty()) break;
    logits.resize(batch.size() * size_t(V));
    model.forward(batch, logits.data(), ws);
    for (size_t b = 0; b < batch.size(); ++b) {
      size_t i = who[b];
      consumed[i] += size_t(batch[b].n);
      st.prefill_tokens += batch[b].n;
      if (consumed[i] == prompts[i].size() && !done[i]) emit(i, logits.data() + b * size_t(V));
    }
  }
  auto t1 = clock::now();
  st.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();

  // Decode: one token for every unfinished sequence per call.
  for (;;) {
    std::vector<SeqChunk> batch;
    std::vector<size_t> who;
    for (size_t i = 0; i < B; ++i)
      if (!done[i]) {
        batch.push_back({&states[i], &last[i], 1});
        who.push_back(i);
      }
    if (batch.empty()) break;
    logits.resize(batch.size() * size_t(V));
    model.forward(batch, logits.data(), ws);
    st.decode_tokens += int64_t(batch.size());
    for (size_t b = 0; b < batch.size(); ++b) emit(who[b], logits.data() + b * size_t(V));
  }
  st.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  if (stats) *stats = st;
  return out;
}

}  // namespace zaya
