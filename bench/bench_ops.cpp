// Op benchmarks (Google Benchmark). Counters: bytes_per_second (weights streamed) for memory-bound
// cases, FLOPS for compute-bound ones. MemRead measures this machine's read bandwidth, the
// denominator of the decode roofline in docs/benchmarks.md.
//   ./build/bench_ops --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>

#include <random>
#include <vector>

#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/matmul.h"

namespace {

using namespace zaya;

std::vector<float> randn(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// y[T, N] = x[T, K] · Wᵀ for W in fp32 (OpenBLAS sgemm) or bf16 (zaya kernels).
void BM_Matmul(benchmark::State& st) {
  const int64_t T = st.range(0), N = st.range(1), K = st.range(2);
  const bool bf16 = st.range(3) != 0;
  auto wf = randn(size_t(N * K), 1);
  std::vector<uint16_t> wh(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) wh[i] = f32_to_bf16(wf[i]);
  auto x = randn(size_t(T * K), 2);
  std::vector<float> y(size_t(T * N));
  Mat W{bf16 ? static_cast<const void*>(wh.data()) : wf.data(), bf16 ? DType::BF16 : DType::F32, N, K};
  for (auto _ : st) {
    ops::matmul_forward(y.data(), x.data(), W, T);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(W.bytes()));
  st.counters["FLOPS"] = benchmark::Counter(2.0 * double(T * N * K), benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(bf16 ? "bf16" : "f32");
}
// Decode shapes of ZAYA1 (expert fc1 4096x2048, q 1024x2048) at T = 1 and 4, and prefill at T = 256.
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{1, 4}, {4096}, {2048}, {0, 1}})
    ->ArgsProduct({{1}, {1024}, {2048}, {0, 1}})
    ->ArgsProduct({{256}, {2048}, {2048}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Read bandwidth: sum a 1 GiB buffer with all threads.
void BM_MemRead(benchmark::State& st) {
  const size_t n = size_t(1) << 28;  // floats = 1 GiB
  static std::vector<float> buf(n, 1.0f);
  for (auto _ : st) {
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
#pragma omp for schedule(static)
      for (size_t i = 0; i < n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(&buf[i]));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(&buf[i + 8]));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(&buf[i + 16]));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(&buf[i + 24]));
      }
      __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
      float v[8];
      _mm256_storeu_ps(v, s);
      for (float x : v) total += x;
    }
    benchmark::DoNotOptimize(total);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(n * sizeof(float)));
}
BENCHMARK(BM_MemRead)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

// CCA convolutions of ZAYA1 (C = 1280, d = 128) over T tokens.
void BM_CcaConv(benchmark::State& st) {
  const int64_t T = st.range(0);
  const int C = 1280, d = 128;
  auto u = randn(size_t(T * C), 1), w0 = randn(size_t(C * 2), 2), b0 = randn(size_t(C), 3),
       w1 = randn(size_t(2 * C * d), 4), b1 = randn(size_t(C), 5);
  std::vector<float> out(size_t(T * C)), state(size_t(2 * C)), scratch(size_t((T + 2) * C));
  for (auto _ : st) {
    ops::cca_conv_forward(out.data(), u.data(), C, state.data(), w0.data(), b0.data(), w1.data(), b1.data(), T, C, d,
                          2, 2, scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["FLOPS"] = benchmark::Counter(2.0 * double(T) * C * d * 2, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CcaConv)->Arg(1)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Causal attention of n queries over S cached keys (ZAYA1 heads: 8 q, 2 kv, d = 128).
void BM_Attention(benchmark::State& st) {
  const int64_t S = st.range(0), n = st.range(1);
  const int nq = 8, nk = 2, d = 128;
  auto q = randn(size_t(n * nq * d), 1), k = randn(size_t(S * nk * d), 2), v = randn(size_t(S * nk * d), 3);
  std::vector<float> out(size_t(n * nq * d));
  for (auto _ : st) {
    ops::attention_forward(out.data(), nq * d, q.data(), nq * d, k.data(), v.data(), n, S, nq, nk, d, 0);
    benchmark::DoNotOptimize(out.data());
  }
  double pairs = double(n) * double(S) - double(n) * double(n - 1) / 2;
  st.counters["FLOPS"] = benchmark::Counter(4.0 * pairs * nq * d, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Attention)->Args({4096, 1})->Args({512, 512})->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
