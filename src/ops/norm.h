// RMSNorm (spec §2.3): y = w ⊙ x · rsqrt(mean(x²) + eps), statistics in fp32, no bias, no 1+w offset.
// Rows of width n; T rows. In-place allowed (y == x).
// CPU: src/ops/cpu/norm.cpp. Test: tests/test_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
void rmsnorm_forward(float* y, const float* x, const float* w, int64_t T, int64_t n, float eps);
}
