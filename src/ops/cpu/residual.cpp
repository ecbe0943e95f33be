#include "ops/residual.h"

namespace zaya::ops {

void residual_input(float* r, const float* e, const float* s, const float* b, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) r[t * n + i] = (e[t * n + i] + b[i]) * s[i];
}

void residual_merge(float* r, const float* h, const float* hs, const float* hb, const float* rs, const float* rb,
                    int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    float* rr = r + t * n;
    const float* hr = h + t * n;
    for (int64_t i = 0; i < n; ++i) rr[i] = (hr[i] + hb[i]) * hs[i] + (rr[i] + rb[i]) * rs[i];
  }
}

}  // namespace zaya::ops
