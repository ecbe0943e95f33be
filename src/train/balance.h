// Aux-loss-free expert balancing (spec §4.4, system §0b): after every optimizer step, per MoE layer,
// count the tokens each routed expert received over the (global) batch and move that layer's
// balancing biases β against the load error e = load − 1/E (over-used experts down, under-used up).
// β only affects which expert is chosen, never the weight, and gets no gradient.
//
// Controllers (BalanceConfig::rule):
//   "pid"  : β −= kp·e + ki·Σe + kd·(e − e_prev)          (a PID rule on the load error; kp only = P)
//   "adam" : β −= lr · m̂ / (√v̂ + eps), m, v Adam moments of e (AMD's reconstruction uses this)
//   "sign" : β −= lr · sign(e)                              (DeepSeek-V3 style)
// The skip slot's bias is left alone unless balance_skip (then the skip slot is one more slot and the
// target is 1/(E+1)). Load fractions, the router entropy H(p)/ln(E+1) (mean over tokens of the full
// softmax over E+1 slots, normalized to [0, 1]) and the skip rate are reported per layer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zaya {

struct BalanceConfig {
  std::string rule = "pid";
  double kp = 1e-3, ki = 0.0, kd = 0.0;                    // pid
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, sign
  bool balance_skip = false;
  void validate() const;  // throws zaya::Error naming the bad field
};

struct RouterLayerStats {
  std::vector<double> load;  // fraction of tokens per slot (E experts, then the skip slot)
  double entropy = 0;        // mean H(p)/ln(E+1)
  double skip_rate = 0;
  double max_violation = 0;  // max_e |load_e − 1/E| · E (0 = perfectly balanced)
};

// The sums behind the statistics, so that ranks can add theirs (one all-reduce) before the update:
// v = [N tokens, P·S slot counts (layer-major), P entropy sums Σ_t H(p_t) (nats)].
struct RouterTotals {
  int P = 0, S = 0;
  bool has_entropy = false;
  std::vector<double> v;
};
RouterTotals router_totals(const std::vector<int32_t>& choices, int64_t N, int n_layers, int n_experts,
                           bool has_skip_slot, const std::vector<const float*>& probs);
std::vector<RouterLayerStats> stats_from_totals(const RouterTotals& t, int n_experts);

class Balancer {
 public:
  Balancer(int n_layers, int n_experts, bool has_skip_slot, BalanceConfig cfg);
  // choices: [N, P] slot chosen per token and layer (Model::choices()); betas[j] points at the
  // E(+1) balancing biases of layer j, updated in place. Returns the statistics used.
  std::vector<RouterLayerStats> update(const std::vector<int32_t>& choices, int64_t N, const std::vector<float*>& betas,
                                       const std::vector<const float*>& probs = {});
  // The same from totals (summed over the data-parallel ranks: the global batch's loads).
  std::vector<RouterLayerStats> update(const RouterTotals& totals, const std::vector<float*>& betas);
  std::string save_state() const;
  void load_state(const std::string& bytes, const std::string& what);

 private:
  int P_, E_, S_;
  BalanceConfig cfg_;
  int64_t steps_ = 0;
  std::vector<double> integral_, prev_, m_, v_;  // [P·S]
};

// Statistics without an update (validation, logging): probs[j] is [N, S] router softmax of layer j.
std::vector<RouterLayerStats> router_stats(const std::vector<int32_t>& choices, int64_t N, int n_layers, int n_experts,
                                           bool has_skip_slot, const std::vector<const float*>& probs);

}  // namespace zaya
