// Op registry entries: router glue, expert dispatch, BLAS-1 helpers, precision rounding (ops/moe.h, ops/backend.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

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
// (relative error ≤ 2⁻⁸ per element: half the spacing of 8 significant bits, just above a power of two).
Register round_entry({
    "round_to_precision", "backend", {{7}, {1000}, {100003}}, {1 << 22},
    [](const Shape& s, Rng& g, TD& t) { t["x0"] = rnd(size_t(s[0]), g); },
    [](Backend& be, const Shape& s, TF& t) {
      t["x"] = t["x0"];
      be.round_to_precision(t["x"].data(), s[0]);
    },
    [](const Shape& s, TD& t) { t["x"] = t["x0"]; }, {"x"}, {}, {}, nullptr, nullptr, {}, {1e-7, 0}, {0.00390625, 0}, false,
    nullptr, [](const Shape& s) { return 8.0 * s[0]; }});

}  // namespace
}  // namespace zaya::test
