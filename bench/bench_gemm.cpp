// GEMM measurements behind the CPU backend's kernel choices (docs/benchmarks.md, "GEMM"):
//   Peak/fma, Peak/dpbf16  one core's fp32 FMA and AVX512-BF16 dot-product throughput (register-only loops)
//   Sgemm/onednn_threads   dnnl_sgemm with oneDNN's own threading
//   Sgemm/zaya             zaya's sgemm: one single-threaded oneDNN call per slice of C per thread
//   Bf16/onednn            oneDNN's bf16 matmul (AMX or AVX512-BF16) through zaya's gemm()
//   Bf16/widen             bf16-rounded operands on the fp32 GEMM (the default without AMX)
// Shapes are the model's: T x out x in for prefill/training rows of the bench configs.
//   ./build/bench_gemm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <dnnl.h>
#include <omp.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "ops/cpu/gemm.h"

namespace {

using namespace zaya;

std::vector<float> randn(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

#define R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// 12 independent accumulators, 1e6 iterations: FLOP/s of one core.
void Peak(benchmark::State& st, bool bf16) {
  const long n = 1000000;
  for (auto _ : st) {
    for (long i = 0; i < n; ++i) {
      if (bf16)
        asm volatile(
#define B(k) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #k "\n\t"
            R12(B)::
                : "memory");
      else
        asm volatile(
#define F(k) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #k "\n\t"
            R12(F)::
                : "memory");
    }
  }
  const double per_iter = 12.0 * (bf16 ? 64 : 32);
  st.counters["FLOPS"] = benchmark::Counter(per_iter * n, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_PeakFma(benchmark::State& st) { Peak(st, false); }
void BM_PeakDpbf16(benchmark::State& st) {
  if (!ops::cpu::cpu_features().avx512_bf16) {
    st.SkipWithError("no AVX512-BF16 on this CPU");
    return;
  }
  Peak(st, true);
}
BENCHMARK(BM_PeakFma)->Threads(1)->UseRealTime();
BENCHMARK(BM_PeakDpbf16)->Threads(1)->UseRealTime();

struct Shape {
  int64_t T, N, K;
};
void shapes(benchmark::internal::Benchmark* b) {
  for (auto s : std::vector<Shape>{{2048, 1280, 1024},  // prefill [q; k]
                                   {2048, 256, 1024},   // prefill [v_cur; v_del], router down
                                   {2048, 1024, 1024},  // prefill o_proj
                                   {128, 2048, 1024},   // one expert's gate_up (128 tokens)
                                   {2048, 512, 512},    // training attention projections
                                   {2048, 32768, 512}})  // training LM head
    b->Args({s.T, s.N, s.K});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

void BM_SgemmOnednnThreads(benchmark::State& st) {
  const int64_t T = st.range(0), N = st.range(1), K = st.range(2);
  auto x = randn(size_t(T * K), 1), w = randn(size_t(N * K), 2);
  std::vector<float> y(size_t(T * N));
  for (auto _ : st) dnnl_sgemm('N', 'T', T, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N);
  st.counters["FLOPS"] = benchmark::Counter(2.0 * T * N * K, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_SgemmZaya(benchmark::State& st) {
  const int64_t T = st.range(0), N = st.range(1), K = st.range(2);
  auto x = randn(size_t(T * K), 1), w = randn(size_t(N * K), 2);
  std::vector<float> y(size_t(T * N));
  for (auto _ : st) ops::cpu::sgemm(false, true, T, N, K, 1.0f, x.data(), K, w.data(), K, 0.0f, y.data(), N);
  st.counters["FLOPS"] = benchmark::Counter(2.0 * T * N * K, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmOnednnThreads)->Apply(shapes);
BENCHMARK(BM_SgemmZaya)->Apply(shapes);

// bf16 GEMM y = x·Wᵀ with bf16 weights, both kernels (ZAYA_BF16_GEMM is read once, so the kernel is
// chosen per process: run with ZAYA_BF16_GEMM=onednn and =widen).
void BM_Bf16Linear(benchmark::State& st) {
  const int64_t T = st.range(0), N = st.range(1), K = st.range(2);
  auto x = randn(size_t(T * K), 1), wf = randn(size_t(N * K), 2);
  std::vector<uint16_t> w(wf.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = f32_to_bf16(wf[i]);
  std::vector<float> y(size_t(T * N));
  Mat W{w.data(), DType::BF16, N, K};
  for (auto _ : st) ops::cpu::linear(Precision::BF16, y.data(), N, x.data(), K, W, T);
  st.SetLabel(ops::cpu::cpu_features().bf16_onednn ? "oneDNN bf16 matmul" : "widen + fp32 GEMM");
  st.counters["FLOPS"] = benchmark::Counter(2.0 * T * N * K, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Bf16Linear)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
