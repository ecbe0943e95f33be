// The op registry runner: every entry of tests/backend_ops/<family>.cpp on every backend, against fp64
// references, with finite-difference gradient checks and the add-into-gradients contract
// (tests/backend_ops.h). Fresh random inputs each run (the seed is printed; ZAYA_TEST_SEED replays it).
//   ./build/test_backend_ops                       the tests (BackendOps.<op>.{forward,backward,gradcheck})
//   ./build/test_backend_ops --perf [--op NAME]    time per call per backend (docs/benchmarks.md)
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backend_ops.h"
#include "test_util.h"

namespace zaya::test {

std::vector<OpEntry>& registry() {
  static std::vector<OpEntry> r;
  return r;
}

namespace {

using TD = Tensors<double>;
using TF = Tensors<float>;

// ---------------------------------------------------------------------------------------------------------
// The runner

std::vector<std::string> backends() { return backend_names(); }

TF to_float(const TD& t) {
  TF f;
  for (auto& [k, v] : t) f[k] = std::vector<float>(v.begin(), v.end());
  return f;
}

std::string shape_str(const Shape& s) {
  std::string o;
  for (auto x : s) o += (o.empty() ? "" : "x") + std::to_string(x);
  return o;
}

void check_forward(const OpEntry& op) {
  for (const std::string& bn : backends()) {
    auto be = make_backend(bn);
    const Tol tol = be->precision() == Precision::BF16 ? op.bf16 : op.f32;
    for (size_t si = 0; si < op.shapes.size(); ++si) {
      const Shape& s = op.shapes[si];
      SCOPED_TRACE(op.name + " on " + bn + " shape " + shape_str(s));
      std::mt19937_64 g(test_seed() + si * 7919 + std::hash<std::string>()(op.name));
      TD in;
      op.make(s, g, in);
      TF f = to_float(in);
      TD d = in;
      // The reference sees exactly the fp32 inputs the backend sees.
      for (auto& [k, v] : d)
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(f[k][i]);
      op.fwd(*be, s, f);
      op.ref(s, d);
      for (auto& o : op.outputs) {
        ASSERT_EQ(f[o].size(), d[o].size()) << o;
        const double e = rel_err(f[o].data(), d[o].data(), f[o].size());
        EXPECT_LE(e, tol.fwd) << op.name << " " << o;
      }
      for (auto& o : op.exact) EXPECT_EQ(as<int64_t>(f[o]), asd<int64_t>(d[o])) << op.name << " " << o;
    }
  }
}

// Backward vs the reference, with gradients pre-filled (the ADD contract) and random output gradients.
void check_backward(const OpEntry& op) {
  for (const std::string& bn : backends()) {
    auto be = make_backend(bn);
    const Tol tol = be->precision() == Precision::BF16 ? op.bf16 : op.f32;
    for (size_t si = 0; si < op.shapes.size(); ++si) {
      const Shape& s = op.shapes[si];
      SCOPED_TRACE(op.name + " on " + bn + " shape " + shape_str(s));
      std::mt19937_64 g(test_seed() + si * 104729 + std::hash<std::string>()(op.name));
      TD in;
      op.make(s, g, in);
      TD outs = in;
      op.ref(s, outs);
      for (auto& o : op.outputs) in["d:" + o] = rnd(outs[o].size(), g);
      TF f = to_float(in);
      TD d = in;
      for (auto& [k, v] : d)
        for (size_t i = 0; i < v.size(); ++i) v[i] = double(f[k][i]);
      std::map<std::string, std::vector<float>> prefill;
      for (auto& gname : op.grads) {
        const size_t n = in[gname].size();
        const bool sets = std::count(op.sets.begin(), op.sets.end(), gname) > 0;
        prefill[gname] = sets ? std::vector<float>(n, 0.0f) : std::vector<float>(n);
        if (!sets)
          for (auto& x : prefill[gname]) x = float(std::normal_distribution<double>(0, 1)(g));
        if (sets)  // a SET gradient must overwrite whatever is there
          for (auto& x : prefill[gname]) x = 12345.0f;
        f["d:" + gname] = prefill[gname];
        d["d:" + gname].assign(n, 0.0);
      }
      op.bwd(*be, s, f);
      op.ref_bwd(s, d);
      for (auto& gname : op.grads) {
        const bool sets = std::count(op.sets.begin(), op.sets.end(), gname) > 0;
        std::vector<double> got(f["d:" + gname].size());
        for (size_t i = 0; i < got.size(); ++i)
          got[i] = double(f["d:" + gname][i]) - (sets ? 0.0 : double(prefill[gname][i]));
        const double e = rel_err(got.data(), d["d:" + gname].data(), got.size());
        EXPECT_LE(e, std::max(tol.bwd, 1e-6)) << op.name << " d" << gname << (sets ? " (set)" : " (added)");
      }
    }
  }
}

// The reference backward against central differences of L = Σ_o dO·o(x) in fp64.
void check_gradient(const OpEntry& op) {
  const Shape& s = op.shapes[0];
  std::mt19937_64 g(test_seed() + std::hash<std::string>()(op.name));
  TD in;
  op.make(s, g, in);
  TD outs = in;
  op.ref(s, outs);
  for (auto& o : op.outputs) in["d:" + o] = rnd(outs[o].size(), g);
  TD d = in;
  for (auto& gname : op.grads) d["d:" + gname].assign(in[gname].size(), 0.0);
  op.ref_bwd(s, d);
  auto loss = [&](TD& x) {
    TD t = x;
    op.ref(s, t);
    double L = 0;
    for (auto& o : op.outputs)
      for (size_t i = 0; i < t[o].size(); ++i) L += t[o][i] * in["d:" + o][i];
    return L;
  };
  for (auto& gname : op.grads) {
    std::vector<double> num(in[gname].size());
    for (size_t i = 0; i < num.size(); ++i) {
      TD x = in;
      const double h = 1e-6 * std::max(1.0, std::abs(x[gname][i]));
      x[gname][i] += h;
      const double lp = loss(x);
      x[gname][i] -= 2 * h;
      const double lm = loss(x);
      num[i] = (lp - lm) / (2 * h);
    }
    const double e = rel_err(d["d:" + gname].data(), num.data(), num.size());
    EXPECT_LT(e, 1e-6) << op.name << " d" << gname;
  }
}

std::vector<std::string> op_names() {
  std::vector<std::string> n;
  for (auto& e : registry()) n.push_back(e.name);
  return n;
}
// One test per entry and check, registered in main() once every entry file has registered its ops:
// BackendOps.<op>_forward, BackendOps.<op>_backward, BackendOps.<op>_gradcheck.
class OpTest : public testing::Test {
 public:
  OpTest(const OpEntry* op, void (*check)(const OpEntry&)) : op_(op), check_(check) {}
  void TestBody() override { check_(*op_); }

 private:
  const OpEntry* op_;
  void (*check_)(const OpEntry&);
};

}  // namespace

void register_op_tests() {
  // Ops without a backward (not differentiable: top-1, permute; or inference only: caches, half-precision
  // weights) get the forward test only.
  for (const OpEntry& op : registry())
    for (auto [kind, fn] : std::initializer_list<std::pair<const char*, void (*)(const OpEntry&)>>{
             {"forward", check_forward}, {"backward", check_backward}, {"gradcheck", check_gradient}}) {
      if (std::string(kind) != "forward" && !op.bwd) continue;
      if (std::string(kind) == "gradcheck" && !op.gradcheck) continue;
      const std::string name = op.name + "_" + kind;
      testing::RegisterTest("BackendOps", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [&op, fn = fn]() -> testing::Test* { return new OpTest(&op, fn); });
    }
}

// Every op of the interface is in the registry: a new op without an entry fails here.
TEST(BackendOpsRegistry, CoversEveryOp) {
  const std::vector<std::string> covered = op_names();
  for (const char* op :
       {"linear", "linear_half_weights", "grouped_linear", "gemm_batched", "embedding", "gather_rows", "rmsnorm",
        "residual_input", "residual_merge", "gelu", "swiglu", "softmax", "cross_entropy", "cca_conv",
        "cca_conv_with_state", "cca_qk_mean_add", "cca_qk_normalize", "rope", "value_shift", "value_shift_with_state",
        "kv_append", "attention", "attention_with_cache", "eda", "router_top1", "moe_permute", "moe_combine",
        "axpy_scale_sum_squares", "round_to_precision"})
    EXPECT_NE(std::find(covered.begin(), covered.end(), op), covered.end()) << op;
}

// ---------------------------------------------------------------------------------------------------------
// Perf mode

int perf_main(const std::string& only) {
  std::printf("| op | shape | backend | time per call | rate |\n|---|---|---|---:|---:|\n");
  for (const OpEntry& op : registry()) {
    if (!only.empty() && op.name != only) continue;
    for (const std::string& bn : backends()) {
      auto be = make_backend(bn);
      std::mt19937_64 g(1);
      TD in;
      op.make(op.perf, g, in);
      TF f = to_float(in);
      op.fwd(*be, op.perf, f);  // warm-up
      // Time inside the backend's ops only (its op profile), not the entry's setup and allocations.
      double best = 1e30;
      be->profile().enabled = true;
      for (int r = 0; r < 5; ++r) {
        TF c = f;
        be->profile().clear();
        op.fwd(*be, op.perf, c);
        double t = 0;
        for (auto& [n, e] : be->profile().ops) t += e.seconds;
        best = std::min(best, t);
      }
      char rate[64] = "";
      if (op.flops)
        std::snprintf(rate, sizeof rate, "%.1f GFLOP/s", op.flops(op.perf) / best / 1e9);
      else if (op.bytes)
        std::snprintf(rate, sizeof rate, "%.1f GB/s", op.bytes(op.perf) / best / 1e9);
      std::printf("| %s | %s | %s | %.1f µs | %s |\n", op.name.c_str(), shape_str(op.perf).c_str(), bn.c_str(),
                  best * 1e6, rate);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace zaya::test

int main(int argc, char** argv) {
  std::string only;
  bool perf = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--perf") perf = true;
    if (a == "--op" && i + 1 < argc) only = argv[++i];
  }
  if (perf) return zaya::test::perf_main(only);
  testing::InitGoogleTest(&argc, argv);
  zaya::test::register_op_tests();
  return RUN_ALL_TESTS();
}
