#include "model/workspace.h"

namespace zaya {

void Workspace::reserve(const ModelConfig& c, int64_t T) {
  if (T <= capacity) return;
  const int64_t H = c.hidden, C = c.conv_channels(), vh = c.value_half(), kv = int64_t(c.nk) * c.head_dim;
  const int64_t qd = int64_t(c.nq) * c.head_dim, Dr = c.router_hidden, S = c.n_slots(), I = c.expert_inter;
  struct Slot {
    float** p;
    int64_t n;
  } slots[] = {
      {&resid, T * H},  {&y, T * H},       {&h, T * H},        {&u, T * C},
      {&qk, T * C},     {&vc, T * vh},     {&vd, T * vh},      {&v, T * kv},
      {&att, T * qd},   {&conv_scratch, (T + c.cca_time1) * C}, {&ra, T * Dr},
      {&rprev, T * Dr}, {&rz, T * Dr},     {&rg1, T * Dr},     {&rg2, T * Dr},
      {&rlog, T * S},   {&x_e, T * H},     {&gu_e, T * 2 * I}, {&act_e, T * I},
      {&out_e, T * H},  {&final_rows, T * H},
  };
  int64_t total = 0;
  for (auto& s : slots) total += (s.n + 15) / 16 * 16;  // 64-byte aligned offsets
  arena.assign(size_t(total), 0.0f);
  int64_t off = 0;
  for (auto& s : slots) {
    *s.p = arena.data() + off;
    off += (s.n + 15) / 16 * 16;
  }
  pos.assign(size_t(T), 0);
  choice.assign(size_t(T), 0);
  capacity = T;
}

}  // namespace zaya
