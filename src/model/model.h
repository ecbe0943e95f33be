// The ZAYA1 model (spec §2–§5): configuration, parameters and the one forward definition, on a
// backend (src/ops/backend.h). Two ways to hold the parameters, one computation:
//
//   Model::load(dir, be)    inference: the checkpoint's tensors mapped (bf16 stays bf16; on cpu-bf16
//                           fp32 matrices become bf16 once); forward() over decode states.
//   Model::create(cfg, be)  training: fp32 parameter and gradient arenas in the native layout
//                           (init() or load_params()); step() runs the forward saving every pair's
//                           activations, the cross-entropy and the explicit backward (model/train.cpp).
//
// forward() runs a batch of sequences, each contributing n_i new tokens that continue its SeqState
// (prefill, chunked prefill and decode are the same call). Position-wise work runs on all Σn_i rows at
// once; the time-mixing ops run per sequence on its own state, so no padding is needed.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/arena.h"
#include "model/config.h"
#include "model/init.h"
#include "model/layers.h"
#include "model/state.h"
#include "model/weights.h"
#include "ops/backend.h"

namespace zaya {

struct LoadOptions {
  std::optional<SkipMode> skip_mode;      // default: Zero for native, PassThrough for legacy
  std::optional<double> router_norm_eps;  // default: the config's norm epsilon
  bool quiet = false;                     // no load-time notes on stderr
};

struct SeqChunk {
  SeqState* state;
  const int32_t* ids;  // host
  int64_t n;
};

struct ForwardOptions {
  bool all_logits = false;           // logits for every row [Σn, V]; else the last row of each sequence [B, V]
  int32_t* expert_choice = nullptr;  // optional host [Σn, P]: chosen router slot per row and pair
};

// The activation buffers of inference forward calls; grows with the largest call, then stays.
class Workspace {
 public:
  Workspace() = default;

 private:
  friend class Model;
  int64_t capacity = 0, head_rows = 0;
  ActArena arena;
  std::vector<PairActs> acts;  // one per pair, sharing every buffer but the alternating router state
  float *resid = nullptr, *emb = nullptr, *final_rows = nullptr, *logits = nullptr;
  int32_t* ids = nullptr;
  int64_t *pos = nullptr, *last = nullptr;
  SeqBatch sb;
  std::vector<int32_t> ids_host;
  std::vector<int64_t> pos_host, last_host;
};

class Model {
 public:
  static std::unique_ptr<Model> load(const std::string& dir, Backend& be, const LoadOptions& opt = {});
  static std::unique_ptr<Model> create(const ModelConfig& cfg, Backend& be);
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() const { return be_; }
  const ModelParams& params() const { return p_; }
  SeqState new_state(int64_t reserve_tokens = 0) const { return SeqState(cfg_, be_, reserve_tokens); }
  // Human-readable note on the skip slot: reachable in how many MoE layers, which semantics.
  std::string skip_slot_note() const;
  // Reads one byte of every page of every mapped checkpoint tensor (benchmarks). Returns the bytes.
  size_t touch_weights() const;

  // logits: host, [Σn, V] with all_logits, else [B, V].
  void forward(std::span<const SeqChunk> batch, float* logits, Workspace& ws, const ForwardOptions& opt = {}) const;

  // ----- training (Model::create); src/model/train.cpp
  void init(const InitOptions& opt);          // spec §7 initialization
  void load_params(const Checkpoint& ck);     // either layout, any float dtype
  void save(const std::string& dir, const WholeTensors* whole = nullptr) const;  // model.safetensors + config.json
  // Loss of one batch (ids/targets [B, T], host; target -100 = ignored): the mean next-token
  // cross-entropy over the counted targets. With backward, the gradients (zeroed first unless
  // accumulate; grad_scale multiplies this batch's gradient, 1/k to average k micro-batches).
  // doc_starts (optional, one list per sequence, each beginning with 0): document masking — every
  // document of a packed row is its own sequence (fresh CCA state, positions from 0, attention inside).
  double step(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T, bool backward = true,
              const std::vector<std::vector<int32_t>>* doc_starts = nullptr, bool accumulate = false,
              double grad_scale = 1.0);
  // Targets counted by the last step (the denominator of its mean loss).
  int64_t last_target_count() const { return last_count_; }
  // Recomputation (activation checkpointing): keep only each pair's residual input and router state
  // (state, probabilities, choices) during the forward; the backward re-runs each pair first.
  void set_recompute(bool on);
  bool recompute() const { return recompute_; }
  // Logits [B·T, V] of the last step() run with backward = false (host copy).
  std::vector<float> logits() const;
  // Router slot chosen per row and pair in the last step [B·T, P] (balancing statistics).
  const std::vector<int32_t>& choices() const { return choice_; }
  // Router softmax [B·T, E+1] of pair j in the last step (valid until the next step).
  const float* router_probs(int j) const;
  // Context extension: the RoPE base of every full-attention pair (sliding pairs keep theirs).
  void set_rope_theta(double theta);
  const std::vector<TrainTensor>& tensors() const;
  float* param(const std::string& name);
  float* grad(const std::string& name);
  std::vector<float> params_host() const;
  std::vector<float> grads_host() const;
  // The training activations of the last step by name (dump for debugging: ActArena::dump).
  const ActArena& train_arena() const;

 private:
  Model(const ModelConfig& cfg, Backend& be);
  struct Train;  // training buffers (src/model/train.cpp)

  void set_rope_tables();
  // The layer loop: embedding rows → residual stream → every pair. resid[j] is pair j's input
  // (resid[P] the output); acts[j] its activations. Shared by inference and training.
  void run_pairs(SeqBatch& sb, const int32_t* ids, float* emb, float* const* resid, std::vector<PairActs>& acts) const;
  void pair_forward(int j, SeqBatch& sb, const float* r_in, float* r_out, PairActs& a, const float* a_prev) const;
  void head_forward(const float* rows, int64_t n, float* normed, float* logits) const;
  void reserve(Workspace& ws, int64_t T, int64_t head_rows) const;
  void backward(const int32_t* ids, bool accumulate);

  ModelConfig cfg_;
  Backend& be_;
  ModelParams p_;
  std::unique_ptr<Checkpoint> ckpt_;      // inference: the mapped checkpoint
  OwnedTensors owned_;                    // inference: converted copies
  std::unique_ptr<ParamStore> store_;     // training: fp32 arenas
  std::vector<DeviceBuffer> inv_freq_;    // per pair, RoPE inverse frequencies
  std::unique_ptr<Train> train_;
  bool recompute_ = false;
  std::vector<int32_t> choice_;
  int64_t last_count_ = 0;
};

}  // namespace zaya
