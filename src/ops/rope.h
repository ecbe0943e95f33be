// Partial rotate-half RoPE (spec §3.6): for each head of d channels only the first `rot` rotate, in
// pairs (j, j + rot/2): x'_j = x_j cos φ − x_{j+rot/2} sin φ, x'_{j+rot/2} = x_{j+rot/2} cos φ + x_j sin φ,
// φ = pos · θ^(−2j/rot), computed in fp32 like the reference (inv_freq from rope_inv_freq, host).
// x: T rows of stride ld holding `heads` heads of d channels; pos[t] = absolute position of row t.
// rope_backward rotates a gradient in place by −φ (the transpose of the rotation).
// Backends: src/ops/cpu/rope.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>
#include <vector>

namespace zaya::ops {
std::vector<float> rope_inv_freq(double theta, int rot);  // rot/2 inverse frequencies (host)
}
namespace zaya::ops::ref {
template <typename S>
void rope_forward(S* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot, const float* inv_freq);
template <typename S>
void rope_backward(S* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot, const float* inv_freq);
}  // namespace zaya::ops::ref
