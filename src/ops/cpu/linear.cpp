// Trainable Linear and embedding (fp32 for training, fp64 for the finite-difference checks).
#include <cstring>

#include "ops/cpu/blas.h"
#include "ops/matmul.h"

namespace zaya::ops {

using cpu::gemm;

template <typename S>
void linear_forward(S* y, const S* x, const S* W, const S* b, int64_t T, int64_t out, int64_t in) {
  if (T == 0) return;
  gemm(CblasNoTrans, CblasTrans, T, out, in, x, in, W, in, S(0), y, out);
  if (b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < out; ++o) y[t * out + o] += b[o];
}

template <typename S>
void linear_backward(S* dx, S* dW, S* db, const S* dy, const S* x, const S* W, int64_t T, int64_t out, int64_t in) {
  if (T == 0) return;
  if (dx) gemm(CblasNoTrans, CblasNoTrans, T, in, out, dy, out, W, in, S(1), dx, in);  // [T,out]·[out,in]
  gemm(CblasTrans, CblasNoTrans, out, in, T, dy, out, x, in, S(1), dW, in);            // [out,T]·[T,in]
  if (db)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < out; ++o) db[o] += dy[t * out + o];
}

template <typename S>
void embedding_forward(S* x, const S* E, const int32_t* ids, int64_t T, int64_t H) {
  for (int64_t t = 0; t < T; ++t) std::memcpy(x + t * H, E + int64_t(ids[t]) * H, sizeof(S) * size_t(H));
}

template <typename S>
void embedding_backward(S* dE, const S* dx, const int32_t* ids, int64_t T, int64_t H, int32_t pad_id) {
  for (int64_t t = 0; t < T; ++t) {
    if (ids[t] == pad_id) continue;
    S* row = dE + int64_t(ids[t]) * H;
    for (int64_t i = 0; i < H; ++i) row[i] += dx[t * H + i];
  }
}

#define ZAYA_INSTANTIATE(S)                                                                                    \
  template void linear_forward<S>(S*, const S*, const S*, const S*, int64_t, int64_t, int64_t);                \
  template void linear_backward<S>(S*, S*, S*, const S*, const S*, const S*, int64_t, int64_t, int64_t);        \
  template void embedding_forward<S>(S*, const S*, const int32_t*, int64_t, int64_t);                         \
  template void embedding_backward<S>(S*, const S*, const int32_t*, int64_t, int64_t, int32_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)

}  // namespace zaya::ops
