// Causal GQA attention of n new queries of one sequence over its key/value cache (spec §3.7).
// q: n rows of stride ldq, nq heads × d (post-norm, post-RoPE). kc, vc: S cached rows of nk·d
// (keys post-RoPE), the last n of which belong to the new queries; query t sits at position
// S − n + t. Query head i uses kv head i / (nq/nk). window W > 0 limits keys to t − W < j ≤ t.
// out: n rows of stride ldo, nq·d. Softmax in fp32/fp64, scale 1/√d.
// attention_backward ADDS dq (stride ldq), dk, dv (S rows of nk·d), recomputing the probabilities
// from q and k (nothing stored by the forward).
// CPU: src/ops/cpu/attention.cpp. Tests: tests/test_ops.cpp, tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
template <typename S>
void attention_forward(S* out, int64_t ldo, const S* q, int64_t ldq, const S* kc, const S* vc, int64_t n, int64_t Sk,
                       int nq, int nk, int d, int window);
template <typename S>
void attention_backward(S* dq, S* dk, S* dv, const S* dout, int64_t ldo, const S* q, int64_t ldq, const S* kc,
                        const S* vc, int64_t n, int64_t Sk, int nq, int nk, int d, int window);
}  // namespace zaya::ops
