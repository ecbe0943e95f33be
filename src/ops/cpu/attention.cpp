// The CCA sequence ops on the CPU (ops/attention.h): value shift, KV append, and causal GQA
// attention. Attention has two kernels, chosen by the number of new queries of a sequence (so the same
// rows always take the same kernel, in inference and in training):
//   direct  (< kTileMin queries: decode) one query head at a time against the cache, softmax in fp32;
//   tiled   (flash attention) tiles of Bq query rows × the G query heads of one kv head against blocks
//           of Bk keys: S = scale·Q·Kᵀ and O += P·V as GEMMs, online softmax in fp32, the row
//           max and sum kept for the backward. Tiles run in parallel.
// The backward recomputes P per tile from the saved row max and sum (FlashAttention-2 style); key/value
// gradients accumulate per thread and are summed in thread order (deterministic for a thread count).
// On cpu-bf16 every GEMM input (q, k, v, p, dO, dS) is rounded to bf16; the cache is bf16.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "ops/attention.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/vecmath.h"

namespace zaya {
namespace ops::ref {

template <typename S>
void attention_forward(S* out, int64_t ldo, const S* q, int64_t ldq, const S* k, int64_t ldk, const S* v,
                       int64_t ldv, int64_t n, int64_t Sk, int nq, int nk, int d, int window) {
  const int G = nq / nk;
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> p(static_cast<size_t>(Sk));
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < nq; ++h) {
      const int64_t pos = Sk - n + t;
      const int kh = h / G;
      const int64_t j0 = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = j0; j <= pos; ++j) {
        double s = 0;
        for (int c = 0; c < d; ++c) s += double(q[t * ldq + h * d + c]) * k[j * ldk + kh * d + c];
        p[size_t(j)] = s * scale;
        mx = std::max(mx, p[size_t(j)]);
      }
      for (int64_t j = j0; j <= pos; ++j) sum += (p[size_t(j)] = std::exp(p[size_t(j)] - mx));
      for (int c = 0; c < d; ++c) {
        double o = 0;
        for (int64_t j = j0; j <= pos; ++j) o += p[size_t(j)] / sum * v[j * ldv + kh * d + c];
        out[t * ldo + h * d + c] = S(o);
      }
    }
}

// o = Σ_j p_j v_j, p = softmax(s), s_j = scale·q·k_j:
// dv_j += p_j·do; dp_j = do·v_j; ds_j = p_j (dp_j − Σ p·dp); dq += scale Σ ds_j k_j; dk_j += scale ds_j q.
template <typename S>
void attention_backward(S* dq, int64_t lddq, S* dk, int64_t lddk, S* dv, int64_t lddv, const S* dout, int64_t ldo,
                        const S* q, int64_t ldq, const S* k, int64_t ldk, const S* v, int64_t ldv, int64_t n, int nq,
                        int nk, int d, int window) {
  const int G = nq / nk;
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> p(static_cast<size_t>(n)), dp(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < nq; ++h) {
      const int kh = h / G;
      const int64_t j0 = window > 0 ? std::max<int64_t>(0, t - window + 1) : 0;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = j0; j <= t; ++j) {
        double s = 0;
        for (int c = 0; c < d; ++c) s += double(q[t * ldq + h * d + c]) * k[j * ldk + kh * d + c];
        p[size_t(j)] = s * scale;
        mx = std::max(mx, p[size_t(j)]);
      }
      for (int64_t j = j0; j <= t; ++j) sum += (p[size_t(j)] = std::exp(p[size_t(j)] - mx));
      double pdp = 0;
      for (int64_t j = j0; j <= t; ++j) {
        p[size_t(j)] /= sum;
        double a = 0;
        for (int c = 0; c < d; ++c) {
          a += double(dout[t * ldo + h * d + c]) * v[j * ldv + kh * d + c];
          dv[j * lddv + kh * d + c] += S(p[size_t(j)] * dout[t * ldo + h * d + c]);
        }
        dp[size_t(j)] = a;
        pdp += p[size_t(j)] * a;
      }
      for (int64_t j = j0; j <= t; ++j) {
        const double ds = p[size_t(j)] * (dp[size_t(j)] - pdp) * scale;
        for (int c = 0; c < d; ++c) {
          dq[t * lddq + h * d + c] += S(ds * k[j * ldk + kh * d + c]);
          dk[j * lddk + kh * d + c] += S(ds * q[t * ldq + h * d + c]);
        }
      }
    }
}

#define ZAYA_INSTANTIATE(S)                                                                                          \
  template void attention_forward<S>(S*, int64_t, const S*, int64_t, const S*, int64_t, const S*, int64_t, int64_t, \
                                     int64_t, int, int, int, int);                                                  \
  template void attention_backward<S>(S*, int64_t, S*, int64_t, S*, int64_t, const S*, int64_t, const S*, int64_t,  \
                                      const S*, int64_t, const S*, int64_t, int64_t, int, int, int, int);
ZAYA_INSTANTIATE(float)
ZAYA_INSTANTIATE(double)
#undef ZAYA_INSTANTIATE

}  // namespace ops::ref

namespace ops::cpu {

namespace {

constexpr int64_t kTileMin = 16;  // sequences with fewer new queries take the direct kernel
constexpr int64_t kBq = 64, kBk = 512;
constexpr int64_t kCacheKeys = 4096;  // backward: P and dP of a tile kept between its two passes up to here

// Where the keys and values of one sequence come from: its cache (rows = positions 0 ..) or its own
// rows of the call (position pos + i is row `row + i`).
struct KvSource {
  const void* k;
  const void* v;
  int64_t ldk, ldv;  // row strides in elements
  DType dt;          // F32 or BF16
  int64_t first;     // position of row 0 of the source
  int64_t col;       // column offset of kv head kh: kh·d (added by the caller)
};

// Copies keys [j0, j1) of kv head columns [col, col + d) into dst [j1 − j0, d] as fp32 (rounded to
// bf16 when `round`).
void load_rows(float* dst, const void* src, int64_t ld, DType dt, int64_t first, int64_t j0, int64_t j1, int64_t col,
               int d, bool round) {
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t r = j - first;
    if (dt == DType::BF16)
      widen(DType::BF16, static_cast<const uint16_t*>(src) + r * ld + col, dst + (j - j0) * d, d, false);
    else
      widen(DType::F32, static_cast<const float*>(src) + r * ld + col, dst + (j - j0) * d, d, round);
  }
}

// 8 keys/values of a row as fp32: K = 0 fp32, 1 fp32 rounded to bf16, 2 bf16.
template <int K>
inline __m256 load_kv8(const void* row, int64_t c) {
  if constexpr (K == 2)
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + c))),
        16));
  __m256 v = _mm256_loadu_ps(static_cast<const float*>(row) + c);
  if constexpr (K == 1) {
    __m256i u = _mm256_castps_si256(v);
    u = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                             _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
    v = _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32(int(0xffff0000u))));
  }
  return v;
}
template <int K>
inline float kv_at(const void* row, int64_t c) {
  if constexpr (K == 2) return bf16_to_f32(static_cast<const uint16_t*>(row)[c]);
  const float v = static_cast<const float*>(row)[c];
  if constexpr (K == 1) return bf16_to_f32(f32_to_bf16(v));
  return v;
}
inline float hsum8(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}

// The direct kernel for one query row and kv head: the G query heads of the group read each cached key
// and value once, straight from the cache (no copies).
template <int K>
void attend_direct_group(float* out, const float* qg, int64_t ldq, const KvSource& src, int64_t pos, int kh, int G,
                         int d, int window, bool round, float* stats, int h0) {
  const float scale = 1.0f / std::sqrt(float(d));
  const int64_t j0 = std::max(src.first, window > 0 ? std::max<int64_t>(0, pos - window + 1) : int64_t(0));
  const int64_t nk_ = pos - j0 + 1;
  float* p = scratch(8, size_t(G * nk_));
  float* qv = scratch(9, size_t(G * d));
  for (int g = 0; g < G; ++g) widen(DType::F32, qg + int64_t(g) * d, qv + g * d, d, round);
  const size_t esz = K == 2 ? 2 : 4;
  auto row = [&](const void* base, int64_t ld, int64_t j) {
    return static_cast<const uint8_t*>(base) + (size_t((j - src.first) * ld) + size_t(kh) * size_t(d)) * esz;
  };
  for (int64_t j = j0; j <= pos; ++j) {
    const void* kr = row(src.k, src.ldk, j);
    for (int g = 0; g < G; ++g) {
      const float* q = qv + g * d;
      __m256 acc = _mm256_setzero_ps();
      int c = 0;
      for (; c + 8 <= d; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), load_kv8<K>(kr, c), acc);
      float s = hsum8(acc);
      for (; c < d; ++c) s += q[c] * kv_at<K>(kr, c);
      p[g * nk_ + (j - j0)] = s * scale;
    }
  }
  for (int g = 0; g < G; ++g) {
    float* pg = p + g * nk_;
    float mx = -INFINITY;
    for (int64_t j = 0; j < nk_; ++j) mx = std::max(mx, pg[j]);
    const double sum = exp_shift_sum(pg, pg, nk_, mx);
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < nk_; ++j) pg[j] *= inv;
    if (round) round_bf16(pg, pg, nk_);
    if (stats) {
      stats[2 * (h0 + g)] = mx;
      stats[2 * (h0 + g) + 1] = float(sum);
    }
    std::fill(out + int64_t(g) * d, out + int64_t(g + 1) * d, 0.0f);
  }
  for (int64_t j = j0; j <= pos; ++j) {
    const void* vr = row(src.v, src.ldv, j);
    for (int g = 0; g < G; ++g) {
      float* o = out + int64_t(g) * d;
      const __m256 w = _mm256_set1_ps(p[g * nk_ + (j - j0)]);
      int c = 0;
      for (; c + 8 <= d; c += 8) _mm256_storeu_ps(o + c, _mm256_fmadd_ps(w, load_kv8<K>(vr, c), _mm256_loadu_ps(o + c)));
      for (; c < d; ++c) o[c] += p[g * nk_ + (j - j0)] * kv_at<K>(vr, c);
    }
  }
}

// The direct kernel: n queries (positions pos0 ..) of one sequence, tasks = (query row, kv head).
void attend_direct(float* out, int64_t ldo, const float* q, int64_t ldq, const KvSource& src, int64_t n, int64_t pos0,
                   int nq, int nk, int d, int window, bool round, float* stats, int64_t lds) {
  const int G = nq / nk;
  const int64_t last = pos0 + n - 1;
  const bool par = n * nq * (last + 1) * d > 65536 && top_level();
  const int kind = src.dt == DType::BF16 ? 2 : round ? 1 : 0;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (par)
  for (int64_t t = 0; t < n; ++t)
    for (int kh = 0; kh < nk; ++kh) {
      const int h0 = kh * G;
      float* o = out + t * ldo + int64_t(h0) * d;
      const float* qg = q + t * ldq + int64_t(h0) * d;
      float* st = stats ? stats + t * lds : nullptr;
      if (kind == 2)
        attend_direct_group<2>(o, qg, ldq, src, pos0 + t, kh, G, d, window, round, st, h0);
      else if (kind == 1)
        attend_direct_group<1>(o, qg, ldq, src, pos0 + t, kh, G, d, window, round, st, h0);
      else
        attend_direct_group<0>(o, qg, ldq, src, pos0 + t, kh, G, d, window, round, st, h0);
    }
}

// Max of n floats (AVX2).
float row_max(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  alignas(32) float b[8];
  _mm256_store_ps(b, m);
  float r = std::max(std::max(std::max(b[0], b[1]), std::max(b[2], b[3])), std::max(std::max(b[4], b[5]), std::max(b[6], b[7])));
  for (; i < n; ++i) r = std::max(r, x[i]);
  return r;
}

// Whether keys [j0, j1) are all visible to every query at positions [qa, qb]: then no mask is needed.
bool fully_visible(int64_t j0, int64_t j1, int64_t qa, int64_t qb, int window) {
  return j1 - 1 <= qa && (window <= 0 || j0 > qb - window);
}

// The key range of query rows [t0, t1) (positions pos0 + t): [lo, hi].
void key_range(int64_t pos0, int64_t t0, int64_t t1, int window, int64_t first, int64_t* lo, int64_t* hi) {
  *hi = pos0 + t1 - 1;
  *lo = std::max(first, window > 0 ? std::max<int64_t>(0, pos0 + t0 - window + 1) : int64_t(0));
}

// Applies the causal/window mask to S [rows = G·nb, cols = nbk] for keys [j0, j0 + nbk): row hl·nb + i
// is the query at position qp0 + i.
void mask_tile(float* S, int G, int64_t nb, int64_t nbk, int64_t qp0, int64_t j0, int window, int64_t ld) {
  for (int hl = 0; hl < G; ++hl)
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t qp = qp0 + i;
      float* row = S + (hl * nb + i) * ld;
      for (int64_t c = 0; c < nbk; ++c) {
        const int64_t j = j0 + c;
        if (j > qp || (window > 0 && j <= qp - window)) row[c] = -INFINITY;
      }
    }
}

// Tiled forward of one (sequence, kv head, query tile).
void attend_tile(float* out, int64_t ldo, const float* q, int64_t ldq, const KvSource& src, int64_t t0, int64_t t1,
                 int64_t pos0, int kh, int G, int d, int window, bool round, float* stats, int64_t lds) {
  const int64_t nb = t1 - t0, R = G * nb;
  const float scale = 1.0f / std::sqrt(float(d));
  float* Q = scratch(8, size_t(R * d));
  float* O = scratch(9, size_t(R * d));
  float* S = scratch(10, size_t(R * kBk + 2 * R));
  float* KV = scratch(11, size_t(2 * kBk * d));
  float* m = S + R * kBk;
  float* l = m + R;
  for (int hl = 0; hl < G; ++hl)
    for (int64_t i = 0; i < nb; ++i)
      widen(DType::F32, q + (t0 + i) * ldq + int64_t(kh * G + hl) * d, Q + (hl * nb + i) * d, d, round);
  std::fill(O, O + R * d, 0.0f);
  std::fill(m, m + R, -INFINITY);
  std::fill(l, l + R, 0.0f);
  int64_t lo, hi;
  key_range(pos0, t0, t1, window, src.first, &lo, &hi);
  for (int64_t j0 = lo; j0 <= hi; j0 += kBk) {
    const int64_t j1 = std::min(hi + 1, j0 + kBk), nbk = j1 - j0;
    float* Kb = KV;
    float* Vb = KV + kBk * d;
    load_rows(Kb, src.k, src.ldk, src.dt, src.first, j0, j1, int64_t(kh) * d, d, round);
    load_rows(Vb, src.v, src.ldv, src.dt, src.first, j0, j1, int64_t(kh) * d, d, round);
    sgemm(false, true, R, nbk, d, scale, Q, d, Kb, d, 0.0f, S, nbk);
    if (!fully_visible(j0, j1, pos0 + t0, pos0 + t1 - 1, window)) mask_tile(S, G, nb, nbk, pos0 + t0, j0, window, nbk);
    for (int64_t r = 0; r < R; ++r) {
      float* row = S + r * nbk;
      const float bm = row_max(row, nbk);
      const float mn = std::max(m[r], bm);
      if (mn == -INFINITY) {  // no visible key yet
        std::fill(row, row + nbk, 0.0f);
        continue;
      }
      const float a = m[r] == -INFINITY ? 0.0f : exp1(m[r] - mn);
      const double ps = exp_shift_sum(row, row, nbk, mn);
      l[r] = l[r] * a + float(ps);
      m[r] = mn;
      if (a != 1.0f)
        for (int c = 0; c < d; ++c) O[r * d + c] *= a;
    }
    if (round) round_bf16(S, S, R * nbk);
    sgemm(false, false, R, d, nbk, 1.0f, S, nbk, Vb, d, 1.0f, O, d);
  }
  for (int hl = 0; hl < G; ++hl)
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t r = hl * nb + i;
      const float inv = 1.0f / l[r];
      float* o = out + (t0 + i) * ldo + int64_t(kh * G + hl) * d;
      for (int c = 0; c < d; ++c) o[c] = O[r * d + c] * inv;
      if (stats) {
        stats[(t0 + i) * lds + 2 * (kh * G + hl)] = m[r];
        stats[(t0 + i) * lds + 2 * (kh * G + hl) + 1] = l[r];
      }
    }
}

KvSource source_of(const SeqSlice& s, const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t kvw, DType kvdt) {
  if (s.kcache) return {s.kcache, s.vcache, kvw, kvw, kvdt, 0, 0};
  return {k + s.row * ldk, v + s.row * ldv, ldk, ldv, DType::F32, s.pos, 0};
}

}  // namespace

void CpuBackend::value_shift(float* v, const float* vcd, const SeqSlice* seqs, int nseq, int64_t vh) {
  ZAYA_OP_SCOPE("value_shift");
  const int64_t kv = 2 * vh;
  for (int i = 0; i < nseq; ++i) {
    const SeqSlice& s = seqs[i];
    for (int64_t t = s.row; t < s.row + s.len; ++t) {
      std::memcpy(v + t * kv, vcd + t * kv, sizeof(float) * size_t(vh));
      float* del = v + t * kv + vh;
      if (t > s.row)
        std::memcpy(del, vcd + (t - 1) * kv + vh, sizeof(float) * size_t(vh));
      else if (s.vdel)
        std::memcpy(del, s.vdel, sizeof(float) * size_t(vh));
      else
        std::fill(del, del + vh, 0.0f);
    }
    if (s.vdel && s.len > 0) std::memcpy(s.vdel, vcd + (s.row + s.len - 1) * kv + vh, sizeof(float) * size_t(vh));
  }
}

void CpuBackend::value_shift_backward(float* dvcd, const float* dv, const SeqSlice* seqs, int nseq, int64_t vh) {
  ZAYA_OP_SCOPE("value_shift_backward");
  const int64_t kv = 2 * vh;
  for (int i = 0; i < nseq; ++i) {
    const SeqSlice& s = seqs[i];
    for (int64_t t = s.row; t < s.row + s.len; ++t) {
      for (int64_t c = 0; c < vh; ++c) dvcd[t * kv + c] += dv[t * kv + c];
      if (t > s.row)
        for (int64_t c = 0; c < vh; ++c) dvcd[(t - 1) * kv + vh + c] += dv[t * kv + vh + c];
    }
  }
}

void CpuBackend::kv_append(const SeqSlice* seqs, int nseq, const float* k, int64_t ldk, const float* v, int64_t ldv,
                           int64_t kvw) {
  ZAYA_OP_SCOPE("kv_append");
  for (int i = 0; i < nseq; ++i) {
    const SeqSlice& s = seqs[i];
    ZAYA_CHECK(s.kcache && s.vcache, "kv_append: sequence ", i, " has no cache");
    for (int64_t t = 0; t < s.len; ++t) {
      const float* kr = k + (s.row + t) * ldk;
      const float* vr = v + (s.row + t) * ldv;
      const int64_t dst = (s.pos + t) * kvw;
      if (kv_dtype() == DType::BF16) {
        uint16_t* kc = static_cast<uint16_t*>(s.kcache) + dst;
        uint16_t* vc = static_cast<uint16_t*>(s.vcache) + dst;
        for (int64_t c = 0; c < kvw; ++c) {
          kc[c] = f32_to_bf16(kr[c]);
          vc[c] = f32_to_bf16(vr[c]);
        }
      } else {
        std::memcpy(static_cast<float*>(s.kcache) + dst, kr, sizeof(float) * size_t(kvw));
        std::memcpy(static_cast<float*>(s.vcache) + dst, vr, sizeof(float) * size_t(kvw));
      }
    }
  }
}

void CpuBackend::attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk,
                                   const float* v, int64_t ldv, const SeqSlice* seqs, int nseq, int nq, int nk, int d,
                                   int window, float* stats) {
  ZAYA_OP_SCOPE("attention_forward");
  const int G = nq / nk;
  const int64_t kvw = int64_t(nk) * d;
  const bool round = prec_ == Precision::BF16;
  struct Task {
    int seq, kh;
    int64_t t0, t1;
  };
  std::vector<Task> tasks;
  for (int i = 0; i < nseq; ++i) {
    const SeqSlice& s = seqs[i];
    if (s.len <= 0) continue;
    KvSource src = source_of(s, k, ldk, v, ldv, kvw, kv_dtype());
    if (s.len < kTileMin) {
      attend_direct(out + s.row * ldo, ldo, q + s.row * ldq, ldq, src, s.len, s.pos, nq, nk, d, window, round,
                    stats ? stats + s.row * 2 * nq : nullptr, 2 * nq);
      continue;
    }
    for (int kh = 0; kh < nk; ++kh)
      for (int64_t t0 = 0; t0 < s.len; t0 += kBq) tasks.push_back({i, kh, t0, std::min(s.len, t0 + kBq)});
  }
  // Longest tiles (most keys) first.
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.t1 > b.t1; });
  maybe_parallel(int64_t(tasks.size()), top_level(), [&](int64_t x) {
    const Task& tk = tasks[size_t(x)];
    const SeqSlice& s = seqs[tk.seq];
    KvSource src = source_of(s, k, ldk, v, ldv, kvw, kv_dtype());
    attend_tile(out + s.row * ldo, ldo, q + s.row * ldq, ldq, src, tk.t0, tk.t1, s.pos, tk.kh, G, d, window, round,
                stats ? stats + s.row * 2 * nq : nullptr, 2 * nq);
  });
}

void CpuBackend::attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                                    const float* dout, int64_t ldo, const float* q, int64_t ldq, const float* k,
                                    int64_t ldk, const float* v, int64_t ldv, const float* out, const float* stats,
                                    const SeqSlice* seqs, int nseq, int nq, int nk, int d, int window) {
  ZAYA_OP_SCOPE("attention_backward");
  const int G = nq / nk;
  const int64_t kvw = int64_t(nk) * d;
  const bool round = prec_ == Precision::BF16;
  const float scale = 1.0f / std::sqrt(float(d));
  int64_t T = 0;
  struct Task {
    int seq, kh;
    int64_t t0, t1;
  };
  std::vector<Task> tasks;
  for (int i = 0; i < nseq; ++i) {
    const SeqSlice& s = seqs[i];
    ZAYA_CHECK(!s.kcache, "attention_backward: only training segments are supported");
    T = std::max(T, s.row + s.len);
    for (int kh = 0; kh < nk; ++kh)
      for (int64_t t0 = 0; t0 < s.len; t0 += kBq) tasks.push_back({i, kh, t0, std::min(s.len, t0 + kBq)});
  }
  const int nt = std::max<int>(1, std::min<int>(top_level() ? omp_get_max_threads() : 1, int(tasks.size())));
  // Per-thread key/value gradients [T, kvw] (thread 0 uses its own as well), summed in thread order.
  std::vector<float*> part(static_cast<size_t>(nt));
  float* base = scratch(14, size_t(nt) * size_t(2 * T * kvw));
  std::fill(base, base + size_t(nt) * size_t(2 * T * kvw), 0.0f);
  for (int i = 0; i < nt; ++i) part[size_t(i)] = base + size_t(i) * size_t(2 * T * kvw);
  auto task = [&](size_t x) {
    const Task& tk = tasks[x];
    const SeqSlice& s = seqs[tk.seq];
    thread_local std::vector<double> dsum_;
    float* dKp = part[size_t(omp_get_thread_num())];
    float* dVp = dKp + T * kvw;
    const int64_t nb = tk.t1 - tk.t0, R = G * nb;
    float* Q = scratch(8, size_t(3 * R * d + 3 * R));
    float* dO = Q + R * d;
    float* dQ = dO + R * d;
    float* Mr = dQ + R * d;  // row max, 1/sum, and D = Σ_j P_j·dP_j
    float* Ir = Mr + R;
    float* Dr = Ir + R;
    float* KV = scratch(10, size_t(4 * kBk * d));
    float* Kb = KV;
    float* Vb = KV + kBk * d;
    float* dKb = Vb + kBk * d;
    float* dVb = dKb + kBk * d;
    for (int hl = 0; hl < G; ++hl)
      for (int64_t i = 0; i < nb; ++i) {
        const int64_t t = s.row + tk.t0 + i, r = hl * nb + i;
        const int64_t col = int64_t(tk.kh * G + hl) * d;
        widen(DType::F32, q + t * ldq + col, Q + r * d, d, round);
        widen(DType::F32, dout + t * ldo + col, dO + r * d, d, false);
        Mr[r] = stats[t * 2 * nq + 2 * (tk.kh * G + hl)];
        Ir[r] = 1.0f / stats[t * 2 * nq + 2 * (tk.kh * G + hl) + 1];
        if (round) round_bf16(dO + r * d, dO + r * d, d);
      }
    std::fill(dQ, dQ + R * d, 0.0f);
    KvSource src = source_of(s, k, ldk, v, ldv, kvw, DType::F32);
    int64_t lo, hi;
    key_range(s.pos, tk.t0, tk.t1, window, src.first, &lo, &hi);
    const int64_t nkeys = hi - lo + 1;
    // P = exp(S − max)/sum and dP = dO·Vᵀ of every key block; kept for the second pass when they fit.
    const bool cache = nkeys <= kCacheKeys;
    float* Pall = scratch(9, size_t(2 * R * (cache ? nkeys : kBk)));
    float* dPall = Pall + R * (cache ? nkeys : kBk);
    auto probs = [&](int64_t j0, int64_t nbk, float* P, float* dP, int64_t ldp) {
      load_rows(Kb, src.k, src.ldk, src.dt, src.first, j0, j0 + nbk, int64_t(tk.kh) * d, d, round);
      load_rows(Vb, src.v, src.ldv, src.dt, src.first, j0, j0 + nbk, int64_t(tk.kh) * d, d, round);
      sgemm(false, true, R, nbk, d, scale, Q, d, Kb, d, 0.0f, P, ldp);
      if (!fully_visible(j0, j0 + nbk, s.pos + tk.t0, s.pos + tk.t1 - 1, window))
        mask_tile(P, G, nb, nbk, s.pos + tk.t0, j0, window, ldp);
      for (int64_t r = 0; r < R; ++r) {
        float* pr = P + r * ldp;
        exp_shift_sum(pr, pr, nbk, Mr[r]);
        for (int64_t c = 0; c < nbk; ++c) pr[c] *= Ir[r];
      }
      sgemm(false, true, R, nbk, d, 1.0f, dO, d, Vb, d, 0.0f, dP, ldp);
    };
    // Pass 1: D = Σ_j P_j·dP_j from the same P and dP that form dS, so Σ_j dS_j = 0 to rounding (the
    // softmax gradient's invariant; D = dO·O agrees only to the forward's rounding).
    std::vector<double>& D = dsum_;
    D.assign(size_t(R), 0.0);
    for (int64_t j0 = lo; j0 <= hi; j0 += kBk) {
      const int64_t nbk = std::min(hi + 1, j0 + kBk) - j0;
      float* P = cache ? Pall + (j0 - lo) : Pall;
      float* dP = cache ? dPall + (j0 - lo) : dPall;
      const int64_t ldp = cache ? nkeys : nbk;
      probs(j0, nbk, P, dP, ldp);
      for (int64_t r = 0; r < R; ++r) {
        double acc = 0;
        for (int64_t c = 0; c < nbk; ++c) acc += double(P[r * ldp + c]) * dP[r * ldp + c];
        D[size_t(r)] += acc;
      }
    }
    for (int64_t r = 0; r < R; ++r) Dr[r] = float(D[size_t(r)]);
    // Pass 2: dS = P ⊙ (dP − D)·scale; dV += Pᵀ·dO, dQ += dS·K, dK += dSᵀ·Q.
    for (int64_t j0 = lo; j0 <= hi; j0 += kBk) {
      const int64_t j1 = std::min(hi + 1, j0 + kBk), nbk = j1 - j0;
      float* P = cache ? Pall + (j0 - lo) : Pall;
      float* dP = cache ? dPall + (j0 - lo) : dPall;
      const int64_t ldp = cache ? nkeys : nbk;
      if (!cache) {
        probs(j0, nbk, P, dP, ldp);
      } else {
        load_rows(Kb, src.k, src.ldk, src.dt, src.first, j0, j1, int64_t(tk.kh) * d, d, round);
      }
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < nbk; ++c) dP[r * ldp + c] = P[r * ldp + c] * (dP[r * ldp + c] - Dr[r]) * scale;
      if (round)
        for (int64_t r = 0; r < R; ++r) {
          round_bf16(P + r * ldp, P + r * ldp, nbk);
          round_bf16(dP + r * ldp, dP + r * ldp, nbk);
        }
      sgemm(true, false, nbk, d, R, 1.0f, P, ldp, dO, d, 0.0f, dVb, d);
      sgemm(false, false, R, d, nbk, 1.0f, dP, ldp, Kb, d, 1.0f, dQ, d);
      sgemm(true, false, nbk, d, R, 1.0f, dP, ldp, Q, d, 0.0f, dKb, d);
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t row = s.row + (j - s.pos);
        float* dkr = dKp + row * kvw + int64_t(tk.kh) * d;
        float* dvr = dVp + row * kvw + int64_t(tk.kh) * d;
        for (int c = 0; c < d; ++c) {
          dkr[c] += dKb[(j - j0) * d + c];
          dvr[c] += dVb[(j - j0) * d + c];
        }
      }
    }
    for (int hl = 0; hl < G; ++hl)
      for (int64_t i = 0; i < nb; ++i) {
        float* o = dq + (s.row + tk.t0 + i) * lddq + int64_t(tk.kh * G + hl) * d;
        const float* g = dQ + (hl * nb + i) * d;
        for (int c = 0; c < d; ++c) o[c] += g[c];
      }
  };
  if (nt > 1) {
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (size_t x = 0; x < tasks.size(); ++x) task(x);
  } else {
    for (size_t x = 0; x < tasks.size(); ++x) task(x);
  }
#pragma omp parallel for schedule(static) if (T * kvw > 65536)
  for (int64_t t = 0; t < T; ++t)
    for (int i = 0; i < nt; ++i) {
      const float* dKp = part[size_t(i)] + t * kvw;
      const float* dVp = part[size_t(i)] + T * kvw + t * kvw;
      for (int64_t c = 0; c < kvw; ++c) {
        dk[t * lddk + c] += dKp[c];
        dv[t * lddv + c] += dVp[c];
      }
    }
}

}  // namespace ops::cpu
}  // namespace zaya
