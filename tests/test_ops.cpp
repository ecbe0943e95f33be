// Every CPU op against a naive double-precision reference written from the spec, on fresh random
// inputs (the seed is printed so a failure can be replayed with ZAYA_TEST_SEED).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/cca.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/residual.h"
#include "ops/rope.h"
#include "test_util.h"

namespace zaya {
namespace {

using test::randn;
using test::rel_err;
uint64_t seed() { return test::test_seed(); }



TEST(Ops, MatmulAllDtypesAndPaths) {
  std::mt19937_64 g(seed());
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int64_t T : {1, 3, 4, 5, 9, 33})
      for (auto [N, K] : {std::pair<int64_t, int64_t>{7, 13}, {64, 96}, {130, 257}}) {
        auto x = randn(size_t(T * K), g);
        auto wf = randn(size_t(N * K), g, 0.1f);
        auto bias = randn(size_t(N), g);
        std::vector<uint16_t> wh(wf.size());
        for (size_t i = 0; i < wf.size(); ++i) {
          wh[i] = dt == DType::BF16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
          if (dt != DType::F32) wf[i] = dt == DType::BF16 ? bf16_to_f32(wh[i]) : f16_to_f32(wh[i]);
        }
        Mat W{dt == DType::F32 ? static_cast<const void*>(wf.data()) : wh.data(), dt, N, K};
        const int64_t ldy = N + 3;
        std::vector<float> y(size_t(T * ldy), -7.0f), ref(size_t(T * N));
        ops::matmul_forward(y.data(), x.data(), W, T, bias.data(), ldy);
        std::vector<float> got(size_t(T * N));
        for (int64_t t = 0; t < T; ++t)
          for (int64_t n = 0; n < N; ++n) {
            double s = bias[size_t(n)];
            for (int64_t k = 0; k < K; ++k) s += double(x[size_t(t * K + k)]) * wf[size_t(n * K + k)];
            ref[size_t(t * N + n)] = float(s);
            got[size_t(t * N + n)] = y[size_t(t * ldy + n)];
            if (n == N - 1) {
              EXPECT_EQ(y[size_t(t * ldy + N)], -7.0f) << "wrote past the row";
            }
          }
        EXPECT_LT(rel_err(got, ref), 1e-6) << dtype_name(dt) << " T=" << T << " N=" << N << " K=" << K;
      }
}

TEST(Ops, RmsNormResidualActivations) {
  std::mt19937_64 g(seed());
  const int64_t T = 5, n = 37;
  auto x = randn(size_t(T * n), g, 3.0f), w = randn(size_t(n), g);
  std::vector<float> y(x.size()), ref(x.size());
  ops::rmsnorm_forward(y.data(), x.data(), w.data(), T, n, 1e-5f);
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[size_t(t * n + i)]) * x[size_t(t * n + i)];
    double r = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) ref[size_t(t * n + i)] = float(w[size_t(i)] * x[size_t(t * n + i)] * r);
  }
  EXPECT_LT(rel_err(y, ref), 1e-6);

  auto h = randn(x.size(), g), hs = randn(size_t(n), g), hb = randn(size_t(n), g), rs = randn(size_t(n), g),
       rb = randn(size_t(n), g);
  std::vector<float> r = x;
  ops::residual_merge(r.data(), h.data(), hs.data(), hb.data(), rs.data(), rb.data(), T, n);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t c = i % size_t(n);
    ref[i] = float((double(h[i]) + hb[c]) * hs[c] + (double(x[i]) + rb[c]) * rs[c]);
  }
  EXPECT_LT(rel_err(r, ref), 1e-6);

  std::vector<float> gl = x;
  ops::gelu_forward(gl.data(), int64_t(gl.size()));
  for (size_t i = 0; i < x.size(); ++i) ref[i] = float(0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0))));
  EXPECT_LT(rel_err(gl, ref), 1e-6);

  const int64_t I = 11;
  auto gu = randn(size_t(T * 2 * I), g, 2.0f);
  std::vector<float> o(size_t(T * I)), oref(size_t(T * I));
  ops::swiglu_forward(o.data(), gu.data(), T, I);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < I; ++i) {
      double a = gu[size_t(t * 2 * I + i)], b = gu[size_t(t * 2 * I + I + i)];
      oref[size_t(t * I + i)] = float(a / (1.0 + std::exp(-a)) * b);
    }
  EXPECT_LT(rel_err(o, oref), 1e-6);

  std::vector<float> sm = x;
  ops::softmax_forward(sm.data(), T, n);
  for (int64_t t = 0; t < T; ++t) {
    double mx = -1e30, s = 0;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x[size_t(t * n + i)]));
    for (int64_t i = 0; i < n; ++i) s += std::exp(x[size_t(t * n + i)] - mx);
    for (int64_t i = 0; i < n; ++i) ref[size_t(t * n + i)] = float(std::exp(x[size_t(t * n + i)] - mx) / s);
  }
  EXPECT_LT(rel_err(sm, ref), 1e-6);
}

// Spec §3.2: pad u with K zeros once, depthwise conv (k0) then grouped conv (k1), both "valid".
std::vector<double> conv_reference(const std::vector<float>& u, int64_t n, int C, int d, int k0, int k1,
                                   const std::vector<float>& w0, const std::vector<float>& b0,
                                   const std::vector<float>& w1, const std::vector<float>& b1) {
  const int K = k0 - 1 + k1 - 1;
  std::vector<double> x(size_t((n + K) * C), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c) x[size_t((t + K) * C + c)] = u[size_t(t * C + c)];
  const int64_t nm = n + K - k0 + 1;
  std::vector<double> m(size_t(nm * C));
  for (int64_t i = 0; i < nm; ++i)
    for (int c = 0; c < C; ++c) {
      double s = b0[size_t(c)];
      for (int a = 0; a < k0; ++a) s += w0[size_t(c * k0 + a)] * x[size_t((i + a) * C + c)];
      m[size_t(i * C + c)] = s;
    }
  std::vector<double> o(size_t(n * C));
  for (int64_t t = 0; t < n; ++t)
    for (int c = 0; c < C; ++c) {
      int g = c / d;
      double s = b1[size_t(c)];
      for (int j = 0; j < d; ++j)
        for (int b = 0; b < k1; ++b) s += w1[size_t((c * d + j) * k1 + b)] * m[size_t((t + b) * C + g * d + j)];
      o[size_t(t * C + c)] = s;
    }
  return o;
}

TEST(Ops, CcaConvMatchesPaddedDefinitionAndContinues) {
  std::mt19937_64 g(seed());
  for (auto [k0, k1] : {std::pair{2, 2}, {3, 2}, {1, 3}, {2, 1}}) {
    const int d = 4, C = 3 * d;
    const int64_t n = 9;
    const int K = k0 - 1 + k1 - 1;
    auto u = randn(size_t(n * C), g), w0 = randn(size_t(C * k0), g), b0 = randn(size_t(C), g),
         w1 = randn(size_t(C * d * k1), g), b1 = randn(size_t(C), g);
    std::vector<float> w1t(w1.size());
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < d; ++j)
        for (int b = 0; b < k1; ++b) w1t[size_t((b * C + c) * d + j)] = w1[size_t((c * d + j) * k1 + b)];
    auto ref = conv_reference(u, n, C, d, k0, k1, w0, b0, w1, b1);
    std::vector<float> reff(ref.begin(), ref.end());
    // Whole sequence at once, and in chunks 4 + 1 + 4 continuing the state.
    for (std::vector<int64_t> chunks : {std::vector<int64_t>{n}, {4, 1, 4}}) {
      std::vector<float> state(size_t(K * C), 0.0f), out(size_t(n * C)), scratch(size_t((n + k1) * C));
      int64_t off = 0;
      for (int64_t c : chunks) {
        ops::cca_conv_forward(out.data() + off * C, u.data() + off * C, C, state.data(), w0.data(), b0.data(),
                              w1t.data(), b1.data(), c, C, d, k0, k1, scratch.data());
        off += c;
      }
      EXPECT_LT(rel_err(out, reff), 1e-6) << "k0=" << k0 << " k1=" << k1 << " chunks=" << chunks.size();
      for (int r = 0; r < K; ++r)
        for (int c = 0; c < C; ++c) EXPECT_EQ(state[size_t(r * C + c)], u[size_t((n - K + r) * C + c)]);
    }
  }
}

TEST(Ops, QkMeanNormalizeRope) {
  std::mt19937_64 g(seed());
  const int nq = 4, nk = 2, d = 6, C = (nq + nk) * d, G = nq / nk;
  const int64_t T = 3;
  auto u = randn(size_t(T * C), g), qk = randn(size_t(T * C), g);
  std::vector<float> ref = qk;
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nk; ++h)
      for (int j = 0; j < d; ++j) {
        double kmean = 0;
        for (int i = h * G; i < (h + 1) * G; ++i) {
          double r = 0.5 * (u[size_t(t * C + i * d + j)] + u[size_t(t * C + (nq + h) * d + j)]);
          ref[size_t(t * C + i * d + j)] += float(r);
          kmean += r / G;
        }
        ref[size_t(t * C + (nq + h) * d + j)] += float(kmean);
      }
  ops::cca_qk_mean_add(qk.data(), u.data(), C, T, nq, nk, d);
  EXPECT_LT(rel_err(qk, ref), 1e-6);

  std::vector<float> temp = {1.5f, -0.7f};
  ops::cca_qk_normalize(qk.data(), C, temp.data(), T, nq, nk, d);
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h) {
      double ss = 0;
      for (int j = 0; j < d; ++j) ss += double(qk[size_t(t * C + h * d + j)]) * qk[size_t(t * C + h * d + j)];
      double want = std::sqrt(double(d)) * (h < nq ? 1.0 : std::fabs(temp[size_t(h - nq)]));
      EXPECT_NEAR(std::sqrt(ss), want, 1e-5 * want);
    }

  const int rot = 4;
  auto inv = ops::rope_inv_freq(1e4, rot);
  std::vector<int64_t> pos = {0, 7, 1000};
  std::vector<float> x = qk, xr = qk;
  ops::rope_forward(x.data(), C, pos.data(), T, nq + nk, d, rot, inv.data());
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < nq + nk; ++h)
      for (int j = 0; j < rot / 2; ++j) {
        double phi = double(pos[size_t(t)]) * std::pow(1e4, -2.0 * j / rot);
        float a = qk[size_t(t * C + h * d + j)], b = qk[size_t(t * C + h * d + j + rot / 2)];
        xr[size_t(t * C + h * d + j)] = float(a * std::cos(phi) - b * std::sin(phi));
        xr[size_t(t * C + h * d + j + rot / 2)] = float(b * std::cos(phi) + a * std::sin(phi));
      }
  EXPECT_LT(rel_err(x, xr), 1e-5);
}

TEST(Ops, AttentionCausalWindowGqa) {
  std::mt19937_64 g(seed());
  const int nq = 4, nk = 2, d = 8, G = nq / nk;
  const int64_t S = 11, n = 4;
  for (int window : {0, 3}) {
    auto q = randn(size_t(n * nq * d), g), k = randn(size_t(S * nk * d), g), v = randn(size_t(S * nk * d), g);
    std::vector<float> out(size_t(n * nq * d)), ref(out.size());
    ops::attention_forward(out.data(), nq * d, q.data(), nq * d, k.data(), v.data(), n, S, nq, nk, d, window);
    for (int64_t t = 0; t < n; ++t)
      for (int h = 0; h < nq; ++h) {
        int64_t p = S - n + t, kh = h / G;
        std::vector<double> s;
        double mx = -1e30;
        for (int64_t j = 0; j <= p; ++j) {
          bool vis = window == 0 || j > p - window;
          double x = -INFINITY;
          if (vis) {
            x = 0;
            for (int c = 0; c < d; ++c) x += double(q[size_t((t * nq + h) * d + c)]) * k[size_t((j * nk + kh) * d + c)];
            x /= std::sqrt(double(d));
          }
          s.push_back(x);
          mx = std::max(mx, x);
        }
        double z = 0;
        for (double& x : s) z += (x = std::exp(x - mx));
        for (int c = 0; c < d; ++c) {
          double o = 0;
          for (int64_t j = 0; j <= p; ++j) o += s[size_t(j)] / z * v[size_t((j * nk + kh) * d + c)];
          ref[size_t((t * nq + h) * d + c)] = float(o);
        }
      }
    EXPECT_LT(rel_err(out, ref), 1e-6) << "window " << window;
  }
}

}  // namespace
}  // namespace zaya
