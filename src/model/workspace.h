// Workspace: every activation buffer of one forward call, carved out of one arena that is sized
// for T tokens and only grows (llm.c style: no allocation per layer or per token).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace zaya {

struct Workspace {
  int64_t capacity = 0;  // tokens the buffers are sized for
  std::vector<float> arena;
  std::vector<int64_t> pos;     // [T] absolute positions
  std::vector<int32_t> choice;  // [T] chosen router slot of the current MoE layer
  // [T, width] buffers (pointers into arena):
  float *resid, *y, *h, *u, *qk, *vc, *vd, *v, *att, *conv_scratch;
  float *ra, *rprev, *rz, *rg1, *rg2, *rlog, *x_e, *gu_e, *act_e, *out_e, *final_rows;

  void reserve(const ModelConfig& c, int64_t T);
};

}  // namespace zaya
