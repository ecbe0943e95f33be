// The op registry: every op of src/ops/backend.h on every backend, against fp64 references, with
// finite-difference gradient checks and the add-into-gradients contract (tests/backend_ops.h).
// Fresh random inputs each run (the seed is printed; ZAYA_TEST_SEED replays it).
//   ./build/test_backend_ops                       the tests
//   ./build/test_backend_ops --perf [--op NAME]    time per call per backend (docs/benchmarks.md)
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backend_ops.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/embed.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"
#include "test_util.h"

namespace zaya::test {

std::vector<OpEntry>& registry() {
  static std::vector<OpEntry> r;
  return r;
}

namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

std::vector<double> rnd(size_t n, Rng& g, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
std::vector<double> uni(size_t n, Rng& g, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
std::vector<double> ints(size_t n, Rng& g, int64_t lo, int64_t hi) {  // [lo, hi]
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
std::vector<float> from(const std::vector<int32_t>& v) { return std::vector<float>(v.begin(), v.end()); }
std::vector<float> from(const std::vector<int64_t>& v) { return std::vector<float>(v.begin(), v.end()); }
Mat mat(const std::vector<float>& w, int64_t rows, int64_t cols) { return Mat{w.data(), DType::F32, rows, cols}; }

std::vector<SeqSlice> training_segs(const std::vector<int64_t>& lens) {
  std::vector<SeqSlice> s;
  int64_t row = 0;
  for (int64_t n : lens) {
    s.push_back({row, n, 0});
    row += n;
  }
  return s;
}

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

// ---------------------------------------------------------------------------------------------------------
// Embedding and rows (ops/embed.h)

// shape: T, V, H. The larger shapes include the padding id 0, whose row gets no gradient (torch's
// padding_idx): that is a choice, not the derivative, so the gradient check (shapes[0]) avoids the id.
Register embedding_entry({
    "embedding", "embed", {{7, 5, 3}, {33, 17, 12}, {64, 40, 96}}, {2048, 32768, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      t["ids"] = ints(size_t(s[0]), g, 1, s[1] - 1);
      if (s[0] > 7) t["ids"][0] = 0;
      t["E"] = rnd(size_t(s[1] * s[2]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto ids = as<int32_t>(t["ids"]);
      t["x"].assign(size_t(s[0] * s[2]), 0.0f);
      be.embedding_forward(t["x"].data(), mat(t["E"], s[1], s[2]), ids.data(), s[0]);
    },
    [](const Shape& s, TD& t) {
      auto ids = asd<int32_t>(t["ids"]);
      t["x"].assign(size_t(s[0] * s[2]), 0.0);
      ops::ref::embedding_forward(t["x"].data(), t["E"].data(), ids.data(), s[0], s[2]);
    },
    {"x"}, {}, {"E"},
    [](Backend& be, const Shape& s, TF& t) {
      auto ids = as<int32_t>(t["ids"]);
      be.embedding_backward(t["d:E"].data(), t["d:x"].data(), ids.data(), s[0], s[2], 0);
    },
    [](const Shape& s, TD& t) {
      auto ids = asd<int32_t>(t["ids"]);
      ops::ref::embedding_backward(t["d:E"].data(), t["d:x"].data(), ids.data(), s[0], s[2], 0);
    },
    {}, {0, 0}, {0, 0}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[2]; }});

// shape: n, rows, width; indices repeat (the backward accumulates).
Register gather_entry({
    "gather_rows", "embed", {{5, 3, 4}, {20, 7, 33}, {64, 64, 96}}, {2048, 2048, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      t["idx"] = ints(size_t(s[0]), g, 0, s[1] - 1);
      t["src"] = rnd(size_t(s[1] * s[2]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto idx = as<int64_t>(t["idx"]);
      t["dst"].assign(size_t(s[0] * s[2]), 0.0f);
      be.gather_rows(t["dst"].data(), t["src"].data(), idx.data(), s[0], s[2]);
    },
    [](const Shape& s, TD& t) {
      auto idx = asd<int64_t>(t["idx"]);
      t["dst"].assign(size_t(s[0] * s[2]), 0.0);
      ops::ref::gather_rows(t["dst"].data(), t["src"].data(), idx.data(), s[0], s[2]);
    },
    {"dst"}, {}, {"src"},
    [](Backend& be, const Shape& s, TF& t) {
      auto idx = as<int64_t>(t["idx"]);
      be.scatter_add_rows(t["d:src"].data(), t["d:dst"].data(), idx.data(), s[0], s[2]);
    },
    [](const Shape& s, TD& t) {
      auto idx = asd<int64_t>(t["idx"]);
      ops::ref::scatter_add_rows(t["d:src"].data(), t["d:dst"].data(), idx.data(), s[0], s[2]);
    },
    {}, {0, 1e-6}, {0, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[2]; }});

// ---------------------------------------------------------------------------------------------------------
// Norm and residual (ops/norm.h, ops/residual.h)

Register rmsnorm_entry({
    "rmsnorm", "norm", {{3, 9}, {1, 64}, {17, 33}, {64, 1024}}, {2048, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      t["x"] = rnd(size_t(s[0] * s[1]), g, 2.0);
      t["w"] = rnd(size_t(s[1]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      t["y"].assign(t["x"].size(), 0.0f);
      be.rmsnorm_forward(t["y"].data(), t["x"].data(), t["w"].data(), s[0], s[1], 1e-5f);
    },
    [](const Shape& s, TD& t) {
      t["y"].assign(t["x"].size(), 0.0);
      ops::ref::rmsnorm_forward(t["y"].data(), t["x"].data(), t["w"].data(), s[0], s[1], 1e-5f);
    },
    {"y"}, {}, {"x", "w"},
    [](Backend& be, const Shape& s, TF& t) {
      be.rmsnorm_backward(t["d:x"].data(), t["d:w"].data(), t["d:y"].data(), t["x"].data(), t["w"].data(), s[0], s[1],
                          1e-5f);
    },
    [](const Shape& s, TD& t) {
      ops::ref::rmsnorm_backward(t["d:x"].data(), t["d:w"].data(), t["d:y"].data(), t["x"].data(), t["w"].data(), s[0],
                                 s[1], 1e-5f);
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[1]; }});

Register residual_input_entry({
    "residual_input", "residual", {{3, 5}, {17, 33}, {64, 256}}, {2048, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      t["e"] = rnd(size_t(s[0] * s[1]), g);
      t["s"] = rnd(size_t(s[1]), g);
      t["b"] = rnd(size_t(s[1]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      t["r"].assign(t["e"].size(), 0.0f);
      be.residual_input(t["r"].data(), t["e"].data(), t["s"].data(), t["b"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      t["r"].assign(t["e"].size(), 0.0);
      ops::ref::residual_input(t["r"].data(), t["e"].data(), t["s"].data(), t["b"].data(), s[0], s[1]);
    },
    {"r"}, {}, {"e", "s", "b"},
    [](Backend& be, const Shape& s, TF& t) {
      be.residual_input_backward(t["d:e"].data(), t["d:s"].data(), t["d:b"].data(), t["d:r"].data(), t["e"].data(),
                                 t["s"].data(), t["b"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      ops::ref::residual_input_backward(t["d:e"].data(), t["d:s"].data(), t["d:b"].data(), t["d:r"].data(),
                                        t["e"].data(), t["s"].data(), t["b"].data(), s[0], s[1]);
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[1]; }});

Register residual_merge_entry({
    "residual_merge", "residual", {{3, 5}, {17, 33}, {130, 64}}, {2048, 1024},
    [](const Shape& s, Rng& g, TD& t) {
      for (const char* k : {"r", "h"}) t[k] = rnd(size_t(s[0] * s[1]), g);
      for (const char* k : {"hs", "hb", "rs", "rb"}) t[k] = rnd(size_t(s[1]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      t["out"].assign(t["r"].size(), 0.0f);
      be.residual_merge(t["out"].data(), t["r"].data(), t["h"].data(), t["hs"].data(), t["hb"].data(), t["rs"].data(),
                        t["rb"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      t["out"].assign(t["r"].size(), 0.0);
      ops::ref::residual_merge(t["out"].data(), t["r"].data(), t["h"].data(), t["hs"].data(), t["hb"].data(),
                               t["rs"].data(), t["rb"].data(), s[0], s[1]);
    },
    {"out"}, {}, {"r", "h", "hs", "hb", "rs", "rb"},
    [](Backend& be, const Shape& s, TF& t) {
      be.residual_merge_backward(t["d:h"].data(), t["d:r"].data(), t["d:hs"].data(), t["d:hb"].data(),
                                 t["d:rs"].data(), t["d:rb"].data(), t["d:out"].data(), t["h"].data(), t["r"].data(),
                                 t["hs"].data(), t["hb"].data(), t["rs"].data(), t["rb"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      ops::ref::residual_merge_backward(t["d:h"].data(), t["d:r"].data(), t["d:hs"].data(), t["d:hb"].data(),
                                        t["d:rs"].data(), t["d:rb"].data(), t["d:out"].data(), t["h"].data(),
                                        t["r"].data(), t["hs"].data(), t["hb"].data(), t["rs"].data(), t["rb"].data(),
                                        s[0], s[1]);
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * s[1]; }});

// ---------------------------------------------------------------------------------------------------------
// Activations and loss (ops/activation.h, ops/loss.h)

Register gelu_entry({
    "gelu", "activation", {{7}, {257}, {40000}}, {2048 * 256},
    [](const Shape& s, Rng& g, TD& t) { t["x"] = rnd(size_t(s[0]), g, 2.0); },
    [](Backend& be, const Shape& s, TF& t) {
      t["y"].assign(t["x"].size(), 0.0f);
      be.gelu_forward(t["y"].data(), t["x"].data(), s[0]);
    },
    [](const Shape& s, TD& t) {
      t["y"].assign(t["x"].size(), 0.0);
      ops::ref::gelu_forward(t["y"].data(), t["x"].data(), s[0]);
    },
    {"y"}, {}, {"x"},
    [](Backend& be, const Shape& s, TF& t) { be.gelu_backward(t["d:x"].data(), t["d:y"].data(), t["x"].data(), s[0]); },
    [](const Shape& s, TD& t) { ops::ref::gelu_backward(t["d:x"].data(), t["d:y"].data(), t["x"].data(), s[0]); },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0]; }});

Register swiglu_entry({
    "swiglu", "activation", {{3, 5}, {9, 33}, {64, 512}}, {2048, 1024},
    [](const Shape& s, Rng& g, TD& t) { t["gu"] = rnd(size_t(s[0] * 2 * s[1]), g, 2.0); },
    [](Backend& be, const Shape& s, TF& t) {
      t["out"].assign(size_t(s[0] * s[1]), 0.0f);
      be.swiglu_forward(t["out"].data(), t["gu"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      t["out"].assign(size_t(s[0] * s[1]), 0.0);
      ops::ref::swiglu_forward(t["out"].data(), t["gu"].data(), s[0], s[1]);
    },
    {"out"}, {}, {"gu"},
    [](Backend& be, const Shape& s, TF& t) {
      be.swiglu_backward(t["d:gu"].data(), t["d:out"].data(), t["gu"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      ops::ref::swiglu_backward(t["d:gu"].data(), t["d:out"].data(), t["gu"].data(), s[0], s[1]);
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * s[1]; }});

Register softmax_entry({
    "softmax", "activation", {{3, 5}, {17, 17}, {64, 1000}}, {2048, 17},
    [](const Shape& s, Rng& g, TD& t) { t["x"] = rnd(size_t(s[0] * s[1]), g, 3.0); },
    [](Backend& be, const Shape& s, TF& t) {
      t["y"].assign(t["x"].size(), 0.0f);
      be.softmax_forward(t["y"].data(), t["x"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      t["y"].assign(t["x"].size(), 0.0);
      ops::ref::softmax_forward(t["y"].data(), t["x"].data(), s[0], s[1]);
    },
    {"y"}, {}, {"x"},
    [](Backend& be, const Shape& s, TF& t) {
      std::vector<float> y(t["x"].size());
      be.softmax_forward(y.data(), t["x"].data(), s[0], s[1]);
      be.softmax_backward(t["d:x"].data(), t["d:y"].data(), y.data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      std::vector<double> y(t["x"].size());
      ops::ref::softmax_forward(y.data(), t["x"].data(), s[0], s[1]);
      ops::ref::softmax_backward(t["d:x"].data(), t["d:y"].data(), y.data(), s[0], s[1]);
    },
    {}, {1e-6, 1e-5}, {1e-6, 1e-5}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * s[1]; }});

// shape: T, V; some targets are ignored (-100). The backward SETS d(logits) = dloss·(softmax − onehot).
Register cross_entropy_entry({
    "cross_entropy", "loss", {{3, 5}, {9, 97}, {64, 32768}}, {512, 32768},
    [](const Shape& s, Rng& g, TD& t) {
      t["logits"] = rnd(size_t(s[0] * s[1]), g, 3.0);
      t["targets"] = ints(size_t(s[0]), g, 0, s[1] - 1);
      t["targets"][1] = -100;
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto tg = as<int32_t>(t["targets"]);
      t["loss"] = {float(be.cross_entropy(nullptr, t["logits"].data(), tg.data(), s[0], s[1], 1.0))};
    },
    [](const Shape& s, TD& t) {
      auto tg = asd<int32_t>(t["targets"]);
      t["loss"] = {ops::ref::cross_entropy((double*)nullptr, t["logits"].data(), tg.data(), s[0], s[1], 1.0)};
    },
    {"loss"}, {}, {"logits"},
    [](Backend& be, const Shape& s, TF& t) {
      auto tg = as<int32_t>(t["targets"]);
      be.cross_entropy(t["d:logits"].data(), t["logits"].data(), tg.data(), s[0], s[1], t["d:loss"][0]);
    },
    [](const Shape& s, TD& t) {
      auto tg = asd<int32_t>(t["targets"]);
      ops::ref::cross_entropy(t["d:logits"].data(), t["logits"].data(), tg.data(), s[0], s[1], t["d:loss"][0]);
    },
    {"logits"}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[1]; }});

// ---------------------------------------------------------------------------------------------------------
// CCA and RoPE (ops/cca.h, ops/rope.h)

// shape: len1, len2, nq+nk heads, d, k0, k1 — two training segments (zero state); rows of stride C + 1.
void conv_inputs(const Shape& s, Rng& g, TD& t) {
  const int64_t T = s[0] + s[1], C = s[2] * s[3];
  t["u"] = rnd(size_t(T * (C + 1)), g);
  t["w0"] = rnd(size_t(C * s[4]), g, 0.5);
  t["b0"] = rnd(size_t(C), g, 0.1);
  t["w1"] = rnd(size_t(C * s[3] * s[5]), g, 0.3);
  t["b1"] = rnd(size_t(C), g, 0.1);
}
Register cca_conv_entry({
    "cca_conv", "cca", {{3, 2, 3, 4, 2, 2}, {5, 7, 4, 8, 3, 2}, {16, 9, 10, 8, 2, 3}, {40, 33, 6, 16, 2, 2}},
    {2048, 0, 10, 128, 2, 2}, conv_inputs,
    [](Backend& be, const Shape& s, TF& t) {
      const int C = int(s[2] * s[3]);
      auto segs = training_segs({s[0], s[1]});
      t["out"].assign(t["u"].size(), 0.0f);
      be.cca_conv_forward(t["out"].data(), t["u"].data(), C + 1, segs.data(), s[1] ? 2 : 1, t["w0"].data(),
                          t["b0"].data(), t["w1"].data(), t["b1"].data(), C, int(s[3]), int(s[4]), int(s[5]));
    },
    [](const Shape& s, TD& t) {
      const int C = int(s[2] * s[3]);
      t["out"].assign(t["u"].size(), 0.0);
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::cca_conv_forward(t["out"].data() + row * (C + 1), t["u"].data() + row * (C + 1), C + 1,
                                   (double*)nullptr, t["w0"].data(), t["b0"].data(), t["w1"].data(), t["b1"].data(), n, C,
                                   int(s[3]), int(s[4]), int(s[5]));
        row += n;
      }
    },
    {"out"}, {}, {"u", "w0", "b0", "w1", "b1"},
    [](Backend& be, const Shape& s, TF& t) {
      const int C = int(s[2] * s[3]);
      auto segs = training_segs({s[0], s[1]});
      be.cca_conv_backward(t["d:u"].data(), t["d:w0"].data(), t["d:b0"].data(), t["d:w1"].data(), t["d:b1"].data(),
                           t["d:out"].data(), t["u"].data(), C + 1, segs.data(), s[1] ? 2 : 1, t["w0"].data(),
                           t["b0"].data(), t["w1"].data(), C, int(s[3]), int(s[4]), int(s[5]));
    },
    [](const Shape& s, TD& t) {
      const int C = int(s[2] * s[3]);
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::cca_conv_backward(t["d:u"].data() + row * (C + 1), t["d:w0"].data(), t["d:b0"].data(),
                                    t["d:w1"].data(), t["d:b1"].data(), t["d:out"].data() + row * (C + 1),
                                    t["u"].data() + row * (C + 1), C + 1, t["w0"].data(), t["b0"].data(),
                                    t["w1"].data(), n, C, int(s[3]), int(s[4]), int(s[5]));
        row += n;
      }
    },
    {}, {1e-5, 1e-5}, {1.5e-2, 1.5e-2}, true,
    [](const Shape& s) { return 2.0 * (s[0] + s[1]) * s[2] * s[3] * s[3] * s[5]; }, nullptr});

// Decode: sequences continue their conv state (random), which the op updates. shape as cca_conv.
Register cca_conv_state_entry({
    "cca_conv_with_state", "cca", {{1, 1, 3, 4, 2, 2}, {3, 1, 4, 8, 3, 2}, {5, 2, 6, 8, 2, 3}}, {1, 1, 10, 128, 2, 2},
    [](const Shape& s, Rng& g, TD& t) {
      conv_inputs(s, g, t);
      const int64_t K = (s[4] - 1) + (s[5] - 1), C = s[2] * s[3];
      t["state0"] = rnd(size_t(2 * K * C), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t C = s[2] * s[3], K = (s[4] - 1) + (s[5] - 1);
      auto segs = training_segs({s[0], s[1]});
      t["state"] = t["state0"];
      segs[0].conv = t["state"].data();
      segs[1].conv = t["state"].data() + K * C;
      t["out"].assign(t["u"].size(), 0.0f);
      be.cca_conv_forward(t["out"].data(), t["u"].data(), C + 1, segs.data(), 2, t["w0"].data(), t["b0"].data(),
                          t["w1"].data(), t["b1"].data(), int(C), int(s[3]), int(s[4]), int(s[5]));
    },
    [](const Shape& s, TD& t) {
      const int64_t C = s[2] * s[3], K = (s[4] - 1) + (s[5] - 1);
      t["state"] = t["state0"];
      t["out"].assign(t["u"].size(), 0.0);
      int64_t row = 0;
      int i = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::cca_conv_forward(t["out"].data() + row * (C + 1), t["u"].data() + row * (C + 1), C + 1,
                                   t["state"].data() + i * K * C, t["w0"].data(), t["b0"].data(), t["w1"].data(),
                                   t["b1"].data(), n, int(C), int(s[3]), int(s[4]), int(s[5]));
        row += n;
        ++i;
      }
    },
    {"out", "state"}, {}, {}, nullptr, nullptr, {}, {1e-5, 0}, {1.5e-2, 0}, false,
    [](const Shape& s) { return 2.0 * (s[0] + s[1]) * s[2] * s[3] * s[3] * s[5]; }, nullptr});

// shape: T, nq, nk, d
Register qk_mean_entry({
    "cca_qk_mean_add", "cca", {{3, 2, 2, 4}, {5, 4, 2, 8}, {9, 8, 2, 16}, {7, 6, 3, 5}}, {2048, 8, 2, 128},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["u"] = rnd(size_t(s[0] * C), g);
      t["qk0"] = rnd(size_t(s[0] * C), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["qk"] = t["qk0"];
      be.cca_qk_mean_add(t["qk"].data(), t["u"].data(), C, s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    [](const Shape& s, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["qk"] = t["qk0"];
      ops::ref::cca_qk_mean_add(t["qk"].data(), t["u"].data(), C, s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    {"qk"}, {}, {"u"},
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      be.cca_qk_mean_add_backward(t["d:u"].data(), t["d:qk"].data(), C, s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    [](const Shape& s, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      ops::ref::cca_qk_mean_add_backward(t["d:u"].data(), t["d:qk"].data(), C, s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * (s[1] + s[2]) * s[3]; }});

Register qk_normalize_entry({
    "cca_qk_normalize", "cca", {{3, 2, 2, 4}, {5, 4, 2, 8}, {9, 8, 2, 16}, {7, 6, 3, 5}}, {2048, 8, 2, 128},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["x"] = rnd(size_t(s[0] * C), g);
      t["temp"] = uni(size_t(s[2]), g, 0.5, 3.0);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["y"].assign(t["x"].size(), 0.0f);
      be.cca_qk_normalize(t["y"].data(), t["x"].data(), C, t["temp"].data(), s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    [](const Shape& s, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      t["y"].assign(t["x"].size(), 0.0);
      ops::ref::cca_qk_normalize(t["y"].data(), t["x"].data(), C, t["temp"].data(), s[0], int(s[1]), int(s[2]),
                                 int(s[3]));
    },
    {"y"}, {}, {"x", "temp"},
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      be.cca_qk_normalize_backward(t["d:x"].data(), t["d:temp"].data(), t["d:y"].data(), t["x"].data(), C,
                                   t["temp"].data(), s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    [](const Shape& s, TD& t) {
      const int64_t C = (s[1] + s[2]) * s[3];
      ops::ref::cca_qk_normalize_backward(t["d:x"].data(), t["d:temp"].data(), t["d:y"].data(), t["x"].data(), C,
                                          t["temp"].data(), s[0], int(s[1]), int(s[2]), int(s[3]));
    },
    {}, {1e-6, 1e-5}, {1e-6, 1e-5}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * (s[1] + s[2]) * s[3]; }});

// shape: T, heads, d, rot, θ. The backward rotates the gradient in place (it SETS it).
Register rope_entry({
    "rope", "rope", {{3, 2, 8, 4, 10000}, {5, 3, 12, 6, 1000000}, {9, 10, 16, 16, 5000000}}, {2048, 10, 128, 64, 5000000},
    [](const Shape& s, Rng& g, TD& t) {
      t["x0"] = rnd(size_t(s[0] * s[1] * s[2]), g);
      t["pos"] = ints(size_t(s[0]), g, 0, 5000);
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto inv = ops::rope_inv_freq(double(s[4]), int(s[3]));
      auto pos = as<int64_t>(t["pos"]);
      t["x"] = t["x0"];
      be.rope_forward(t["x"].data(), s[1] * s[2], pos.data(), s[0], int(s[1]), int(s[2]), int(s[3]), inv.data());
    },
    [](const Shape& s, TD& t) {
      auto inv = ops::rope_inv_freq(double(s[4]), int(s[3]));
      auto pos = asd<int64_t>(t["pos"]);
      t["x"] = t["x0"];
      ops::ref::rope_forward(t["x"].data(), s[1] * s[2], pos.data(), s[0], int(s[1]), int(s[2]), int(s[3]), inv.data());
    },
    {"x"}, {}, {"x0"},
    [](Backend& be, const Shape& s, TF& t) {
      auto inv = ops::rope_inv_freq(double(s[4]), int(s[3]));
      auto pos = as<int64_t>(t["pos"]);
      t["d:x0"] = t["d:x"];
      be.rope_backward(t["d:x0"].data(), s[1] * s[2], pos.data(), s[0], int(s[1]), int(s[2]), int(s[3]), inv.data());
    },
    [](const Shape& s, TD& t) {
      auto inv = ops::rope_inv_freq(double(s[4]), int(s[3]));
      auto pos = asd<int64_t>(t["pos"]);
      t["d:x0"] = t["d:x"];
      ops::ref::rope_backward(t["d:x0"].data(), s[1] * s[2], pos.data(), s[0], int(s[1]), int(s[2]), int(s[3]),
                              inv.data());
    },
    {"x0"}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 8.0 * s[0] * s[1] * s[2]; }});

// ---------------------------------------------------------------------------------------------------------
// Value shift, KV cache, attention (ops/attention.h)

// shape: len1, len2, vh, with_state (decode: vdel in and out; training: zeros, with a backward)
void vshift_ref(const Shape& s, TD& t, bool state) {
  const int64_t vh = s[2], kv = 2 * vh;
  t["v"].assign(size_t((s[0] + s[1]) * kv), 0.0);
  if (state) t["vdel"] = t["vdel0"];
  int64_t row = 0;
  int i = 0;
  for (int64_t n : {s[0], s[1]}) {
    for (int64_t r = row; r < row + n; ++r)
      for (int64_t c = 0; c < vh; ++c) {
        t["v"][size_t(r * kv + c)] = t["vcd"][size_t(r * kv + c)];
        t["v"][size_t(r * kv + vh + c)] =
            r > row ? t["vcd"][size_t((r - 1) * kv + vh + c)] : state ? t["vdel0"][size_t(i * vh + c)] : 0.0;
      }
    if (state && n > 0)
      for (int64_t c = 0; c < vh; ++c) t["vdel"][size_t(i * vh + c)] = t["vcd"][size_t((row + n - 1) * kv + vh + c)];
    row += n;
    ++i;
  }
}
Register value_shift_entry({
    "value_shift", "attention", {{3, 2, 4}, {5, 1, 8}, {9, 7, 16}}, {2048, 0, 128},
    [](const Shape& s, Rng& g, TD& t) { t["vcd"] = rnd(size_t((s[0] + s[1]) * 2 * s[2]), g); },
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      t["v"].assign(t["vcd"].size(), 0.0f);
      be.value_shift(t["v"].data(), t["vcd"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) { vshift_ref(s, t, false); },
    {"v"}, {}, {"vcd"},
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      be.value_shift_backward(t["d:vcd"].data(), t["d:v"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) {
      const int64_t vh = s[2], kv = 2 * vh;
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        for (int64_t r = row; r < row + n; ++r)
          for (int64_t c = 0; c < vh; ++c) {
            t["d:vcd"][size_t(r * kv + c)] += t["d:v"][size_t(r * kv + c)];
            if (r > row) t["d:vcd"][size_t((r - 1) * kv + vh + c)] += t["d:v"][size_t(r * kv + vh + c)];
          }
        row += n;
      }
    },
    {}, {0, 0}, {0, 0}, true, nullptr, [](const Shape& s) { return 16.0 * (s[0] + s[1]) * s[2]; }});

Register value_shift_state_entry({
    "value_shift_with_state", "attention", {{1, 1, 4}, {5, 1, 8}, {9, 7, 16}}, {1, 1, 128},
    [](const Shape& s, Rng& g, TD& t) {
      t["vcd"] = rnd(size_t((s[0] + s[1]) * 2 * s[2]), g);
      t["vdel0"] = rnd(size_t(2 * s[2]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      t["vdel"] = t["vdel0"];
      segs[0].vdel = t["vdel"].data();
      segs[1].vdel = t["vdel"].data() + s[2];
      t["v"].assign(t["vcd"].size(), 0.0f);
      be.value_shift(t["v"].data(), t["vcd"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) { vshift_ref(s, t, true); },
    {"v", "vdel"}, {}, {}, nullptr, nullptr, {}, {0, 0}, {0, 0}, false, nullptr,
    [](const Shape& s) { return 16.0 * (s[0] + s[1]) * s[2]; }});

// Keys/values of two sequences appended to caches at their positions; the caches hold the backend's KV
// dtype (bf16 on cpu-bf16: rounded). shape: len1, len2, pos1, pos2, kvw.
Register kv_append_entry({
    "kv_append", "attention", {{1, 1, 0, 5, 8}, {3, 2, 4, 0, 16}, {7, 9, 11, 2, 256}}, {1, 1, 4095, 4095, 256},
    [](const Shape& s, Rng& g, TD& t) {
      t["k"] = rnd(size_t((s[0] + s[1]) * (s[4] + 3)), g);
      t["v"] = rnd(size_t((s[0] + s[1]) * s[4]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t kvw = s[4], cap = std::max(s[2] + s[0], s[3] + s[1]);
      const size_t esz = dtype_size(be.kv_dtype());
      std::vector<std::vector<uint8_t>> kc(2, std::vector<uint8_t>(size_t(cap * kvw) * esz, 0)), vc = kc;
      auto segs = training_segs({s[0], s[1]});
      for (int i = 0; i < 2; ++i) {
        segs[size_t(i)].pos = s[2 + i];
        segs[size_t(i)].kcache = kc[size_t(i)].data();
        segs[size_t(i)].vcache = vc[size_t(i)].data();
      }
      be.kv_append(segs.data(), 2, t["k"].data(), kvw + 3, t["v"].data(), kvw, kvw);
      t["kc"].clear();
      t["vc"].clear();
      for (int i = 0; i < 2; ++i)
        for (int64_t r = 0; r < s[i]; ++r)
          for (int64_t c = 0; c < kvw; ++c) {
            const size_t at = size_t((s[2 + i] + r) * kvw + c);
            for (auto [src, dst] : {std::pair{&kc, "kc"}, std::pair{&vc, "vc"}}) {
              const uint8_t* p = (*src)[size_t(i)].data() + at * esz;
              float f;
              if (esz == 2) {
                uint16_t h;
                std::memcpy(&h, p, 2);
                f = bf16_to_f32(h);
              } else {
                std::memcpy(&f, p, 4);
              }
              t[dst].push_back(f);
            }
          }
    },
    [](const Shape& s, TD& t) {
      const int64_t kvw = s[4];
      t["kc"].clear();
      t["vc"].clear();
      int64_t row = 0;
      for (int i = 0; i < 2; ++i) {
        for (int64_t r = 0; r < s[i]; ++r)
          for (int64_t c = 0; c < kvw; ++c) {
            t["kc"].push_back(t["k"][size_t((row + r) * (kvw + 3) + c)]);
            t["vc"].push_back(t["v"][size_t((row + r) * kvw + c)]);
          }
        row += s[i];
      }
    },
    {"kc", "vc"}, {}, {}, nullptr, nullptr, {}, {0, 0}, {5e-3, 0}, false, nullptr,
    [](const Shape& s) { return 8.0 * (s[0] + s[1]) * s[4]; }});

// Training attention over two segments (keys = their own rows). shape: len1, len2, nq, nk, d, window.
// q and k share rows of stride C = (nq+nk)·d like the model's qk_rope buffer.
void attn_inputs(const Shape& s, Rng& g, TD& t) {
  const int64_t T = s[0] + s[1], C = (s[2] + s[3]) * s[4];
  t["qk"] = rnd(size_t(T * C), g, 1.2);
  t["v"] = rnd(size_t(T * s[3] * s[4]), g);
}
Register attention_entry({
    "attention", "attention",
    {{3, 2, 2, 1, 4, 0}, {5, 17, 4, 2, 8, 0}, {20, 3, 4, 2, 8, 5}, {70, 40, 8, 2, 16, 0}, {300, 9, 2, 2, 8, 37}},
    {2048, 0, 8, 2, 128, 0}, attn_inputs,
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      auto segs = training_segs({s[0], s[1]});
      t["out"].assign(size_t(T * qd), 0.0f);
      be.attention_forward(t["out"].data(), qd, t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv,
                           segs.data(), 2, nq, nk, d, int(s[5]), nullptr);
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      t["out"].assign(size_t(T * qd), 0.0);
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::attention_forward(t["out"].data() + row * qd, qd, t["qk"].data() + row * C, C,
                                    t["qk"].data() + row * C + qd, C, t["v"].data() + row * kv, kv, n, n, nq, nk, d,
                                    int(s[5]));
        row += n;
      }
    },
    {"out"}, {}, {"qk", "v"},
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      auto segs = training_segs({s[0], s[1]});
      std::vector<float> out(size_t(T * qd)), stats(size_t(T * nq * 2));
      be.attention_forward(out.data(), qd, t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv, segs.data(),
                           2, nq, nk, d, int(s[5]), stats.data());
      be.attention_backward(t["d:qk"].data(), C, t["d:qk"].data() + qd, C, t["d:v"].data(), kv, t["d:out"].data(), qd,
                            t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv, out.data(), stats.data(),
                            segs.data(), 2, nq, nk, d, int(s[5]));
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::attention_backward(t["d:qk"].data() + row * C, C, t["d:qk"].data() + row * C + qd, C,
                                     t["d:v"].data() + row * kv, kv, t["d:out"].data() + row * qd, qd,
                                     t["qk"].data() + row * C, C, t["qk"].data() + row * C + qd, C,
                                     t["v"].data() + row * kv, kv, n, nq, nk, d, int(s[5]));
        row += n;
      }
    },
    {}, {2e-6, 1e-5}, {1.5e-2, 2e-2}, true,
    [](const Shape& s) {
      auto part = [&](double n) { return 4.0 * n * (n + 1) / 2 * s[2] * s[4]; };
      return part(double(s[0])) + part(double(s[1]));
    },
    nullptr});

// Decode and chunked prefill against caches: two sequences with S0 cached positions each append n new
// keys/values, then attend over the whole cache. shape: S0a, na, S0b, nb, nq, nk, d, window.
Register attention_cache_entry({
    "attention_with_cache", "attention",
    {{0, 1, 3, 1, 2, 1, 4, 0}, {5, 3, 0, 7, 4, 2, 8, 0}, {40, 1, 17, 20, 4, 2, 8, 6}, {7, 30, 2, 1, 8, 2, 16, 0}},
    {4095, 1, 4095, 1, 8, 2, 128, 0},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t kv = s[5] * s[6], C = (s[4] + s[5]) * s[6];
      t["qk"] = rnd(size_t((s[1] + s[3]) * C), g, 1.2);
      t["v"] = rnd(size_t((s[1] + s[3]) * kv), g);
      t["kold"] = rnd(size_t((s[0] + s[2]) * kv), g, 1.2);
      t["vold"] = rnd(size_t((s[0] + s[2]) * kv), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[4]), nk = int(s[5]), d = int(s[6]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      const size_t esz = dtype_size(be.kv_dtype());
      auto segs = training_segs({s[1], s[3]});
      std::vector<std::vector<uint8_t>> kc(2), vc(2);
      int64_t old = 0;
      for (int i = 0; i < 2; ++i) {
        const int64_t S0 = s[2 * i], n = s[2 * i + 1];
        kc[size_t(i)].assign(size_t((S0 + n) * kv) * esz, 0);
        vc[size_t(i)].assign(size_t((S0 + n) * kv) * esz, 0);
        for (int64_t j = 0; j < S0 * kv; ++j) {
          const float kf = t["kold"][size_t((old * kv) + j)], vf = t["vold"][size_t((old * kv) + j)];
          if (esz == 2) {
            const uint16_t kh = f32_to_bf16(kf), vh = f32_to_bf16(vf);
            std::memcpy(kc[size_t(i)].data() + size_t(j) * 2, &kh, 2);
            std::memcpy(vc[size_t(i)].data() + size_t(j) * 2, &vh, 2);
          } else {
            std::memcpy(kc[size_t(i)].data() + size_t(j) * 4, &kf, 4);
            std::memcpy(vc[size_t(i)].data() + size_t(j) * 4, &vf, 4);
          }
        }
        old += S0;
        segs[size_t(i)].pos = S0;
        segs[size_t(i)].kcache = kc[size_t(i)].data();
        segs[size_t(i)].vcache = vc[size_t(i)].data();
      }
      be.kv_append(segs.data(), 2, t["qk"].data() + qd, C, t["v"].data(), kv, kv);
      t["out"].assign(size_t((s[1] + s[3]) * qd), 0.0f);
      be.attention_forward(t["out"].data(), qd, t["qk"].data(), C, nullptr, 0, nullptr, 0, segs.data(), 2, nq, nk, d,
                           int(s[7]), nullptr);
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[4]), nk = int(s[5]), d = int(s[6]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      t["out"].assign(size_t((s[1] + s[3]) * qd), 0.0);
      int64_t old = 0, row = 0;
      for (int i = 0; i < 2; ++i) {
        const int64_t S0 = s[2 * i], n = s[2 * i + 1];
        std::vector<double> K(size_t((S0 + n) * kv)), V(K.size());
        std::copy_n(t["kold"].begin() + old * kv, S0 * kv, K.begin());
        std::copy_n(t["vold"].begin() + old * kv, S0 * kv, V.begin());
        for (int64_t r = 0; r < n; ++r)
          for (int64_t c = 0; c < kv; ++c) {
            K[size_t((S0 + r) * kv + c)] = t["qk"][size_t((row + r) * C + qd + c)];
            V[size_t((S0 + r) * kv + c)] = t["v"][size_t((row + r) * kv + c)];
          }
        ops::ref::attention_forward(t["out"].data() + row * qd, qd, t["qk"].data() + row * C, C, K.data(), kv, V.data(),
                                    kv, n, S0 + n, nq, nk, d, int(s[7]));
        old += S0;
        row += n;
      }
    },
    {"out"}, {}, {}, nullptr, nullptr, {}, {2e-6, 0}, {1.5e-2, 0}, false,
    [](const Shape& s) { return 4.0 * (s[1] * (s[0] + s[1]) + s[3] * (s[2] + s[3])) * s[4] * s[6]; },
    [](const Shape& s) { return 2.0 * 4 * (s[0] + s[1] + s[2] + s[3]) * s[5] * s[6]; }});

// ---------------------------------------------------------------------------------------------------------
// Router and experts (ops/moe.h)

Register eda_entry({
    "eda", "moe", {{3, 5}, {17, 16}, {64, 256}}, {2048, 256},
    [](const Shape& s, Rng& g, TD& t) {
      t["a0"] = rnd(size_t(s[0] * s[1]), g);
      t["a_prev"] = rnd(size_t(s[0] * s[1]), g);
      t["s"] = rnd(size_t(s[1]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      t["a"] = t["a0"];
      be.eda_forward(t["a"].data(), t["a_prev"].data(), t["s"].data(), s[0], s[1]);
    },
    [](const Shape& s, TD& t) {
      t["a"] = t["a0"];
      for (int64_t i = 0; i < s[0] * s[1]; ++i) t["a"][size_t(i)] += t["s"][size_t(i % s[1])] * t["a_prev"][size_t(i)];
    },
    {"a"}, {}, {"a0", "a_prev", "s"},
    [](Backend& be, const Shape& s, TF& t) {
      be.axpy(t["d:a0"].data(), t["d:a"].data(), 1.0f, s[0] * s[1]);  // a = a0 + ...: the identity part
      be.eda_backward(t["d:a_prev"].data(), t["d:s"].data(), t["d:a"].data(), t["a_prev"].data(), t["s"].data(), s[0],
                      s[1]);
    },
    [](const Shape& s, TD& t) {
      for (int64_t i = 0; i < s[0] * s[1]; ++i) {
        const double g = t["d:a"][size_t(i)];
        t["d:a0"][size_t(i)] += g;
        t["d:a_prev"][size_t(i)] += g * t["s"][size_t(i % s[1])];
        t["d:s"][size_t(i % s[1])] += g * t["a_prev"][size_t(i)];
      }
    },
    {}, {1e-6, 1e-6}, {1e-6, 1e-6}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * s[1]; }});

// shape: T, S. Choices compared exactly (random scores: no ties).
Register top1_entry({
    "router_top1", "moe", {{5, 3}, {33, 17}, {200, 9}}, {2048, 17},
    [](const Shape& s, Rng& g, TD& t) {
      t["p"] = uni(size_t(s[0] * s[1]), g, 0, 1);
      t["beta"] = rnd(size_t(s[1]), g, 0.1);
    },
    [](Backend& be, const Shape& s, TF& t) {
      std::vector<int32_t> c(static_cast<size_t>(s[0]));
      t["weight"].assign(size_t(s[0]), 0.0f);
      be.router_top1(c.data(), t["weight"].data(), t["p"].data(), t["beta"].data(), s[0], int(s[1]));
      t["choice"] = from(c);
    },
    [](const Shape& s, TD& t) {
      t["choice"].assign(size_t(s[0]), 0.0);
      t["weight"].assign(size_t(s[0]), 0.0);
      for (int64_t r = 0; r < s[0]; ++r) {
        int best = 0;
        for (int e = 1; e < s[1]; ++e)
          if (t["p"][size_t(r * s[1] + e)] + t["beta"][size_t(e)] > t["p"][size_t(r * s[1] + best)] + t["beta"][size_t(best)])
            best = e;
        t["choice"][size_t(r)] = best;
        t["weight"][size_t(r)] = t["p"][size_t(r * s[1] + best)];
      }
    },
    {"weight"}, {"choice"}, {}, nullptr, nullptr, {}, {1e-7, 0}, {1e-7, 0}, false, nullptr,
    [](const Shape& s) { return 4.0 * s[0] * s[1]; }});

// shape: T, E; slots 0..E (E = skip). perm (stable by expert) and offsets compared exactly.
Register permute_entry({
    "moe_permute", "moe", {{5, 2}, {40, 4}, {300, 16}}, {2048, 16},
    [](const Shape& s, Rng& g, TD& t) { t["choice"] = ints(size_t(s[0]), g, 0, s[1]); },
    [](Backend& be, const Shape& s, TF& t) {
      auto c = as<int32_t>(t["choice"]);
      std::vector<int64_t> perm(size_t(s[0]), -1), off(size_t(s[1] + 1));
      const int64_t ne = be.moe_permute(perm.data(), off.data(), c.data(), s[0], int(s[1]));
      perm.resize(size_t(ne));
      t["perm"] = from(perm);
      t["off"] = from(off);
    },
    [](const Shape& s, TD& t) {
      t["perm"].clear();
      t["off"] = {0.0};
      for (int64_t e = 0; e < s[1]; ++e) {
        for (int64_t r = 0; r < s[0]; ++r)
          if (t["choice"][size_t(r)] == double(e)) t["perm"].push_back(double(r));
        t["off"].push_back(double(t["perm"].size()));
      }
    },
    {}, {"perm", "off"}, {}, nullptr, nullptr, {}, {0, 0}, {0, 0}, false, nullptr,
    [](const Shape& s) { return 16.0 * s[0]; }});

// shape: T, H, E, passthrough. The backward SETS d(expert out) and d(probs), ADDS d(y).
void combine_setup(const Shape& s, Rng& g, TD& t) {
  t["choice"] = ints(size_t(s[0]), g, 0, s[2]);
  t["perm"].clear();
  for (int64_t e = 0; e < s[2]; ++e)
    for (int64_t r = 0; r < s[0]; ++r)
      if (t["choice"][size_t(r)] == double(e)) t["perm"].push_back(double(r));
  t["eo"] = rnd(std::max<size_t>(t["perm"].size(), 1) * size_t(s[1]), g);
  t["w"] = uni(size_t(s[0]), g, 0.1, 1);
  t["y"] = rnd(size_t(s[0] * s[1]), g);
}
Register combine_entry({
    "moe_combine", "moe", {{7, 5, 3, 0}, {7, 5, 3, 1}, {40, 33, 4, 1}, {100, 64, 16, 0}}, {2048, 1024, 16, 0},
    combine_setup,
    [](Backend& be, const Shape& s, TF& t) {
      auto c = as<int32_t>(t["choice"]);
      auto perm = as<int64_t>(t["perm"]);
      t["M"].assign(size_t(s[0] * s[1]), 0.0f);
      be.moe_combine(t["M"].data(), t["eo"].data(), perm.data(), int64_t(perm.size()), t["w"].data(), c.data(),
                     t["y"].data(), s[0], s[1], int(s[2]), s[3] != 0);
    },
    [](const Shape& s, TD& t) {
      const int64_t H = s[1];
      t["M"].assign(size_t(s[0] * H), 0.0);
      for (size_t i = 0; i < t["perm"].size(); ++i) {
        const int64_t r = int64_t(t["perm"][i]);
        for (int64_t c = 0; c < H; ++c) t["M"][size_t(r * H + c)] = t["w"][size_t(r)] * t["eo"][i * size_t(H) + size_t(c)];
      }
      if (s[3])
        for (int64_t r = 0; r < s[0]; ++r)
          if (t["choice"][size_t(r)] == double(s[2]))
            for (int64_t c = 0; c < H; ++c) t["M"][size_t(r * H + c)] = t["w"][size_t(r)] * t["y"][size_t(r * H + c)];
    },
    {"M"}, {}, {"eo", "w", "y"},
    [](Backend& be, const Shape& s, TF& t) {
      // The router weight's gradient arrives in dp[t, choice]; gathered here into d:w (slots S = E + 1).
      auto c = as<int32_t>(t["choice"]);
      auto perm = as<int64_t>(t["perm"]);
      const int S = int(s[2]) + 1;
      std::vector<float> dp(size_t(s[0] * S));
      be.moe_combine_backward(t["d:eo"].data(), dp.data(), t["d:y"].data(), t["d:M"].data(), t["eo"].data(),
                              perm.data(), int64_t(perm.size()), t["w"].data(), c.data(), t["y"].data(), s[0], s[1],
                              int(s[2]), S, s[3] != 0);
      for (int64_t r = 0; r < s[0]; ++r) t["d:w"][size_t(r)] = dp[size_t(r * S + c[size_t(r)])];
    },
    [](const Shape& s, TD& t) {
      const int64_t H = s[1];
      std::fill(t["d:eo"].begin(), t["d:eo"].end(), 0.0);
      std::fill(t["d:w"].begin(), t["d:w"].end(), 0.0);
      for (size_t i = 0; i < t["perm"].size(); ++i) {
        const int64_t r = int64_t(t["perm"][i]);
        for (int64_t c = 0; c < H; ++c) {
          t["d:eo"][i * size_t(H) + size_t(c)] = t["w"][size_t(r)] * t["d:M"][size_t(r * H + c)];
          t["d:w"][size_t(r)] += t["eo"][i * size_t(H) + size_t(c)] * t["d:M"][size_t(r * H + c)];
        }
      }
      if (s[3])
        for (int64_t r = 0; r < s[0]; ++r)
          if (t["choice"][size_t(r)] == double(s[2]))
            for (int64_t c = 0; c < H; ++c) {
              t["d:y"][size_t(r * H + c)] += t["w"][size_t(r)] * t["d:M"][size_t(r * H + c)];
              t["d:w"][size_t(r)] += t["y"][size_t(r * H + c)] * t["d:M"][size_t(r * H + c)];
            }
    },
    {"eo", "w"}, {1e-7, 1e-6}, {1e-7, 1e-6}, true, nullptr, [](const Shape& s) { return 12.0 * s[0] * s[1]; }});

// ---------------------------------------------------------------------------------------------------------
// BLAS-1 helpers and the precision rounding (ops/backend.h)

Register blas1_entry({
    "axpy_scale_sum_squares", "backend", {{7}, {1000}, {100003}}, {1 << 22},
    [](const Shape& s, Rng& g, TD& t) {
      t["x"] = rnd(size_t(s[0]), g);
      t["y0"] = rnd(size_t(s[0]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      t["y"] = t["y0"];
      be.axpy(t["y"].data(), t["x"].data(), -0.7f, s[0]);
      be.scale(t["y"].data(), 1.3f, s[0]);
      t["ss"] = {float(be.sum_squares(t["y"].data(), s[0]))};
    },
    [](const Shape& s, TD& t) {
      t["y"] = t["y0"];
      double ss = 0;
      for (int64_t i = 0; i < s[0]; ++i) {
        t["y"][size_t(i)] = (t["y"][size_t(i)] - 0.7 * t["x"][size_t(i)]) * 1.3;
        ss += t["y"][size_t(i)] * t["y"][size_t(i)];
      }
      t["ss"] = {ss};
    },
    {"y", "ss"}, {}, {}, nullptr, nullptr, {}, {1e-6, 0}, {1e-6, 0}, false, nullptr,
    [](const Shape& s) { return 12.0 * s[0]; }});

// Rounding to the backend's GEMM precision: identity on cpu-f32; on cpu-bf16 to nearest-even bf16
// (relative error ≤ 2⁻⁹ per element).
Register round_entry({
    "round_to_precision", "backend", {{7}, {1000}, {100003}}, {1 << 22},
    [](const Shape& s, Rng& g, TD& t) { t["x0"] = rnd(size_t(s[0]), g); },
    [](Backend& be, const Shape& s, TF& t) {
      t["x"] = t["x0"];
      be.round_to_precision(t["x"].data(), s[0]);
    },
    [](const Shape& s, TD& t) { t["x"] = t["x0"]; }, {"x"}, {}, {}, nullptr, nullptr, {}, {1e-7, 0}, {2.5e-3, 0}, false,
    nullptr, [](const Shape& s) { return 8.0 * s[0]; }});

// ---------------------------------------------------------------------------------------------------------
// The runner

std::vector<std::string> backends() { return backend_names(); }

TF to_float(const TD& t) {
  TF f;
  for (auto& [k, v] : t) f[k] = std::vector<float>(v.begin(), v.end());
  return f;
}

const OpEntry& entry(const std::string& name) {
  for (auto& e : registry())
    if (e.name == name) return e;
  throw std::runtime_error("no op " + name);
}

std::string shape_str(const Shape& s) {
  std::string o;
  for (auto x : s) o += (o.empty() ? "" : "x") + std::to_string(x);
  return o;
}

class BackendOps : public testing::TestWithParam<std::string> {};

TEST_P(BackendOps, ForwardMatchesReference) {
  const OpEntry& op = entry(GetParam());
  for (const std::string& bn : backends()) {
    auto be = make_backend(bn);
    const Tol tol = be->precision() == Precision::BF16 ? op.bf16 : op.f32;
    for (size_t si = 0; si < op.shapes.size(); ++si) {
      const Shape& s = op.shapes[si];
      SCOPED_TRACE(op.name + " on " + bn + " shape " + shape_str(s));
      std::mt19937_64 g(test_seed() + si * 7919 + std::hash<std::string>()(op.name));
      TD in;
      op.make(s, g, in);
      TF f = to_float(in);
      TD d = in;
      // The reference sees exactly the fp32 inputs the backend sees.
      for (auto& [k, v] : d)
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(f[k][i]);
      op.fwd(*be, s, f);
      op.ref(s, d);
      for (auto& o : op.outputs) {
        ASSERT_EQ(f[o].size(), d[o].size()) << o;
        const double e = rel_err(f[o].data(), d[o].data(), f[o].size());
        EXPECT_LE(e, tol.fwd) << op.name << " " << o;
      }
      for (auto& o : op.exact) EXPECT_EQ(as<int64_t>(f[o]), asd<int64_t>(d[o])) << op.name << " " << o;
    }
  }
}

// Backward vs the reference, with gradients pre-filled (the ADD contract) and random output gradients.
TEST_P(BackendOps, BackwardAddsTheReferenceGradient) {
  const OpEntry& op = entry(GetParam());
  if (!op.bwd) GTEST_SKIP() << op.name << " has no backward (not differentiable or not needed)";
  for (const std::string& bn : backends()) {
    auto be = make_backend(bn);
    const Tol tol = be->precision() == Precision::BF16 ? op.bf16 : op.f32;
    for (size_t si = 0; si < op.shapes.size(); ++si) {
      const Shape& s = op.shapes[si];
      SCOPED_TRACE(op.name + " on " + bn + " shape " + shape_str(s));
      std::mt19937_64 g(test_seed() + si * 104729 + std::hash<std::string>()(op.name));
      TD in;
      op.make(s, g, in);
      TD outs = in;
      op.ref(s, outs);
      for (auto& o : op.outputs) in["d:" + o] = rnd(outs[o].size(), g);
      TF f = to_float(in);
      TD d = in;
      for (auto& [k, v] : d)
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(f[k][i]);
      std::map<std::string, std::vector<float>> prefill;
      for (auto& gname : op.grads) {
        const size_t n = in[gname].size();
        const bool sets = std::count(op.sets.begin(), op.sets.end(), gname) > 0;
        prefill[gname] = sets ? std::vector<float>(n, 0.0f) : std::vector<float>(n);
        if (!sets)
          for (auto& x : prefill[gname]) x = float(std::normal_distribution<double>(0, 1)(g));
        if (sets)  // a SET gradient must overwrite whatever is there
          for (auto& x : prefill[gname]) x = 12345.0f;
        f["d:" + gname] = prefill[gname];
        d["d:" + gname].assign(n, 0.0);
      }
      op.bwd(*be, s, f);
      op.ref_bwd(s, d);
      for (auto& gname : op.grads) {
        const bool sets = std::count(op.sets.begin(), op.sets.end(), gname) > 0;
        std::vector<double> got(f["d:" + gname].size());
        for (size_t i = 0; i < got.size(); ++i)
          got[i] = double(f["d:" + gname][i]) - (sets ? 0.0 : double(prefill[gname][i]));
        const double e = rel_err(got.data(), d["d:" + gname].data(), got.size());
        EXPECT_LE(e, std::max(tol.bwd, 1e-6)) << op.name << " d" << gname << (sets ? " (set)" : " (added)");
      }
    }
  }
}

// The reference backward against central differences of L = Σ_o dO·o(x) in fp64.
TEST_P(BackendOps, ReferenceGradientMatchesFiniteDifferences) {
  const OpEntry& op = entry(GetParam());
  if (!op.bwd) GTEST_SKIP() << op.name << " has no backward";
  if (!op.gradcheck) GTEST_SKIP() << op.name << ": piecewise (documented in the entry)";
  const Shape& s = op.shapes[0];
  std::mt19937_64 g(test_seed() + std::hash<std::string>()(op.name));
  TD in;
  op.make(s, g, in);
  TD outs = in;
  op.ref(s, outs);
  for (auto& o : op.outputs) in["d:" + o] = rnd(outs[o].size(), g);
  TD d = in;
  for (auto& gname : op.grads) d["d:" + gname].assign(in[gname].size(), 0.0);
  op.ref_bwd(s, d);
  auto loss = [&](TD& x) {
    TD t = x;
    op.ref(s, t);
    double L = 0;
    for (auto& o : op.outputs)
      for (size_t i = 0; i < t[o].size(); ++i) L += t[o][i] * in["d:" + o][i];
    return L;
  };
  for (auto& gname : op.grads) {
    std::vector<double> num(in[gname].size());
    for (size_t i = 0; i < num.size(); ++i) {
      TD x = in;
      const double h = 1e-6 * std::max(1.0, std::abs(x[gname][i]));
      x[gname][i] += h;
      const double lp = loss(x);
      x[gname][i] -= 2 * h;
      const double lm = loss(x);
      num[i] = (lp - lm) / (2 * h);
    }
    const double e = rel_err(d["d:" + gname].data(), num.data(), num.size());
    EXPECT_LT(e, 1e-6) << op.name << " d" << gname;
  }
}

std::vector<std::string> op_names() {
  std::vector<std::string> n;
  for (auto& e : registry()) n.push_back(e.name);
  return n;
}
INSTANTIATE_TEST_SUITE_P(All, BackendOps, testing::ValuesIn(op_names()),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

// Every op of the interface is in the registry: a new op without an entry fails here.
TEST(BackendOpsRegistry, CoversEveryOp) {
  const std::vector<std::string> covered = op_names();
  for (const char* op :
       {"linear", "linear_half_weights", "grouped_linear", "gemm_batched", "embedding", "gather_rows", "rmsnorm",
        "residual_input", "residual_merge", "gelu", "swiglu", "softmax", "cross_entropy", "cca_conv",
        "cca_conv_with_state", "cca_qk_mean_add", "cca_qk_normalize", "rope", "value_shift", "value_shift_with_state",
        "kv_append", "attention", "attention_with_cache", "eda", "router_top1", "moe_permute", "moe_combine",
        "axpy_scale_sum_squares", "round_to_precision"})
    EXPECT_NE(std::find(covered.begin(), covered.end(), op), covered.end()) << op;
}

// ---------------------------------------------------------------------------------------------------------
// Perf mode

int perf_main(const std::string& only) {
  std::printf("| op | shape | backend | time per call | rate |\n|---|---|---|---:|---:|\n");
  for (const OpEntry& op : registry()) {
    if (!only.empty() && op.name != only) continue;
    for (const std::string& bn : backends()) {
      auto be = make_backend(bn);
      std::mt19937_64 g(1);
      TD in;
      op.make(op.perf, g, in);
      TF f = to_float(in);
      op.fwd(*be, op.perf, f);  // warm-up
      double best = 1e30;
      for (int r = 0; r < 5; ++r) {
        TF c = f;
        auto t0 = std::chrono::steady_clock::now();
        op.fwd(*be, op.perf, c);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      char rate[64] = "";
      if (op.flops)
        std::snprintf(rate, sizeof rate, "%.1f GFLOP/s", op.flops(op.perf) / best / 1e9);
      else if (op.bytes)
        std::snprintf(rate, sizeof rate, "%.1f GB/s", op.bytes(op.perf) / best / 1e9);
      std::printf("| %s | %s | %s | %.1f µs | %s |\n", op.name.c_str(), shape_str(op.perf).c_str(), bn.c_str(),
                  best * 1e6, rate);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace zaya::test

int main(int argc, char** argv) {
  std::string only;
  bool perf = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--perf") perf = true;
    if (a == "--op" && i + 1 < argc) only = argv[++i];
  }
  if (perf) return zaya::test::perf_main(only);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
