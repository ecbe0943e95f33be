// One optimizer step on a golden config: the model's real gradients, then Muon/AdamW, compared
// with a reference computed here from the definitions in double precision (Newton–Schulz on the
// wide orientation, Nesterov momentum, RMS matching, decoupled decay; AdamW with bias correction).
// Also: a few steps of training on the golden batch lower the loss.
#include <gtest/gtest.h>

#include <cmath>

#include "train/optim.h"
#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

using M = std::vector<double>;  // row-major

M matmul(const M& a, const M& b, int64_t n, int64_t k, int64_t m) {  // [n,k]·[k,m]
  M c(size_t(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < m; ++j) c[size_t(i * m + j)] += a[size_t(i * k + p)] * b[size_t(p * m + j)];
  return c;
}
M transpose(const M& a, int64_t r, int64_t c) {
  M t(a.size());
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) t[size_t(j * r + i)] = a[size_t(i * c + j)];
  return t;
}
// Rounds every element to fp32: the reference works "in fp32" — each matrix product and each
// elementwise result is an fp32 value (products accumulated exactly in double, then rounded).
M f32(M a) {
  for (double& x : a) x = double(float(x));
  return a;
}
// Newton–Schulz quintic from the definition, in fp32, on the wide orientation.
M ns_reference(M G, int64_t r, int64_t c, const OptimConfig& o) {
  bool tall = r > c;
  if (tall) {
    G = transpose(G, r, c);
    std::swap(r, c);
  }
  double norm = 0;
  for (double x : G) norm += x * x;
  norm = std::sqrt(norm) + 1e-7;
  for (double& x : G) x = double(float(x / norm));
  const double a = float(o.ns_a), b = float(o.ns_b), cc = float(o.ns_c);
  for (int s = 0; s < o.ns_steps; ++s) {
    M A = f32(matmul(G, transpose(G, r, c), r, c, r));
    M AA = f32(matmul(A, A, r, r, r));
    M Bm(A.size());
    for (size_t i = 0; i < A.size(); ++i) Bm[i] = double(float(b * A[i] + cc * AA[i]));
    M BX = f32(matmul(Bm, G, r, r, c));
    for (size_t i = 0; i < G.size(); ++i) G[i] = double(float(a * G[i] + BX[i]));
  }
  return tall ? transpose(G, r, c) : G;
}

std::unique_ptr<Model> golden_model(const std::string& name, test::GoldenBatch* batch) {
  const std::string dir = test::src_path("tests/data/golden/" + name);
  auto m = Model::create(load_config(dir + "/native/config.json"), reference_backend());
  m->load_params(Checkpoint(dir + "/native"));
  *batch = test::golden_batch(name);
  return m;
}

std::vector<ParamRef> refs(Model& m) {
  std::vector<ParamRef> out;
  for (auto& t : m.tensors())
    if (t.trainable) out.push_back({t.name, m.param(t.name), m.grad(t.name), t.shape});
  return out;
}

TEST(TrainStep, OneOptimizerStepMatchesTheDefinition) {
  test::GoldenBatch g;
  auto m = golden_model("g2swa", &g);
  m->step(g.ids.data(), g.targets.data(), g.B, g.T);
  auto ps = refs(*m);
  std::vector<std::vector<float>> w0;
  for (auto& p : ps) w0.emplace_back(p.w, p.w + p.numel());
  OptimConfig oc;
  const double lr = 0.01;
  Optimizer opt(ps, oc);
  opt.step(lr);
  int muon = 0, adamw = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    const ParamRef& p = ps[i];
    ParamPlan plan = plan_param(p);
    std::vector<double> want(size_t(p.numel()));
    const double decay = plan.weight_decay ? 1.0 - lr * oc.weight_decay : 1.0;
    if (plan.kind == OptKind::Muon) {
      ++muon;
      const int64_t n = plan.rows * plan.cols;
      for (int64_t b = 0; b < plan.n_blocks; ++b) {
        // First step: momentum M = G; Nesterov direction G + μ·M = (1 + μ)·G.
        M U(static_cast<size_t>(n));
        for (int64_t k = 0; k < n; ++k) U[size_t(k)] = (1.0 + oc.muon_momentum) * p.g[b * n + k];
        M O = ns_reference(U, plan.rows, plan.cols, oc);
        double scale = oc.muon_rms_scale * std::sqrt(double(std::max(plan.rows, plan.cols)));
        for (int64_t k = 0; k < n; ++k)
          want[size_t(b * n + k)] = w0[i][size_t(b * n + k)] * decay - lr * scale * O[size_t(k)];
      }
    } else {
      ++adamw;
      for (int64_t k = 0; k < p.numel(); ++k) {
        double g = p.g[k];  // first step: m̂ = g, v̂ = g²
        want[size_t(k)] = w0[i][size_t(k)] * decay - lr * g / (std::fabs(g) + oc.adam_eps);
      }
    }
    // The new weights against the reference (the acceptance bound), and the update itself: the
    // stored fp32 weights carry a rounding of ~6e-8·|w|, so the update is held to that floor.
    double num = 0, den = 0, unum = 0, uden = 0, floor2 = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      double e = double(p.w[k]) - want[k], u = want[k] - w0[i][k];
      num += e * e;
      den += want[k] * want[k];
      unum += e * e;
      uden += u * u;
      floor2 += std::pow(6e-8 * std::fabs(want[k]), 2);
    }
    const char* kind = plan.kind == OptKind::Muon ? " (Muon)" : " (AdamW)";
    EXPECT_LT(std::sqrt(num / den), 1e-5) << p.name << kind << ": weights after the step";
    EXPECT_LT(std::sqrt(unum), 1e-5 * std::sqrt(uden) + 4 * std::sqrt(floor2)) << p.name << kind << ": the update";
  }
  EXPECT_GT(muon, 0);
  EXPECT_GT(adamw, 0);
}

TEST(TrainStep, TrainingLowersTheLoss) {
  test::GoldenBatch g;
  auto m = golden_model("g4", &g);
  auto ps = refs(*m);
  OptimConfig oc;
  Optimizer opt(ps, oc);
  double first = 0, last = 0;
  for (int s = 0; s < 20; ++s) {
    double loss = m->step(g.ids.data(), g.targets.data(), g.B, g.T);
    clip_grad_norm(ps, 1.0);
    opt.step(3e-3);
    if (s == 0) first = loss;
    last = loss;
  }
  std::printf("loss %.4f -> %.4f after 20 steps on one batch\n", first, last);
  EXPECT_LT(last, 0.5 * first);
}

}  // namespace
}  // namespace zaya
