// GEMM family (spec §2–§5 use it everywhere). The Linear convention, documented once:
//   y[T, out] = x[T, in] · Wᵀ (+ bias)     W is [out, in] row-major, exactly a PyTorch Linear weight.
// Activations and gradients are fp32. Weights may be F32/BF16/F16 (a mapped checkpoint stays as is).
// Precision: on cpu-f32 a half-precision weight is widened and the arithmetic is fp32; on cpu-bf16
// both GEMM inputs are rounded to bf16 and the products are accumulated in fp32 (GemmPrec::F32 keeps
// a call in fp32 on every backend).
//
//   linear_forward          y = x·Wᵀ + b; rows of x and y have strides ldx, ldy (column slices).
//   linear_backward         ADDS dx += dy·W (dx may be null), dW += dyᵀ·x (fp32 [out, in], may be
//                           null), db += Σ_t dy (may be null).
//   grouped_linear_forward  experts: rows [off[g], off[g+1]) of x go through Ws[g] (host arrays).
//   grouped_linear_backward ADDS dx and dW (stacked [G, out, in] fp32) per group.
//   gemm_batched            C_i = α·op(A_i)·op(B_i) + β·C_i for i < batch (strided), fp32 storage;
//                           the batched Newton–Schulz of Muon.
// Backends: src/ops/cpu/matmul.cpp (src/ops/cuda/matmul.cu). Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

#include "ops/types.h"

namespace zaya::ops::ref {
// Reference kernels (naive loops, fp32 or fp64), used by the op registry; same conventions.
template <typename S>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda, const S* B,
          int64_t ldb, S beta, S* C, int64_t ldc);
template <typename S>
void linear_forward(S* y, int64_t ldy, const S* x, int64_t ldx, const S* W, const S* b, int64_t T, int64_t out,
                    int64_t in);
template <typename S>
void linear_backward(S* dx, int64_t lddx, S* dW, S* db, const S* dy, int64_t lddy, const S* x, int64_t ldx,
                     const S* W, int64_t T, int64_t out, int64_t in);
}  // namespace zaya::ops::ref
