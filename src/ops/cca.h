// Compressed Convolutional Attention ops (spec §3.2–§3.5). Channel layout of u and of the conv
// output: C = (nq + nk)·d, the q̃ heads first, then the k̃ heads; rows have stride ld.
//
// cca_conv_forward — the two causal convolutions over time of each sequence, applied once to the
//   window x = [state (K rows) ; u (n rows)], K = (k0-1)+(k1-1) (the single left padding of §3.2):
//     stage 0, depthwise, kernel k0:   m_i[c] = b0[c] + Σ_a w0[c, a] · x_{i+a}[c]
//     stage 1, grouped (one group = one head of d channels), kernel k1:
//                                      o_t[c] = b1[c] + Σ_j Σ_b w1[c, j, b] · m_{t+b}[g(c)·d + j]
//   w0 is [C, 1, k0] and w1 is [C, d, k1], the checkpoint layouts (PyTorch Conv1d). Stage 1 is one
//   GEMM per head on im2col rows [m_t[g·d+j], m_{t+1}[...]]: out_g = X_g · W_gᵀ with W_g = w1[g·d:(g+1)·d]
//   seen as [d, d·k1]. A sequence's state (null: zeros) is replaced by the last K rows of x.
// cca_qk_mean_add — q_i += ½(q̃_i + k̃_{g(i)}); k_h += mean over its group of ½(q̃_i + k̃_h)  (§3.3)
// cca_qk_normalize — out = √d·x/max(‖x‖, ε) per head, keys also × temp_h, ε = FLT_EPSILON (§3.5);
//   `temp` is the effective (linear) key temperature; out may alias in.
// Backward (ADDS into every gradient; training segments only, i.e. zero initial conv state):
// cca_conv_backward — given dout and the forward input u: du, dw0 [C,k0], db0, dw1 [C,d,k1], db1.
// cca_qk_mean_add_backward — du += the part of dqk that flowed through the mean terms.
// cca_qk_normalize_backward — dx += ∂/∂x, dtemp[h] += ∂/∂temp_h, given the forward input x.
// Backends: src/ops/cpu/cca.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
// One sequence of n rows; state [K, C] or null (zeros), replaced when non-null.
template <typename S>
void cca_conv_forward(S* out, const S* u, int64_t ld, S* state, const S* w0, const S* b0, const S* w1, const S* b1,
                      int64_t n, int C, int d, int k0, int k1);
template <typename S>
void cca_conv_backward(S* du, S* dw0, S* db0, S* dw1, S* db1, const S* dout, const S* u, int64_t ld, const S* w0,
                       const S* b0, const S* w1, int64_t n, int C, int d, int k0, int k1);
template <typename S>
void cca_qk_mean_add(S* qk, const S* u, int64_t ld, int64_t T, int nq, int nk, int d);
template <typename S>
void cca_qk_mean_add_backward(S* du, const S* dqk, int64_t ld, int64_t T, int nq, int nk, int d);
template <typename S>
void cca_qk_normalize(S* out, const S* in, int64_t ld, const S* temp, int64_t T, int nq, int nk, int d);
template <typename S>
void cca_qk_normalize_backward(S* dx, S* dtemp, const S* dy, const S* x, int64_t ld, const S* temp, int64_t T, int nq,
                               int nk, int d);
}  // namespace zaya::ops::ref
