// Embedding lookup and row movement (spec §2.2: the embedding enters the stream unscaled).
//   embedding_forward   x[t] = E[ids[t]]   (E may be bf16: widened)
//   embedding_backward  ADDS dE[ids[t]] += dx[t], except for the padding id (no gradient through
//                       the lookup of the padding row, like torch's padding_idx; -1 = none)
//   gather_rows         dst[i] = src[idx[i]]             (MoE permute, last-token rows)
//   scatter_add_rows    dst[idx[i]] += src[i]            (the gather's backward)
// Backends: src/ops/cpu/embed.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
template <typename S>
void embedding_forward(S* x, const S* E, const int32_t* ids, int64_t T, int64_t H);
template <typename S>
void embedding_backward(S* dE, const S* dx, const int32_t* ids, int64_t T, int64_t H, int32_t pad_id);
template <typename S>
void gather_rows(S* dst, const S* src, const int64_t* idx, int64_t n, int64_t width);
template <typename S>
void scatter_add_rows(S* dst, const S* src, const int64_t* idx, int64_t n, int64_t width);
}  // namespace zaya::ops::ref
