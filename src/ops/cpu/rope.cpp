// Partial rotate-half RoPE on the CPU (rows in parallel) and its reference kernels (ops/rope.h).
#include <cmath>

#include "ops/cpu/cpu_backend.h"
#include "ops/rope.h"

namespace zaya {
namespace ops {

std::vector<float> rope_inv_freq(double theta, int rot) {
  std::vector<float> f(size_t(rot / 2));
  for (int j = 0; j < rot / 2; ++j) {
    float e = float(2 * j) / float(rot);
    f[size_t(j)] = 1.0f / std::pow(float(theta), e);
  }
  return f;
}

namespace {
template <typename S>
void rotate_row(S* x, float p, int heads, int d, int rot, const float* inv_freq, float sign) {
  const int half = rot / 2;
  for (int j = 0; j < half; ++j) {
    const float phi = p * inv_freq[j];
    const S c = std::cos(phi), s = sign * std::sin(phi);
    for (int h = 0; h < heads; ++h) {
      S* v = x + int64_t(h) * d;
      const S a = v[j], b = v[j + half];
      v[j] = a * c - b * s;
      v[j + half] = b * c + a * s;
    }
  }
}
}  // namespace

namespace ref {
template <typename S>
void rope_forward(S* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot, const float* inv_freq) {
  for (int64_t t = 0; t < T; ++t) rotate_row(x + t * ld, float(pos[t]), heads, d, rot, inv_freq, 1.0f);
}
template <typename S>
void rope_backward(S* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                   const float* inv_freq) {
  for (int64_t t = 0; t < T; ++t) rotate_row(dx + t * ld, float(pos[t]), heads, d, rot, inv_freq, -1.0f);
}
template void rope_forward<float>(float*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_forward<double>(double*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_backward<float>(float*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
template void rope_backward<double>(double*, int64_t, const int64_t*, int64_t, int, int, int, const float*);
}  // namespace ref

namespace cpu {
void CpuBackend::rope_forward(float* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                              const float* inv_freq) {
  ZAYA_OP_SCOPE("rope_forward");
#pragma omp parallel for schedule(static) if (T > 64)
  for (int64_t t = 0; t < T; ++t) rotate_row(x + t * ld, float(pos[t]), heads, d, rot, inv_freq, 1.0f);
}
void CpuBackend::rope_backward(float* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                               const float* inv_freq) {
  ZAYA_OP_SCOPE("rope_backward");
#pragma omp parallel for schedule(static) if (T > 64)
  for (int64_t t = 0; t < T; ++t) rotate_row(dx + t * ld, float(pos[t]), heads, d, rot, inv_freq, -1.0f);
}
}  // namespace cpu

}  // namespace ops
}  // namespace zaya
