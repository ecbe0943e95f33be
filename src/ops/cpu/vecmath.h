// Vectorized exp for the CPU ops (AVX2, 8 floats): Cephes' expf range reduction and polynomial
// (max error ~1–2 ulp on [-87.3, 88.7]); inputs below -87.3 give 0, above 88.7 are clamped.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace zaya::ops::cpu {

inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447505531f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(under, y);
}

// Scalar version with the same polynomial, for loop tails (so a value does not depend on its index).
inline float exp1(float v) {
  alignas(32) float buf[8] = {v, v, v, v, v, v, v, v};
  _mm256_store_ps(buf, exp256(_mm256_load_ps(buf)));
  return buf[0];
}

// dst[i] = exp(src[i] - shift) for n values; returns their sum in double.
inline double exp_shift_sum(float* dst, const float* src, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(src + i), s));
    _mm256_storeu_ps(dst + i, e);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double a[4];
  _mm256_store_pd(a, _mm256_add_pd(acc0, acc1));
  double sum = a[0] + a[1] + a[2] + a[3];
  for (; i < n; ++i) {
    dst[i] = exp1(src[i] - shift);
    sum += dst[i];
  }
  return sum;
}

}  // namespace zaya::ops::cpu
