// The training optimizers (src/train/optim.h) against references written in the test from the definitions, in
// double precision, on fresh random inputs (the seed is printed; replay a failure with ZAYA_TEST_SEED).
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/error.h"
#include "test_util.h"
#include "train/optim.h"

namespace zaya {
namespace {

using test::randn;
using test::rel_err;
uint64_t seed() { return test::test_seed(); }




// Runs f, expects zaya::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "expected zaya::Error containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Plans

TEST(Optim, PlanRealZaya1Names) {
  struct Case {
    const char* name;
    std::vector<int64_t> shape;
    OptKind kind;
    int64_t blocks, rows, cols;
    bool decay;
  };
  const OptKind M = OptKind::Muon, A = OptKind::AdamW;
  const std::vector<Case> cases = {
      // native layout (ZAYA1-base shapes)
      {"model.embed_tokens.weight", {262272, 2048}, A, 1, 0, 0, true},
      {"lm_head.weight", {262272, 2048}, A, 1, 0, 0, true},
      {"model.layers.0.self_attn.qkv_proj.q_proj.weight", {1024, 2048}, M, 1, 1024, 2048, true},
      {"model.layers.0.self_attn.qkv_proj.k_proj.weight", {256, 2048}, M, 1, 256, 2048, true},
      {"model.layers.0.self_attn.qkv_proj.v_proj_current.weight", {128, 2048}, M, 1, 128, 2048, true},
      {"model.layers.0.self_attn.o_proj.weight", {2048, 1024}, M, 1, 2048, 1024, true},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_grouped.weight", {1280, 128, 2}, M, 10, 128, 256, true},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_grouped.bias", {1280}, A, 1, 0, 0, false},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_depthwise.weight", {1280, 1, 2}, A, 1, 0, 0, true},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_depthwise.bias", {1280}, A, 1, 0, 0, false},
      {"model.layers.0.self_attn.qk_norm.temp", {2}, A, 1, 0, 0, false},
      {"model.layers.0.input_layernorm.weight", {2048}, A, 1, 0, 0, false},
      {"model.layers.0.mlp.experts.gate_up_proj", {16, 4096, 2048}, M, 16, 4096, 2048, true},
      {"model.layers.0.mlp.experts.down_proj", {16, 2048, 2048}, M, 16, 2048, 2048, true},
      {"model.layers.0.mlp.gate.down_proj.weight", {256, 2048}, M, 1, 256, 2048, true},
      {"model.layers.0.mlp.gate.down_proj.bias", {256}, A, 1, 0, 0, false},
      {"model.layers.0.mlp.gate.router_states_scale", {256}, A, 1, 0, 0, false},
      {"model.layers.0.mlp.gate.router_mlp.fc1.weight", {256, 256}, M, 1, 256, 256, true},
      {"model.layers.0.mlp.gate.router_mlp.out_proj.weight", {17, 256}, M, 1, 17, 256, true},
      {"model.layers.0.mlp.gate.balancing_biases", {17}, A, 1, 0, 0, false},
      {"model.layers.0.post_mlp_residual_scale.hidden_states_scale", {2048}, A, 1, 0, 0, false},
      {"model.layers.0.post_mlp_residual_scale.residual_bias", {2048}, A, 1, 0, 0, false},
      {"model.input_hidden_states_scale", {2048}, A, 1, 0, 0, false},
      {"model.norm.weight", {2048}, A, 1, 0, 0, false},
      // legacy list layout
      {"model.layers.0.self_attn.qkv.linear_q.weight", {1024, 2048}, M, 1, 1024, 2048, true},
      {"model.layers.0.self_attn.qkv.conv_qk.0.weight", {1280, 1, 2}, A, 1, 0, 0, true},
      {"model.layers.0.self_attn.qkv.conv_qk.1.weight", {1280, 128, 2}, M, 10, 128, 256, true},
      {"model.layers.0.self_attn.qkv.temp", {2}, A, 1, 0, 0, false},
      {"model.layers.1.zaya_block.experts.local_experts.3.linear_fc1.weight", {4096, 2048}, M, 1, 4096, 2048, true},
      {"model.layers.1.zaya_block.router.rmsnorm_eda.weight", {256}, A, 1, 0, 0, false},
      {"model.layers.1.zaya_block.router.router_mlp.4.weight", {17, 256}, M, 1, 17, 256, true},
      {"model.final_norm.weight", {2048}, A, 1, 0, 0, false},
  };
  std::vector<ParamRef> refs;
  for (const Case& c : cases) {
    ParamRef p{c.name, nullptr, nullptr, c.shape};
    const ParamPlan pl = plan_param(p);
    EXPECT_EQ(pl.kind, c.kind) << c.name;
    EXPECT_EQ(pl.weight_decay, c.decay) << c.name;
    if (c.kind == OptKind::Muon) {
      EXPECT_EQ(pl.n_blocks, c.blocks) << c.name;
      EXPECT_EQ(pl.rows, c.rows) << c.name;
      EXPECT_EQ(pl.cols, c.cols) << c.name;
      EXPECT_EQ(pl.n_blocks * pl.rows * pl.cols, p.numel()) << c.name;
    }
    refs.push_back(p);
  }
  const std::string table = describe_plans(refs);
  std::printf("%s", table.c_str());
  for (const char* row : {"grouped conv", "experts", "Linear", "depthwise", "embedding", "no decay"})
    EXPECT_NE(table.find(row), std::string::npos) << row;
  EXPECT_EQ(table.find("no rule matched"), std::string::npos);

  expect_error([] { plan_param({"model.layers.0.self_attn.qkv_proj.conv_qk_grouped.weight", nullptr, nullptr,
                                {1280, 100, 2}}); },
               {"conv_qk_grouped", "multiple"});
  expect_error([] { plan_param({"x.weight", nullptr, nullptr, {4, 0}}); }, {"x.weight", "non-positive"});
}

// ---------------------------------------------------------------------------------------------------------
// Newton–Schulz

// The iteration exactly as specified, in double: explicit transpose to the wide orientation.
std::vector<double> ns_ref(const std::vector<float>& G, int64_t rows, int64_t cols, const OptimConfig& cfg) {
  const bool tall = rows > cols;
  const int64_t m = tall ? cols : rows, n = tall ? rows : cols;
  double ss = 0;
  for (float x : G) ss += double(x) * x;
  const double nrm = std::sqrt(ss) + 1e-7;
  std::vector<double> X(size_t(m * n)), A(size_t(m * m)), B(size_t(m * m)), Xn(size_t(m * n));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) X[size_t(tall ? j * n + i : i * n + j)] = G[size_t(i * cols + j)] / nrm;
  for (int s = 0; s < cfg.ns_steps; ++s) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < n; ++k) acc += X[size_t(i * n + k)] * X[size_t(j * n + k)];
        A[size_t(i * m + j)] = acc;
      }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < m; ++k) acc += A[size_t(i * m + k)] * A[size_t(k * m + j)];
        B[size_t(i * m + j)] = cfg.ns_b * A[size_t(i * m + j)] + cfg.ns_c * acc;
      }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < m; ++k) acc += B[size_t(i * m + k)] * X[size_t(k * n + j)];
        Xn[size_t(i * n + j)] = cfg.ns_a * X[size_t(i * n + j)] + acc;
      }
    std::swap(X, Xn);
  }
  std::vector<double> out(size_t(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[size_t(i * cols + j)] = X[size_t(tall ? j * n + i : i * n + j)];
  return out;
}

TEST(Optim, NewtonSchulzMatchesDoubleReference) {
  std::mt19937_64 g(seed() + 1);
  std::vector<float> work;  // shared across sizes: reuse must not leak state
  double worst = 0;
  for (int steps : {5, 3, 0})
    for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{1, 7}, {7, 1}, {16, 16}, {24, 80}, {80, 24},
                                                               {64, 200}, {200, 64}, {33, 47}}) {
      OptimConfig cfg;
      cfg.ns_steps = steps;
      auto G = randn(size_t(r * c), g, 0.05f);
      std::vector<float> out(G.size(), NAN);
      newton_schulz5(G.data(), r, c, out.data(), cfg, &work);
      const double e = rel_err(out, ns_ref(G, r, c, cfg));
      worst = std::max(worst, e);
      EXPECT_LT(e, 1e-5) << r << "x" << c << " steps " << steps;
      // In place (out aliasing G) and without a caller-provided work buffer: the same bits.
      std::vector<float> inplace = G;
      newton_schulz5(inplace.data(), r, c, inplace.data(), cfg);
      EXPECT_EQ(std::memcmp(inplace.data(), out.data(), out.size() * sizeof(float)), 0) << r << "x" << c;
    }
  std::printf("newton_schulz5 vs double reference: worst rel err %.3g\n", worst);
  // A zero gradient orthogonalizes to zero, not NaN.
  std::vector<float> z(12 * 20, 0.0f), zo(z.size(), 1.0f);
  newton_schulz5(z.data(), 12, 20, zo.data(), OptimConfig{});
  for (float x : zo) EXPECT_EQ(x, 0.0f);
}

// Eigenvalues of a symmetric matrix (cyclic Jacobi, double).
std::vector<double> sym_eigenvalues(std::vector<double> S, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) off += S[i * n + j] * S[i * n + j];
    if (off < 1e-26) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = S[p * n + q];
        if (std::abs(apq) < 1e-300) continue;
        const double theta = (S[q * n + q] - S[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double kp = S[k * n + p], kq = S[k * n + q];
          S[k * n + p] = c * kp - s * kq;
          S[k * n + q] = s * kp + c * kq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double pk = S[p * n + k], qk = S[q * n + k];
          S[p * n + k] = c * pk - s * qk;
          S[q * n + k] = s * pk + c * qk;
        }
      }
  }
  std::vector<double> ev(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ev[size_t(i)] = S[i * n + i];
  return ev;
}

TEST(Optim, NewtonSchulzOrthogonalizes) {
  std::mt19937_64 g(seed() + 2);
  // Gaussian matrices with aspect ratio >= 2 are well conditioned (Marchenko–Pastur): 5 default steps bring
  // every singular value into the quintic's band around 1.
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{48, 144}, {144, 48}, {32, 64}, {96, 32}}) {
    auto G = randn(size_t(r * c), g);
    std::vector<float> O(G.size());
    newton_schulz5(G.data(), r, c, O.data(), OptimConfig{});
    const int m = int(std::min(r, c));
    std::vector<double> S(size_t(m * m), 0.0);  // OOᵀ or OᵀO on the small side: eigenvalues = σ²
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        double acc = 0;
        if (r <= c)
          for (int64_t k = 0; k < c; ++k) acc += double(O[size_t(i * c + k)]) * O[size_t(j * c + k)];
        else
          for (int64_t k = 0; k < r; ++k) acc += double(O[size_t(k * c + i)]) * O[size_t(k * c + j)];
        S[size_t(i * m + j)] = acc;
      }
    auto ev = sym_eigenvalues(S, m);
    const double lo = std::sqrt(std::max(0.0, *std::min_element(ev.begin(), ev.end())));
    const double hi = std::sqrt(*std::max_element(ev.begin(), ev.end()));
    std::printf("NS5 %lldx%lld: singular values in [%.3f, %.3f]\n", (long long)r, (long long)c, lo, hi);
    EXPECT_GE(lo, 0.6) << r << "x" << c;
    EXPECT_LE(hi, 1.25) << r << "x" << c;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Optimizer steps against the definitions

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> w, g;
};

// A miniature of every plan kind (small shapes): Linear wide and tall, experts, grouped conv, depthwise conv,
// embedding, 1-D gains and biases.
std::vector<Tensor> small_model(std::mt19937_64& rng) {
  std::vector<Tensor> ts = {
      {"model.layers.0.self_attn.o_proj.weight", {24, 40}, {}, {}},
      {"model.layers.0.mlp.gate.down_proj.weight", {40, 12}, {}, {}},
      {"model.layers.0.mlp.experts.gate_up_proj", {3, 32, 16}, {}, {}},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_grouped.weight", {24, 8, 2}, {}, {}},
      {"model.layers.0.self_attn.qkv_proj.conv_qk_depthwise.weight", {24, 1, 2}, {}, {}},
      {"model.embed_tokens.weight", {50, 16}, {}, {}},
      {"model.norm.weight", {16}, {}, {}},
      {"model.layers.0.mlp.gate.down_proj.bias", {12}, {}, {}},
  };
  for (Tensor& t : ts) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    t.w = randn(size_t(n), rng, 0.02f);
    t.g.assign(size_t(n), 0.0f);
  }
  return ts;
}

std::vector<ParamRef> refs_of(std::vector<Tensor>& ts) {
  std::vector<ParamRef> ps;
  for (Tensor& t : ts) ps.push_back({t.name, t.w.data(), t.g.data(), t.shape});
  return ps;
}

// The reference optimizer, in double, written from the update rules.
struct RefOptimizer {
  OptimConfig cfg;
  std::vector<ParamPlan> plans;
  std::vector<std::vector<double>> w, s0, s1;
  int64_t t = 0;
  RefOptimizer(const std::vector<Tensor>& ts, OptimConfig c) : cfg(c) {
    for (const Tensor& x : ts) {
      plans.push_back(plan_param({x.name, nullptr, nullptr, x.shape}));
      w.emplace_back(x.w.begin(), x.w.end());
      s0.emplace_back(x.w.size(), 0.0);
      s1.emplace_back(x.w.size(), 0.0);
    }
  }
  void step(const std::vector<Tensor>& ts, double lr) {
    ++t;
    for (size_t i = 0; i < ts.size(); ++i) {
      const ParamPlan& pl = plans[i];
      const double decay = pl.weight_decay ? 1 - lr * cfg.weight_decay : 1.0;
      const std::vector<float>& g = ts[i].g;
      if (pl.kind == OptKind::AdamW) {
        for (size_t j = 0; j < g.size(); ++j) {
          s0[i][j] = cfg.adam_beta1 * s0[i][j] + (1 - cfg.adam_beta1) * g[j];
          s1[i][j] = cfg.adam_beta2 * s1[i][j] + (1 - cfg.adam_beta2) * double(g[j]) * g[j];
          const double mh = s0[i][j] / (1 - std::pow(cfg.adam_beta1, double(t)));
          const double vh = s1[i][j] / (1 - std::pow(cfg.adam_beta2, double(t)));
          w[i][j] = w[i][j] * decay - lr * mh / (std::sqrt(vh) + cfg.adam_eps);
        }
        continue;
      }
      const int64_t bn = pl.rows * pl.cols;
      for (int64_t b = 0; b < pl.n_blocks; ++b) {
        std::vector<float> U(static_cast<size_t>(bn));  // NS input; the reference NS reads floats, so round U once
        for (int64_t j = 0; j < bn; ++j) {
          double& M = s0[i][size_t(b * bn + j)];
          const double gj = g[size_t(b * bn + j)];
          M = cfg.muon_momentum * M + gj;
          U[size_t(j)] = float(cfg.muon_nesterov ? gj + cfg.muon_momentum * M : M);
        }
        const auto O = ns_ref(U, pl.rows, pl.cols, cfg);
        const double scale = lr * cfg.muon_rms_scale * std::sqrt(double(std::max(pl.rows, pl.cols)));
        for (int64_t j = 0; j < bn; ++j) {
          double& wj = w[i][size_t(b * bn + j)];
          wj = wj * decay - scale * O[size_t(j)];
        }
      }
    }
  }
};

TEST(Optim, StepsMatchDefinitions) {
  std::mt19937_64 rng(seed() + 3);
  OptimConfig plain;
  plain.muon_nesterov = false;
  OptimConfig rl;  // RL setting: Muon without momentum, no decay
  rl.muon_momentum = 0;
  rl.weight_decay = 0;
  OptimConfig strong;  // large decay so the decoupled decay term is visible
  strong.weight_decay = 1.5;
  double worst_w = 0, worst_dw = 0;
  for (const OptimConfig& cfg : {OptimConfig{}, plain, rl, strong}) {
    auto ts = small_model(rng);
    std::vector<std::vector<float>> w0;
    for (auto& t : ts) w0.push_back(t.w);
    Optimizer opt(refs_of(ts), cfg);
    RefOptimizer ref(ts, cfg);
    for (int s = 0; s < 4; ++s) {
      for (auto& t : ts) {  // in place: the optimizer holds pointers to these buffers
        auto v = randn(t.g.size(), rng, s == 2 ? 3.0f : 0.5f);
        std::copy(v.begin(), v.end(), t.g.begin());
      }
      std::vector<std::vector<float>> g_before;
      for (auto& t : ts) g_before.push_back(t.g);
      const double lr = 0.02 * (1 + s);
      opt.step(lr);
      ref.step(ts, lr);
      for (size_t i = 0; i < ts.size(); ++i) {
        EXPECT_EQ(std::memcmp(ts[i].g.data(), g_before[i].data(), ts[i].g.size() * 4), 0) << "gradient modified";
        const double ew = rel_err(ts[i].w, ref.w[i]);
        worst_w = std::max(worst_w, ew);
        EXPECT_LT(ew, 1e-5) << ts[i].name << " step " << s;
        // The accumulated update itself (not only the weights) agrees.
        std::vector<float> dw(ts[i].w.size());
        std::vector<double> dref(dw.size());
        for (size_t j = 0; j < dw.size(); ++j) {
          dw[j] = ts[i].w[j] - w0[i][j];
          dref[j] = ref.w[i][j] - w0[i][j];
        }
        const double edw = rel_err(dw, dref);
        worst_dw = std::max(worst_dw, edw);
        EXPECT_LT(edw, 1e-5) << ts[i].name << " step " << s << " (update)";
      }
    }
    EXPECT_EQ(opt.steps(), 4);
  }
  std::printf("4 steps x 4 configs vs double reference: worst rel err weights %.3g, updates %.3g\n", worst_w,
              worst_dw);
}

// One block per thread (parallel path) and one thread for everything give identical bits.
TEST(Optim, ThreadCountDoesNotChangeBits) {
  if (omp_get_max_threads() < 2) GTEST_SKIP() << "one OpenMP thread only";
  std::mt19937_64 rng(seed() + 4);
  auto a = small_model(rng);
  for (auto& t : a) t.g = randn(t.g.size(), rng);
  auto b = a;
  Optimizer oa(refs_of(a), OptimConfig{}), ob(refs_of(b), OptimConfig{});
  oa.step(0.01);
  const int nt = omp_get_max_threads();
  omp_set_num_threads(1);
  ob.step(0.01);
  omp_set_num_threads(nt);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(std::memcmp(a[i].w.data(), b[i].w.data(), a[i].w.size() * 4), 0) << a[i].name;
}

TEST(Optim, ConstructorValidates) {
  std::mt19937_64 rng(seed() + 5);
  auto ts = small_model(rng);
  auto ps = refs_of(ts);
  auto dup = ps;
  dup.push_back(ps[0]);
  expect_error([&] { Optimizer o(dup, OptimConfig{}); }, {ps[0].name.c_str(), "twice"});
  auto nul = ps;
  nul[1].g = nullptr;
  expect_error([&] { Optimizer o(nul, OptimConfig{}); }, {ps[1].name.c_str()});
  OptimConfig bad;
  bad.adam_beta2 = 1.0;
  expect_error([&] { Optimizer o(ps, bad); }, {"beta"});
  Optimizer ok(ps, OptimConfig{});
  expect_error([&] { ok.step(NAN); }, {"learning rate"});
}

// ---------------------------------------------------------------------------------------------------------
// Clipping and schedules

TEST(Optim, ClipGradNorm) {
  std::mt19937_64 rng(seed() + 6);
  auto ts = small_model(rng);
  ts.push_back({"big", {300000}, std::vector<float>(300000), {}});  // spans several clip chunks
  ts.back().g.resize(300000);
  for (auto& t : ts) t.g = randn(t.g.size(), rng, 0.01f);
  auto ps = refs_of(ts);
  double ss = 0;
  for (auto& t : ts)
    for (float x : t.g) ss += double(x) * x;
  const double norm = std::sqrt(ss);

  auto before = ts;
  EXPECT_NEAR(clip_grad_norm(ps, 2 * norm), norm, 1e-12 * norm);  // below the limit: untouched
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(std::memcmp(ts[i].g.data(), before[i].g.data(), ts[i].g.size() * 4), 0);

  const double max_norm = norm / 3;
  EXPECT_NEAR(clip_grad_norm(ps, max_norm), norm, 1e-12 * norm);
  double ss2 = 0;
  for (size_t i = 0; i < ts.size(); ++i)
    for (size_t j = 0; j < ts[i].g.size(); ++j) {
      ss2 += double(ts[i].g[j]) * ts[i].g[j];
      EXPECT_NEAR(ts[i].g[j], before[i].g[j] * max_norm / (norm + 1e-6), 1e-6 * std::abs(before[i].g[j]) + 1e-12);
    }
  EXPECT_NEAR(std::sqrt(ss2), max_norm, 1e-6 * max_norm);

  ts[0].g[3] = NAN;
  auto nan_before = ts;
  EXPECT_TRUE(std::isnan(clip_grad_norm(ps, 1e-3)));
  EXPECT_EQ(std::memcmp(ts[1].g.data(), nan_before[1].g.data(), ts[1].g.size() * 4), 0);
  expect_error([&] { clip_grad_norm(ps, 0.0); }, {"max_norm"});
}

TEST(Optim, ScheduleValues) {
  Schedule w;  // wsd: warmup 10, total 100, decay over the last 20 steps to 0.1
  w.warmup = 10;
  w.total = 100;
  const double P = 2e-3;
  EXPECT_DOUBLE_EQ(lr_at(w, P, 0), P * 0.1);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 4), P * 0.5);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 9), P);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 10), P);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 50), P);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 79), P);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 80), P * (1 - 0.9 / 20));
  EXPECT_DOUBLE_EQ(lr_at(w, P, 89), P * 0.55);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 99), P * 0.1);
  EXPECT_DOUBLE_EQ(lr_at(w, P, 500), P * 0.1);
  Schedule sq = w;
  sq.decay_shape = "1-sqrt";
  EXPECT_DOUBLE_EQ(lr_at(sq, P, 79), P);
  EXPECT_DOUBLE_EQ(lr_at(sq, P, 89), P * (0.1 + 0.9 * (1 - std::sqrt(0.5))));
  EXPECT_DOUBLE_EQ(lr_at(sq, P, 99), P * 0.1);
  Schedule c;  // cosine: warmup 10, total 110
  c.kind = "cosine";
  c.warmup = 10;
  c.total = 110;
  EXPECT_DOUBLE_EQ(lr_at(c, P, 0), P * 0.1);
  EXPECT_DOUBLE_EQ(lr_at(c, P, 9), P);
  EXPECT_NEAR(lr_at(c, P, 10), P * (0.1 + 0.45 * (1 + std::cos(M_PI / 100))), 1e-15);
  EXPECT_NEAR(lr_at(c, P, 59), P * 0.55, 1e-15);
  EXPECT_NEAR(lr_at(c, P, 109), P * 0.1, 1e-15);
  EXPECT_NEAR(lr_at(c, P, 200), P * 0.1, 1e-15);
  Schedule none;  // defaults: no warmup, total 1 -> one step at min
  EXPECT_NO_THROW(lr_at(none, P, 0));
  // Non-increasing after warmup, never above peak, never below min.
  for (const Schedule& s : {w, sq, c})
    for (int64_t k = s.warmup; k + 1 < s.total; ++k) {
      EXPECT_LE(lr_at(s, P, k + 1), lr_at(s, P, k)) << s.kind << " " << k;
      EXPECT_GE(lr_at(s, P, k), P * s.min_ratio * (1 - 1e-12));
    }
}

TEST(Optim, ScheduleRejectsImpossible) {
  Schedule base;
  base.warmup = 10;
  base.total = 100;
  auto bad = [&](auto edit, const char* field, int64_t step = 0, double peak = 1e-3) {
    Schedule s = base;
    edit(s);
    expect_error([&] { lr_at(s, peak, step); }, {field});
  };
  bad([](Schedule& s) { s.kind = "exp"; }, "kind");
  bad([](Schedule& s) { s.decay_shape = "cubic"; }, "decay_shape");
  bad([](Schedule& s) { s.total = 0; }, "total");
  bad([](Schedule& s) { s.warmup = 101; }, "warmup");
  bad([](Schedule& s) { s.warmup = -1; }, "warmup");
  bad([](Schedule& s) { s.warmup = 90; }, "exceed total");  // 90 + 20 decay > 100
  bad([](Schedule& s) { s.decay_fraction = 1.5; }, "decay_fraction");
  bad([](Schedule& s) { s.min_ratio = -0.1; }, "min_ratio");
  bad([](Schedule& s) { s.min_ratio = NAN; }, "min_ratio");
  bad([](Schedule&) {}, "step", -1);
  bad([](Schedule&) {}, "peak", 0, NAN);
}

// ---------------------------------------------------------------------------------------------------------
// State round trip

void fill_grads(std::vector<Tensor>& ts, uint64_t step_seed) {
  std::mt19937_64 r(step_seed);
  for (auto& t : ts) {  // in place: the optimizer holds pointers to these buffers
    auto v = randn(t.g.size(), r);
    std::copy(v.begin(), v.end(), t.g.begin());
  }
}

TEST(Optim, StateRoundTripIsBitExact) {
  std::mt19937_64 rng(seed() + 7);
  const uint64_t gs = rng();
  auto a = small_model(rng);
  Optimizer oa(refs_of(a), OptimConfig{});
  const int k = 3, m = 3;
  for (int s = 0; s < k; ++s) fill_grads(a, gs + s), oa.step(0.01 + 0.001 * s);
  const std::string state = oa.save_state();
  auto b = a;  // the weights at step k, as a checkpoint would hold them
  for (int s = k; s < k + m; ++s) fill_grads(a, gs + s), oa.step(0.01 + 0.001 * s);

  Optimizer ob(refs_of(b), OptimConfig{});
  ob.load_state(state, "opt-state.bin");
  EXPECT_EQ(ob.steps(), k);
  for (int s = k; s < k + m; ++s) fill_grads(b, gs + s), ob.step(0.01 + 0.001 * s);
  EXPECT_EQ(ob.steps(), k + m);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(std::memcmp(a[i].w.data(), b[i].w.data(), a[i].w.size() * 4), 0) << a[i].name;
  EXPECT_TRUE(oa.save_state() == ob.save_state()) << "saved states differ";
}

TEST(Optim, BadStateThrowsAndChangesNothing) {
  std::mt19937_64 rng(seed() + 8);
  auto a = small_model(rng);
  Optimizer oa(refs_of(a), OptimConfig{});
  fill_grads(a, rng());
  oa.step(0.01);
  const std::string good = oa.save_state();

  auto c = small_model(rng);
  Optimizer oc(refs_of(c), OptimConfig{});
  const std::string fresh = oc.save_state();
  auto expect_bad = [&](const std::string& bytes, std::initializer_list<const char*> parts, Optimizer& o) {
    const std::string before = o.save_state();
    expect_error([&] { o.load_state(bytes, "run/opt-state.bin"); }, parts);
    EXPECT_TRUE(o.save_state() == before) << "a failed load changed the optimizer";
  };
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  expect_bad(flipped, {"run/opt-state.bin", "checksum"}, oc);
  expect_bad(good.substr(0, good.size() - 100), {"run/opt-state.bin"}, oc);
  expect_bad("hello", {"run/opt-state.bin", "not a zaya optimizer state"}, oc);
  expect_bad("", {"run/opt-state.bin"}, oc);

  // A valid file from a different model: a renamed tensor, a reshaped tensor, a missing tensor.
  {
    auto d = small_model(rng);
    d[6].name = "model.final_norm.weight";
    Optimizer od(refs_of(d), OptimConfig{});
    expect_bad(good, {"run/opt-state.bin", "model.norm.weight"}, od);
  }
  {
    auto d = small_model(rng);
    d[0].shape = {20, 48};  // same numel, different blocks: still the same state size -> accepted by size
    d[5].shape = {40, 16};
    d[5].w.resize(640), d[5].g.resize(640);
    Optimizer od(refs_of(d), OptimConfig{});
    expect_bad(good, {"run/opt-state.bin", "model.embed_tokens.weight", "elements"}, od);
  }
  {
    auto d = small_model(rng);
    d.pop_back();
    Optimizer od(refs_of(d), OptimConfig{});
    expect_bad(good, {"run/opt-state.bin", "tensors"}, od);
  }
  oc.load_state(good, "run/opt-state.bin");  // and the good file still loads
  EXPECT_EQ(oc.steps(), 1);
  EXPECT_TRUE(fresh != oc.save_state());
}

// ---------------------------------------------------------------------------------------------------------
// Timing (not in the default run): ./test_optim --gtest_also_run_disabled_tests --gtest_filter='*Timing*'

TEST(Optim, DISABLED_NewtonSchulzTiming) {
  std::mt19937_64 rng(seed());
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{4096, 2048}, {2048, 4096}, {1024, 2048}}) {
    auto G = randn(size_t(r * c), rng);
    std::vector<float> out(G.size()), work;
    newton_schulz5(G.data(), r, c, out.data(), OptimConfig{}, &work);  // warm up
    const int reps = r * c > 4'000'000 ? 2 : 5;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) newton_schulz5(G.data(), r, c, out.data(), OptimConfig{}, &work);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    const double m = double(std::min(r, c)), n = double(std::max(r, c));
    const double flops = 5 * (m * m * n + 2 * m * m * m + 2 * m * m * n);  // syrk + A·A + B·X
    std::printf("NS5 %lldx%lld, %d threads: %.3f s (%.1f GFLOP/s)\n", (long long)r, (long long)c,
                omp_get_max_threads(), s, flops / s * 1e-9);
  }
}

}  // namespace
}  // namespace zaya
