// Pointwise activations and row softmax.
//   gelu_forward   : exact erf GELU, in place (router MLP, spec §4.1)
//   swiglu_forward : out[T, I] = SiLU(gu[:, :I]) ⊙ gu[:, I:]   (gu = [gate; up] rows, spec §5)
//   softmax_forward: row-wise softmax over n, in place, fp32 with max subtraction
// CPU: src/ops/cpu/activation.cpp. Test: tests/test_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
void gelu_forward(float* x, int64_t n);
void swiglu_forward(float* out, const float* gu, int64_t T, int64_t I);
void softmax_forward(float* x, int64_t T, int64_t n);
}  // namespace zaya::ops
