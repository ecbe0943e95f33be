// Pointwise activations and row softmax.
//   gelu_forward   : exact erf GELU, in place (router MLP, spec §4.1)
//   swiglu_forward : out[T, I] = SiLU(gu[:, :I]) ⊙ gu[:, I:]   (gu = [gate; up] rows, spec §5)
//   softmax_forward: row-wise softmax over n, in place, with max subtraction
// Backward functions ADD into their input gradient, given the forward input (gelu, swiglu) or the
// forward output y (softmax).
// CPU: src/ops/cpu/activation.cpp. Tests: tests/test_ops.cpp, tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
template <typename S>
void gelu_forward(S* x, int64_t n);
template <typename S>
void gelu_backward(S* dx, const S* dy, const S* x, int64_t n);
template <typename S>
void swiglu_forward(S* out, const S* gu, int64_t T, int64_t I);
template <typename S>
void swiglu_backward(S* dgu, const S* dout, const S* gu, int64_t T, int64_t I);
template <typename S>
void softmax_forward(S* x, int64_t T, int64_t n);
template <typename S>
void softmax_backward(S* dx, const S* dy, const S* y, int64_t T, int64_t n);
}  // namespace zaya::ops
