// Learned residual scaling, the "delayed merge" of spec §2.2 (native form), all rows [T, n]:
//   residual_input : r = (e + b) ⊙ s                         the embedding enters the stream
//   residual_merge : out = (h + hb) ⊙ hs + (r + rb) ⊙ rs      sublayer output h merged into r;
//                                                             out may alias r
// Backward ADDS into every gradient; dr receives the gradient of the residual before the merge.
// Backends: src/ops/cpu/residual.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
template <typename S>
void residual_input(S* r, const S* e, const S* s, const S* b, int64_t T, int64_t n);
template <typename S>
void residual_input_backward(S* de, S* ds, S* db, const S* dr, const S* e, const S* s, const S* b, int64_t T,
                             int64_t n);
template <typename S>
void residual_merge(S* out, const S* r, const S* h, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T,
                    int64_t n);
template <typename S>
void residual_merge_backward(S* dh, S* dr, S* dhs, S* dhb, S* drs, S* drb, const S* dout, const S* h, const S* r,
                             const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n);
}  // namespace zaya::ops::ref
