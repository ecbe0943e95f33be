// ModelWeights: every parameter of a ZAYA1 model, as views (Mat) into a memory-mapped checkpoint
// for the large matrices — which keep their on-disk dtype (bf16 stays bf16) — and fp32 copies of the
// small vectors (norms, residual scales, biases, conv kernels, temperatures, balancing biases).
// load_weights() reads either checkpoint layout (spec §6.1 legacy, §6.2 native) into this one form.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "ops/matmul.h"

namespace zaya {

using Vec = std::vector<float>;

struct ResidualScale {  // (h + hb) ⊙ hs + (r + rb) ⊙ rs
  Vec hs, hb, rs, rb;
};

struct AttentionWeights {
  Vec input_norm;                 // [H]
  Mat q, k, v_cur, v_del, o;      // [nq·d,H] [nk·d,H] [nk·d/2,H] [nk·d/2,H] [H,nq·d]
  Vec conv0_w, conv0_b;           // [C, k0], [C]
  Vec conv1_wt, conv1_b;          // per tap: [k1, C, d], [C]
  Vec temp;                       // [nk] effective key temperature
};

struct MoEWeights {
  Vec input_norm;                 // [H] (native post_attention_layernorm)
  Mat down;                       // [Dr, H]
  Vec down_b;                     // [Dr]
  Vec eda_scale;                  // [Dr], empty in the first MoE layer or without EDA
  Vec router_norm;                // [Dr]
  Mat fc1, fc2, out;              // [Dr,Dr] [Dr,Dr] [slots,Dr]
  Vec fc1_b, fc2_b;               // [Dr]
  Vec balancing_bias;             // [slots] β, selection only
  std::vector<Mat> gate_up;       // E × [2I, H], rows [gate; up]
  std::vector<Mat> down_e;        // E × [H, I]
};

struct PairWeights {
  AttentionWeights attn;
  ResidualScale post_attn;
  MoEWeights moe;
  ResidualScale post_mlp;
};

struct ModelWeights {
  Mat embed;                      // [V, H]
  Vec in_scale, in_bias;          // [H] residual_input of the embedding
  std::vector<PairWeights> pairs;
  Vec final_norm;                 // [H]
  Mat lm_head;                    // [V, H] (the embedding when tied)
  std::vector<std::unique_ptr<uint8_t[]>> owned;  // copies of tensors that could not be used in place
};

// Loads and validates every tensor for `cfg` from `ckpt`; shapes are checked by name.
ModelWeights load_weights(const ModelConfig& cfg, const Checkpoint& ckpt);

// Names of every tensor of a checkpoint in the given layout with their shapes (the writer and tests).
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<TensorSpec> checkpoint_tensor_specs(const ModelConfig& cfg, CheckpointLayout layout);

// The legacy-layout name of each native tensor that has a one-to-one counterpart (spec §6.3); the
// stacked expert tensors are absent (legacy stores one matrix per expert:
// legacy_expert_name(cfg, pair, expert, /*fc1=*/true) gives its name).
std::vector<std::pair<std::string, std::string>> native_to_legacy_names(const ModelConfig& cfg);
std::string legacy_expert_name(int pair, int expert, bool fc1);

}  // namespace zaya
