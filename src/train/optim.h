// Optimizers for training: Muon (Newton–Schulz orthogonalized momentum, Moonlight RMS matching) for the
// matrix-valued weights and AdamW for everything else, global gradient-norm clipping, and the learning-rate
// schedules. Spec: zaya1-system.md §1.3–1.5.
//
// Which optimizer a tensor gets (plan_param; describe_plans prints the table at start):
//   AdamW + weight decay   embedding / LM head (name contains "embed_tokens" or "lm_head"), the depthwise CCA
//                          conv [C, 1, k], and any other tensor no rule below matches (flagged in the table)
//   AdamW, no weight decay every tensor with < 2 dims, and any whose name marks a norm weight, bias, residual
//                          scale, temperature or router_states_scale ("norm", "bias", "scale", "temp")
//   Muon                   2-D Linear weight [out, in]: one matrix; stacked experts [E, out, in]: E matrices
//                          [out, in]; grouped CCA conv [C, d, k]: C/d matrices [d, d·k], one per head
// Muon blocks are contiguous rows x cols pieces of the row-major tensor, orthogonalized independently.
//
// Update rules (t = steps() + 1 during a step; decay applies only where plan.weight_decay):
//   Muon   M ← μM + G;  U = nesterov ? G + μM : M;  O = NS5(U);
//          W ← W·(1 − lr·wd) − lr · muon_rms_scale · √max(rows, cols) · O
//   AdamW  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
//          W ← W·(1 − lr·wd) − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ops/backend.h"

namespace zaya {

// A trainable tensor: fp32 weights and gradient of the same shape, owned elsewhere (model arena).
struct ParamRef {
  std::string name;  // checkpoint tensor name, e.g. "model.layers.0.mlp.experts.gate_up_proj"
  float* w = nullptr;
  float* g = nullptr;
  std::vector<int64_t> shape;
  // Where this tensor sits in the whole one, for checkpoints in global coordinates (expert parallelism:
  // a rank's experts are a slice of the stacked tensor). Empty: the tensor is whole.
  std::vector<int64_t> global_shape;
  int64_t global_offset = 0;
  int64_t numel() const;
};

enum class OptKind { Muon, AdamW };

// How a parameter is optimized. For Muon: n_blocks matrices of rows x cols, contiguous in row-major order.
struct ParamPlan {
  OptKind kind = OptKind::AdamW;
  int64_t n_blocks = 1, rows = 0, cols = 0;
  bool weight_decay = true;
  const char* group = "";  // the rule that matched (a row of describe_plans), static string
};

// Throws zaya::Error (naming the tensor) for a non-positive dimension or an inconsistent grouped conv shape.
ParamPlan plan_param(const ParamRef& p);
// A human-readable table: group, tensor count, elements, optimizer, decay, rule.
std::string describe_plans(const std::vector<ParamRef>& ps);

struct OptimConfig {
  double lr = 3e-4;           // peak LR (AdamW units; Muon shares it through RMS matching)
  double weight_decay = 0.1;  // decoupled: w <- w * (1 - lr * wd) before the update
  double adam_beta1 = 0.9, adam_beta2 = 0.95, adam_eps = 1e-8;
  double muon_momentum = 0.95;
  bool muon_nesterov = true;
  int ns_steps = 5;
  double ns_a = 3.4445, ns_b = -4.7750, ns_c = 2.0315;
  double muon_rms_scale = 0.2;  // update scaled by muon_rms_scale * sqrt(max(rows, cols)) (Moonlight)
};

class Optimizer {
 public:
  // Validates the config and the parameters (non-null distinct buffers, unique names, positive shapes).
  // Newton–Schulz runs as batched GEMMs on `be` (in bf16 on cpu-bf16, as the reference Muon does).
  Optimizer(std::vector<ParamRef> params, OptimConfig cfg, Backend& be = reference_backend());
  // With the plans given (one per parameter) instead of plan_param's: the pieces of tensors that the
  // sharded optimizer (dist_optim.h) hands one owner, e.g. one expert matrix or a flat AdamW slice.
  Optimizer(std::vector<ParamRef> params, std::vector<ParamPlan> plans, OptimConfig cfg, Backend& be);
  // One step at learning rate `lr` (the schedule's value). Reads p.g, leaves it untouched.
  void step(double lr);
  int64_t steps() const { return steps_; }
  const std::vector<ParamRef>& params() const { return params_; }
  const std::vector<ParamPlan>& plans() const { return plans_; }
  const OptimConfig& config() const { return cfg_; }

  // Exact state (moments, momentum, step count) as bytes and back; resume is bit-exact. load_state checks a
  // checksum, the format, and that every tensor name, optimizer kind and size matches this optimizer; on any
  // mismatch it throws zaya::Error naming `what` (the file) and leaves the optimizer unchanged.
  std::string save_state() const;
  void load_state(const std::string& bytes, const std::string& what);
  // The state buffers of parameter i: Muon {momentum}, AdamW {exp_avg, exp_avg_sq}; numel floats each.
  int n_state(size_t i) const { return int(state_[i].size()); }
  float* state(size_t i, int k) { return state_[i][size_t(k)].data(); }
  const float* state(size_t i, int k) const { return state_[i][size_t(k)].data(); }
  void set_steps(int64_t n) { steps_ = n; }

 private:
  void setup(std::vector<ParamPlan> plans);
  struct Block {  // one Muon matrix: parameter index, element offset, shape
    size_t param;
    int64_t offset, rows, cols;
  };
  struct Group {  // Muon blocks of one shape, orthogonalized together as one batch
    int64_t rows, cols;
    std::vector<Block> blocks;
    int64_t staged = 0;  // offset of the batch in stage_
  };
  void adamw_param(size_t i, double lr);

  std::vector<ParamRef> params_;
  std::vector<ParamPlan> plans_;
  OptimConfig cfg_;
  Backend& be_;
  // Per parameter: Muon momentum (state_[i][0]) or AdamW m, v (state_[i][0], state_[i][1]).
  std::vector<std::vector<std::vector<float>>> state_;
  std::vector<Group> groups_;        // largest matrices first
  std::vector<float> stage_, work_;  // the batched update directions; Newton–Schulz work space
  int64_t steps_ = 0;
};

// Newton–Schulz quintic orthogonalization of n matrices rows x cols (contiguous, in place in X):
// X_i = G_i / (‖G_i‖_F + 1e-7); on the wide orientation (X_iᵀ when rows > cols), cfg.ns_steps times:
// A = X Xᵀ, B = b A + c A A, X = a X + B X — every product a batched GEMM on `be` over the n matrices
// (the symmetric ones, A and A A, computed block-triangularly). On a bf16 backend the GEMM inputs and
// the iterates X, A, B are rounded to bf16, as Keller Jordan's reference Muon (bf16 tensors).
// `work` is scratch reused across calls.
void newton_schulz5_batched(Backend& be, float* X, int64_t n, int64_t rows, int64_t cols, const OptimConfig& cfg,
                            std::vector<float>& work);
// One matrix (out may alias G), on the reference backend unless given.
void newton_schulz5(const float* G, int64_t rows, int64_t cols, float* out, const OptimConfig& cfg,
                    std::vector<float>* work = nullptr, Backend& be = reference_backend());

// Global L2 norm of all gradients (double accumulation, deterministic order, on the backend) and in-place clipping: when the
// norm exceeds max_norm, every gradient is multiplied by max_norm / (norm + 1e-6). Returns the norm before
// clipping; a non-finite norm is returned without touching the gradients (the caller should skip the step).
double clip_grad_norm(const std::vector<ParamRef>& ps, double max_norm, Backend& be = reference_backend());

// Learning-rate schedules over 0-based steps [0, total):
//   warmup     step < warmup: peak · (step + 1) / warmup
//   "wsd"      then constant peak; the last D = round(decay_fraction · total) steps decay with
//              t = (step − (total − D) + 1) / D ∈ (0, 1]: "linear" 1 − (1 − min)·t, "1-sqrt" min + (1 − min)(1 − √t)
//   "cosine"   t = (step − warmup + 1) / (total − warmup): min + (1 − min) · (1 + cos πt) / 2
// so the last step (total − 1) runs at min_ratio · peak; later steps stay there.
struct Schedule {
  std::string kind = "wsd";  // "wsd" | "cosine"
  int64_t warmup = 0, total = 1;
  double decay_fraction = 0.2, min_ratio = 0.1;
  std::string decay_shape = "linear";  // "linear" | "1-sqrt" (wsd only)
};
// Throws zaya::Error naming the field on impossible values (unknown kind/shape, warmup > total, negative
// step, fractions outside [0, 1], warmup + decay longer than total, non-finite or negative peak).
double lr_at(const Schedule& s, double peak, int64_t step);
void validate(const Schedule& s);

}  // namespace zaya
