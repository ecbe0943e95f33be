// GEMM family on the CPU: linear (+ backward), grouped expert linear, batched GEMM; and the naive
// reference kernels of ops/matmul.h. The kernels themselves are in gemm.cpp.
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"
#include "ops/matmul.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, S alpha, const S* A, int64_t lda, const S* B,
          int64_t ldb, S beta, S* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = S(double(alpha) * s + (beta == S(0) ? 0.0 : double(beta) * C[i * ldc + j]));
    }
}

template <typename S>
void linear_forward(S* y, int64_t ldy, const S* x, int64_t ldx, const S* W, const S* b, int64_t T, int64_t out,
                    int64_t in) {
  gemm<S>(false, true, T, out, in, S(1), x, ldx, W, in, S(0), y, ldy);
  if (b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < out; ++o) y[t * ldy + o] += b[o];
}

template <typename S>
void linear_backward(S* dx, int64_t lddx, S* dW, S* db, const S* dy, int64_t lddy, const S* x, int64_t ldx,
                     const S* W, int64_t T, int64_t out, int64_t in) {
  if (dx) gemm<S>(false, false, T, in, out, S(1), dy, lddy, W, in, S(1), dx, lddx);
  if (dW) gemm<S>(true, false, out, in, T, S(1), dy, lddy, x, ldx, S(1), dW, in);
  if (db)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < out; ++o) db[o] += dy[t * lddy + o];
}

#define ZAYA_INSTANTIATE(S)                                                                                        \
  template void gemm<S>(bool, bool, int64_t, int64_t, int64_t, S, const S*, int64_t, const S*, int64_t, S, S*,     \
                        int64_t);                                                                                  \
  template void linear_forward<S>(S*, int64_t, const S*, int64_t, const S*, const S*, int64_t, int64_t, int64_t);  \
  template void linear_backward<S>(S*, int64_t, S*, S*, const S*, int64_t, const S*, int64_t, const S*, int64_t,   \
                                   int64_t, int64_t);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

void CpuBackend::linear_forward(float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, const float* bias,
                                int64_t T, GemmPrec prec) {
  // With profiling on, linear calls are split by weight shape: "linear_forward out×in".
  static std::set<std::string> names;
  const char* name = "linear_forward";
  if (profile_.enabled) name = names.insert("linear_forward " + std::to_string(W.rows) + "x" + std::to_string(W.cols)).first->c_str();
  OpScope scope(*this, name);
  linear(gemm_precision(prec), y, ldy, x, ldx, W, T);
  if (bias) {
    const int64_t N = W.rows;
#pragma omp parallel for schedule(static) if (T * N > 65536 && !omp_in_parallel())
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < N; ++r) y[t * ldy + r] += bias[r];
  }
}

void CpuBackend::linear_backward(float* dx, int64_t lddx, float* dW, float* db, const float* dy, int64_t lddy,
                                 const float* x, int64_t ldx, const Mat& W, int64_t T, GemmPrec prec) {
  static std::set<std::string> names;
  const char* name = "linear_backward";
  if (profile_.enabled)
    name = names.insert("linear_backward " + std::to_string(W.rows) + "x" + std::to_string(W.cols) + (dx ? " dx" : "") +
                        (dW ? " dW" : "")).first->c_str();
  OpScope scope(*this, name);
  if (T <= 0) return;
  const Precision p = gemm_precision(prec);
  const int64_t out = W.rows, in = W.cols;
  if (dx) gemm(p, false, false, T, in, out, 1.0f, dy, lddy, W.data, W.dtype, in, 1.0f, dx, lddx);
  if (dW) gemm(p, true, false, out, in, T, 1.0f, dy, lddy, x, DType::F32, ldx, 1.0f, dW, in);
  if (db) column_sums(db, dy, lddy, T, out);
}

namespace {
// Groups that are large run one at a time with a multi-threaded GEMM; the others run in parallel,
// one group per thread, largest first.
template <typename F>
void for_groups(const int64_t* off, int G, F&& f) {
  std::vector<int> order(static_cast<size_t>(G));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return off[a + 1] - off[a] > off[b + 1] - off[b]; });
  const int64_t total = off[G] - off[0];
  const int nt = top_level() ? omp_get_max_threads() : 1;
  std::vector<int> small;
  for (int g : order) {
    const int64_t n = off[g + 1] - off[g];
    if (n == 0) continue;
    if (nt > 1 && n * 2 * nt >= total)
      f(g);
    else
      small.push_back(g);
  }
  maybe_parallel(int64_t(small.size()), nt > 1, [&](int64_t i) { f(small[size_t(i)]); });
}
}  // namespace

void CpuBackend::grouped_linear_forward(float* y, const float* x, const Mat* Ws, const int64_t* off, int G) {
  ZAYA_OP_SCOPE("grouped_linear_forward");
  for_groups(off, G, [&](int g) {
    const Mat& W = Ws[g];
    linear(prec_, y + off[g] * W.rows, W.rows, x + off[g] * W.cols, W.cols, W, off[g + 1] - off[g]);
  });
}

void CpuBackend::grouped_linear_backward(float* dx, float* dW, const float* dy, const float* x, const Mat* Ws,
                                         const int64_t* off, int G) {
  ZAYA_OP_SCOPE("grouped_linear_backward");
  for_groups(off, G, [&](int g) {
    const Mat& W = Ws[g];
    const int64_t n = off[g + 1] - off[g], out = W.rows, in = W.cols;
    const float* dyg = dy + off[g] * out;
    if (dx) gemm(prec_, false, false, n, in, out, 1.0f, dyg, out, W.data, W.dtype, in, 1.0f, dx + off[g] * in, in);
    if (dW)
      gemm(prec_, true, false, out, in, n, 1.0f, dyg, out, x + off[g] * in, DType::F32, in, 1.0f,
           dW + int64_t(g) * out * in, in);
  });
}

void CpuBackend::gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                              int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                              float* C, int64_t ldc, int64_t strideC, int64_t batch, GemmPrec prec) {
  ZAYA_OP_SCOPE("gemm_batched");
  const Precision p = gemm_precision(prec);
  const int nt = top_level() ? omp_get_max_threads() : 1;
  maybe_parallel(batch, nt > 1 && batch >= 2 * nt, [&](int64_t i) {
    gemm(p, ta, tb, M, N, K, alpha, A + i * strideA, lda, B + i * strideB, DType::F32, ldb, beta, C + i * strideC, ldc);
  });
}

void CpuBackend::round_to_precision(float* x, int64_t n) {
  ZAYA_OP_SCOPE("round_to_precision");
  if (prec_ != Precision::BF16) return;
  constexpr int64_t kChunk = 1 << 16;
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int64_t c = 0; c < (n + kChunk - 1) / kChunk; ++c)
    round_bf16(x + c * kChunk, x + c * kChunk, std::min(kChunk, n - c * kChunk));
}

}  // namespace ops::cpu
}  // namespace zaya
