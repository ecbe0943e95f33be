// Types the op interface is written in (documented once, used by every op family):
//   Mat       a weight matrix [rows = out, cols = in], row-major, in any storage dtype (F32/BF16/F16);
//             may point into a memory-mapped checkpoint.
//   SeqSlice  one sequence (or one document of a packed training row) inside the T rows of a call,
//             with its decode state in the current layer (null state = training segment).
//   GemmPrec  the input precision of a GEMM: the backend's own (fp32 on cpu-f32, bf16 on cpu-bf16)
//             or fp32 always (the router, spec §7: top-1 routing amplifies small differences).
// Device pointers: every float*/int* an op takes lives in the backend's memory (Backend::alloc);
// on the CPU backends that is host memory. Host-side arguments are marked "host".
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace zaya {

struct Mat {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;  // out features
  int64_t cols = 0;  // in features

  const void* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + size_t(r) * size_t(cols) * dtype_size(dtype);
  }
  size_t bytes() const { return size_t(rows) * size_t(cols) * dtype_size(dtype); }
  const float* f32() const { return static_cast<const float*>(data); }  // only when dtype == F32
};

// One sequence's rows in a forward call and its decode state in one layer (spec §3.9).
struct SeqSlice {
  int64_t row = 0, len = 0;  // rows [row, row + len) of the call's [T, *] activation buffers
  int64_t pos = 0;           // absolute position of the first row = tokens already in its cache
  // Decode state, all null for a training segment (zero initial state, attention inside the rows):
  float* conv = nullptr;      // [K, C] the last K = (k0-1)+(k1-1) raw q̃‖k̃ rows, oldest first; updated
  float* vdel = nullptr;      // [vh] Wv2·y of the token before `row`; updated to the last row's
  void* kcache = nullptr;     // [>= pos + len, nk·d] keys (post-norm, temperature, RoPE), KV dtype
  void* vcache = nullptr;     // [>= pos + len, nk·d] values
};

enum class Precision : uint8_t { F32, BF16 };
enum class GemmPrec : uint8_t { Backend, F32 };

}  // namespace zaya
