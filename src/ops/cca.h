// Compressed Convolutional Attention ops (spec §3.2–§3.5), for the tokens of ONE sequence.
// Channel layout of u (and of the conv output): C = (nq + nk)·d, q heads first, then k heads.
//
// cca_conv_forward — the two causal convolutions over time, applied once to the window
//   x = [state (K rows) ; u (n rows)], K = (k0-1)+(k1-1) (the single left padding of spec §3.2):
//   stage 0 depthwise, kernel k0:  m_i[c] = b0[c] + Σ_a w0[c, a] · x_{i+a}[c]
//   stage 1 grouped (one group = one head of `d` channels), kernel k1:
//                                  o_t[c] = b1[c] + Σ_b Σ_c' w1t[b, c, c'] · m_{t+b}[g(c)·d + c']
//   `w0` is [C, k0] (PyTorch [C,1,k0]); `w1t` is the grouped weight rearranged per tap: [k1, C, d]
//   (w1t[b, c, j] = PyTorch w1[c, j, b]). `state` (K×C, oldest first; zeros for a fresh sequence)
//   is replaced by the last K rows of x. Rows of u and out have stride ld. scratch ≥ (n+k1-1)·C.
// cca_qk_mean_add — q_i += ½(q̃_i + k̃_{g(i)}), k_h += mean over its group of ½(q̃_i + k̃_h).
// cca_qk_normalize — q ← √d·q/max(‖q‖, ε), k ← temp_h·√d·k/max(‖k‖, ε) per head, ε = FLT_EPSILON.
//   `temp` is the effective key temperature (after any legacy clamp_temp transform).
// CPU: src/ops/cpu/cca.cpp. Test: tests/test_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {

void cca_conv_forward(float* out, const float* u, int64_t ld, float* state, const float* w0, const float* b0,
                      const float* w1t, const float* b1, int64_t n, int C, int d, int k0, int k1, float* scratch);
void cca_qk_mean_add(float* qk, const float* u, int64_t ld, int64_t T, int nq, int nk, int d);
void cca_qk_normalize(float* qk, int64_t ld, const float* temp, int64_t T, int nq, int nk, int d);

}  // namespace zaya::ops
