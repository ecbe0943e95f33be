// The ZAYA1 model on the CPU: configuration + weights + the forward pass (spec §2–§5).
//
// forward() runs a batch of sequences, each contributing n_i new tokens that continue its SeqState
// (prefill, chunked prefill and decode are the same call). Position-wise work (projections, norms,
// router, experts) runs on all Σn_i tokens at once; the time-mixing parts (convolutions, value
// shift, attention) run per sequence on its own state, so no padding is ever needed.
// Model code calls ops (src/ops/*.h) only.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/state.h"
#include "model/weights.h"
#include "model/workspace.h"

namespace zaya {

struct LoadOptions {
  std::optional<SkipMode> skip_mode;        // default: Zero for native, PassThrough for legacy
  std::optional<double> router_norm_eps;    // default: the config's norm epsilon
  bool quiet = false;                       // no load-time notes on stderr
};

struct SeqChunk {
  SeqState* state;
  const int32_t* ids;
  int64_t n;
};

struct ForwardOptions {
  bool all_logits = false;          // logits for every token [Σn, V]; else the last token of each sequence [B, V]
  int32_t* expert_choice = nullptr;  // optional [Σn, P]: chosen router slot per token and pair
};

class Model {
 public:
  // Loads config.json and the safetensors of `dir` (either layout).
  static std::unique_ptr<Model> load(const std::string& dir, const LoadOptions& opt = {});

  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  SeqState new_state(int64_t reserve_tokens = 0) const { return SeqState(cfg_, reserve_tokens); }
  // Human-readable note on the skip slot: reachable in how many MoE layers, which semantics.
  std::string skip_slot_note() const;

  // Reads one byte of every page of every checkpoint tensor, so the whole model is resident
  // (benchmarks, or to pay the page-in cost up front). Returns the bytes covered.
  size_t touch_weights() const;

  void forward(std::span<const SeqChunk> batch, float* logits, Workspace& ws, const ForwardOptions& opt = {}) const;

 private:
  void attention_block(int j, std::span<const SeqChunk> batch, Workspace& ws, int64_t T) const;
  void moe_block(int j, Workspace& ws, int64_t T, bool has_prev, int32_t* choice_out) const;

  ModelConfig cfg_;
  std::unique_ptr<Checkpoint> ckpt_;
  ModelWeights w_;
  std::vector<std::vector<float>> inv_freq_;  // per pair
};

}  // namespace zaya
