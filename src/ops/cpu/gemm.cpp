// CPU GEMM kernels: feature detection, oneDNN sgemm and bf16 matmul, the streaming decode kernel and
// the blocked linear. See gemm.h for the choices and docs/benchmarks.md for the measurements.
#include "ops/cpu/gemm.h"

#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include "core/error.h"

// GCC 12's AVX-512 headers trip -Wuninitialized inside _mm512_reduce_add_ps (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace zaya::ops::cpu {

// ---------------------------------------------------------------------------------------------------------
// Features

namespace {
bool os_grants_amx() {
  // Linux gates the AMX tile state per process (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
  return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
}  // namespace

std::string CpuFeatures::summary() const {
  std::ostringstream os;
  os << "AVX-512 " << (avx512 ? "yes" : "no") << ", AVX512-BF16 " << (avx512_bf16 ? "yes" : "no") << ", AMX-BF16 "
     << (amx_bf16 ? "yes" : "no") << "; bf16 GEMM kernel " << (bf16_onednn ? "oneDNN" : "widen+fp32");
  return os.str();
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    unsigned a = 0, b = 0, cx = 0, d = 0;
    c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) c.avx512_bf16 = c.avx512 && ((a >> 5) & 1);
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
      const bool tile = (d >> 24) & 1, bf16 = (d >> 22) & 1;
      c.amx_bf16 = tile && bf16 && os_grants_amx();
    }
    c.bf16_onednn = c.amx_bf16;
    if (const char* e = std::getenv("ZAYA_BF16_GEMM")) {
      std::string s = e;
      if (s == "onednn") c.bf16_onednn = true;
      else if (s == "widen") c.bf16_onednn = false;
      else throw_error("ZAYA_BF16_GEMM='", s, "': expected onednn or widen");
    }
    return c;
  }();
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// Scratch and conversions

bool top_level() { return omp_get_level() == 0; }

float* scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[16];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}
uint16_t* scratch_u16(int slot, size_t n) {
  thread_local std::vector<uint16_t> bufs[4];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

void round_bf16(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), hi = _mm256_set1_epi32(int(0xffff0000u));
  const __m256i absmask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  for (; i + 8 <= n; i += 8) {
    __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absmask), inf);
    r = _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_and_si256(r, hi));
  }
  for (; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void widen(DType t, const void* src, float* dst, int64_t n, bool to_bf16) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  if (t == DType::BF16) {
    for (; i + 8 <= n; i += 8) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
    }
    for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
    return;  // already bf16
  }
  if (t == DType::F16) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else if (t == DType::F32) {
    if (!to_bf16) {
      std::memcpy(dst, src, size_t(n) * 4);
      return;
    }
    round_bf16(dst, static_cast<const float*>(src), n);
    return;
  } else {
    throw_error("matmul: unsupported weight dtype ", dtype_name(t));
  }
  if (to_bf16) round_bf16(dst, dst, n);
}

namespace {
void to_bf16_bits(uint16_t* dst, const void* src, DType t, int64_t n) {
  if (t == DType::BF16) {
    std::memcpy(dst, src, size_t(n) * 2);
    return;
  }
  const float* f = static_cast<const float*>(src);
  std::vector<float> tmp;
  if (t == DType::F16) {
    tmp.resize(size_t(n));
    widen(t, src, tmp.data(), n, false);
    f = tmp.data();
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(f[i]);
}
}  // namespace

// ---------------------------------------------------------------------------------------------------------
// fp32 GEMM (oneDNN sgemm: row-major)

namespace {
void sgemm1(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
            const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  ZAYA_CHECK(st == dnnl_success, "sgemm: oneDNN status ", int(st), " for ", M, "x", N, "x", K);
}
}  // namespace

// Multi-threaded as one slice of C per thread, each a single-threaded oneDNN call (rows of C when
// there are enough, else columns): measured faster than oneDNN's own threading at the model's shapes
// (docs/benchmarks.md, "GEMM threading"), and each output element is computed by one call.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  const int nt = top_level() ? omp_get_max_threads() : 1;
  const bool big = double(M) * double(N) * double(K) >= double(1 << 20);
  if (nt <= 1 || !big || (M < 32 * nt && N < 64 * nt)) return sgemm1(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const bool rows = M >= 32 * nt;
  const int64_t extent = rows ? M : N;
  const int64_t chunk = rows ? (extent + nt - 1) / nt : ((extent + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
  for (int t = 0; t < nt; ++t) {
    const int64_t b0 = t * chunk, b1 = std::min(extent, b0 + chunk);
    if (b1 <= b0) continue;
    if (rows)
      sgemm1(ta, tb, b1 - b0, N, K, alpha, ta ? A + b0 : A + b0 * lda, lda, B, ldb, beta, C + b0 * ldc, ldc);
    else
      sgemm1(ta, tb, M, b1 - b0, K, alpha, A, lda, tb ? B + b0 * ldb : B + b0, ldb, beta, C + b0, ldc);
  }
}

// ---------------------------------------------------------------------------------------------------------
// bf16 GEMM on oneDNN's matmul primitive (AMX / AVX512-BF16), primitives cached by shape.

namespace {
struct Bf16Key {
  int64_t M, N, K, sa0, sa1, sb0, sb1, ldc;
  int beta_mode;  // 0: C = AB, 1: C += AB
  float alpha;
  auto tie() const { return std::tie(M, N, K, sa0, sa1, sb0, sb1, ldc, beta_mode, alpha); }
  bool operator<(const Bf16Key& o) const { return tie() < o.tie(); }
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

void bf16_matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                 const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  using namespace dnnl;
  if (beta != 0.0f && beta != 1.0f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
    beta = 1.0f;
  }
  Bf16Key key{M, N, K, ta ? 1 : lda, ta ? lda : 1, tb ? 1 : ldb, tb ? ldb : 1, ldc, beta != 0.0f, alpha};
  // One primitive per shape, executed concurrently from the batch loops' threads: a primitive's
  // library-managed scratchpad is shared by its executions, so each call passes its own thread's
  // scratchpad (scratchpad_mode::user) and a primitive is never a data race.
  struct Entry {
    matmul prim;
    memory::desc scratch;
  };
  static std::mutex mu;
  static std::map<Bf16Key, Entry> cache;
  Entry e;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it == cache.end()) {
      if (cache.size() > 512) cache.clear();
      memory::desc ad({M, K}, memory::data_type::bf16, {key.sa0, key.sa1});
      memory::desc bd({K, N}, memory::data_type::bf16, {key.sb0, key.sb1});
      memory::desc cd({M, N}, memory::data_type::f32, {ldc, 1});
      primitive_attr attr;
      attr.set_scratchpad_mode(scratchpad_mode::user);
      if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
      if (key.beta_mode) {
        post_ops po;
        po.append_sum(1.0f);
        attr.set_post_ops(po);
      }
      matmul::primitive_desc pd(matmul::desc(ad, bd, cd), attr, engine());
      it = cache.emplace(key, Entry{matmul(pd), pd.scratchpad_desc()}).first;
    }
    e = it->second;
  }
  memory::desc ad({M, K}, memory::data_type::bf16, {key.sa0, key.sa1});
  memory::desc bd({K, N}, memory::data_type::bf16, {key.sb0, key.sb1});
  memory::desc cd({M, N}, memory::data_type::f32, {ldc, 1});
  memory am(ad, engine(), const_cast<uint16_t*>(A)), bm(bd, engine(), const_cast<uint16_t*>(B)), cm(cd, engine(), C);
  thread_local std::vector<uint8_t> pad;
  if (pad.size() < e.scratch.get_size()) pad.resize(e.scratch.get_size());
  memory sm(e.scratch, engine(), pad.data());
  stream s(engine());
  e.prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}});
  s.wait();
}
}  // namespace

// ---------------------------------------------------------------------------------------------------------
// General GEMM with precision and a typed B operand

void gemm(Precision p, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const void* B, DType bt, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const int64_t arows = ta ? K : M, acols = ta ? M : K;  // stored shape of A
  const int64_t brows = tb ? N : K, bcols = tb ? K : N;  // stored shape of B
  if (p == Precision::BF16 && cpu_features().bf16_onednn && K > 0) {
    uint16_t* a16 = scratch_u16(0, size_t(arows * acols));
    uint16_t* b16 = scratch_u16(1, size_t(brows * bcols));
    for (int64_t r = 0; r < arows; ++r) to_bf16_bits(a16 + r * acols, A + r * lda, DType::F32, acols);
    const size_t esz = dtype_size(bt);
    for (int64_t r = 0; r < brows; ++r)
      to_bf16_bits(b16 + r * bcols, static_cast<const uint8_t*>(B) + size_t(r * ldb) * esz, bt, bcols);
    bf16_matmul(ta, tb, M, N, K, alpha, a16, acols, b16, bcols, beta, C, ldc);
    return;
  }
  const bool round = p == Precision::BF16;
  const float* Ause = A;
  int64_t ldA = lda;
  if (round) {
    float* a = scratch(0, size_t(arows * acols));
    for (int64_t r = 0; r < arows; ++r) round_bf16(a + r * acols, A + r * lda, acols);
    Ause = a;
    ldA = acols;
  }
  const float* Buse = static_cast<const float*>(B);
  int64_t ldB = ldb;
  if (round || bt != DType::F32) {
    float* b = scratch(1, size_t(brows * bcols));
    const size_t esz = dtype_size(bt);
    for (int64_t r = 0; r < brows; ++r)
      widen(bt, static_cast<const uint8_t*>(B) + size_t(r * ldb) * esz, b + r * bcols, bcols, round);
    Buse = b;
    ldB = bcols;
  }
  sgemm(ta, tb, M, N, K, alpha, Ause, ldA, Buse, ldB, beta, C, ldc);
}

// ---------------------------------------------------------------------------------------------------------
// Linear: streaming kernel (few rows) and blocked GEMM (many rows)

namespace {

constexpr int kPrefetchBytes = 1024;  // how far ahead of the current weight element to prefetch

// R: fp32 weights rounded to bf16 on the fly (cpu-bf16 with fp32 master weights), the same values as
// a bf16 copy, so training and inference stream the same numbers through the same arithmetic.
inline __m256i round_bits8(__m256i u) {
  const __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                                         _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
  return _mm256_and_si256(r, _mm256_set1_epi32(int(0xffff0000u)));
}
__attribute__((target("avx512f,avx512bw"))) inline __m512i round_bits16(__m512i u) {
  const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                         _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
  return _mm512_and_si512(r, _mm512_set1_epi32(int(0xffff0000u)));
}

template <DType WT, bool R>
inline __m256 load8(const void* w, int64_t i) {
  if constexpr (WT == DType::F32 && R)
    return _mm256_castsi256_ps(round_bits8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const float*>(w) + i))));
  if constexpr (WT == DType::F32) return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
  if constexpr (WT == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

template <DType WT, bool R>
__attribute__((target("avx512f,avx512bw"))) inline __m512 load16(const void* w, int64_t i) {
  if constexpr (WT == DType::F32 && R)
    return _mm512_castsi512_ps(round_bits16(_mm512_loadu_si512(static_cast<const float*>(w) + i)));
  if constexpr (WT == DType::F32) return _mm512_loadu_ps(static_cast<const float*>(w) + i);
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
  if constexpr (WT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

template <DType WT, bool R>
inline float scalar_at(const void* w, int64_t i) {
  if constexpr (WT == DType::F32 && R) return bf16_to_f32(f32_to_bf16(static_cast<const float*>(w)[i]));
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

// Dot products of one weight row (n elements of type WT) with NT (1..4) fp32 rows of x. Prefetching
// kPrefetchBytes ahead warms the next rows across 4 KiB page boundaries (file-backed weight pages).
template <DType WT, bool R, int NT>
void dot_rows_avx2(const void* w, const float* x, int64_t ldx, int64_t n, float* out) {
  constexpr int64_t esz = WT == DType::F32 ? 4 : 2;
  __m256 acc[NT][2];
  for (int k = 0; k < NT; ++k) acc[k][0] = acc[k][1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm_prefetch(byte_at(w, i, esz) + kPrefetchBytes, _MM_HINT_T0);
    __m256 w0 = load8<WT, R>(w, i), w1 = load8<WT, R>(w, i + 8);
    for (int k = 0; k < NT; ++k) {
      acc[k][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + k * ldx + i), acc[k][0]);
      acc[k][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + k * ldx + i + 8), acc[k][1]);
    }
  }
  for (int k = 0; k < NT; ++k) {
    float s = hsum(_mm256_add_ps(acc[k][0], acc[k][1]));
    for (int64_t j = i; j < n; ++j) s += scalar_at<WT, R>(w, j) * x[k * ldx + j];
    out[k] = s;
  }
}

template <DType WT, bool R, int NT>
__attribute__((target("avx512f,avx512bw"))) void dot_rows_avx512(const void* w, const float* x, int64_t ldx,
                                                                  int64_t n, float* out) {
  constexpr int64_t esz = WT == DType::F32 ? 4 : 2;
  __m512 acc[NT][4];
  for (int k = 0; k < NT; ++k) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int64_t b = 0; b < 64 * esz; b += 64) _mm_prefetch(byte_at(w, i, esz) + kPrefetchBytes + b, _MM_HINT_T0);
    __m512 w0 = load16<WT, R>(w, i), w1 = load16<WT, R>(w, i + 16), w2 = load16<WT, R>(w, i + 32), w3 = load16<WT, R>(w, i + 48);
    for (int k = 0; k < NT; ++k) {
      const float* xk = x + k * ldx + i;
      acc[k][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xk), acc[k][0]);
      acc[k][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xk + 16), acc[k][1]);
      acc[k][2] = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xk + 32), acc[k][2]);
      acc[k][3] = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xk + 48), acc[k][3]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    __m512 w0 = load16<WT, R>(w, i);
    for (int k = 0; k < NT; ++k) acc[k][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + k * ldx + i), acc[k][0]);
  }
  for (int k = 0; k < NT; ++k) {
    float s = _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(acc[k][0], acc[k][1]), _mm512_add_ps(acc[k][2], acc[k][3])));
    for (int64_t j = i; j < n; ++j) s += scalar_at<WT, R>(w, j) * x[k * ldx + j];
    out[k] = s;
  }
}

// Few tokens: each thread streams a range of weight rows once, for 4 tokens at a time.
template <DType WT, bool R>
void linear_stream(float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, int64_t T) {
  const int64_t N = W.rows, K = W.cols;
  const bool wide = cpu_features().avx512;
  const bool par = N * K > 32768 && top_level();
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < N; ++r) {
    const void* w = W.row(r);
    float tmp[4];
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) {
      if (wide)
        dot_rows_avx512<WT, R, 4>(w, x + t * ldx, ldx, K, tmp);
      else
        dot_rows_avx2<WT, R, 4>(w, x + t * ldx, ldx, K, tmp);
      for (int k = 0; k < 4; ++k) y[(t + k) * ldy + r] = tmp[k];
    }
    for (; t < T; ++t) {
      if (wide)
        dot_rows_avx512<WT, R, 1>(w, x + t * ldx, ldx, K, tmp);
      else
        dot_rows_avx2<WT, R, 1>(w, x + t * ldx, ldx, K, tmp);
      y[t * ldy + r] = tmp[0];
    }
  }
}

}  // namespace

void linear(Precision p, float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, int64_t T) {
  const int64_t N = W.rows, K = W.cols;
  if (T <= 0 || N <= 0) return;
  const bool bf16 = p == Precision::BF16;
  // bf16 precision: the activations are rounded once (the weights are rounded per block below, or
  // are bf16 already).
  if (bf16) {
    float* xr = scratch(2, size_t(T * K));
    for (int64_t t = 0; t < T; ++t) round_bf16(xr + t * K, x + t * ldx, K);
    x = xr;
    ldx = K;
  }
  const bool stream_ok = T <= 8 && (!bf16 || W.dtype != DType::F16);
  if (stream_ok) {
    switch (W.dtype) {
      case DType::F32:
        return bf16 ? linear_stream<DType::F32, true>(y, ldy, x, ldx, W, T)
                    : linear_stream<DType::F32, false>(y, ldy, x, ldx, W, T);
      case DType::BF16: return linear_stream<DType::BF16, false>(y, ldy, x, ldx, W, T);
      case DType::F16: return linear_stream<DType::F16, false>(y, ldy, x, ldx, W, T);
      default: throw_error("matmul: unsupported weight dtype ", dtype_name(W.dtype));
    }
  }
  if (bf16 && cpu_features().bf16_onednn) {  // bf16 copies once, one oneDNN matmul
    return gemm(p, false, true, T, N, K, 1.0f, x, ldx, W.data, W.dtype, K, 0.0f, y, ldy);
  }
  if (W.dtype == DType::F32 && !bf16) return sgemm(false, true, T, N, K, 1.0f, x, ldx, W.f32(), K, 0.0f, y, ldy);
  // Blocks of weight rows widened (and rounded) into per-thread scratch, one GEMM per block.
  const int64_t RB = std::max<int64_t>(16, std::min<int64_t>(512, (int64_t(1) << 19) / std::max<int64_t>(K, 1)));
  const int64_t nblocks = (N + RB - 1) / RB;
  maybe_parallel(nblocks, top_level(), [&](int64_t b) {
    const int64_t r0 = b * RB, nr = std::min(RB, N - r0);
    float* buf = scratch(3, size_t(RB * K));
    for (int64_t r = 0; r < nr; ++r) widen(W.dtype, W.row(r0 + r), buf + r * K, K, bf16);
    sgemm(false, true, T, nr, K, 1.0f, x, ldx, buf, K, 0.0f, y + r0, ldy);
  });
}

}  // namespace zaya::ops::cpu
