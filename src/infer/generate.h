// Batched generation: chunked prefill of several prompts at once, then token-by-token decode of all
// unfinished sequences in one forward call per step; each sequence stops at a stop id or a length.
#pragma once
#include <functional>
#include <vector>

#include "infer/sampler.h"
#include "model/model.h"

namespace zaya {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplerConfig sampler;           // sequence i samples with seed + i
  std::vector<int32_t> stop_ids;   // e.g. the config's eos ids; empty: only the length stops
  int64_t prefill_chunk = 2048;    // tokens per sequence per prefill call (the bound on activation memory)
};

struct GenerateStats {
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Returns the new tokens of each prompt. on_token(i, id) is called for every generated token.
std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt,
                                           const std::function<void(size_t, int32_t)>& on_token = {},
                                           GenerateStats* stats = nullptr);

}  // namespace zaya
