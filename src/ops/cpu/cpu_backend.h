// The CPU backends, cpu-f32 and cpu-bf16: one class whose GEMMs (ops/cpu/gemm.h) run at the chosen
// precision; every other op is the same fp32 code, multi-threaded with OpenMP. The methods of each op
// family are defined in src/ops/cpu/<family>.cpp next to that family's reference kernels.
#pragma once
#include <algorithm>
#include <vector>

#include "ops/backend.h"

namespace zaya::ops::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(Precision p) : Backend(p) {}
  std::string name() const override { return prec_ == Precision::BF16 ? "cpu-bf16" : "cpu-f32"; }
  std::string describe() const override;
  bool host_memory() const override { return true; }
  void set_threads(int n) override;

  void* alloc(size_t bytes) override;
  void free(void* p) override;
  void upload(void* dst, const void* host, size_t bytes) override;
  void download(void* host, const void* src, size_t bytes) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void zero(void* dst, size_t bytes) override;
  void axpy(float* y, const float* x, float alpha, int64_t n) override;
  void scale(float* x, float alpha, int64_t n) override;
  double sum_squares(const float* x, int64_t n) override;

  // matmul.cpp
  void linear_forward(float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, const float* bias, int64_t T,
                      GemmPrec prec) override;
  void linear_backward(float* dx, int64_t lddx, float* dW, float* db, const float* dy, int64_t lddy, const float* x,
                       int64_t ldx, const Mat& W, int64_t T, GemmPrec prec) override;
  void grouped_linear_forward(float* y, const float* x, const Mat* Ws, const int64_t* off, int G) override;
  void grouped_linear_backward(float* dx, float* dW, const float* dy, const float* x, const Mat* Ws,
                               const int64_t* off, int G) override;
  void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta, float* C, int64_t ldc,
                    int64_t strideC, int64_t batch, GemmPrec prec) override;
  void round_to_precision(float* x, int64_t n) override;

  // embed.cpp
  void embedding_forward(float* x, const Mat& E, const int32_t* ids, int64_t T) override;
  void embedding_backward(float* dE, const float* dx, const int32_t* ids, int64_t T, int64_t H,
                          int32_t pad_id) override;
  void gather_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) override;
  void scatter_add_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) override;

  // norm.cpp, residual.cpp
  void rmsnorm_forward(float* y, const float* x, const float* w, int64_t T, int64_t n, float eps) override;
  void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int64_t T, int64_t n,
                        float eps) override;
  void residual_input(float* r, const float* e, const float* s, const float* b, int64_t T, int64_t n) override;
  void residual_input_backward(float* de, float* ds, float* db, const float* dr, const float* e, const float* s,
                               const float* b, int64_t T, int64_t n) override;
  void residual_merge(float* out, const float* r, const float* h, const float* hs, const float* hb, const float* rs,
                      const float* rb, int64_t T, int64_t n) override;
  void residual_merge_backward(float* dh, float* dr, float* dhs, float* dhb, float* drs, float* drb,
                               const float* dout, const float* h, const float* r, const float* hs, const float* hb,
                               const float* rs, const float* rb, int64_t T, int64_t n) override;

  // activation.cpp, loss.cpp
  void gelu_forward(float* y, const float* x, int64_t n) override;
  void gelu_backward(float* dx, const float* dy, const float* x, int64_t n) override;
  void swiglu_forward(float* out, const float* gu, int64_t T, int64_t I) override;
  void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t T, int64_t I) override;
  void softmax_forward(float* y, const float* x, int64_t T, int64_t n) override;
  void softmax_backward(float* dx, const float* dy, const float* y, int64_t T, int64_t n) override;
  double cross_entropy(float* dlogits, const float* logits, const int32_t* targets, int64_t T, int64_t V,
                       double scale) override;

  // cca.cpp, rope.cpp
  void cca_conv_forward(float* out, const float* u, int64_t ld, const SeqSlice* seqs, int nseq, const float* w0,
                        const float* b0, const float* w1, const float* b1, int C, int d, int k0, int k1) override;
  void cca_conv_backward(float* du, float* dw0, float* db0, float* dw1, float* db1, const float* dout, const float* u,
                         int64_t ld, const SeqSlice* seqs, int nseq, const float* w0, const float* b0,
                         const float* w1, int C, int d, int k0, int k1) override;
  void cca_qk_mean_add(float* qk, const float* u, int64_t ld, int64_t T, int nq, int nk, int d) override;
  void cca_qk_mean_add_backward(float* du, const float* dqk, int64_t ld, int64_t T, int nq, int nk, int d) override;
  void cca_qk_normalize(float* out, const float* in, int64_t ld, const float* temp, int64_t T, int nq, int nk,
                        int d) override;
  void cca_qk_normalize_backward(float* dx, float* dtemp, const float* dy, const float* x, int64_t ld,
                                 const float* temp, int64_t T, int nq, int nk, int d) override;
  void rope_forward(float* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                    const float* inv_freq) override;
  void rope_backward(float* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                     const float* inv_freq) override;

  // attention.cpp
  void value_shift(float* v, const float* vcd, const SeqSlice* seqs, int nseq, int64_t vh) override;
  void value_shift_backward(float* dvcd, const float* dv, const SeqSlice* seqs, int nseq, int64_t vh) override;
  void kv_append(const SeqSlice* seqs, int nseq, const float* k, int64_t ldk, const float* v, int64_t ldv,
                 int64_t kvw) override;
  void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk,
                         const float* v, int64_t ldv, const SeqSlice* seqs, int nseq, int nq, int nk, int d,
                         int window, float* stats) override;
  void attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                          const float* dout, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk,
                          const float* v, int64_t ldv, const float* out, const float* stats, const SeqSlice* seqs,
                          int nseq, int nq, int nk, int d, int window) override;

  // moe.cpp
  void eda_forward(float* a, const float* a_prev, const float* s, int64_t T, int64_t n) override;
  void eda_backward(float* da_prev, float* ds, const float* da, const float* a_prev, const float* s, int64_t T,
                    int64_t n) override;
  void router_top1(int32_t* choice, float* weight, const float* p, const float* beta, int64_t T, int S) override;
  int64_t moe_permute(int64_t* perm, int64_t* off, const int32_t* choice, int64_t T, int E) override;
  void moe_combine(float* M, const float* eo, const int64_t* perm, int64_t Ne, const float* weight,
                   const int32_t* choice, const float* y, int64_t T, int64_t H, int E, bool skip_passthrough) override;
  void moe_combine_backward(float* deo, float* dp, float* dy, const float* dM, const float* eo, const int64_t* perm,
                            int64_t Ne, const float* weight, const int32_t* choice, const float* y, int64_t T,
                            int64_t H, int E, int S, bool skip_passthrough) override;

  Precision gemm_precision(GemmPrec p) const { return p == GemmPrec::F32 ? Precision::F32 : prec_; }

 private:
  std::vector<int64_t> fill_;  // moe_permute's cursors
};

// Parallel reduction over fixed chunks of rows (independent of the thread count): body(t0, t1, part)
// handles rows [t0, t1) and adds its per-feature contributions into part[0, width) (zeroed); the
// chunks' partial sums are added in chunk order into the returned sums [width] (scratch, valid until
// the next reduction).
constexpr int64_t kReduceChunk = 64;
float* reduce_scratch(int which, size_t n);
template <typename F>
const float* reduce_rows(int64_t T, int64_t width, F&& body) {
  const int64_t nc = std::max<int64_t>(1, (T + kReduceChunk - 1) / kReduceChunk);
  float* part = reduce_scratch(0, size_t(nc * width));
  float* acc = reduce_scratch(1, size_t(width));
#pragma omp parallel for schedule(static) if (nc > 1 && T * width > 16384)
  for (int64_t c = 0; c < nc; ++c) {
    float* p = part + c * width;
    std::fill(p, p + width, 0.0f);
    body(c * kReduceChunk, std::min(T, (c + 1) * kReduceChunk), p);
  }
  std::fill(acc, acc + width, 0.0f);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t j = 0; j < width; ++j) acc[j] += part[c * width + j];
  return acc;
}

// Deterministic column sums over rows: out[j] += Σ_t x[t·ld + j] for t < T, in fixed chunks of rows
// whose partial sums are added in chunk order, so the result does not depend on the thread count.
void column_sums(float* out, const float* x, int64_t ld, int64_t T, int64_t n);
// The same for a per-row product: out[j] += Σ_t a[t·n + j] · b[t·n + j].
void column_dot(float* out, const float* a, const float* b, int64_t T, int64_t n);

}  // namespace zaya::ops::cpu
