// Newton–Schulz quintic orthogonalization (the Muon inner step), batched over same-shape matrices as
// GEMMs on the backend.
//
// The iteration is defined on the wide orientation X (m x K, m = min(rows, cols)). A tall matrix Y = Xᵀ is
// not transposed: the same iteration written for Y is A = YᵀY, B = b A + c A A, Y ← a Y + Y Bᵀ, which keeps
// the data in its own layout. A and A A are symmetric: only the lower block triangle of nb x nb blocks is
// computed by GEMMs (10 of 16 blocks for nb = 4), then mirrored.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "train/optim.h"

namespace zaya {

namespace {

// C_i = S_i S_iᵀ (wide: S_i [m, K], ld K) or S_iᵀ S_i (tall: S_i [K, m], ld m), C_i [m, m], for i < n.
void sym_product(Backend& be, const float* S, int64_t n, int64_t m, int64_t K, bool tall, float* C) {
  const int nb = m >= 256 ? 4 : m >= 64 ? 2 : 1;
  const int64_t bs = (m + nb - 1) / nb, sS = m * K, sC = m * m;
  for (int bi = 0; bi < nb; ++bi)
    for (int bj = 0; bj <= bi; ++bj) {
      const int64_t i0 = bi * bs, j0 = bj * bs;
      const int64_t mi = std::min(bs, m - i0), mj = std::min(bs, m - j0);
      if (mi <= 0 || mj <= 0) continue;
      if (tall)
        be.gemm_batched(true, false, mi, mj, K, 1.0f, S + i0, m, sS, S + j0, m, sS, 0.0f, C + i0 * m + j0, m, sC, n);
      else
        be.gemm_batched(false, true, mi, mj, K, 1.0f, S + i0 * K, K, sS, S + j0 * K, K, sS, 0.0f, C + i0 * m + j0, m,
                        sC, n);
    }
  // Mirror the strictly upper blocks from the lower ones, in 32 x 32 tiles (cache-friendly transposes).
  constexpr int64_t kTile = 32;
#pragma omp parallel for schedule(static) if (n * m * m > 65536)
  for (int64_t b = 0; b < n; ++b) {
    float* c = C + b * sC;
    for (int bi = 0; bi < nb; ++bi)
      for (int bj = bi + 1; bj < nb; ++bj) {  // upper block (bi, bj) = lower block (bj, bi)ᵀ
        const int64_t r0 = bi * bs, r1 = std::min(m, r0 + bs), c0 = bj * bs, c1 = std::min(m, c0 + bs);
        for (int64_t i0 = r0; i0 < r1; i0 += kTile)
          for (int64_t j0 = c0; j0 < c1; j0 += kTile)
            for (int64_t i = i0; i < std::min(r1, i0 + kTile); ++i)
              for (int64_t j = j0; j < std::min(c1, j0 + kTile); ++j) c[i * m + j] = c[j * m + i];
      }
  }
}

}  // namespace

void newton_schulz5_batched(Backend& be, float* X, int64_t n, int64_t rows, int64_t cols, const OptimConfig& cfg,
                            std::vector<float>& work) {
  ZAYA_CHECK(rows > 0 && cols > 0 && n > 0, "newton_schulz5: bad matrix shape ", n, "x", rows, "x", cols);
  ZAYA_CHECK(cfg.ns_steps >= 0, "newton_schulz5: ns_steps must be >= 0, got ", cfg.ns_steps);
  const bool tall = rows > cols;
  const int64_t m = tall ? cols : rows, K = tall ? rows : cols, sz = rows * cols;
  const size_t need = size_t(n) * size_t(sz + 2 * m * m);
  if (work.size() < need) work.resize(need);
  float* Xn = work.data();
  float* A = Xn + n * sz;
  float* B = A + n * m * m;
  // X_i = G_i / (‖G_i‖_F + 1e-7)
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t b = 0; b < n; ++b) {
    float* x = X + b * sz;
    double ss = 0;
    for (int64_t i = 0; i < sz; ++i) ss += double(x[i]) * double(x[i]);
    const double inv = 1.0 / (std::sqrt(ss) + 1e-7);
    for (int64_t i = 0; i < sz; ++i) x[i] = float(double(x[i]) * inv);
  }
  be.round_to_precision(X, n * sz);
  const float a = float(cfg.ns_a), bq = float(cfg.ns_b), c = float(cfg.ns_c);
  float* cur = X;
  float* nxt = Xn;
  for (int s = 0; s < cfg.ns_steps; ++s) {
    sym_product(be, cur, n, m, K, tall, A);  // A = X Xᵀ (wide) or YᵀY (tall)
    be.round_to_precision(A, n * m * m);
    sym_product(be, A, n, m, m, false, B);  // A A = A Aᵀ
#pragma omp parallel for schedule(static) if (n * m * m > 65536)
    for (int64_t i = 0; i < n * m * m; ++i) B[i] = bq * A[i] + c * B[i];
    be.round_to_precision(B, n * m * m);
    // X ← a X + B X (wide) or Y ← a Y + Y Bᵀ (tall)
    std::memcpy(nxt, cur, size_t(n * sz) * sizeof(float));
    if (tall)
      be.gemm_batched(false, true, K, m, m, 1.0f, cur, m, sz, B, m, m * m, a, nxt, m, sz, n);
    else
      be.gemm_batched(false, false, m, K, m, 1.0f, B, m, m * m, cur, K, sz, a, nxt, K, sz, n);
    be.round_to_precision(nxt, n * sz);
    std::swap(cur, nxt);
  }
  if (cur != X) std::memcpy(X, cur, size_t(n * sz) * sizeof(float));
}

void newton_schulz5(const float* G, int64_t rows, int64_t cols, float* out, const OptimConfig& cfg,
                    std::vector<float>* work, Backend& be) {
  std::vector<float> local;
  std::vector<float>& w = work ? *work : local;
  if (out != G) std::memcpy(out, G, size_t(rows * cols) * sizeof(float));
  newton_schulz5_batched(be, out, 1, rows, cols, cfg, w);
}

}  // namespace zaya
