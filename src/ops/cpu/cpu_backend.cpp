// CpuBackend: memory, threads, the BLAS-1 helpers, and the deterministic column reductions used by
// the backward of every op with a per-feature parameter.
#include "ops/cpu/cpu_backend.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/error.h"
#include "ops/cpu/gemm.h"

namespace zaya::ops::cpu {

std::string CpuBackend::describe() const {
  return name() + " (" + std::to_string(omp_get_max_threads()) + " threads; " + cpu_features().summary() + ")";
}

void CpuBackend::set_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

void* CpuBackend::alloc(size_t bytes) {
  size_t n = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, n);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, n);
  return p;
}
void CpuBackend::free(void* p) { std::free(p); }
void CpuBackend::upload(void* dst, const void* host, size_t bytes) {
  if (bytes) std::memcpy(dst, host, bytes);
}
void CpuBackend::download(void* host, const void* src, size_t bytes) {
  if (bytes) std::memcpy(host, src, bytes);
}
void CpuBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
}
void CpuBackend::zero(void* dst, size_t bytes) {
  if (bytes) std::memset(dst, 0, bytes);
}

void CpuBackend::axpy(float* y, const float* x, float alpha, int64_t n) {
  ZAYA_OP_SCOPE("axpy");
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
void CpuBackend::scale(float* x, float alpha, int64_t n) {
  ZAYA_OP_SCOPE("scale");
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
}

double CpuBackend::sum_squares(const float* x, int64_t n) {
  ZAYA_OP_SCOPE("sum_squares");
  // Fixed chunks summed in a fixed order: independent of the thread count.
  constexpr int64_t kChunk = 1 << 16;
  const int64_t nc = (n + kChunk - 1) / kChunk;
  std::vector<double> part(size_t(std::max<int64_t>(nc, 1)), 0.0);
#pragma omp parallel for schedule(static) if (nc > 1)
  for (int64_t c = 0; c < nc; ++c) {
    double s = 0;
    const int64_t e = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < e; ++i) s += double(x[i]) * double(x[i]);
    part[size_t(c)] = s;
  }
  double total = 0;
  for (double s : part) total += s;
  return total;
}

namespace {
constexpr int64_t kRowChunk = kReduceChunk;
}

float* reduce_scratch(int which, size_t n) { return scratch(which == 0 ? 5 : 4, n); }

void column_sums(float* out, const float* x, int64_t ld, int64_t T, int64_t n) {
  const int64_t nc = (T + kRowChunk - 1) / kRowChunk;
  if (nc <= 1) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < n; ++j) out[j] += x[t * ld + j];
    return;
  }
  float* part = scratch(6, size_t(nc * n));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nc; ++c) {
    float* p = part + c * n;
    std::fill(p, p + n, 0.0f);
    const int64_t e = std::min(T, (c + 1) * kRowChunk);
    for (int64_t t = c * kRowChunk; t < e; ++t)
      for (int64_t j = 0; j < n; ++j) p[j] += x[t * ld + j];
  }
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t j = 0; j < n; ++j) out[j] += part[c * n + j];
}

void column_dot(float* out, const float* a, const float* b, int64_t T, int64_t n) {
  const int64_t nc = (T + kRowChunk - 1) / kRowChunk;
  float* part = scratch(7, size_t(std::max<int64_t>(nc, 1) * n));
#pragma omp parallel for schedule(static) if (nc > 1)
  for (int64_t c = 0; c < nc; ++c) {
    float* p = part + c * n;
    std::fill(p, p + n, 0.0f);
    const int64_t e = std::min(T, (c + 1) * kRowChunk);
    for (int64_t t = c * kRowChunk; t < e; ++t)
      for (int64_t j = 0; j < n; ++j) p[j] += a[t * n + j] * b[t * n + j];
  }
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t j = 0; j < n; ++j) out[j] += part[c * n + j];
}

}  // namespace zaya::ops::cpu
