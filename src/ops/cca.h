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
//
// Backward (ADD into every gradient):
// cca_conv_backward — given dout and the forward's inputs (u and the state BEFORE the forward,
//   state0), adds du, dw0 [C,k0], db0, dw1t [k1,C,d], db1. The gradient of state0 is not formed
//   (training starts every sequence/document from the zero state). scratch ≥ 2·(n+k1-1)·C.
// cca_qk_mean_add_backward — du += the part of dqk that flowed through the mean terms.
// cca_qk_normalize_backward — dqk_in += ∂/∂(pre-normalization q,k), dtemp[h] += ∂/∂temp_h;
//   qk_in is the input of the forward.
// CPU: src/ops/cpu/cca.cpp. Tests: tests/test_ops.cpp, tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {

template <typename S>
void cca_conv_forward(S* out, const S* u, int64_t ld, S* state, const S* w0, const S* b0, const S* w1t, const S* b1,
                      int64_t n, int C, int d, int k0, int k1, S* scratch);
template <typename S>
void cca_qk_mean_add(S* qk, const S* u, int64_t ld, int64_t T, int nq, int nk, int d);
template <typename S>
void cca_qk_normalize(S* qk, int64_t ld, const S* temp, int64_t T, int nq, int nk, int d);

template <typename S>
void cca_conv_backward(S* du, S* dw0, S* db0, S* dw1t, S* db1, const S* dout, const S* u, int64_t ld, const S* state0,
                       const S* w0, const S* b0, const S* w1t, int64_t n, int C, int d, int k0, int k1, S* scratch);
template <typename S>
void cca_qk_mean_add_backward(S* du, const S* dqk, int64_t ld, int64_t T, int nq, int nk, int d);
template <typename S>
void cca_qk_normalize_backward(S* dqk_in, S* dtemp, const S* dqk_out, const S* qk_in, int64_t ld, const S* temp,
                               int64_t T, int nq, int nk, int d);

}  // namespace zaya::ops
