// Cross-entropy of logits [T, V] against integer targets (host array); targets equal to -100 are
// ignored. Returns the SUM of the per-target losses (the caller divides by the number of targets,
// e.g. the next-token loss of transformers with labels = ids). If dlogits is non-null it is SET to
// scale · (softmax − one-hot) on target rows and 0 on ignored rows; dlogits may alias logits — this
// op starts the backward pass. Softmax statistics in double.
// Backends: src/ops/cpu/loss.cpp. Registry: tests/test_backend_ops.cpp.
#pragma once
#include <cstdint>

namespace zaya::ops::ref {
template <typename S>
double cross_entropy(S* dlogits, const S* logits, const int32_t* targets, int64_t T, int64_t V, double scale);
}  // namespace zaya::ops::ref
