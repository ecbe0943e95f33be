#include "train/balance.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace zaya {

void BalanceConfig::validate() const {
  if (rule != "pid" && rule != "adam" && rule != "sign")
    throw_error("balance.rule '", rule, "' is not one of pid, adam, sign");
  auto finite_nonneg = [](double v, const char* name) {
    if (!std::isfinite(v) || v < 0) throw_error("balance.", name, " must be a finite non-negative number");
  };
  finite_nonneg(kp, "kp");
  finite_nonneg(ki, "ki");
  finite_nonneg(kd, "kd");
  finite_nonneg(lr, "lr");
  if (!(beta1 >= 0 && beta1 < 1)) throw_error("balance.beta1 must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) throw_error("balance.beta2 must be in [0, 1)");
  if (!(eps > 0)) throw_error("balance.eps must be positive");
}

RouterTotals router_totals(const std::vector<int32_t>& choices, int64_t N, int P, int E, bool skip,
                           const std::vector<const float*>& probs) {
  const int S = E + (skip ? 1 : 0);
  ZAYA_CHECK(int64_t(choices.size()) == N * P, "router_stats: choices has ", choices.size(), " entries, expected ",
             N * P);
  RouterTotals t;
  t.P = P;
  t.S = S;
  t.v.assign(size_t(1 + P * S + P), 0.0);
  t.v[0] = double(N);
  t.has_entropy = !probs.empty();
  for (int j = 0; j < P; ++j) {
    double* cnt = t.v.data() + 1 + j * S;
    for (int64_t i = 0; i < N; ++i) {
      int32_t c = choices[size_t(i * P + j)];
      ZAYA_CHECK(c >= 0 && c < S, "router_stats: slot ", c, " out of range");
      cnt[c] += 1.0;
    }
    if (size_t(j) < probs.size() && probs[size_t(j)]) {
      double h = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int s = 0; s < S; ++s) {
          double p = probs[size_t(j)][i * S + s];
          if (p > 0) h -= p * std::log(p);
        }
      t.v[size_t(1 + P * S + j)] = h;
    }
  }
  return t;
}

std::vector<RouterLayerStats> stats_from_totals(const RouterTotals& t, int E) {
  const int P = t.P, S = t.S;
  const bool skip = S > E;
  const double N = t.v[0];
  std::vector<RouterLayerStats> out(static_cast<size_t>(P));
  for (int j = 0; j < P; ++j) {
    RouterLayerStats& st = out[size_t(j)];
    st.load.assign(size_t(S), 0.0);
    for (int s = 0; s < S; ++s) st.load[size_t(s)] = N > 0 ? t.v[size_t(1 + j * S + s)] / N : 0.0;
    st.skip_rate = skip ? st.load[size_t(E)] : 0.0;
    for (int e = 0; e < E; ++e) st.max_violation = std::max(st.max_violation, std::fabs(st.load[size_t(e)] - 1.0 / E) * E);
    if (t.has_entropy && N > 0) st.entropy = S > 1 ? t.v[size_t(1 + P * S + j)] / N / std::log(double(S)) : 0.0;
  }
  return out;
}

std::vector<RouterLayerStats> router_stats(const std::vector<int32_t>& choices, int64_t N, int P, int E, bool skip,
                                           const std::vector<const float*>& probs) {
  return stats_from_totals(router_totals(choices, N, P, E, skip, probs), E);
}

Balancer::Balancer(int P, int E, bool skip, BalanceConfig cfg)
    : P_(P), E_(E), S_(E + (skip ? 1 : 0)), cfg_(std::move(cfg)) {
  cfg_.validate();
  integral_.assign(size_t(P_ * S_), 0.0);
  prev_ = m_ = v_ = integral_;
}

std::vector<RouterLayerStats> Balancer::update(const std::vector<int32_t>& choices, int64_t N,
                                               const std::vector<float*>& betas,
                                               const std::vector<const float*>& probs) {
  return update(router_totals(choices, N, P_, E_, S_ > E_, probs), betas);
}

std::vector<RouterLayerStats> Balancer::update(const RouterTotals& totals, const std::vector<float*>& betas) {
  ZAYA_CHECK(int(betas.size()) == P_, "Balancer: ", betas.size(), " bias vectors for ", P_, " layers");
  ZAYA_CHECK(totals.P == P_ && totals.S == S_, "Balancer: router totals for ", totals.P, " x ", totals.S, " slots");
  auto stats = stats_from_totals(totals, E_);
  ++steps_;
  const bool with_skip = cfg_.balance_skip && S_ > E_;
  const int slots = with_skip ? S_ : E_;
  // Load error over the balanced slots: the share of the tokens that reached them, minus uniform.
  for (int j = 0; j < P_; ++j) {
    double routed = 0;
    for (int s = 0; s < slots; ++s) routed += stats[size_t(j)].load[size_t(s)];
    for (int s = 0; s < slots; ++s) {
      double share = routed > 0 ? stats[size_t(j)].load[size_t(s)] / routed : 1.0 / slots;
      double e = share - 1.0 / slots;
      size_t k = size_t(j * S_ + s);
      double delta = 0;
      if (cfg_.rule == "pid") {
        integral_[k] += e;
        delta = cfg_.kp * e + cfg_.ki * integral_[k] + cfg_.kd * (e - prev_[k]);
      } else if (cfg_.rule == "adam") {
        m_[k] = cfg_.beta1 * m_[k] + (1 - cfg_.beta1) * e;
        v_[k] = cfg_.beta2 * v_[k] + (1 - cfg_.beta2) * e * e;
        double mh = m_[k] / (1 - std::pow(cfg_.beta1, double(steps_)));
        double vh = v_[k] / (1 - std::pow(cfg_.beta2, double(steps_)));
        delta = cfg_.lr * mh / (std::sqrt(vh) + cfg_.eps);
      } else {
        delta = cfg_.lr * double((e > 0) - (e < 0));
      }
      prev_[k] = e;
      betas[size_t(j)][s] -= float(delta);
    }
  }
  return stats;
}

std::string Balancer::save_state() const {
  std::string out = "ZBAL1";
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  int32_t dims[2] = {P_, S_};
  put(dims, sizeof dims);
  put(&steps_, sizeof steps_);
  for (auto* v : {&integral_, &prev_, &m_, &v_}) put(v->data(), v->size() * sizeof(double));
  return out;
}

void Balancer::load_state(const std::string& b, const std::string& what) {
  const size_t n = size_t(P_ * S_) * sizeof(double);
  const size_t want = 5 + 8 + 8 + 4 * n;
  ZAYA_CHECK(b.size() == want && b.compare(0, 5, "ZBAL1") == 0, what, ": balancing state has the wrong size or format");
  int32_t dims[2];
  std::memcpy(dims, b.data() + 5, 8);
  ZAYA_CHECK(dims[0] == P_ && dims[1] == S_, what, ": balancing state is for ", dims[0], " layers × ", dims[1],
             " slots, the model has ", P_, " × ", S_);
  std::memcpy(&steps_, b.data() + 13, 8);
  size_t off = 21;
  for (auto* v : {&integral_, &prev_, &m_, &v_}) {
    std::memcpy(v->data(), b.data() + off, n);
    off += n;
  }
}

}  // namespace zaya
