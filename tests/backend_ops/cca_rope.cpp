// Op registry entries: CCA convolutions, q-k mean, L2 norm, RoPE (ops/cca.h, ops/rope.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"
#include "ops/cca.h"
#include "ops/rope.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

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

}  // namespace
}  // namespace zaya::test
