// Learned residual scaling, the "delayed merge" of spec §2.2 (native form):
//   residual_input : r = (e + b) ⊙ s                       (embedding enters the stream)
//   residual_merge : r = (h + hb) ⊙ hs + (r + rb) ⊙ rs     (sublayer output h merged into r)
// All rows [T, n]. CPU: src/ops/cpu/residual.cpp. Test: tests/test_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
void residual_input(float* r, const float* e, const float* s, const float* b, int64_t T, int64_t n);
void residual_merge(float* r, const float* h, const float* hs, const float* hb, const float* rs, const float* rb,
                    int64_t T, int64_t n);
}  // namespace zaya::ops
