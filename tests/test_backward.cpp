// fp64 finite-difference checks of every op's backward: for L(x) = Σ r ⊙ f(x) with random r, the
// analytic gradients from <op>_backward (given dy = r) must match central differences of L.
// Fresh random inputs each run (seed printed; replay with ZAYA_TEST_SEED).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>

#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"
#include "test_util.h"

namespace zaya {
namespace {

using V = std::vector<double>;

std::mt19937_64& rng() {
  static std::mt19937_64 g = [] {
    const char* e = std::getenv("ZAYA_TEST_SEED");
    uint64_t v = e ? std::strtoull(e, nullptr, 10) : std::random_device{}();
    std::printf("ZAYA_TEST_SEED=%llu\n", (unsigned long long)v);
    return std::mt19937_64(v);
  }();
  return g;
}
V randn(size_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  V v(n);
  for (auto& x : v) x = d(rng());
  return v;
}
double dot(const V& a, const V& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of x, compared with `analytic`.
void check(const char* what, V& x, const V& analytic, const std::function<double()>& loss, double tol = 1e-7) {
  V num(x.size());
  const double h = 1e-6;
  for (size_t i = 0; i < x.size(); ++i) {
    double s = x[i];
    x[i] = s + h;
    double lp = loss();
    x[i] = s - h;
    double lm = loss();
    x[i] = s;
    num[i] = (lp - lm) / (2 * h);
  }
  double e = test::rel_err(analytic, num);
  if (std::getenv("ZAYA_VERBOSE")) std::printf("  %-18s relative error %.2e\n", what, e);
  EXPECT_LT(e, tol) << what << ": relative error " << e;
}

TEST(Backward, RmsNorm) {
  const int64_t T = 3, n = 9;
  V x = randn(T * n, 2.0), w = randn(n), r = randn(T * n);
  auto loss = [&] {
    V y(T * n);
    ops::rmsnorm_forward(y.data(), x.data(), w.data(), T, n, 1e-5f);
    return dot(y, r);
  };
  V dx(T * n), dw(n);
  ops::rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), T, n, 1e-5f);
  check("rmsnorm dx", x, dx, loss);
  check("rmsnorm dw", w, dw, loss);
}

TEST(Backward, ResidualMergeAndInput) {
  const int64_t T = 2, n = 5;
  V h = randn(T * n), r = randn(T * n), hs = randn(n), hb = randn(n), rs = randn(n), rb = randn(n), g = randn(T * n);
  auto loss = [&] {
    V out = r;
    ops::residual_merge(out.data(), h.data(), hs.data(), hb.data(), rs.data(), rb.data(), T, n);
    return dot(out, g);
  };
  V dh(T * n), dr(T * n), dhs(n), dhb(n), drs(n), drb(n);
  ops::residual_merge_backward(dh.data(), dr.data(), dhs.data(), dhb.data(), drs.data(), drb.data(), g.data(), h.data(),
                               r.data(), hs.data(), hb.data(), rs.data(), rb.data(), T, n);
  check("merge dh", h, dh, loss);
  check("merge dr", r, dr, loss);
  check("merge dhs", hs, dhs, loss);
  check("merge dhb", hb, dhb, loss);
  check("merge drs", rs, drs, loss);
  check("merge drb", rb, drb, loss);
  V e = randn(T * n), s = randn(n), b = randn(n);
  auto loss2 = [&] {
    V out(T * n);
    ops::residual_input(out.data(), e.data(), s.data(), b.data(), T, n);
    return dot(out, g);
  };
  V de(T * n), ds(n), db(n);
  ops::residual_input_backward(de.data(), ds.data(), db.data(), g.data(), e.data(), s.data(), b.data(), T, n);
  check("input de", e, de, loss2);
  check("input ds", s, ds, loss2);
  check("input db", b, db, loss2);
}

TEST(Backward, Activations) {
  const int64_t T = 3, I = 7, n = 6;
  V x = randn(T * n, 2.0), r = randn(T * n);
  auto lg = [&] {
    V y = x;
    ops::gelu_forward(y.data(), int64_t(y.size()));
    return dot(y, r);
  };
  V dx(x.size());
  ops::gelu_backward(dx.data(), r.data(), x.data(), int64_t(x.size()));
  check("gelu", x, dx, lg);

  V gu = randn(T * 2 * I, 2.0), ro = randn(T * I);
  auto ls = [&] {
    V o(T * I);
    ops::swiglu_forward(o.data(), gu.data(), T, I);
    return dot(o, ro);
  };
  V dgu(gu.size());
  ops::swiglu_backward(dgu.data(), ro.data(), gu.data(), T, I);
  check("swiglu", gu, dgu, ls);

  auto lsm = [&] {
    V y = x;
    ops::softmax_forward(y.data(), T, n);
    return dot(y, r);
  };
  V y = x, dsm(x.size());
  ops::softmax_forward(y.data(), T, n);
  ops::softmax_backward(dsm.data(), r.data(), y.data(), T, n);
  check("softmax", x, dsm, lsm);
}

TEST(Backward, CrossEntropy) {
  const int64_t T = 4, Vn = 11;
  V logits = randn(T * Vn, 2.0);
  std::vector<int32_t> tg = {3, -100, 10, 0};
  V d(T * Vn);
  double l0 = ops::cross_entropy(d.data(), logits.data(), tg.data(), T, Vn);
  EXPECT_TRUE(std::isfinite(l0));
  check("cross-entropy", logits, d, [&] { return ops::cross_entropy<double>(nullptr, logits.data(), tg.data(), T, Vn); });
}

TEST(Backward, LinearAndEmbedding) {
  const int64_t T = 3, out = 4, in = 5;
  V x = randn(T * in), W = randn(out * in), b = randn(out), r = randn(T * out);
  auto loss = [&] {
    V y(T * out);
    ops::linear_forward(y.data(), x.data(), W.data(), b.data(), T, out, in);
    return dot(y, r);
  };
  V dx(x.size()), dW(W.size()), db(b.size());
  ops::linear_backward(dx.data(), dW.data(), db.data(), r.data(), x.data(), W.data(), T, out, in);
  check("linear dx", x, dx, loss);
  check("linear dW", W, dW, loss);
  check("linear db", b, db, loss);

  const int64_t Vn = 6, H = 3;
  V E = randn(Vn * H), re = randn(4 * H);
  std::vector<int32_t> ids = {2, 0, 2, 5};
  auto le = [&] {
    V y(4 * H);
    ops::embedding_forward(y.data(), E.data(), ids.data(), 4, H);
    return dot(y, re);
  };
  V dE(E.size());
  ops::embedding_backward(dE.data(), re.data(), ids.data(), 4, H, -1);
  check("embedding", E, dE, le);
  V dEp(E.size());
  ops::embedding_backward(dEp.data(), re.data(), ids.data(), 4, H, 0);
  for (int64_t i = 0; i < H; ++i) EXPECT_EQ(dEp[size_t(i)], 0.0) << "padding row gets no gradient";
}

TEST(Backward, TheCheckCatchesAWrongGradient) {
  V x = randn(6), r = randn(6);
  auto loss = [&] {
    V y = x;
    ops::gelu_forward(y.data(), 6);
    return dot(y, r);
  };
  V dx(6);
  ops::gelu_backward(dx.data(), r.data(), x.data(), 6);
  dx[2] *= 1.001;  // a 0.1 % error in one element must be detected
  EXPECT_NONFATAL_FAILURE(check("wrong", x, dx, loss), "relative error");
}

TEST(Backward, Rope) {
  const int64_t T = 3;
  const int heads = 3, d = 8, rot = 4, ld = heads * d;
  auto inv = ops::rope_inv_freq(1e4, rot);
  std::vector<int64_t> pos = {0, 5, 77};
  V x = randn(T * ld), r = randn(T * ld);
  auto loss = [&] {
    V y = x;
    ops::rope_forward(y.data(), ld, pos.data(), T, heads, d, rot, inv.data());
    return dot(y, r);
  };
  V dx = r;
  ops::rope_backward(dx.data(), ld, pos.data(), T, heads, d, rot, inv.data());
  check("rope", x, dx, loss);
}

TEST(Backward, CcaConv) {
  for (auto [k0, k1] : {std::pair{2, 2}, {3, 2}, {2, 3}}) {
    const int d = 3, C = 3 * d;
    const int64_t n = 5;
    const int K = k0 - 1 + k1 - 1;
    V u = randn(n * C), w0 = randn(C * k0), b0 = randn(C), w1t = randn(k1 * C * d), b1 = randn(C), r = randn(n * C);
    V state0 = randn(size_t(K) * C);  // a continuation: history from an earlier chunk
    auto loss = [&] {
      V out(n * C), st = state0, scratch((n + k1) * C);
      ops::cca_conv_forward(out.data(), u.data(), C, st.data(), w0.data(), b0.data(), w1t.data(), b1.data(), n, C, d,
                            k0, k1, scratch.data());
      return dot(out, r);
    };
    V du(u.size()), dw0(w0.size()), db0(b0.size()), dw1t(w1t.size()), db1(b1.size()), scratch(2 * (n + k1) * C);
    ops::cca_conv_backward(du.data(), dw0.data(), db0.data(), dw1t.data(), db1.data(), r.data(), u.data(), C,
                           state0.data(), w0.data(), b0.data(), w1t.data(), n, C, d, k0, k1, scratch.data());
    check("conv du", u, du, loss);
    check("conv dw0", w0, dw0, loss);
    check("conv db0", b0, db0, loss);
    check("conv dw1t", w1t, dw1t, loss);
    check("conv db1", b1, db1, loss);
  }
}

TEST(Backward, QkMeanAndNormalize) {
  const int nq = 4, nk = 2, d = 5, C = (nq + nk) * d;
  const int64_t T = 2;
  V u = randn(T * C), base = randn(T * C), r = randn(T * C);
  auto lm = [&] {
    V qk = base;
    ops::cca_qk_mean_add(qk.data(), u.data(), C, T, nq, nk, d);
    return dot(qk, r);
  };
  V du(u.size());
  ops::cca_qk_mean_add_backward(du.data(), r.data(), C, T, nq, nk, d);
  check("qk mean", u, du, lm);

  V x = randn(T * C), temp = randn(nk);
  auto ln = [&] {
    V y = x;
    ops::cca_qk_normalize(y.data(), C, temp.data(), T, nq, nk, d);
    return dot(y, r);
  };
  V dx(x.size()), dt(temp.size());
  ops::cca_qk_normalize_backward(dx.data(), dt.data(), r.data(), x.data(), C, temp.data(), T, nq, nk, d);
  check("normalize dx", x, dx, ln);
  check("normalize dtemp", temp, dt, ln);
}

TEST(Backward, Attention) {
  const int nq = 4, nk = 2, d = 4;
  for (int window : {0, 3})
    for (int64_t n : {int64_t(6), int64_t(2)}) {  // full sequence, and a chunk continuing a cache
      const int64_t S = 6;
      V q = randn(n * nq * d), k = randn(S * nk * d), v = randn(S * nk * d), r = randn(n * nq * d);
      auto loss = [&] {
        V o(n * nq * d);
        ops::attention_forward(o.data(), nq * d, q.data(), nq * d, k.data(), v.data(), n, S, nq, nk, d, window);
        return dot(o, r);
      };
      V dq(q.size()), dk(k.size()), dv(v.size());
      ops::attention_backward(dq.data(), dk.data(), dv.data(), r.data(), nq * d, q.data(), nq * d, k.data(), v.data(),
                              n, S, nq, nk, d, window);
      check("attention dq", q, dq, loss);
      check("attention dk", k, dk, loss);
      check("attention dv", v, dv, loss);
    }
}

}  // namespace
}  // namespace zaya
