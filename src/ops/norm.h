// RMSNorm (spec §2.3): y = w ⊙ x · rsqrt(mean(x²) + eps), statistics in fp32/fp64, no bias, no 1+w offset.
// Rows of width n; T rows. In-place allowed for the forward (y == x).
// Backward ADDS into dx and dw (the caller zeroes gradient buffers), given the forward input x.
// CPU: src/ops/cpu/norm.cpp (float and double). Test: tests/test_ops.cpp, tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
template <typename S>
void rmsnorm_forward(S* y, const S* x, const S* w, int64_t T, int64_t n, float eps);
template <typename S>
void rmsnorm_backward(S* dx, S* dw, const S* dy, const S* x, const S* w, int64_t T, int64_t n, float eps);
}  // namespace zaya::ops
