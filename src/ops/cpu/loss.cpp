#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/loss.h"

namespace zaya::ops {

template <typename S>
double cross_entropy(S* dlogits, const S* logits, const int32_t* targets, int64_t T, int64_t V, int32_t ignore) {
  int64_t count = 0;
  for (int64_t t = 0; t < T; ++t) {
    if (targets[t] == ignore) continue;
    ZAYA_CHECK(targets[t] >= 0 && targets[t] < V, "cross_entropy: target ", targets[t], " outside [0, ", V, ")");
    ++count;
  }
  double total = 0;
  const double inv = count ? 1.0 / double(count) : 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (T * V > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const S* l = logits + t * V;
    S* d = dlogits ? dlogits + t * V : nullptr;
    if (targets[t] == ignore) {
      if (d) std::fill(d, d + V, S(0));
      continue;
    }
    S m = *std::max_element(l, l + V);
    double z = 0;
    for (int64_t i = 0; i < V; ++i) z += std::exp(double(l[i] - m));
    double lse = std::log(z) + double(m);
    total += lse - double(l[targets[t]]);
    if (d) {
      for (int64_t i = 0; i < V; ++i) d[i] = S(std::exp(double(l[i]) - lse) * inv);
      d[targets[t]] -= S(inv);
    }
  }
  return total * inv;
}

template double cross_entropy<float>(float*, const float*, const int32_t*, int64_t, int64_t, int32_t);
template double cross_entropy<double>(double*, const double*, const int32_t*, int64_t, int64_t, int32_t);

}  // namespace zaya::ops
