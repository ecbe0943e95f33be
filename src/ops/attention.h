// Causal GQA attention of n new queries of one sequence over its key/value cache (spec §3.7).
// q: n rows of stride ldq, nq heads × d (post-norm, post-RoPE). kc, vc: S cached rows of nk·d
// (keys post-RoPE), the last n of which belong to the new queries; query t sits at position
// S − n + t. Query head i uses kv head i / (nq/nk). window W > 0 limits keys to t − W < j ≤ t.
// out: n rows of stride ldo, nq·d. Softmax in fp32, scale 1/√d.
// CPU: src/ops/cpu/attention.cpp. Test: tests/test_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* kc, const float* vc,
                       int64_t n, int64_t S, int nq, int nk, int d, int window);
}
