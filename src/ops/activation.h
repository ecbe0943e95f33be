// Pointwise activations and the row softmax.
//   gelu_forward    y = x·Φ(x), exact erf GELU (router MLP, spec §4.1); y may alias x
//   swiglu_forward  out[T, I] = SiLU(gu[:, :I]) ⊙ gu[:, I:]   (gu rows = [gate | up], spec §5)
//   softmax_forward y = softmax(x) per row of n, max subtracted (router, spec §4.1); y may alias x
// Backward functions ADD into their input gradient, given the forward input (gelu, swiglu) or the
// forward output y (softmax).
// Backends: src/ops/cpu/activation.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
template <typename S>
void gelu_forward(S* y, const S* x, int64_t n);
template <typename S>
void gelu_backward(S* dx, const S* dy, const S* x, int64_t n);
template <typename S>
void swiglu_forward(S* out, const S* gu, int64_t T, int64_t I);
template <typename S>
void swiglu_backward(S* dgu, const S* dout, const S* gu, int64_t T, int64_t I);
template <typename S>
void softmax_forward(S* y, const S* x, int64_t T, int64_t n);
template <typename S>
void softmax_backward(S* dx, const S* dy, const S* y, int64_t T, int64_t n);
}  // namespace zaya::ops::ref
