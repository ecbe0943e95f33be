// Per-sequence decode state (spec §3.9): for every attention layer the compressed KV cache
// (post-norm, post-temperature, post-RoPE keys and values, nk·d each per token), the conv state
// (the last K = (t0-1)+(t1-1) raw q̃‖k̃ vectors, oldest first) and the delayed-value state
// (Wv2·y of the previous token). The router carries nothing across time.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace zaya {

struct LayerState {
  std::vector<float> k, v;  // [S, nk·d], grows by one row per token
  std::vector<float> conv;  // [K, C]
  std::vector<float> vdel;  // [nk·d/2]
};

struct SeqState {
  std::vector<LayerState> layers;
  int64_t pos = 0;  // tokens consumed so far = position of the next token

  SeqState() = default;
  explicit SeqState(const ModelConfig& c, int64_t reserve_tokens = 0) { reset(c, reserve_tokens); }
  void reset(const ModelConfig& c, int64_t reserve_tokens = 0) {
    layers.assign(size_t(c.n_pairs), LayerState{});
    for (auto& l : layers) {
      l.conv.assign(size_t(c.conv_state_len()) * size_t(c.conv_channels()), 0.0f);
      l.vdel.assign(size_t(c.value_half()), 0.0f);
      l.k.reserve(size_t(reserve_tokens) * size_t(c.nk * c.head_dim));
      l.v.reserve(size_t(reserve_tokens) * size_t(c.nk * c.head_dim));
    }
    pos = 0;
  }
  // Bytes held by the caches (for reporting).
  size_t bytes() const {
    size_t b = 0;
    for (auto& l : layers) b += (l.k.size() + l.v.size() + l.conv.size() + l.vdel.size()) * sizeof(float);
    return b;
  }
};

}  // namespace zaya
