// The per-op test registry (llama.cpp's test-backend-ops for zaya): every op of the Backend interface
// is an OpEntry with test shapes (odd ones included), a double-precision reference, a forward and a
// backward tolerance per backend, and a perf shape. tests/test_backend_ops.cpp holds the entries and
// runs, for every entry, every backend and every shape:
//   forward   backend (fp32 data) vs the reference (fp64 data, same inputs): ‖a−b‖/‖b‖ < tolerance
//   backward  backend gradients vs the reference's, with the gradient buffers pre-filled with random
//             values: the backend must ADD (its result minus the prefill is compared) — or SET, for
//             the ops documented to set (cross_entropy)
//   gradcheck the reference backward against central differences of the reference forward (fp64)
//   perf      `test_backend_ops --perf [--op NAME]`: time per call and GFLOP/s or GB/s per backend
// The entries live in tests/backend_ops/<family>.cpp, one file per op family (ops/<family>.h).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ops/backend.h"

namespace zaya::test {

using Shape = std::vector<int64_t>;
template <typename S>
using Tensors = std::map<std::string, std::vector<S>>;

struct Tol {
  double fwd = 1e-5, bwd = 1e-5;
};

struct OpEntry {
  std::string name, family;  // family = the ops/<family>.h that documents it
  std::vector<Shape> shapes;  // shapes[0] is small: the gradient check runs on it
  Shape perf;
  // Inputs for a shape (fp64); integer inputs are stored as exact small values.
  std::function<void(const Shape&, std::mt19937_64&, Tensors<double>&)> make;
  // Forward on a backend (fp32 copies of the inputs) and in fp64: read inputs, write the outputs.
  std::function<void(Backend&, const Shape&, Tensors<float>&)> fwd;
  std::function<void(const Shape&, Tensors<double>&)> ref;
  std::vector<std::string> outputs;  // compared; integer outputs exactly
  std::vector<std::string> exact;    // outputs compared for equality (indices, choices)
  // Backward: reads the inputs and "d:<output>", adds into "d:<input>" for every name in `grads`.
  std::vector<std::string> grads;
  std::function<void(Backend&, const Shape&, Tensors<float>&)> bwd;
  std::function<void(const Shape&, Tensors<double>&)> ref_bwd;
  std::vector<std::string> sets;  // gradients the backward SETS instead of adding (documented per op)
  Tol f32, bf16;           // tolerances per backend precision
  bool gradcheck = true;   // piecewise ops with kinks at random points can opt out (documented per op)
  std::function<double(const Shape&)> flops;  // per call (perf); bytes if compute is negligible
  std::function<double(const Shape&)> bytes;
};

std::vector<OpEntry>& registry();
struct Register {
  explicit Register(OpEntry e) { registry().push_back(std::move(e)); }
};

// Helpers of the entries (tests/backend_ops/<family>.cpp).
using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

inline std::vector<double> rnd(size_t n, Rng& g, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
inline std::vector<double> uni(size_t n, Rng& g, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
inline std::vector<double> ints(size_t n, Rng& g, int64_t lo, int64_t hi) {  // [lo, hi]
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = double(d(g));
  return v;
}
template <typename T>
std::vector<T> as(const std::vector<float>& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
std::vector<T> asd(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}
inline std::vector<float> from(const std::vector<int32_t>& v) { return std::vector<float>(v.begin(), v.end()); }
inline std::vector<float> from(const std::vector<int64_t>& v) { return std::vector<float>(v.begin(), v.end()); }
inline Mat mat(const std::vector<float>& w, int64_t rows, int64_t cols) { return Mat{w.data(), DType::F32, rows, cols}; }

inline std::vector<SeqSlice> training_segs(const std::vector<int64_t>& lens) {
  std::vector<SeqSlice> s;
  int64_t row = 0;
  for (int64_t n : lens) {
    s.push_back({row, n, 0});
    row += n;
  }
  return s;
}



}  // namespace zaya::test
