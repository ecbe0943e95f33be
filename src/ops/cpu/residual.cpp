#include "ops/residual.h"

namespace zaya::ops {

template <typename S>
void residual_input(S* r, const S* e, const S* s, const S* b, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) r[t * n + i] = (e[t * n + i] + b[i]) * s[i];
}

template <typename S>
void residual_merge(S* r, const S* h, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t) {
    S* rr = r + t * n;
    const S* hr = h + t * n;
    for (int64_t i = 0; i < n; ++i) rr[i] = (hr[i] + hb[i]) * hs[i] + (rr[i] + rb[i]) * rs[i];
  }
}

template <typename S>
void residual_input_backward(S* de, S* ds, S* db, const S* dr, const S* e, const S* s, const S* b, int64_t T,
                             int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) {
      S g = dr[t * n + i];
      if (de) de[t * n + i] += g * s[i];
      db[i] += g * s[i];
      ds[i] += g * (e[t * n + i] + b[i]);
    }
}

template <typename S>
void residual_merge_backward(S* dh, S* dr_in, S* dhs, S* dhb, S* drs, S* drb, const S* dr_out, const S* h,
                             const S* r_in, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) {
      int64_t k = t * n + i;
      S g = dr_out[k];
      dh[k] += g * hs[i];
      dhb[i] += g * hs[i];
      dhs[i] += g * (h[k] + hb[i]);
      dr_in[k] += g * rs[i];
      drb[i] += g * rs[i];
      drs[i] += g * (r_in[k] + rb[i]);
    }
}

#define ZAYA_INSTANTIATE(S)                                                                                      \
  template void residual_input<S>(S*, const S*, const S*, const S*, int64_t, int64_t);                          \
  template void residual_merge<S>(S*, const S*, const S*, const S*, const S*, const S*, int64_t, int64_t);      \
  template void residual_input_backward<S>(S*, S*, S*, const S*, const S*, const S*, const S*, int64_t, int64_t); \
  template void residual_merge_backward<S>(S*, S*, S*, S*, S*, S*, const S*, const S*, const S*, const S*,       \
                                           const S*, const S*, const S*, int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)

}  // namespace zaya::ops
