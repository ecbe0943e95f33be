// The CCA sequence ops around attention (spec §3.4, §3.7, §3.9), over the SeqSlices of a call.
//
// value_shift — values [T, 2·vh] = [Wv1·y_t | Wv2·y_{t-1}]: row t's second half is the previous
//   row's delayed projection, or the sequence's vdel state at its first row (zeros when null);
//   vdel becomes the last row's delayed projection. vcd rows hold [Wv1·y_t | Wv2·y_t] (ld = 2·vh).
// value_shift_backward — ADDS dvcd (both halves) from dv (training segments).
// kv_append — writes each sequence's new keys (rows of k, stride ldk) and values (rows of v) into
//   its caches at rows [pos, pos + len), converting to the backend's KV dtype.
// attention_forward — causal GQA attention, scale 1/√d, softmax in fp32: query row t of a sequence
//   at position p = pos + (t − row) attends keys j ≤ p (and j > p − W for a window W > 0); query head i
//   uses kv head i / (nq/nk). Keys/values are the sequence's caches (rows 0 .. pos+len−1, after
//   kv_append) or, for a training segment, its own rows of k and v. Optionally writes the row
//   log-sum-exp lse[t, i] (natural log, of the scaled scores), which the backward uses.
// attention_backward — ADDS dq (stride lddq), dk (stride lddk), dv (stride lddv) of a training
//   segment, from dout, the forward's q, k, v, out and stats.
// Backends: src/ops/cpu/attention.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
// One sequence: n queries over Sk keys (the last n keys belong to the queries), naive, no lse.
template <typename S>
void attention_forward(S* out, int64_t ldo, const S* q, int64_t ldq, const S* k, int64_t ldk, const S* v,
                       int64_t ldv, int64_t n, int64_t Sk, int nq, int nk, int d, int window);
template <typename S>
void attention_backward(S* dq, int64_t lddq, S* dk, int64_t lddk, S* dv, int64_t lddv, const S* dout, int64_t ldo,
                        const S* q, int64_t ldq, const S* k, int64_t ldk, const S* v, int64_t ldv, int64_t n, int nq,
                        int nk, int d, int window);
}  // namespace zaya::ops::ref
