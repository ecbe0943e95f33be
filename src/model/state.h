// Per-sequence decode state (spec §3.9), in the backend's memory: for every attention layer the
// compressed KV cache (post-norm, post-temperature, post-RoPE keys and values, nk·d each per token, in
// the backend's KV dtype: fp32 on cpu-f32, bf16 on cpu-bf16), the conv state (the last
// K = (t0-1)+(t1-1) raw q̃‖k̃ rows, oldest first) and the delayed-value state (Wv2·y of the previous
// token). The router carries nothing across time. Caches grow by doubling before a forward call,
// never inside an op.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "ops/backend.h"

namespace zaya {

struct LayerState {
  DeviceBuffer k, v;   // [capacity, nk·d]
  DeviceBuffer conv;   // [K, C] fp32
  DeviceBuffer vdel;   // [nk·d/2] fp32
};

class SeqState {
 public:
  SeqState() = default;
  SeqState(const ModelConfig& c, Backend& be, int64_t reserve_tokens = 0);
  SeqState(SeqState&&) = default;
  SeqState& operator=(SeqState&&) = default;

  int64_t pos = 0;  // tokens consumed so far = position of the next token
  std::vector<LayerState> layers;

  // Room for `n` more tokens in every layer's cache (amortized doubling).
  void ensure(int64_t n);
  int64_t capacity() const { return cap_; }
  // Bytes held by the caches and states (for reporting): KV rows in use plus conv and value states.
  size_t bytes() const;
  size_t kv_bytes_per_token() const { return size_t(layers.size()) * 2 * size_t(kvw_) * dtype_size(kv_dtype_); }

 private:
  Backend* be_ = nullptr;
  int64_t cap_ = 0, kvw_ = 0;
  DType kv_dtype_ = DType::F32;
};

}  // namespace zaya
