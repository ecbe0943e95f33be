// The two sublayers of a ZAYA1 pair, each written once with its forward and its backward:
//   attention (src/model/attention.cpp): CCA, spec §3
//   MoE       (src/model/moe.cpp): the ZAYA1 router, spec §4, and top-1 SwiGLU experts, spec §5
// and the pair around them (src/model/model.cpp): pre-norms and the two learned residual merges.
// They call ops only (src/ops/backend.h). Inference, training (which keeps every pair's PairActs for
// the backward) and recomputation (which re-runs a pair into shared buffers) use the same functions,
// so the forward of inference and of training is the same computation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/arena.h"
#include "model/config.h"
#include "model/state.h"
#include "model/weights.h"
#include "ops/backend.h"

namespace zaya {

// The activations of one pair for T rows. Dimension letters: H hidden, C = (nq+nk)·d conv channels,
// qd = nq·d, kv = nk·d, vh = kv/2, Dr router width, S = E+1 slots, I expert intermediate.
// Expert parallelism (cfg.ep, moe.cpp): the tokens this rank's experts receive from the group, in
// expert-major order, and the saved activations of those experts (host vectors, grown as needed).
struct ExpertDispatch {
  std::vector<int64_t> send, recv;  // rows to / from each rank of the group
  std::vector<int64_t> idx, inv;    // expert-major row i is received row idx[i]; inv is the inverse
  std::vector<int64_t> loff;        // [El + 1] local expert e's rows are loff[e] .. loff[e+1]
  std::vector<float> xl, gu, act, eo, buf;  // [R, H] [R, 2I] [R, I] [R, H]; buf: staging
  int64_t R = 0;
};

struct PairActs {
  // attention sublayer
  float* y1 = nullptr;     // [T, H]  input_layernorm(r_in)
  float* u = nullptr;      // [T, C]  [q̃ | k̃] down-projections
  float* vcd = nullptr;    // [T, kv] [Wv1·y | Wv2·y]
  float* qk = nullptr;     // [T, C]  convolutions + q-k mean (before the L2 norm)
  float* qkr = nullptr;    // [T, C]  normalized, temperature, RoPE: the attention's q and k
  float* v = nullptr;      // [T, kv] shifted values
  float* att = nullptr;    // [T, qd] attention output
  float* stats = nullptr;  // [T, nq, 2] softmax row max and sum (training only)
  float* ao = nullptr;     // [T, H]  o_proj output
  float* r1 = nullptr;     // [T, H]  residual after the attention merge (may alias r_in)
  // MoE sublayer
  float* y2 = nullptr;     // [T, H]  post_attention_layernorm(r1)
  float* a = nullptr;      // [T, Dr] router state before its norm (carried to the next pair: EDA)
  float* z = nullptr;      // [T, Dr] router_mlp.norm(a)
  float* g1pre = nullptr;  // [T, Dr] fc1 output; g1 = GELU (may alias g1pre in inference)
  float* g1 = nullptr;
  float* g2pre = nullptr;  // [T, Dr]
  float* g2 = nullptr;
  float* p = nullptr;      // [T, S]  router softmax
  int32_t* choice = nullptr;  // [T]  top-1 slot
  float* w = nullptr;      // [T]     router weight of the chosen slot
  int64_t* perm = nullptr;  // [T]    expert tokens, grouped by expert
  float* xe = nullptr;     // [T, H]  expert inputs (first Ne rows)
  float* gu = nullptr;     // [T, 2I] [gate | up]
  float* act = nullptr;    // [T, I]  SwiGLU
  float* eo = nullptr;     // [T, H]  expert outputs
  float* M = nullptr;      // [T, H]  MoE output
  std::vector<int64_t> off;  // host [E + 1]: expert e's rows of perm/xe are off[e] .. off[e+1]
  int64_t Ne = 0;            // tokens routed to experts
  ExpertDispatch ep;         // expert parallelism only
};

// Gradients of the activations of one pair (shared by all pairs: the backward runs pair by pair).
struct PairGrads {
  float *dM, *dr1, *dy2, *deo, *dact, *dgu, *dxe, *dp, *dlog, *dg2, *dg2pre, *dg1, *dg1pre, *dz, *da, *carry;
  float *dA, *datt, *dqk, *dqkpre, *du, *dv, *dvcd, *dy1;
  bool carry_valid = false;  // `carry` holds d loss / d a of the previous pair (through the EDA term)
  std::vector<float> ep_a, ep_b, ep_c, ep_d;  // expert parallelism: [R, H], [R, I], [R, 2I], [R, H] scratch
};

// The sequences of one forward call and, in decode, their states.
class SeqBatch {
 public:
  int64_t T = 0;                   // rows of the call
  const int64_t* pos = nullptr;    // device [T]: absolute position of each row
  std::vector<SeqSlice> seqs;      // row, len, pos of each sequence (or training segment)
  std::vector<SeqState*> states;   // decode: one per sequence; empty for training segments
  bool decode() const { return !states.empty(); }
  int n() const { return int(seqs.size()); }
  // The sequences with layer j's state pointers filled in (reused storage).
  const SeqSlice* layer(int j);

 private:
  std::vector<SeqSlice> scratch_;
};

// Plans one pair's activation buffers for T rows into `arena` under "<prefix>.<name>". Training keeps
// pre-activations separate and the log-sum-exp; inference lets in-place ops share buffers.
void plan_pair_acts(ActArena& arena, const std::string& prefix, const ModelConfig& c, int64_t T, bool training,
                    PairActs& a);
void plan_pair_grads(ActArena& arena, const ModelConfig& c, int64_t T, PairGrads& g);

// Attention sublayer of pair j: ao = o_proj(CCA(input_layernorm(r_in))). Updates decode states.
void attention_forward(Backend& be, const ModelConfig& c, int j, const AttnParams& w, const float* inv_freq,
                       SeqBatch& sb, const float* r_in, PairActs& a);
// Backward from dA (= d loss / d ao, in g.dA): ADDS the attention parameters' gradients and
// d loss / d r_in into dr_in (through input_layernorm).
void attention_backward(Backend& be, const ModelConfig& c, int j, const AttnParams& w, const float* inv_freq,
                        SeqBatch& sb, const float* r_in, const PairActs& a, PairGrads& g, float* dr_in);

// MoE sublayer of pair j on y2 = post_attention_layernorm(r1) (computed here): router, top-1, experts.
// a_prev: the previous pair's router state (EDA), or null.
void moe_forward(Backend& be, const ModelConfig& c, int j, const MoEParams& w, int64_t T, PairActs& a,
                 const float* a_prev);
// Backward from dM (in g.dM): ADDS the MoE parameters' gradients and d loss / d r1 into g.dr1; the
// gradient for the previous pair's router state goes to g.carry (g.carry_valid).
void moe_backward(Backend& be, const ModelConfig& c, int j, const MoEParams& w, int64_t T, const PairActs& a,
                  const float* a_prev, PairGrads& g);

}  // namespace zaya
