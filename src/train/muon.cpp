// Newton–Schulz quintic orthogonalization (the Muon inner step), fp32 on OpenBLAS.
//
// The iteration is defined on the wide orientation X (m x N, m = min(rows, cols)). A tall matrix Y = Xᵀ is
// not transposed: the same iteration written for Y is A = YᵀY, B = b A + c A A, Y ← a Y + Y Bᵀ, which keeps
// the data in its own layout. A = X Xᵀ is a symmetric rank-k update (ssyrk: half the flops of a gemm).
// The iterate alternates between `out` and one scratch buffer, starting in whichever makes the last step
// land in `out`, so no final copy is needed and `out` may alias G (G is read once, before any write).
#include <cblas.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "train/optim.h"

namespace zaya {

void newton_schulz5(const float* G, int64_t rows, int64_t cols, float* out, const OptimConfig& cfg,
                    std::vector<float>* work) {
  ZAYA_CHECK(rows > 0 && cols > 0, "newton_schulz5: bad matrix shape ", rows, "x", cols);
  ZAYA_CHECK(cfg.ns_steps >= 0, "newton_schulz5: ns_steps must be >= 0, got ", cfg.ns_steps);
  const bool tall = rows > cols;
  const int64_t m = tall ? cols : rows;  // the small side: A and B are m x m
  const int64_t n = rows * cols;
  std::vector<float> local;
  std::vector<float>& w = work ? *work : local;
  const size_t need = size_t(n + 2 * m * m);
  if (w.size() < need) w.resize(need);
  float* scratch = w.data();
  float* A = scratch + n;
  float* B = A + m * m;

  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(G[i]) * double(G[i]);
  const double inv = 1.0 / (std::sqrt(ss) + 1e-7);
  float* X = cfg.ns_steps % 2 == 0 ? out : scratch;
  float* Xn = X == out ? scratch : out;
  for (int64_t i = 0; i < n; ++i) X[i] = float(double(G[i]) * inv);

  const float a = float(cfg.ns_a), b = float(cfg.ns_b), c = float(cfg.ns_c);
  const int M = int(m), K = int(tall ? rows : cols);  // X is M x K (wide) or Y is K x M (tall)
  for (int s = 0; s < cfg.ns_steps; ++s) {
    // A = X Xᵀ (wide) or YᵀY (tall); upper triangle, then mirrored.
    cblas_ssyrk(CblasRowMajor, CblasUpper, tall ? CblasTrans : CblasNoTrans, M, K, 1.0f, X, tall ? M : K, 0.0f,
                A, M);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = i + 1; j < m; ++j) A[j * m + i] = A[i * m + j];
    // B = b A + c A A
    std::memcpy(B, A, size_t(m * m) * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, c, A, M, A, M, b, B, M);
    // X ← a X + B X (wide) or Y ← a Y + Y Bᵀ (tall)
    std::memcpy(Xn, X, size_t(n) * sizeof(float));
    if (tall)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, M, M, 1.0f, X, M, B, M, a, Xn, M);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, M, 1.0f, B, M, X, K, a, Xn, K);
    std::swap(X, Xn);
  }
  // By the parity choice above, X == out here.
}

}  // namespace zaya
