// Sampler: greedy is argmax; temperature/top-k/top-p draw from the right truncated distribution
// (checked by frequency over many draws); the same seed gives the same sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "infer/sampler.h"

namespace zaya {
namespace {

std::vector<float> logits() { return {1.0f, 3.0f, 2.0f, 0.0f, 2.5f, -1.0f}; }

std::vector<double> freq(SamplerConfig c, int n = 200000) {
  Sampler s(c);
  auto l = logits();
  std::vector<double> f(l.size(), 0.0);
  for (int i = 0; i < n; ++i) f[size_t(s.sample(l.data(), int64_t(l.size())))] += 1.0 / n;
  return f;
}

std::vector<double> softmax(std::vector<int> keep, float T) {
  auto l = logits();
  std::vector<double> p(l.size(), 0.0);
  double z = 0;
  for (int i : keep) z += p[size_t(i)] = std::exp(l[size_t(i)] / T);
  for (auto& x : p) x /= z;
  return p;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b) {
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.006) << "id " << i;
}

TEST(Sampler, Greedy) {
  Sampler s({0.0f, 0, 1.0f, 0});
  auto l = logits();
  EXPECT_EQ(s.sample(l.data(), 6), 1);
}

TEST(Sampler, TemperatureTopKTopP) {
  expect_close(freq({0.7f, 0, 1.0f, 1}), softmax({0, 1, 2, 3, 4, 5}, 0.7f));
  expect_close(freq({1.0f, 3, 1.0f, 2}), softmax({1, 4, 2}, 1.0f));
  // Probabilities at T=1: id1 .43, id4 .26, id2 .16, id0 .06 ... top_p 0.8 keeps {1, 4, 2}.
  expect_close(freq({1.0f, 0, 0.8f, 3}), softmax({1, 4, 2}, 1.0f));
  expect_close(freq({1.0f, 2, 0.99f, 4}), softmax({1, 4}, 1.0f));
}

TEST(Sampler, SeedIsDeterministic) {
  auto l = logits();
  Sampler a({1.0f, 0, 0.9f, 42}), b({1.0f, 0, 0.9f, 42});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(l.data(), 6), b.sample(l.data(), 6));
}

}  // namespace
}  // namespace zaya
