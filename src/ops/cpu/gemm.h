// CPU GEMM kernels shared by the CPU backend's op families (not part of the op interface).
//
// fp32:  oneDNN's sgemm (it picks AVX-512/AVX2 kernels from the CPU's feature bits; OpenBLAS 0.3.21
//        misdetects newer Xeons as "Prescott" and runs 5x slower, docs/benchmarks.md). Called inside an
//        OpenMP parallel region it runs on the calling thread, so ops parallelize either inside one
//        large GEMM or across many small ones.
// bf16:  inputs rounded to bf16, fp32 accumulation. Two kernels, chosen at run time (cpu_features):
//        "onednn"  oneDNN's bf16 matmul on bf16 copies of the operands: AMX tiles where the CPU and
//                  the OS allow them, else AVX512-BF16 dot products;
//        "widen"   the operands rounded to bf16 but kept in fp32, then the fp32 GEMM: the products of
//                  bf16 values are exact in fp32, so this computes the same sums; it is the fast path
//                  where AMX is missing (measured: AVX512-BF16 dot products run at half the fp32 FMA
//                  rate on this machine's Xeon, docs/benchmarks.md).
//        Default: onednn with AMX, widen without; ZAYA_BF16_GEMM=onednn|widen overrides.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "ops/types.h"

namespace zaya::ops::cpu {

struct CpuFeatures {
  bool avx512 = false;       // AVX-512 F + BW
  bool avx512_bf16 = false;  // VDPBF16PS
  bool amx_bf16 = false;     // AMX-TILE + AMX-BF16, and the OS granted the tile state
  bool bf16_onednn = false;  // the bf16 GEMM kernel in use is oneDNN's (else "widen")
  std::string summary() const;
};
const CpuFeatures& cpu_features();

// Runs f(i) for i < n in parallel (dynamic schedule, one index at a time) when `parallel` and n > 1,
// else on the calling thread. Unlike `#pragma omp parallel for if(...)`, the serial case opens no
// (inactive) parallel region, so a GEMM called from f still sees the top level and uses every thread.
template <typename F>
void maybe_parallel(int64_t n, bool parallel, F&& f) {
  if (parallel && n > 1) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}
// True at the top level (outside every parallel construct, active or not): only there may an op start
// threads of its own.
bool top_level();

// Per-thread scratch (thread_local, grows monotonically, reused across calls). Distinct slots for
// buffers alive at the same time: 0–1 gemm() operand copies, 2 linear() rounded activations, 3 linear()
// weight blocks, 4–5 reduce_rows, 6–7 column reductions, 8–11 attention, 12–13 CCA conv, 14–15 other ops.
float* scratch(int slot, size_t n);
uint16_t* scratch_u16(int slot, size_t n);

// C[M, N] (ldc) = alpha·op(A)·op(B) + beta·C, row-major fp32.
void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same GEMM with A fp32 and B of dtype bt (F32/BF16/F16), at precision p: F32 widens B; BF16
// rounds both inputs to bf16. Converted copies live in scratch slots 0..1 of the calling thread.
void gemm(Precision p, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const void* B, DType bt, int64_t ldb, float beta, float* C, int64_t ldc);

// y[T, W.rows] (ldy) = x[T, W.cols] (ldx) · Wᵀ at precision p: the streaming kernel for T <= 8
// (memory bound: each weight row read once for 4 tokens), blocks of widened weight rows + GEMM otherwise.
void linear(Precision p, float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, int64_t T);

// Rounds n floats to bf16 (nearest even), fp32 storage; dst may alias src.
void round_bf16(float* dst, const float* src, int64_t n);
// Widens n elements of a row of dtype t to fp32 (optionally rounding to bf16 on the way).
void widen(DType t, const void* src, float* dst, int64_t n, bool to_bf16);

}  // namespace zaya::ops::cpu
