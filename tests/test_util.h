// Shared helpers for the C++ tests: golden-file access and relative-error comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace zaya::test {

inline std::string src_path(const std::string& rel) { return std::string(ZAYA_SOURCE_DIR) + "/" + rel; }

// ‖a−b‖/‖b‖, +inf if any NaN/Inf appears in a (NaN never passes).
inline double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  return rel_err(a.data(), b.data(), std::min(a.size(), b.size()));
}

inline std::vector<float> tensor_f32(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  if (!t) ADD_FAILURE() << "golden tensor " << name << " missing";
  if (!t) return {};
  std::vector<uint8_t> raw(t->data, t->data + t->nbytes);
  std::vector<float> v(size_t(t->numel()));
  convert_to_f32(t->dtype, raw.data(), v.data(), v.size());
  return v;
}
inline std::vector<int32_t> tensor_i32(const Checkpoint& ck, const std::string& name) {
  std::vector<float> f = tensor_f32(ck, name);
  return std::vector<int32_t>(f.begin(), f.end());
}
inline std::vector<int64_t> tensor_shape(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  return t ? t->shape : std::vector<int64_t>{};
}

}  // namespace zaya::test
