// RMSNorm (spec §2.3): y = w ⊙ x · rsqrt(mean(x²) + eps), statistics in fp32 (double sums), no bias,
// no 1+w offset. T rows of width n; y may alias x.
// rmsnorm_backward ADDS into dx and dw, given the forward input x.
// Backends: src/ops/cpu/norm.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
template <typename S>
void rmsnorm_forward(S* y, const S* x, const S* w, int64_t T, int64_t n, float eps);
template <typename S>
void rmsnorm_backward(S* dx, S* dw, const S* dy, const S* x, const S* w, int64_t T, int64_t n, float eps);
}  // namespace zaya::ops::ref
