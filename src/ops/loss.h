// Cross-entropy of logits [T, V] against integer targets, mean over the targets that are not
// `ignore` (e.g. -100 or padding). Returns the loss; if dlogits is non-null it is SET to the gradient
// of the mean loss (softmax − one-hot)/count — this op starts the backward pass. Double accumulation.
// CPU: src/ops/cpu/loss.cpp. Test: tests/test_backward.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops {
template <typename S>
double cross_entropy(S* dlogits, const S* logits, const int32_t* targets, int64_t T, int64_t V, int32_t ignore = -100);
}
