// Matrix multiplication in the Linear convention (documented once, used everywhere):
//   y[T, out] = x[T, in] · Wᵀ (+ bias)      W is [out, in], row-major, like a PyTorch Linear weight.
// x and y are fp32; W may be F32, BF16 or F16 and may point into a memory-mapped checkpoint —
// half-precision weights stay half precision in memory and are widened to fp32 inside the kernel,
// so the arithmetic is fp32 with fp32 accumulation.
// CPU: src/ops/cpu/matmul.cpp. Test: tests/test_ops.cpp. Benchmark: bench/bench_ops.cpp.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace zaya {

struct Mat {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;  // out features
  int64_t cols = 0;  // in features

  // Pointer to row r (elements of `dtype`).
  const void* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + size_t(r) * size_t(cols) * dtype_size(dtype);
  }
  size_t bytes() const { return size_t(rows) * size_t(cols) * dtype_size(dtype); }
};

namespace ops {

// ldy: row stride of y (0 = W.rows), so results can land in a column slice of a wider buffer.
void matmul_forward(float* y, const float* x, const Mat& W, int64_t T, const float* bias = nullptr, int64_t ldy = 0);

// Row r of W widened to fp32 (embedding lookups, tied LM head rows).
void mat_row_f32(const Mat& W, int64_t r, float* out);

}  // namespace ops
}  // namespace zaya
