// Matrix multiplication in the Linear convention (documented once, used everywhere):
//   y[T, out] = x[T, in] · Wᵀ (+ bias)      W is [out, in], row-major, like a PyTorch Linear weight.
// x and y are fp32; W may be F32, BF16 or F16 and may point into a memory-mapped checkpoint —
// half-precision weights stay half precision in memory and are widened to fp32 inside the kernel,
// so the arithmetic is fp32 with fp32 accumulation.
// CPU: src/ops/cpu/matmul.cpp (inference kernels), src/ops/cpu/linear.cpp (trainable Linear, embedding).
// Tests: tests/test_ops.cpp, tests/test_backward.cpp. Benchmark: bench/bench_ops.cpp.
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

// Trainable Linear on fp32/fp64 weights W [out, in] (same convention): y = x·Wᵀ (+ b).
// Backward ADDS: dx += dy·W (skipped if dx is null), dW += dyᵀ·x, db += Σ_t dy (if db non-null).
template <typename S>
void linear_forward(S* y, const S* x, const S* W, const S* b, int64_t T, int64_t out, int64_t in);
template <typename S>
void linear_backward(S* dx, S* dW, S* db, const S* dy, const S* x, const S* W, int64_t T, int64_t out, int64_t in);

// Embedding rows: x[t] = E[ids[t]]; backward dE[ids[t]] += dx[t], except for the padding id (no
// gradient through the lookup of the padding row, like torch's padding_idx; -1 = none).
template <typename S>
void embedding_forward(S* x, const S* E, const int32_t* ids, int64_t T, int64_t H);
template <typename S>
void embedding_backward(S* dE, const S* dx, const int32_t* ids, int64_t T, int64_t H, int32_t pad_id);

}  // namespace ops
}  // namespace zaya
