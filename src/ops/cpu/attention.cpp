#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention.h"

namespace zaya::ops {

void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* kc, const float* vc,
                       int64_t n, int64_t S, int nq, int nk, int d, int window) {
  const int G = nq / nk;
  const float scale = 1.0f / std::sqrt(float(d));
  const int64_t kvw = int64_t(nk) * d;
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(S));
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int64_t t = 0; t < n; ++t)
      for (int h = 0; h < nq; ++h) {
        const int64_t pos = S - n + t;
        const int64_t j0 = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
        const float* qv = q + t * ldq + int64_t(h) * d;
        const int kh = h / G;
        float mx = -INFINITY;
        for (int64_t j = j0; j <= pos; ++j) {
          const float* kv = kc + j * kvw + int64_t(kh) * d;
          float s = 0;
#pragma omp simd reduction(+ : s)
          for (int c = 0; c < d; ++c) s += qv[c] * kv[c];
          s *= scale;
          p[size_t(j)] = s;
          mx = std::max(mx, s);
        }
        double sum = 0;
        for (int64_t j = j0; j <= pos; ++j) {
          p[size_t(j)] = std::exp(p[size_t(j)] - mx);
          sum += p[size_t(j)];
        }
        float inv = float(1.0 / sum);
        float* o = out + t * ldo + int64_t(h) * d;
        std::fill(o, o + d, 0.0f);
        for (int64_t j = j0; j <= pos; ++j) {
          const float* vv = vc + j * kvw + int64_t(kh) * d;
          float w = p[size_t(j)] * inv;
          for (int c = 0; c < d; ++c) o[c] += w * vv[c];
        }
      }
  }
}

}  // namespace zaya::ops
