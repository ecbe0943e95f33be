// Learned residual scaling on the CPU and its reference kernels (ops/residual.h).
#include "ops/cpu/cpu_backend.h"
#include "ops/residual.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void residual_input(S* r, const S* e, const S* s, const S* b, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) r[t * n + i] = (e[t * n + i] + b[i]) * s[i];
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
void residual_merge(S* out, const S* r, const S* h, const S* hs, const S* hb, const S* rs, const S* rb, int64_t T,
                    int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = t * n + i;
      out[k] = (h[k] + hb[i]) * hs[i] + (r[k] + rb[i]) * rs[i];
    }
}

template <typename S>
void residual_merge_backward(S* dh, S* dr, S* dhs, S* dhb, S* drs, S* drb, const S* dout, const S* h, const S* r,
                             const S* hs, const S* hb, const S* rs, const S* rb, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = t * n + i;
      const S g = dout[k];
      dh[k] += g * hs[i];
      dhb[i] += g * hs[i];
      dhs[i] += g * (h[k] + hb[i]);
      dr[k] += g * rs[i];
      drb[i] += g * rs[i];
      drs[i] += g * (r[k] + rb[i]);
    }
}

#define ZAYA_INSTANTIATE(S)                                                                                       \
  template void residual_input<S>(S*, const S*, const S*, const S*, int64_t, int64_t);                           \
  template void residual_input_backward<S>(S*, S*, S*, const S*, const S*, const S*, const S*, int64_t, int64_t); \
  template void residual_merge<S>(S*, const S*, const S*, const S*, const S*, const S*, const S*, int64_t,        \
                                  int64_t);                                                                       \
  template void residual_merge_backward<S>(S*, S*, S*, S*, S*, S*, const S*, const S*, const S*, const S*,        \
                                           const S*, const S*, const S*, int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

void CpuBackend::residual_input(float* r, const float* e, const float* s, const float* b, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("residual_input");
#pragma omp parallel for schedule(static) if (T * n > 65536)
  for (int64_t t = 0; t < T; ++t) ref::residual_input(r + t * n, e + t * n, s, b, 1, n);
}

void CpuBackend::residual_input_backward(float* de, float* ds, float* db, const float* dr, const float* e,
                                         const float* s, const float* b, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("residual_input_backward");
  const float* acc = reduce_rows(T, 2 * n, [&](int64_t t0, int64_t t1, float* p) {
    ref::residual_input_backward(de ? de + t0 * n : nullptr, p, p + n, dr + t0 * n, e + t0 * n, s, b, t1 - t0, n);
  });
  for (int64_t i = 0; i < n; ++i) {
    ds[i] += acc[i];
    db[i] += acc[n + i];
  }
}

void CpuBackend::residual_merge(float* out, const float* r, const float* h, const float* hs, const float* hb,
                                const float* rs, const float* rb, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("residual_merge");
#pragma omp parallel for schedule(static) if (T * n > 65536)
  for (int64_t t = 0; t < T; ++t) ref::residual_merge(out + t * n, r + t * n, h + t * n, hs, hb, rs, rb, 1, n);
}

void CpuBackend::residual_merge_backward(float* dh, float* dr, float* dhs, float* dhb, float* drs, float* drb,
                                         const float* dout, const float* h, const float* r, const float* hs,
                                         const float* hb, const float* rs, const float* rb, int64_t T, int64_t n) {
  ZAYA_OP_SCOPE("residual_merge_backward");
  const float* acc = reduce_rows(T, 4 * n, [&](int64_t t0, int64_t t1, float* p) {
    const int64_t o = t0 * n;
    ref::residual_merge_backward(dh + o, dr + o, p, p + n, p + 2 * n, p + 3 * n, dout + o, h + o, r + o, hs, hb, rs,
                                 rb, t1 - t0, n);
  });
  for (int64_t i = 0; i < n; ++i) {
    dhs[i] += acc[i];
    dhb[i] += acc[n + i];
    drs[i] += acc[2 * n + i];
    drb[i] += acc[3 * n + i];
  }
}

}  // namespace ops::cpu
}  // namespace zaya
