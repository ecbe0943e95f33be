// Op registry entries: embedding and rows, RMSNorm, residual scaling (ops/embed.h, ops/norm.h, ops/residual.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"
#include "ops/embed.h"
#include "ops/norm.h"
#include "ops/residual.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

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

}  // namespace
}  // namespace zaya::test
