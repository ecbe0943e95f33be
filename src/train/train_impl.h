// Internals of TrainModel shared by train_model.cpp (forward) and train_backward.cpp (backward):
// per-pair views of an arena by native tensor name, and the saved activations of one batch.
#pragma once
#include <vector>

#include "train/train_model.h"

namespace zaya {

// Pointers into one arena (parameters or gradients) for pair j, by native name (spec §6.2).
struct PairView {
  float *in_norm, *q, *k, *vcur, *vdel, *conv0_w, *conv0_b, *conv1_w, *conv1_b, *temp, *o;
  float *pa_hs, *pa_hb, *pa_rs, *pa_rb;
  float *post_norm, *down, *down_b, *eda, *rnorm, *fc1, *fc1_b, *fc2, *fc2_b, *out, *beta;
  float *gate_up, *down_e;
  float *pm_hs, *pm_hb, *pm_rs, *pm_rb;
};
struct GlobalView {
  float *embed, *in_scale, *in_bias, *final_norm;
};

// Saved activations of one batch (N = B·T rows), sized once per (B, T).
struct PairActs {
  std::vector<float> r0, y1, u, qkpre, qkr, kr, v, att, A, r1, y2, a, z, g1pre, g1, g2pre, g2, p, M;
  std::vector<float> w;              // router weight per token
  std::vector<int32_t> choice;       // chosen slot per token
  std::vector<int64_t> perm;         // expert tokens grouped by expert (token indices)
  std::vector<int64_t> start;        // start of expert e's tokens in perm [E + 1]
  std::vector<float> xe, gu, act, eo;  // per grouped token: expert input, [gate; up], SwiGLU, expert output
  std::vector<float> conv1_wt;       // the grouped conv weight per tap [k1, C, d] (op layout)
  // Recomputation: drop everything but r0 (to rebuild from) and a (the next pair's EDA input).
  void release() {
    for (auto* v : {&y1, &u, &qkpre, &qkr, &kr, &v, &att, &A, &r1, &y2, &z, &g1pre, &g1, &g2pre, &g2, &p, &M, &w,
                    &xe, &gu, &act, &eo, &conv1_wt})
      std::vector<float>().swap(*v);
  }
};
struct TrainActs {
  int64_t B = 0, T = 0;
  std::vector<PairActs> pairs;
  std::vector<float> r_final, y_final, emb;
  std::vector<int32_t> targets;
  std::vector<int64_t> pos;                      // position of each row inside its segment
  std::vector<std::pair<int64_t, int64_t>> segs;   // (first row, length): the independent sequences
  std::vector<uint8_t> seg_start;                  // 1 where a segment begins
};

struct TrainImpl {
  static PairView pair(TrainModel& m, std::vector<float>& arena, int j);
  static GlobalView global(TrainModel& m, std::vector<float>& arena);
};

}  // namespace zaya
