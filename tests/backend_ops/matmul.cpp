// Op registry entries: the GEMM family (ops/matmul.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"
#include "ops/matmul.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

// ---------------------------------------------------------------------------------------------------------
// GEMM family (ops/matmul.h)

// shape: T, out, in. Rows of x and y have strides in+2 and out+3 (column slices).
Register linear_entry({
    "linear", "matmul", {{3, 5, 7}, {1, 13, 33}, {4, 64, 96}, {9, 130, 257}, {33, 17, 64}}, {2048, 1024, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t T = s[0], out = s[1], in = s[2];
      t["x"] = rnd(size_t(T * (in + 2)), g);
      t["W"] = rnd(size_t(out * in), g, 1.0 / std::sqrt(double(in)));
      t["b"] = rnd(size_t(out), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t T = s[0], out = s[1], in = s[2];
      t["y"].assign(size_t(T * (out + 3)), 0.0f);
      be.linear_forward(t["y"].data(), out + 3, t["x"].data(), in + 2, mat(t["W"], out, in), t["b"].data(), T);
    },
    [](const Shape& s, TD& t) {
      const int64_t T = s[0], out = s[1], in = s[2];
      t["y"].assign(size_t(T * (out + 3)), 0.0);
      ops::ref::linear_forward(t["y"].data(), out + 3, t["x"].data(), in + 2, t["W"].data(), t["b"].data(), T, out, in);
    },
    {"y"}, {}, {"x", "W", "b"},
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t T = s[0], out = s[1], in = s[2];
      be.linear_backward(t["d:x"].data(), in + 2, t["d:W"].data(), t["d:b"].data(), t["d:y"].data(), out + 3,
                         t["x"].data(), in + 2, mat(t["W"], out, in), T);
    },
    [](const Shape& s, TD& t) {
      const int64_t T = s[0], out = s[1], in = s[2];
      ops::ref::linear_backward(t["d:x"].data(), in + 2, t["d:W"].data(), t["d:b"].data(), t["d:y"].data(), out + 3,
                                t["x"].data(), in + 2, t["W"].data(), T, out, in);
    },
    {}, {1e-5, 1e-5}, {1.5e-2, 1.5e-2}, true,
    [](const Shape& s) { return 2.0 * s[0] * s[1] * s[2]; }, nullptr});

// Half-precision weights as mapped from a checkpoint (inference): shape T, out, in, dtype (1 bf16, 2 f16).
Register linear_half_entry({
    "linear_half_weights", "matmul", {{1, 7, 13}, {3, 64, 96, 2}, {5, 130, 257, 1}, {9, 33, 64, 2}, {40, 64, 200, 1}},
    {2048, 1024, 1024, 1},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t out = s[1], in = s[2];
      const bool f16 = s.size() > 3 && s[3] == 2;
      t["x"] = rnd(size_t(s[0] * in), g);
      t["W"] = rnd(size_t(out * in), g, 1.0 / std::sqrt(double(in)));
      for (auto& w : t["W"]) w = f16 ? f16_to_f32(f32_to_f16(float(w))) : bf16_to_f32(f32_to_bf16(float(w)));
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t out = s[1], in = s[2];
      const bool f16 = s.size() > 3 && s[3] == 2;
      std::vector<uint16_t> h(t["W"].size());
      for (size_t i = 0; i < h.size(); ++i) h[i] = f16 ? f32_to_f16(t["W"][i]) : f32_to_bf16(t["W"][i]);
      t["y"].assign(size_t(s[0] * out), 0.0f);
      be.linear_forward(t["y"].data(), out, t["x"].data(), in, Mat{h.data(), f16 ? DType::F16 : DType::BF16, out, in},
                        nullptr, s[0]);
    },
    [](const Shape& s, TD& t) {
      t["y"].assign(size_t(s[0] * s[1]), 0.0);
      ops::ref::linear_forward(t["y"].data(), s[1], t["x"].data(), s[2], t["W"].data(), (const double*)nullptr, s[0],
                               s[1], s[2]);
    },
    {"y"}, {}, {}, nullptr, nullptr, {}, {1e-5, 0}, {1.5e-2, 0}, false,
    [](const Shape& s) { return 2.0 * s[0] * s[1] * s[2]; }, nullptr});

// shape: G, out, in, rows (rows split at random among the groups; some groups empty).
void split_rows(const Shape& s, Rng& g, TD& t) {
  const int64_t G = s[0], rows = s[3];
  std::vector<double> cut = ints(size_t(G - 1), g, 0, rows);
  std::sort(cut.begin(), cut.end());
  std::vector<double> off = {0};
  for (double c : cut) off.push_back(c);
  off.push_back(double(rows));
  if (G > 2) off[2] = off[1];  // group 1 empty
  t["off"] = off;
}
std::vector<int64_t> offsets(const TF& t) { return as<int64_t>(t.at("off")); }
std::vector<int64_t> offsets(const TD& t) { return asd<int64_t>(t.at("off")); }

Register grouped_entry({
    "grouped_linear", "matmul", {{3, 5, 7, 9}, {4, 24, 16, 40}, {5, 33, 17, 100}, {2, 64, 96, 5}}, {16, 2048, 1024, 2048},
    [](const Shape& s, Rng& g, TD& t) {
      split_rows(s, g, t);
      t["x"] = rnd(size_t(s[3] * s[2]), g);
      t["W"] = rnd(size_t(s[0] * s[1] * s[2]), g, 1.0 / std::sqrt(double(s[2])));
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t G = s[0], out = s[1], in = s[2];
      std::vector<Mat> Ws;
      for (int64_t e = 0; e < G; ++e) Ws.push_back(Mat{t["W"].data() + e * out * in, DType::F32, out, in});
      auto off = offsets(t);
      t["y"].assign(size_t(s[3] * out), 0.0f);
      be.grouped_linear_forward(t["y"].data(), t["x"].data(), Ws.data(), off.data(), int(G));
    },
    [](const Shape& s, TD& t) {
      const int64_t out = s[1], in = s[2];
      auto off = offsets(t);
      t["y"].assign(size_t(s[3] * out), 0.0);
      for (int64_t e = 0; e < s[0]; ++e)
        ops::ref::linear_forward(t["y"].data() + off[e] * out, out, t["x"].data() + off[e] * in, in,
                                 t["W"].data() + e * out * in, (const double*)nullptr, off[e + 1] - off[e], out, in);
    },
    {"y"}, {}, {"x", "W"},
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t G = s[0], out = s[1], in = s[2];
      std::vector<Mat> Ws;
      for (int64_t e = 0; e < G; ++e) Ws.push_back(Mat{t["W"].data() + e * out * in, DType::F32, out, in});
      auto off = offsets(t);
      be.grouped_linear_backward(t["d:x"].data(), t["d:W"].data(), t["d:y"].data(), t["x"].data(), Ws.data(),
                                 off.data(), int(G));
    },
    [](const Shape& s, TD& t) {
      const int64_t out = s[1], in = s[2];
      auto off = offsets(t);
      for (int64_t e = 0; e < s[0]; ++e)
        ops::ref::linear_backward(t["d:x"].data() + off[e] * in, in, t["d:W"].data() + e * out * in, (double*)nullptr,
                                  t["d:y"].data() + off[e] * out, out, t["x"].data() + off[e] * in, in,
                                  t["W"].data() + e * out * in, off[e + 1] - off[e], out, in);
    },
    {}, {1e-5, 1e-5}, {1.5e-2, 1.5e-2}, true,
    [](const Shape& s) { return 2.0 * s[1] * s[2] * s[3]; }, nullptr});

// shape: batch, M, N, K, ta, tb; C = 0.7·op(A)·op(B) + 0.3·C.
Register gemm_batched_entry({
    "gemm_batched", "matmul", {{3, 5, 7, 9, 0, 0}, {2, 16, 12, 20, 1, 0}, {4, 33, 17, 8, 0, 1}, {5, 24, 24, 40, 1, 1}},
    {16, 512, 512, 1024, 0, 1},
    [](const Shape& s, Rng& g, TD& t) {
      t["A"] = rnd(size_t(s[0] * s[1] * s[3]), g);
      t["B"] = rnd(size_t(s[0] * s[2] * s[3]), g);
      t["C0"] = rnd(size_t(s[0] * s[1] * s[2]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t M = s[1], N = s[2], K = s[3];
      const bool ta = s[4], tb = s[5];
      t["C"] = t["C0"];
      be.gemm_batched(ta, tb, M, N, K, 0.7f, t["A"].data(), ta ? M : K, M * K, t["B"].data(), tb ? K : N, N * K, 0.3f,
                      t["C"].data(), N, M * N, s[0]);
    },
    [](const Shape& s, TD& t) {
      const int64_t M = s[1], N = s[2], K = s[3];
      const bool ta = s[4], tb = s[5];
      t["C"] = t["C0"];
      for (int64_t b = 0; b < s[0]; ++b)
        ops::ref::gemm(ta, tb, M, N, K, 0.7, t["A"].data() + b * M * K, ta ? M : K, t["B"].data() + b * N * K,
                       tb ? K : N, 0.3, t["C"].data() + b * M * N, N);
    },
    {"C"}, {}, {}, nullptr, nullptr, {}, {1e-5, 0}, {1.5e-2, 0}, false,
    [](const Shape& s) { return 2.0 * s[0] * s[1] * s[2] * s[3]; }, nullptr});

}  // namespace
}  // namespace zaya::test
