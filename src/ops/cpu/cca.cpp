#include <cblas.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/cca.h"

namespace zaya::ops {

void cca_conv_forward(float* out, const float* u, int64_t ld, float* state, const float* w0, const float* b0,
                      const float* w1t, const float* b1, int64_t n, int C, int d, int k0, int k1, float* m) {
  const int K = (k0 - 1) + (k1 - 1);
  // Row r of the window x: state rows 0..K-1, then u rows.
  auto xrow = [&](int64_t r) -> const float* { return r < K ? state + r * C : u + (r - K) * ld; };
  const int64_t nm = n + k1 - 1;  // stage-0 outputs needed
#pragma omp parallel for schedule(static) if (nm * C > 65536)
  for (int64_t i = 0; i < nm; ++i) {
    float* mr = m + i * C;
    for (int c = 0; c < C; ++c) mr[c] = b0[c];
    for (int a = 0; a < k0; ++a) {
      const float* xr = xrow(i + a);
      for (int c = 0; c < C; ++c) mr[c] += w0[c * k0 + a] * xr[c];
    }
  }
  for (int64_t t = 0; t < n; ++t) std::memcpy(out + t * ld, b1, sizeof(float) * size_t(C));
  const int G = C / d;
  for (int b = 0; b < k1; ++b)
    for (int g = 0; g < G; ++g)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), d, d, 1.0f, m + int64_t(b) * C + g * d, C,
                  w1t + (int64_t(b) * C + int64_t(g) * d) * d, d, 1.0f, out + g * d, int(ld));
  // New state: the last K rows of x = [state ; u].
  if (K > 0) {
    std::vector<float> ns(size_t(K) * C);
    for (int r = 0; r < K; ++r) std::memcpy(ns.data() + size_t(r) * C, xrow(n + r), sizeof(float) * size_t(C));
    std::memcpy(state, ns.data(), ns.size() * sizeof(float));
  }
}

void cca_qk_mean_add(float* qk, const float* u, int64_t ld, int64_t T, int nq, int nk, int d) {
  const int G = nq / nk;
  std::vector<float> rk(static_cast<size_t>(d));
  for (int64_t t = 0; t < T; ++t) {
    const float* qt = u + t * ld;                 // q̃ heads
    const float* kt = qt + int64_t(nq) * d;       // k̃ heads
    float* q = qk + t * ld;
    float* k = q + int64_t(nq) * d;
    for (int h = 0; h < nk; ++h) {
      std::fill(rk.begin(), rk.end(), 0.0f);
      for (int i = h * G; i < (h + 1) * G; ++i)
        for (int j = 0; j < d; ++j) {
          float r = (qt[i * d + j] + kt[h * d + j]) * 0.5f;
          q[i * d + j] += r;
          rk[size_t(j)] += r;
        }
      for (int j = 0; j < d; ++j) k[h * d + j] += rk[size_t(j)] / float(G);
    }
  }
}

void cca_qk_normalize(float* qk, int64_t ld, const float* temp, int64_t T, int nq, int nk, int d) {
  const float sd = std::sqrt(float(d));
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      float* x = qk + t * ld + int64_t(h) * d;
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(x[j]) * x[j];
      float s = sd / std::max(float(std::sqrt(ss)), FLT_EPSILON);
      for (int j = 0; j < d; ++j) x[j] *= s;
      if (h >= nq)
        for (int j = 0; j < d; ++j) x[j] *= temp[h - nq];
    }
}

}  // namespace zaya::ops
