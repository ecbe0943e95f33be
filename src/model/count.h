// Parameter and memory accounting of a ZAYA1 configuration (spec §8.2, §3.9).
#pragma once
#include <cstdint>

#include "model/config.h"

namespace zaya {

struct ParamCount {
  int64_t total = 0;          // every parameter (balancing-bias buffers excluded)
  int64_t embedding = 0;      // V·H (tied head counted once)
  int64_t active = 0;         // non-embedding parameters used per token (one expert per MoE layer)
  int64_t tensors_native = 0, tensors_legacy = 0;  // entries of a checkpoint (buffers included)
  int64_t kv_values_per_token = 0;                  // KV cache growth per token, all layers (keys + values)
  int64_t kv_bytes_per_token_bf16 = 0;              // ... in bytes with a bf16 cache (cpu-bf16)
  int64_t kv_bytes_per_token_f32 = 0;               // ... in bytes with an fp32 cache (cpu-f32)
};

ParamCount count_params(const ModelConfig& cfg);

}  // namespace zaya
