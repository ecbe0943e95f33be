// TrainModel: a ZAYA1 model for training on the CPU in fp32 — parameters and gradients in two
// arenas with the native checkpoint layout (one tensor per native name), activations saved by an
// explicit forward, and an explicit backward per layer written against the op layer (no autograd).
//
// A batch is B sequences of T tokens, each starting from the zero CCA state at position 0.
// forward_backward() returns the mean cross-entropy of the targets (−100 = ignored) and fills the
// gradient arena. Router: top-1 on p + β with the unbiased weight; β gets no gradient; tokens whose
// top-1 is the skip slot follow the config's SkipMode (Zero: no output and no gradient, as upstream).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/init.h"

namespace zaya {

struct TrainTensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, numel = 0;  // into the arenas
  bool trainable = true;          // false for the balancing-bias buffers
};

class TrainModel {
 public:
  explicit TrainModel(const ModelConfig& cfg);
  ~TrainModel();
  TrainModel(const TrainModel&) = delete;
  TrainModel& operator=(const TrainModel&) = delete;

  void init(const InitOptions& opt);                 // spec §7 initialization
  void load(const Checkpoint& ck);                   // native-layout checkpoint, any float dtype
  void save(const std::string& dir) const;           // model.safetensors (fp32, native) + config.json

  // Loss of one batch (ids/targets [B, T]) and, if `backward`, the gradients (zeroed first).
  // doc_starts (optional, one list per sequence, each beginning with 0): document masking — every
  // document of a packed sequence is its own sequence for the time-mixing parts (fresh CCA conv and
  // value-shift state, positions from 0, attention only inside the document).
  // Gradient accumulation: with accumulate the gradients are added to the arena instead of replacing
  // it; grad_scale multiplies this batch's gradient (1/k to average k micro-batches).
  double step(const int32_t* ids, const int32_t* targets, int64_t B, int64_t T, bool backward = true,
              const std::vector<std::vector<int32_t>>* doc_starts = nullptr, bool accumulate = false,
              double grad_scale = 1.0);
  // Recomputation (activation checkpointing): keep only each pair's residual input and router state
  // during the forward; the backward re-runs each pair's forward before differentiating it.
  void set_recompute(bool on) { recompute_ = on; }
  // Logits [B·T, V] of the last step() run with backward = false (backward overwrites them).
  const std::vector<float>& logits() const { return logits_; }
  // Router slot chosen per token and pair in the last step [B·T, P] (for balancing statistics).
  const std::vector<int32_t>& choices() const { return choice_; }
  // Router softmax [B·T, E+1] of pair j in the last step.
  const float* router_probs(int j) const;

  const ModelConfig& config() const { return cfg_; }
  // Context extension: the RoPE base of every full-attention pair (sliding pairs keep theirs).
  void set_rope_theta(double theta) {
    for (auto& p : cfg_.pairs)
      if (p.window == 0) p.rope_theta = theta;
  }
  const std::vector<TrainTensor>& tensors() const { return tensors_; }
  float* param(const std::string& name);
  float* grad(const std::string& name);
  std::vector<float>& params() { return w_; }
  std::vector<float>& grads() { return g_; }

 private:
  friend struct TrainImpl;  // src/train/train_impl.h: views, saved activations, forward, backward
  void forward(const int32_t* ids, int64_t B, int64_t T, const std::vector<std::vector<int32_t>>* doc_starts);
  void forward_pair(int j, std::vector<float>& r);
  void backward(const int32_t* ids, int64_t B, int64_t T, bool accumulate);

  ModelConfig cfg_;
  std::vector<TrainTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<float> w_, g_;
  std::vector<int32_t> choice_;
  bool recompute_ = false;
  std::vector<float> logits_;
  std::unique_ptr<struct TrainActs> acts_;
};

}  // namespace zaya
