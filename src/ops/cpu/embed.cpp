// Embedding lookup and row gather/scatter on the CPU, and their reference kernels (ops/embed.h).
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"
#include "ops/embed.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void embedding_forward(S* x, const S* E, const int32_t* ids, int64_t T, int64_t H) {
  for (int64_t t = 0; t < T; ++t) std::memcpy(x + t * H, E + int64_t(ids[t]) * H, sizeof(S) * size_t(H));
}
template <typename S>
void embedding_backward(S* dE, const S* dx, const int32_t* ids, int64_t T, int64_t H, int32_t pad_id) {
  for (int64_t t = 0; t < T; ++t) {
    if (ids[t] == pad_id) continue;
    for (int64_t i = 0; i < H; ++i) dE[int64_t(ids[t]) * H + i] += dx[t * H + i];
  }
}
template <typename S>
void gather_rows(S* dst, const S* src, const int64_t* idx, int64_t n, int64_t width) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * width, src + idx[i] * width, sizeof(S) * size_t(width));
}
template <typename S>
void scatter_add_rows(S* dst, const S* src, const int64_t* idx, int64_t n, int64_t width) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < width; ++j) dst[idx[i] * width + j] += src[i * width + j];
}

#define ZAYA_INSTANTIATE(S)                                                                       \
  template void embedding_forward<S>(S*, const S*, const int32_t*, int64_t, int64_t);           \
  template void embedding_backward<S>(S*, const S*, const int32_t*, int64_t, int64_t, int32_t); \
  template void gather_rows<S>(S*, const S*, const int64_t*, int64_t, int64_t);                 \
  template void scatter_add_rows<S>(S*, const S*, const int64_t*, int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

void CpuBackend::embedding_forward(float* x, const Mat& E, const int32_t* ids, int64_t T) {
  ZAYA_OP_SCOPE("embedding_forward");
  const int64_t H = E.cols;
#pragma omp parallel for schedule(static) if (T * H > 65536)
  for (int64_t t = 0; t < T; ++t) widen(E.dtype, E.row(ids[t]), x + t * H, H, false);
}

namespace {
// Repeated indices accumulate: parallel over column ranges, each row visited in order.
void scatter_add_cols(float* dst, const float* src, int64_t n, int64_t width, const int32_t* ids32,
                      const int64_t* ids64, int32_t skip) {
  const int64_t cb = 64, nb = (width + cb - 1) / cb;
#pragma omp parallel for schedule(static) if (n * width > 65536)
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t c0 = b * cb, c1 = std::min(width, c0 + cb);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = ids32 ? int64_t(ids32[i]) : ids64[i];
      if (ids32 && ids32[i] == skip) continue;
      for (int64_t j = c0; j < c1; ++j) dst[r * width + j] += src[i * width + j];
    }
  }
}
}  // namespace

void CpuBackend::embedding_backward(float* dE, const float* dx, const int32_t* ids, int64_t T, int64_t H,
                                    int32_t pad_id) {
  ZAYA_OP_SCOPE("embedding_backward");
  scatter_add_cols(dE, dx, T, H, ids, nullptr, pad_id);
}

void CpuBackend::gather_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) {
  ZAYA_OP_SCOPE("gather_rows");
#pragma omp parallel for schedule(static) if (n * width > 65536)
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * width, src + idx[i] * width, sizeof(float) * size_t(width));
}

void CpuBackend::scatter_add_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) {
  ZAYA_OP_SCOPE("scatter_add_rows");
  scatter_add_cols(dst, src, n, width, nullptr, idx, 0);
}

}  // namespace ops::cpu
}  // namespace zaya
