// Op registry entries: activations and cross-entropy (ops/activation.h, ops/loss.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"
#include "ops/activation.h"
#include "ops/loss.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

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

}  // namespace
}  // namespace zaya::test
