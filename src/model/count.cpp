#include "model/count.h"

#include "model/weights.h"

namespace zaya {

ParamCount count_params(const ModelConfig& c) {
  ParamCount pc;
  for (auto& t : checkpoint_tensor_specs(c, CheckpointLayout::Native)) {
    if (t.name.find("balancing_biases") != std::string::npos) continue;
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    pc.total += n;
  }
  pc.tensors_native = int64_t(checkpoint_tensor_specs(c, CheckpointLayout::Native).size());
  pc.tensors_legacy = int64_t(checkpoint_tensor_specs(c, CheckpointLayout::Legacy).size());
  pc.embedding = c.vocab_size * c.hidden * (c.tie_embeddings ? 1 : 2);
  const int64_t expert = 3 * c.hidden * c.expert_inter;
  pc.active = pc.total - pc.embedding - int64_t(c.n_pairs) * (c.n_experts - 1) * expert;
  pc.kv_values_per_token = int64_t(c.n_pairs) * 2 * c.nk * c.head_dim;
  pc.kv_bytes_per_token_bf16 = pc.kv_values_per_token * 2;
  pc.kv_bytes_per_token_f32 = pc.kv_values_per_token * 4;
  return pc;
}

}  // namespace zaya
