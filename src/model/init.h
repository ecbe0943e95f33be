// Parameter initialization for new models (spec §7): Linear/Conv weights and the embedding
// N(0, std) (pad row of the embedding zero), biases 0, norm weights and residual scales 1, router
// EDA scale 1, balancing biases 0 with β_skip = −1, key temperature 0.
// The generator is counter-based: element i of a tensor depends only on (seed, name, i), so tensors
// of any size can be produced in chunks, in parallel, and identically every time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace zaya {

struct InitOptions {
  double std = 0.02;          // initializer_range
  double temp_value = 0.0;    // initial key temperature (spec: 0)
  // "perturbed": every parameter randomized around its init (norms 1±, biases ±, temperatures in
  // [1.2, 4)), the shape of the golden test checkpoints; useful for tests and benchmarks.
  bool perturbed = false;
  uint64_t seed = 0;
};

// Writes elements [begin, begin + n) of the tensor `name` (row-major, `shape`) as fp32.
void init_tensor_range(const ModelConfig& cfg, const std::string& name, const std::vector<int64_t>& shape,
                       const InitOptions& opt, int64_t begin, int64_t n, float* out);

}  // namespace zaya
