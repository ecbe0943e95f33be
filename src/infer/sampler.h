// Token sampling from logits: greedy (temperature 0), temperature, top-k, top-p, seeded RNG.
#pragma once
#include <cstdint>
#include <random>

namespace zaya {

struct SamplerConfig {
  float temperature = 0.0f;  // 0: greedy (argmax, first index on ties)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerConfig& c) : c_(c), rng_(c.seed) {}
  int32_t sample(const float* logits, int64_t V);

 private:
  SamplerConfig c_;
  std::mt19937_64 rng_;
};

int32_t argmax(const float* x, int64_t n);

}  // namespace zaya
