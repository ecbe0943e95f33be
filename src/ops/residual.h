// Learned residual scaling, the "delayed merge" of spec §2.2 (native form):
//   residual_input : r = (e + b) ⊙ s                       (embedding enters the stream)
//   residual_merge : r = (h + hb) ⊙ hs + (r + rb) ⊙ rs     (sublayer output h merged into r, in place)
// All rows [T, n]. Backward ADDS into every gradient; dr_in receives the gradient of the residual
// before the merge (r_in is that residual, saved by the caller since the forward is in place).
// CPU: src/ops/cpu/residual.cpp. Tests: tests/test_ops.cpp, tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
template <typename S>
void residual_input(S* r, const S* e, const S* s, const S* b, int64_t T, int64_t n);
template <typename S>
void residual_merge(S* r, const S* h, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n);
template <typename S>
void residual_input_backward(S* de, S* ds, S* db, const S* dr, const S* e, const S* s, const S* b, int64_t T,
                             int64_t n);
template <typename S>
void residual_merge_backward(S* dh, S* dr_in, S* dhs, S* dhb, S* drs, S* drb, const S* dr_out, const S* h,
                             const S* r_in, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n);
}  // namespace zaya::ops
