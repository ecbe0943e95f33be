// Cross-entropy on the CPU (rows in parallel, vectorized exp, double sums) and its reference
// kernel (ops/loss.h).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/vecmath.h"
#include "ops/loss.h"

namespace zaya {
namespace ops::ref {

template <typename S>
double cross_entropy(S* dlogits, const S* logits, const int32_t* targets, int64_t T, int64_t V, double scale) {
  double total = 0;
  for (int64_t t = 0; t < T; ++t) {
    const S* l = logits + t * V;
    S* d = dlogits ? dlogits + t * V : nullptr;
    if (targets[t] == -100) {
      if (d) std::fill(d, d + V, S(0));
      continue;
    }
    ZAYA_CHECK(targets[t] >= 0 && targets[t] < V, "cross_entropy: target ", targets[t], " outside [0, ", V, ")");
    S m = *std::max_element(l, l + V);
    double z = 0;
    for (int64_t i = 0; i < V; ++i) z += std::exp(double(l[i] - m));
    const double lse = std::log(z) + double(m);
    const double lt = double(l[targets[t]]);
    total += lse - lt;
    if (d) {
      for (int64_t i = 0; i < V; ++i) d[i] = S(std::exp(double(l[i]) - lse) * scale);
      d[targets[t]] -= S(scale);
    }
  }
  return total;
}
template double cross_entropy<float>(float*, const float*, const int32_t*, int64_t, int64_t, double);
template double cross_entropy<double>(double*, const double*, const int32_t*, int64_t, int64_t, double);

}  // namespace ops::ref

namespace ops::cpu {

double CpuBackend::cross_entropy(float* dlogits, const float* logits, const int32_t* targets, int64_t T, int64_t V,
                                 double scale) {
  ZAYA_OP_SCOPE("cross_entropy");
  for (int64_t t = 0; t < T; ++t)
    ZAYA_CHECK(targets[t] == -100 || (targets[t] >= 0 && targets[t] < V), "cross_entropy: target ", targets[t],
               " outside [0, ", V, ")");
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (T * V > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const float* l = logits + t * V;
    float* d = dlogits ? dlogits + t * V : nullptr;
    if (targets[t] == -100) {
      if (d) std::fill(d, d + V, 0.0f);
      continue;
    }
    const float m = *std::max_element(l, l + V);
    const float lt = l[targets[t]];
    // exp(l − m) into d when there is a gradient to form (it is rescaled below), else into scratch.
    float* e = d ? d : scratch(14, size_t(V));
    const double z = exp_shift_sum(e, l, V, m);
    const double lse = std::log(z) + double(m);
    total += lse - double(lt);
    if (d) {
      const float f = float(scale / z);
      for (int64_t i = 0; i < V; ++i) d[i] *= f;
      d[targets[t]] -= float(scale);
    }
  }
  return total;
}

}  // namespace ops::cpu
}  // namespace zaya
