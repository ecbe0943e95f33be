// CPU matmul. Few rows of x (T <= 8, decode: memory bound): a streaming kernel, templated on the
// weight type, that reads each weight row once for up to 4 tokens, with software prefetch across
// rows (OpenBLAS sgemm with one row reaches only ~1/3 of the bandwidth; bench_ops BM_Matmul).
// Many rows (prefill: compute bound): OpenBLAS sgemm for fp32 weights; for bf16/f16 weights, blocks
// of rows widened to fp32 in per-thread scratch, then sgemm per block.
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "ops/matmul.h"

// GCC 12's AVX-512 headers trip -Wuninitialized inside _mm512_reduce_add_ps (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace zaya::ops {

namespace {

// How far ahead of the current weight element the streaming kernels prefetch.
constexpr int kPrefetchBytes = 1024;

// Widens n elements of a half-precision row to fp32.
void widen(DType t, const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  if (t == DType::BF16) {
    for (; i + 8 <= n; i += 8) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
  } else if (t == DType::F16) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else {
    std::memcpy(dst, src, size_t(n) * 4);
  }
}

// Loads 8 / 16 weights of type WT at element i, widened to fp32.
template <DType WT>
inline __m256 load8(const void* w, int64_t i) {
  if constexpr (WT == DType::F32) return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
  if constexpr (WT == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

template <DType WT>
__attribute__((target("avx512f,avx512bw"))) inline __m512 load16(const void* w, int64_t i) {
  if constexpr (WT == DType::F32) return _mm512_loadu_ps(static_cast<const float*>(w) + i);
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
  if constexpr (WT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

template <DType WT>
inline float scalar_at(const void* w, int64_t i) {
  if constexpr (WT == DType::F32) return static_cast<const float*>(w)[i];
  if constexpr (WT == DType::BF16) return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
}

inline const char* byte_at(const void* w, int64_t i, int64_t esz) { return static_cast<const char*>(w) + i * esz; }

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}

// Dot products of one weight row (n elements of type WT) with NT (1..4) fp32 rows of x.
// Rows of W are contiguous, so prefetching kPrefetchBytes ahead warms the next rows too, across the
// 4 KiB page boundaries where the hardware prefetcher stops (weights are file-backed pages).
template <DType WT, int NT>
void dot_rows_avx2(const void* w, const float* x, int64_t ldx, int64_t n, float* out) {
  constexpr int64_t esz = WT == DType::F32 ? 4 : 2;
  __m256 acc[NT][2];
  for (int k = 0; k < NT; ++k) acc[k][0] = acc[k][1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm_prefetch(byte_at(w, i, esz) + kPrefetchBytes, _MM_HINT_T0);
    __m256 w0 = load8<WT>(w, i), w1 = load8<WT>(w, i + 8);
    for (int k = 0; k < NT; ++k) {
      acc[k][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + k * ldx + i), acc[k][0]);
      acc[k][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + k * ldx + i + 8), acc[k][1]);
    }
  }
  for (int k = 0; k < NT; ++k) {
    float s = hsum(_mm256_add_ps(acc[k][0], acc[k][1]));
    for (int64_t j = i; j < n; ++j) s += scalar_at<WT>(w, j) * x[k * ldx + j];
    out[k] = s;
  }
}

template <DType WT, int NT>
__attribute__((target("avx512f,avx512bw"))) void dot_rows_avx512(const void* w, const float* x, int64_t ldx,
                                                                  int64_t n, float* out) {
  constexpr int64_t esz = WT == DType::F32 ? 4 : 2;
  __m512 acc[NT][4];
  for (int k = 0; k < NT; ++k) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int64_t b = 0; b < 64 * esz; b += 64) _mm_prefetch(byte_at(w, i, esz) + kPrefetchBytes + b, _MM_HINT_T0);
    __m512 w0 = load16<WT>(w, i), w1 = load16<WT>(w, i + 16), w2 = load16<WT>(w, i + 32), w3 = load16<WT>(w, i + 48);
    for (int k = 0; k < NT; ++k) {
      const float* xk = x + k * ldx + i;
      acc[k][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xk), acc[k][0]);
      acc[k][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xk + 16), acc[k][1]);
      acc[k][2] = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xk + 32), acc[k][2]);
      acc[k][3] = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xk + 48), acc[k][3]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    __m512 w0 = load16<WT>(w, i);
    for (int k = 0; k < NT; ++k) acc[k][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + k * ldx + i), acc[k][0]);
  }
  for (int k = 0; k < NT; ++k) {
    float s = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[k][0], acc[k][1]), _mm512_add_ps(acc[k][2], acc[k][3])));
    for (int64_t j = i; j < n; ++j) s += scalar_at<WT>(w, j) * x[k * ldx + j];
    out[k] = s;
  }
}

bool have_avx512() {
  static const bool v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return v;
}

// Few tokens: each thread streams a range of weight rows once, for 4 tokens at a time.
template <DType WT>
void matmul_stream(float* y, int64_t ldy, const float* x, const Mat& W, int64_t T) {
  const int64_t N = W.rows, K = W.cols;
  const bool wide = have_avx512();
#pragma omp parallel for schedule(static) if (N * K > 32768)
  for (int64_t r = 0; r < N; ++r) {
    const void* w = W.row(r);
    float tmp[4];
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) {
      if (wide)
        dot_rows_avx512<WT, 4>(w, x + t * K, K, K, tmp);
      else
        dot_rows_avx2<WT, 4>(w, x + t * K, K, K, tmp);
      for (int k = 0; k < 4; ++k) y[(t + k) * ldy + r] = tmp[k];
    }
    for (; t < T; ++t) {
      if (wide)
        dot_rows_avx512<WT, 1>(w, x + t * K, K, K, tmp);
      else
        dot_rows_avx2<WT, 1>(w, x + t * K, K, K, tmp);
      y[t * ldy + r] = tmp[0];
    }
  }
}

// Many tokens: widen blocks of weight rows into per-thread fp32 scratch, sgemm each block.
void matmul_half_blocked(float* y, int64_t ldy, const float* x, const Mat& W, int64_t T) {
  const int64_t N = W.rows, K = W.cols;
  const int64_t RB = std::max<int64_t>(16, std::min<int64_t>(256, (int64_t(1) << 19) / std::max<int64_t>(K, 1)));
  const int64_t nblocks = (N + RB - 1) / RB;
#pragma omp parallel
  {
    std::vector<float> buf(size_t(RB * K));
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < nblocks; ++b) {
      int64_t r0 = b * RB, nr = std::min(RB, N - r0);
      for (int64_t r = 0; r < nr; ++r) widen(W.dtype, W.row(r0 + r), buf.data() + r * K, K);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(nr), int(K), 1.0f, x, int(K), buf.data(),
                  int(K), 0.0f, y + r0, int(ldy));
    }
  }
}

}  // namespace

void matmul_forward(float* y, const float* x, const Mat& W, int64_t T, const float* bias, int64_t ldy) {
  if (T <= 0 || W.rows == 0) return;
  if (ldy == 0) ldy = W.rows;
  const bool few = T <= 8;  // decode: memory bound, stream the weights once
  if (few && W.dtype == DType::F32) {
    matmul_stream<DType::F32>(y, ldy, x, W, T);
  } else if (few && W.dtype == DType::BF16) {
    matmul_stream<DType::BF16>(y, ldy, x, W, T);
  } else if (few && W.dtype == DType::F16) {
    matmul_stream<DType::F16>(y, ldy, x, W, T);
  } else if (W.dtype == DType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(W.rows), int(W.cols), 1.0f, x, int(W.cols),
                static_cast<const float*>(W.data), int(W.cols), 0.0f, y, int(ldy));
  } else if (W.dtype == DType::BF16 || W.dtype == DType::F16) {
    matmul_half_blocked(y, ldy, x, W, T);
  } else {
    throw_error("matmul: unsupported weight dtype ", dtype_name(W.dtype));
  }
  if (bias) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < W.rows; ++r) y[t * ldy + r] += bias[r];
  }
}

void mat_row_f32(const Mat& W, int64_t r, float* out) { widen(W.dtype, W.row(r), out, W.cols); }

}  // namespace zaya::ops
