#include "infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace zaya {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

int32_t Sampler::sample(const float* logits, int64_t V) {
  if (c_.temperature <= 0.0f) return argmax(logits, V);
  const float mx = logits[argmax(logits, V)];
  const float inv_t = 1.0f / c_.temperature;
  std::vector<float> p(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) p[size_t(i)] = std::exp((logits[i] - mx) * inv_t);  // unnormalized
  const bool topk = c_.top_k > 0 && c_.top_k < V, topp = c_.top_p < 1.0f;
  if (!topk && !topp) {  // plain temperature sampling: one pass, no sorting
    double total = 0;
    for (float x : p) total += x;
    double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
    for (int64_t i = 0; i < V; ++i) {
      r -= p[size_t(i)];
      if (r <= 0) return int32_t(i);
    }
    return int32_t(V - 1);
  }
  // Candidates in descending probability (ties: lower id first). Only the head is sorted: top-k
  // needs k, top-p needs the prefix holding top_p of the mass, which is found by doubling.
  double total = 0;
  for (float x : p) total += x;
  auto before = [&](int32_t a, int32_t b) { return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b); };
  std::vector<int32_t> idx(static_cast<size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  int64_t limit = topk ? c_.top_k : V;
  int64_t head = topk ? limit : std::min<int64_t>(V, 256);
  std::vector<int32_t> cand;
  for (;;) {
    std::partial_sort(idx.begin(), idx.begin() + head, idx.end(), before);
    cand.assign(idx.begin(), idx.begin() + head);
    if (!topp || topk || head == V) break;
    double acc = 0;
    for (int32_t i : cand) acc += p[size_t(i)];
    if (acc >= c_.top_p * total) break;
    head = std::min<int64_t>(V, head * 4);
  }
  double mass = 0;
  for (int32_t i : cand) mass += p[size_t(i)];
  size_t n = cand.size();
  if (topp) {  // smallest prefix whose share of the (top-k) mass reaches top_p
    double acc = 0;
    for (size_t i = 0; i < cand.size(); ++i) {
      acc += p[size_t(cand[i])];
      if (acc >= c_.top_p * mass) {
        n = i + 1;
        break;
      }
    }
  }
  double m = 0;
  for (size_t i = 0; i < n; ++i) m += p[size_t(cand[i])];
  double r = std::uniform_real_distribution<double>(0.0, m)(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= p[size_t(cand[i])];
    if (r <= 0) return cand[i];
  }
  return cand[n - 1];
}

}  // namespace zaya
