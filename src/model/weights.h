// The parameters of a ZAYA1 model as the layers see them, and the ONE tensor-name table of both
// checkpoint layouts (legacy list layout of ZAYA1-base/ZAYA1-8B-legacy, spec §6.1; native upstream
// layout, spec §6.2; mapping §6.3). The table drives loading, saving, shape checks, initialization
// and parameter counts, so the two layouts cannot drift apart. Layout transforms happen once, here:
// legacy per-expert matrices are viewed (inference) or stacked (training) as one expert set, and a
// legacy `clamp_temp` temperature becomes the linear key temperature exp(clip(t, 1e-7, 2)).
//
// Two storages of the same views:
//   bind_checkpoint   inference: matrices stay in the mapped checkpoint in their dtype (bf16 stays
//                     bf16); vectors are fp32 copies; no gradients.
//   ParamStore        training: every tensor of the native layout in one fp32 arena, gradients in a
//                     second arena with the same layout (llm.c style).
#pragma once
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "ops/backend.h"

namespace zaya {

// One parameter tensor: values (a matrix [rows = out, cols = in]; vectors are [n, 1]) and, when
// training, its fp32 gradient of the same element count.
struct Param {
  Mat m;
  float* g = nullptr;
  const float* f() const { return m.f32(); }  // fp32 values (vectors always; matrices in training)
  bool present() const { return m.data != nullptr; }
};

// The E routed experts of one MoE layer: one [out, in] matrix each (slices of the stacked native
// tensor [E, out, in], or the legacy per-expert tensors); gradients stacked [E, out, in].
struct Experts {
  std::vector<Mat> w;
  float* g = nullptr;
};

struct AttnParams {
  Param norm;                          // input_layernorm [H]
  Param q, k, v_cur, v_del, o;         // [nq·d,H] [nk·d,H] [vh,H] [vh,H] [H,nq·d]
  Param conv0_w, conv0_b;              // [C, 1, k0], [C]
  Param conv1_w, conv1_b;              // [C, d, k1], [C]
  Param temp;                          // [nk] linear key temperature
  // Derived views, one GEMM each: [q; k] as [C, H] (writes u = [q̃ | k̃] directly) and [v_cur; v_del]
  // as [kv, H] (writes vcd). Training lays the pairs out adjacently in its arenas (values and
  // gradients); inference views adjacent tensors or keeps one concatenated copy.
  Param qk, vcd;
};
struct ResScale {                      // (h + hb) ⊙ hs + (r + rb) ⊙ rs
  Param hs, hb, rs, rb;
};
struct MoEParams {
  Param norm;                          // post_attention_layernorm [H]
  Param down, down_b;                  // router down-projection [Dr, H], [Dr]
  Param eda;                           // router_states_scale [Dr]; absent in the first MoE layer / without EDA
  Param rnorm;                         // router RMSNorm [Dr]
  Param fc1, fc1_b, fc2, fc2_b, out;   // [Dr,Dr] [Dr] [Dr,Dr] [Dr] [slots,Dr]
  Param beta;                          // balancing biases [slots], selection only (a buffer: no gradient)
  Experts gate_up, down_e;             // E × [2I, H] (rows [gate; up]), E × [H, I]
};
struct PairParams {
  AttnParams attn;
  ResScale post_attn;
  MoEParams moe;
  ResScale post_mlp;
};
struct ModelParams {
  Param embed;                         // [V, H]
  Param in_scale, in_bias;             // [H] the embedding's residual input
  std::vector<PairParams> pairs;
  Param final_norm;                    // [H]
  Param lm_head;                       // [V, H]; the embedding (and its gradient) when tied
};

using WholeTensors = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

// One entry of the name table.
struct TensorDef {
  std::string native, legacy;  // names in each layout (experts: the native stacked name; legacy per expert)
  std::vector<int64_t> shape;  // native shape
  Param* p = nullptr;          // exactly one of p / ex
  Experts* ex = nullptr;
  int pair = -1;               // experts: the pair, and whether these are the fc1 (gate_up) matrices
  bool fc1 = false;
  bool trainable = true;       // false for the balancing-bias buffers
  int64_t numel() const;
};
std::vector<TensorDef> tensor_table(const ModelConfig& cfg, ModelParams& p);

// Names and shapes of every tensor of a checkpoint in the given layout (writers, counts, tests).
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<TensorSpec> checkpoint_tensor_specs(const ModelConfig& cfg, CheckpointLayout layout);
// The legacy name of each native tensor with a one-to-one counterpart (spec §6.3); the stacked expert
// tensors are absent (legacy_expert_name gives the per-expert names).
std::vector<std::pair<std::string, std::string>> native_to_legacy_names(const ModelConfig& cfg);
std::string legacy_expert_name(int pair, int expert, bool fc1);

// Inference storage: views into `ck` (kept alive by the caller) bound into `p`; `owned` keeps the
// converted copies. matrix_dtype BF16 converts fp32 matrices to bf16 once (the bf16 backend's
// storage); F32 keeps every matrix as stored.
struct OwnedTensors {
  std::vector<DeviceBuffer> bufs;
};
void bind_checkpoint(const ModelConfig& cfg, const Checkpoint& ck, Backend& be, DType matrix_dtype, ModelParams& p,
                     OwnedTensors& owned);

// Training storage: fp32 values and gradients of every native tensor.
struct TrainTensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, numel = 0;  // into the arenas (floats)
  bool trainable = true;
};
class ParamStore {
 public:
  ParamStore(const ModelConfig& cfg, Backend& be, ModelParams& p);
  const std::vector<TrainTensor>& tensors() const { return tensors_; }
  float* values() const { return w_.as<float>(); }
  float* grads() const { return g_.as<float>(); }
  int64_t size() const { return size_; }  // floats per arena
  const TrainTensor* find(const std::string& name) const;
  // Reads every tensor of either layout (checked by name and shape, any float dtype); the checkpoint's
  // own names decide its layout. Afterwards the model is native (linear temperature).
  void load(const Checkpoint& ck, ModelConfig& cfg);
  // Native layout, fp32, plus config.json.
  // whole: tensors written with these shapes and values instead of the store's (expert parallelism: the
  // experts gathered from every rank of the group, so the file holds whole tensors).
  void save(const std::string& dir, const ModelConfig& cfg, const WholeTensors* whole = nullptr) const;

 private:
  Backend& be_;
  std::vector<TrainTensor> tensors_;
  std::vector<TensorDef> defs_;
  DeviceBuffer w_, g_;
  int64_t size_ = 0;
};

}  // namespace zaya
