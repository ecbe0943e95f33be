#include "model/state.h"

#include <algorithm>

namespace zaya {

SeqState::SeqState(const ModelConfig& c, Backend& be, int64_t reserve_tokens)
    : be_(&be), kvw_(int64_t(c.nk) * c.head_dim), kv_dtype_(be.kv_dtype()) {
  layers.resize(size_t(c.n_pairs));
  for (auto& l : layers) {
    l.k.bind(be);
    l.v.bind(be);
    l.conv.bind(be);
    l.vdel.bind(be);
    l.conv.resize(size_t(c.conv_state_len()) * size_t(c.conv_channels()) * 4);
    l.vdel.resize(size_t(c.value_half()) * 4);
  }
  ensure(reserve_tokens);
}

void SeqState::ensure(int64_t n) {
  const int64_t need = pos + n;
  if (need <= cap_) return;
  const int64_t cap = std::max<int64_t>({need, 2 * cap_, 16});
  const size_t bytes = size_t(cap) * size_t(kvw_) * dtype_size(kv_dtype_);
  for (auto& l : layers) {
    l.k.resize(bytes);
    l.v.resize(bytes);
  }
  cap_ = cap;
}

size_t SeqState::bytes() const {
  size_t b = size_t(pos) * kv_bytes_per_token();
  for (auto& l : layers) b += l.conv.bytes() + l.vdel.bytes();
  return b;
}

}  // namespace zaya
