// ActArena: the activation (or activation-gradient) buffers of one forward/backward, carved out of one
// device allocation sized once (llm.c style). Every slot has a self-describing name such as
// "pair2.attn.qk_rope", so a run's activations can be listed or dumped for debugging
// (dump(): one safetensors file with every fp32 slot, the debug-state pattern).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ops/backend.h"

namespace zaya {

class ActArena {
 public:
  // Plans a slot of n elements; *out is set by allocate(). Slots are 64-byte aligned.
  template <typename T>
  void plan(const std::string& name, int64_t n, T** out) {
    slots_.push_back({name, std::max<int64_t>(n, 0), sizeof(T), std::is_same_v<T, float>,
                      [out](void* p) { *out = static_cast<T*>(p); }});
  }
  // One allocation for every planned slot (replacing any earlier one); pointers are bound.
  void allocate(Backend& be);
  void clear();  // forget the plan (the memory stays until the next allocate)
  size_t bytes() const { return buf_.bytes(); }
  struct SlotInfo {
    std::string name;
    int64_t n;
    size_t elem;
    bool is_float;
    std::function<void(void*)> bind;
    size_t offset = 0;
  };
  const std::vector<SlotInfo>& slots() const { return slots_; }
  const void* find(const std::string& name) const;
  void dump(const std::string& path, Backend& be) const;

 private:
  std::vector<SlotInfo> slots_;
  DeviceBuffer buf_;
};

}  // namespace zaya
