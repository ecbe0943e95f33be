// Balancing controllers: on a simulated router with skewed preferences, each rule drives the expert
// loads toward uniform; the skip slot's bias is left alone by default; state round trips exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "train/balance.h"

namespace zaya {
namespace {

// Tokens prefer experts with fixed skewed logits plus noise; top-1 on p + β like the router.
std::vector<int32_t> route(const std::vector<float>& beta, int E, int N, std::mt19937_64& g, std::vector<float>* probs) {
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<int32_t> c(static_cast<size_t>(N));
  probs->assign(size_t(N) * (E + 1), 0.0f);
  for (int t = 0; t < N; ++t) {
    std::vector<float> l(size_t(E + 1));
    for (int e = 0; e < E; ++e) l[size_t(e)] = 0.8f * float(e) / float(E) + noise(g);
    l[size_t(E)] = -2.0f;
    float m = *std::max_element(l.begin(), l.end()), z = 0;
    for (auto& x : l) z += (x = std::exp(x - m));
    int best = 0;
    for (int e = 0; e <= E; ++e) {
      float p = l[size_t(e)] / z;
      (*probs)[size_t(t * (E + 1) + e)] = p;
      if (p + beta[size_t(e)] > (*probs)[size_t(t * (E + 1) + best)] + beta[size_t(best)]) best = e;
    }
    c[size_t(t)] = best;
  }
  return c;
}

TEST(Balance, EveryRuleBalancesASkewedRouter) {
  const int E = 8, N = 4096;
  for (const char* rule : {"pid", "adam", "sign"}) {
    BalanceConfig bc;
    bc.rule = rule;
    bc.kp = 0.05;
    bc.ki = 0.002;
    bc.lr = 2e-3;
    Balancer bal(1, E, true, bc);
    std::vector<float> beta(E + 1, 0.0f);
    beta[E] = -1.0f;
    std::mt19937_64 g(1);
    std::vector<float> probs;
    double first = 0, last = 0;
    for (int step = 0; step < 300; ++step) {
      auto c = route(beta, E, N, g, &probs);
      auto st = bal.update(c, N, {beta.data()}, {probs.data()});
      if (step == 0) first = st[0].max_violation;
      last = st[0].max_violation;
      EXPECT_GT(st[0].entropy, 0.0);
      EXPECT_LE(st[0].entropy, 1.0);
    }
    EXPECT_GT(first, 0.5) << rule << ": the simulated router should start unbalanced";
    EXPECT_LT(last, 0.25) << rule << ": loads did not approach uniform (first " << first << ")";
    EXPECT_EQ(beta[E], -1.0f) << "the skip slot bias is not balanced by default";
  }
}

TEST(Balance, StateRoundTripIsExact) {
  const int E = 4, N = 512;
  BalanceConfig bc;
  bc.rule = "adam";
  Balancer a(2, E, true, bc), b(2, E, true, bc);
  std::vector<float> ba(2 * (E + 1), 0.0f), bb;
  std::mt19937_64 g(3);
  std::vector<int32_t> c(size_t(N * 2));
  std::uniform_int_distribution<int> pick(0, E);
  auto step = [&](Balancer& x, std::vector<float>& beta) {
    for (auto& v : c) v = pick(g);
    x.update(c, N, {beta.data(), beta.data() + E + 1});
  };
  for (int i = 0; i < 5; ++i) step(a, ba);
  b.load_state(a.save_state(), "state");
  bb = ba;
  auto g2 = g;
  for (int i = 0; i < 5; ++i) step(a, ba);
  g = g2;
  for (int i = 0; i < 5; ++i) step(b, bb);
  EXPECT_EQ(ba, bb);
  EXPECT_THROW(b.load_state("junk", "ckpt/balance.bin"), Error);
  Balancer other(3, E, true, bc);
  EXPECT_THROW(other.load_state(a.save_state(), "ckpt/balance.bin"), Error);
}

TEST(Balance, BadConfigIsAnError) {
  BalanceConfig bc;
  bc.rule = "magic";
  EXPECT_THROW(bc.validate(), Error);
  bc.rule = "pid";
  bc.kp = -1;
  EXPECT_THROW(bc.validate(), Error);
}

}  // namespace
}  // namespace zaya
