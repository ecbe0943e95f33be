// The backend interface: every op the model calls, in one place (the formula of each family is in
// src/ops/<family>.h, next to its reference kernels). A Backend is also the execution context: it
// owns the device memory the ops work on, the ops' scratch memory (sized on first use, reused, never
// allocated per call once warm) and, for a GPU, the stream.
//
//   cpu-f32   the reference numerics: fp32 everywhere (half-precision weights widened).
//   cpu-bf16  the mixed precision a GPU uses: bf16 GEMM inputs with fp32 accumulation, bf16 KV
//             cache; fp32 master weights, optimizer state, residual stream, norms and softmax.
//   (cuda)    next: src/ops/cuda/<family>.cu, one file per family mirroring src/ops/cpu/ — see
//             docs/architecture.md.
//
// Conventions (ops/types.h): activations row-major [T, width] fp32 with explicit row strides (ld)
// where an op reads or writes a column slice; weights as Mat; backward ops ADD into their gradient
// buffers (the caller zeroes them) unless documented otherwise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/types.h"

namespace zaya {

// Op-level profile: wall time and calls per op (enabled by `zaya bench --profile`; off by default,
// then it costs one branch per op). A GPU backend synchronizes its stream before reading the clock.
struct OpProfile {
  bool enabled = false;
  struct Entry {
    double seconds = 0;
    int64_t calls = 0;
  };
  std::vector<std::pair<std::string, Entry>> ops;  // in first-call order
  void add(const char* name, double seconds);
  std::string report() const;  // a table, most expensive first
  void clear() { ops.clear(); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  OpProfile& profile() { return profile_; }

  // ----- identity
  virtual std::string name() const = 0;     // "cpu-f32", "cpu-bf16"
  virtual std::string describe() const = 0;  // name, kernels chosen, CPU features (one line)
  Precision precision() const { return prec_; }
  DType kv_dtype() const { return prec_ == Precision::BF16 ? DType::BF16 : DType::F32; }
  virtual bool host_memory() const = 0;  // device pointers are host pointers (CPU backends)
  // Threads the backend's ops use (0: all available).
  virtual void set_threads(int n) = 0;

  // ----- memory (device)
  virtual void* alloc(size_t bytes) = 0;  // 64-byte aligned, zero-filled
  virtual void free(void* p) = 0;
  virtual void upload(void* dst, const void* host, size_t bytes) = 0;
  virtual void download(void* host, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void zero(void* dst, size_t bytes) = 0;
  // y += alpha·x (n floats); the gradient carries between layers.
  virtual void axpy(float* y, const float* x, float alpha, int64_t n) = 0;
  virtual void scale(float* x, float alpha, int64_t n) = 0;
  // Sum of squares of n floats, in double (gradient clipping), and the count of non-finite values.
  virtual double sum_squares(const float* x, int64_t n) = 0;

  // ----- GEMM family (ops/matmul.h)
  virtual void linear_forward(float* y, int64_t ldy, const float* x, int64_t ldx, const Mat& W, const float* bias,
                              int64_t T, GemmPrec prec = GemmPrec::Backend) = 0;
  virtual void linear_backward(float* dx, int64_t lddx, float* dW, float* db, const float* dy, int64_t lddy,
                               const float* x, int64_t ldx, const Mat& W, int64_t T,
                               GemmPrec prec = GemmPrec::Backend) = 0;
  // Ws, off: host arrays of G weights and G+1 row offsets; x [off[G], in], y [off[G], out].
  virtual void grouped_linear_forward(float* y, const float* x, const Mat* Ws, const int64_t* off, int G) = 0;
  virtual void grouped_linear_backward(float* dx, float* dW, const float* dy, const float* x, const Mat* Ws,
                                       const int64_t* off, int G) = 0;
  virtual void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                            int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                            float* C, int64_t ldc, int64_t strideC, int64_t batch,
                            GemmPrec prec = GemmPrec::Backend) = 0;
  // Rounds n floats to the backend's GEMM input precision, in place (bf16: round to nearest even,
  // kept in fp32 storage; fp32: no-op). Muon's bf16 Newton–Schulz rounds its iterates with it.
  virtual void round_to_precision(float* x, int64_t n) = 0;

  // ----- embedding and rows (ops/embed.h)
  virtual void embedding_forward(float* x, const Mat& E, const int32_t* ids, int64_t T) = 0;
  virtual void embedding_backward(float* dE, const float* dx, const int32_t* ids, int64_t T, int64_t H,
                                  int32_t pad_id) = 0;
  virtual void gather_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) = 0;
  virtual void scatter_add_rows(float* dst, const float* src, const int64_t* idx, int64_t n, int64_t width) = 0;

  // ----- norm and residual (ops/norm.h, ops/residual.h)
  virtual void rmsnorm_forward(float* y, const float* x, const float* w, int64_t T, int64_t n, float eps) = 0;
  virtual void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int64_t T,
                                int64_t n, float eps) = 0;
  virtual void residual_input(float* r, const float* e, const float* s, const float* b, int64_t T, int64_t n) = 0;
  virtual void residual_input_backward(float* de, float* ds, float* db, const float* dr, const float* e,
                                       const float* s, const float* b, int64_t T, int64_t n) = 0;
  virtual void residual_merge(float* out, const float* r, const float* h, const float* hs, const float* hb,
                              const float* rs, const float* rb, int64_t T, int64_t n) = 0;
  virtual void residual_merge_backward(float* dh, float* dr, float* dhs, float* dhb, float* drs, float* drb,
                                       const float* dout, const float* h, const float* r, const float* hs,
                                       const float* hb, const float* rs, const float* rb, int64_t T,
                                       int64_t n) = 0;

  // ----- activations and loss (ops/activation.h, ops/loss.h)
  virtual void gelu_forward(float* y, const float* x, int64_t n) = 0;
  virtual void gelu_backward(float* dx, const float* dy, const float* x, int64_t n) = 0;
  virtual void swiglu_forward(float* out, const float* gu, int64_t T, int64_t I) = 0;
  virtual void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t T, int64_t I) = 0;
  virtual void softmax_forward(float* y, const float* x, int64_t T, int64_t n) = 0;
  virtual void softmax_backward(float* dx, const float* dy, const float* y, int64_t T, int64_t n) = 0;
  // targets: host array.
  virtual double cross_entropy(float* dlogits, const float* logits, const int32_t* targets, int64_t T, int64_t V,
                               double scale) = 0;

  // ----- CCA and RoPE (ops/cca.h, ops/rope.h)
  virtual void cca_conv_forward(float* out, const float* u, int64_t ld, const SeqSlice* seqs, int nseq,
                                const float* w0, const float* b0, const float* w1, const float* b1, int C, int d,
                                int k0, int k1) = 0;
  virtual void cca_conv_backward(float* du, float* dw0, float* db0, float* dw1, float* db1, const float* dout,
                                 const float* u, int64_t ld, const SeqSlice* seqs, int nseq, const float* w0,
                                 const float* b0, const float* w1, int C, int d, int k0, int k1) = 0;
  virtual void cca_qk_mean_add(float* qk, const float* u, int64_t ld, int64_t T, int nq, int nk, int d) = 0;
  virtual void cca_qk_mean_add_backward(float* du, const float* dqk, int64_t ld, int64_t T, int nq, int nk,
                                        int d) = 0;
  virtual void cca_qk_normalize(float* out, const float* in, int64_t ld, const float* temp, int64_t T, int nq, int nk,
                                int d) = 0;
  virtual void cca_qk_normalize_backward(float* dx, float* dtemp, const float* dy, const float* x, int64_t ld,
                                         const float* temp, int64_t T, int nq, int nk, int d) = 0;
  virtual void rope_forward(float* x, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                            const float* inv_freq) = 0;
  virtual void rope_backward(float* dx, int64_t ld, const int64_t* pos, int64_t T, int heads, int d, int rot,
                             const float* inv_freq) = 0;

  // ----- value shift, KV cache, attention (ops/attention.h); seqs: host array
  virtual void value_shift(float* v, const float* vcd, const SeqSlice* seqs, int nseq, int64_t vh) = 0;
  virtual void value_shift_backward(float* dvcd, const float* dv, const SeqSlice* seqs, int nseq, int64_t vh) = 0;
  virtual void kv_append(const SeqSlice* seqs, int nseq, const float* k, int64_t ldk, const float* v, int64_t ldv,
                         int64_t kvw) = 0;
  virtual void attention_forward(float* out, int64_t ldo, const float* q, int64_t ldq, const float* k, int64_t ldk,
                                 const float* v, int64_t ldv, const SeqSlice* seqs, int nseq, int nq, int nk, int d,
                                 int window, float* stats) = 0;
  virtual void attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                                  const float* dout, int64_t ldo, const float* q, int64_t ldq, const float* k,
                                  int64_t ldk, const float* v, int64_t ldv, const float* out, const float* stats,
                                  const SeqSlice* seqs, int nseq, int nq, int nk, int d, int window) = 0;

  // ----- router and experts (ops/moe.h); off: host
  virtual void eda_forward(float* a, const float* a_prev, const float* s, int64_t T, int64_t n) = 0;
  virtual void eda_backward(float* da_prev, float* ds, const float* da, const float* a_prev, const float* s,
                            int64_t T, int64_t n) = 0;
  virtual void router_top1(int32_t* choice, float* weight, const float* p, const float* beta, int64_t T, int S) = 0;
  // Returns Ne (tokens routed to experts).
  virtual int64_t moe_permute(int64_t* perm, int64_t* off, const int32_t* choice, int64_t T, int E) = 0;
  virtual void moe_combine(float* M, const float* eo, const int64_t* perm, int64_t Ne, const float* weight,
                           const int32_t* choice, const float* y, int64_t T, int64_t H, int E,
                           bool skip_passthrough) = 0;
  virtual void moe_combine_backward(float* deo, float* dp, float* dy, const float* dM, const float* eo,
                                    const int64_t* perm, int64_t Ne, const float* weight, const int32_t* choice,
                                    const float* y, int64_t T, int64_t H, int E, int S, bool skip_passthrough) = 0;

 protected:
  explicit Backend(Precision p) : prec_(p) {}
  Precision prec_;
  OpProfile profile_;
};

// Times one op into the backend's profile when profiling is on (ZAYA_OP_SCOPE at the top of an op).
class OpScope {
 public:
  OpScope(Backend& be, const char* name);
  ~OpScope();

 private:
  Backend* be_ = nullptr;
  const char* name_;
  double t0_ = 0;
};
#define ZAYA_OP_SCOPE(name) ::zaya::OpScope zaya_op_scope_(*this, name)

// "cpu-f32" | "cpu-bf16" (| "cuda" when built with it). Throws zaya::Error naming the choices.
std::unique_ptr<Backend> make_backend(const std::string& name);
std::vector<std::string> backend_names();
// The backend to use when none is chosen (from the measurements in docs/benchmarks.md).
std::string default_backend_name();
// A process-wide cpu-f32 backend: the reference numerics (tests, tools, defaults of host-side code).
Backend& reference_backend();

// A device buffer owned by a backend (RAII); grows by reallocation, keeping its contents.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& be, size_t bytes) : be_(&be) { resize(bytes); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  ~DeviceBuffer() { reset(); }
  void bind(Backend& be) { be_ = &be; }
  void resize(size_t bytes);  // keeps the first min(old, new) bytes; new bytes are zero
  void reset();
  void* data() const { return p_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  Backend* be_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace zaya
