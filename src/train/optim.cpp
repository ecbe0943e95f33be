// Parameter plans, the Muon/AdamW optimizer step, gradient clipping and the optimizer state file format.
// Muon's Newton–Schulz iteration is in muon.cpp, the LR schedules in schedule.cpp.
#include "train/optim.h"

#include <omp.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace zaya {

int64_t ParamRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Plans

namespace {

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

constexpr const char* kNoDecay = "AdamW, no decay: < 2 dims, norm, bias, scale, temperature";
constexpr const char* kEmbed = "AdamW: embedding / LM head";
constexpr const char* kDepthwise = "AdamW: depthwise conv [C, 1, k]";
constexpr const char* kOther = "AdamW: other (no rule matched!)";
constexpr const char* kLinear = "Muon: Linear [out, in], 1 matrix";
constexpr const char* kExperts = "Muon: experts [E, out, in], E matrices [out, in]";
constexpr const char* kGrouped = "Muon: grouped conv [C, d, k], C/d matrices [d, d*k]";

}  // namespace

ParamPlan plan_param(const ParamRef& p) {
  for (int64_t d : p.shape)
    ZAYA_CHECK(d > 0, "optimizer: tensor '", p.name, "' has a non-positive dimension ", shape_str(p.shape));
  const std::string& n = p.name;
  const size_t nd = p.shape.size();
  if (nd < 2 || has(n, "norm") || has(n, "bias") || has(n, "scale") || has(n, "temp"))
    return {OptKind::AdamW, 1, 0, 0, false, kNoDecay};
  if (has(n, "embed_tokens") || has(n, "lm_head")) return {OptKind::AdamW, 1, 0, 0, true, kEmbed};
  if (nd == 3 && (has(n, "conv_qk_depthwise") || has(n, "conv_qk.0.") || (has(n, "conv") && p.shape[1] == 1)))
    return {OptKind::AdamW, 1, 0, 0, true, kDepthwise};
  if (nd == 3 && (has(n, "conv_qk_grouped") || has(n, "conv_qk.1."))) {
    const int64_t C = p.shape[0], d = p.shape[1], k = p.shape[2];
    ZAYA_CHECK(C % d == 0, "optimizer: grouped conv '", n, "' ", shape_str(p.shape), ": channels ", C,
               " are not a multiple of the head dim ", d);
    return {OptKind::Muon, C / d, d, d * k, true, kGrouped};
  }
  if (nd == 2) return {OptKind::Muon, 1, p.shape[0], p.shape[1], true, kLinear};
  if (nd == 3 && has(n, "experts")) return {OptKind::Muon, p.shape[0], p.shape[1], p.shape[2], true, kExperts};
  return {OptKind::AdamW, 1, 0, 0, true, kOther};
}

std::string describe_plans(const std::vector<ParamRef>& ps) {
  struct Row {
    const char* group;
    bool decay;
    int64_t tensors = 0, elements = 0;
  };
  std::vector<Row> rows;
  int64_t muon = 0, adam = 0;
  for (const ParamRef& p : ps) {
    const ParamPlan pl = plan_param(p);
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.group == pl.group; });
    if (it == rows.end()) it = rows.insert(rows.end(), Row{pl.group, pl.weight_decay});
    it->tensors += 1;
    it->elements += p.numel();
    (pl.kind == OptKind::Muon ? muon : adam) += p.numel();
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return std::strcmp(a.group, b.group) > 0; });
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "  %-52s %8s %14s  %s\n", "optimizer group (rule)", "tensors", "elements",
                "decay");
  os << line;
  for (const Row& r : rows) {
    std::snprintf(line, sizeof line, "  %-52s %8lld %14lld  %s\n", r.group, (long long)r.tensors,
                  (long long)r.elements, r.decay ? "yes" : "no");
    os << line;
  }
  std::snprintf(line, sizeof line, "  total: Muon %lld elements, AdamW %lld elements\n", (long long)muon,
                (long long)adam);
  os << line;
  return os.str();
}

// ---------------------------------------------------------------------------------------------------------
// Optimizer

Optimizer::Optimizer(std::vector<ParamRef> params, OptimConfig cfg, Backend& be)
    : params_(std::move(params)), cfg_(cfg), be_(be) {
  std::vector<ParamPlan> plans;
  for (const ParamRef& p : params_) plans.push_back(plan_param(p));
  setup(std::move(plans));
}

Optimizer::Optimizer(std::vector<ParamRef> params, std::vector<ParamPlan> plans, OptimConfig cfg, Backend& be)
    : params_(std::move(params)), cfg_(cfg), be_(be) {
  ZAYA_CHECK(plans.size() == params_.size(), "optimizer: ", plans.size(), " plans for ", params_.size(), " tensors");
  setup(std::move(plans));
}

void Optimizer::setup(std::vector<ParamPlan> given) {
  const OptimConfig& cfg = cfg_;
  auto unit = [](double x) { return std::isfinite(x) && x >= 0 && x < 1; };
  ZAYA_CHECK(std::isfinite(cfg.lr) && cfg.lr >= 0, "optimizer: lr must be finite and >= 0, got ", cfg.lr);
  ZAYA_CHECK(std::isfinite(cfg.weight_decay) && cfg.weight_decay >= 0, "optimizer: weight_decay must be >= 0, got ",
             cfg.weight_decay);
  ZAYA_CHECK(unit(cfg.adam_beta1) && unit(cfg.adam_beta2), "optimizer: adam betas must be in [0, 1), got ",
             cfg.adam_beta1, ", ", cfg.adam_beta2);
  ZAYA_CHECK(std::isfinite(cfg.adam_eps) && cfg.adam_eps > 0, "optimizer: adam_eps must be > 0, got ", cfg.adam_eps);
  ZAYA_CHECK(unit(cfg.muon_momentum), "optimizer: muon_momentum must be in [0, 1), got ", cfg.muon_momentum);
  ZAYA_CHECK(cfg.ns_steps >= 0 && cfg.ns_steps <= 100, "optimizer: ns_steps must be in [0, 100], got ", cfg.ns_steps);
  ZAYA_CHECK(std::isfinite(cfg.ns_a) && std::isfinite(cfg.ns_b) && std::isfinite(cfg.ns_c),
             "optimizer: Newton-Schulz coefficients must be finite");
  ZAYA_CHECK(std::isfinite(cfg.muon_rms_scale) && cfg.muon_rms_scale >= 0,
             "optimizer: muon_rms_scale must be >= 0, got ", cfg.muon_rms_scale);

  std::set<std::string> names;
  state_.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamRef& p = params_[i];
    ZAYA_CHECK(names.insert(p.name).second, "optimizer: tensor '", p.name, "' is listed twice");
    ZAYA_CHECK(p.w && p.g && p.w != p.g, "optimizer: tensor '", p.name, "' needs distinct weight and gradient buffers");
    for (int64_t d : p.shape)
      ZAYA_CHECK(d > 0, "optimizer: tensor '", p.name, "' has a non-positive dimension");
    const ParamPlan pl = given[i];
    const int64_t n = p.numel();
    if (pl.kind == OptKind::Muon) {
      ZAYA_CHECK(pl.n_blocks * pl.rows * pl.cols == n, "optimizer: tensor '", p.name, "': plan does not cover it");
      state_[i].assign(1, std::vector<float>(size_t(n), 0.0f));
      auto g = std::find_if(groups_.begin(), groups_.end(),
                            [&](const Group& x) { return x.rows == pl.rows && x.cols == pl.cols; });
      if (g == groups_.end()) g = groups_.insert(groups_.end(), Group{pl.rows, pl.cols, {}, 0});
      for (int64_t b = 0; b < pl.n_blocks; ++b) g->blocks.push_back({i, b * pl.rows * pl.cols, pl.rows, pl.cols});
    } else {
      state_[i].assign(2, std::vector<float>(size_t(n), 0.0f));
    }
    plans_.push_back(pl);
  }
  std::stable_sort(groups_.begin(), groups_.end(),
                   [](const Group& a, const Group& b) { return a.rows * a.cols > b.rows * b.cols; });
  int64_t staged = 0;
  for (Group& g : groups_) {
    g.staged = staged;
    staged += int64_t(g.blocks.size()) * g.rows * g.cols;
  }
  stage_.assign(size_t(staged), 0.0f);
}

void Optimizer::adamw_param(size_t i, double lr) {
  const ParamRef& p = params_[i];
  const int64_t n = p.numel();
  float* m = state_[i][0].data();
  float* v = state_[i][1].data();
  const float* g = p.g;
  float* w = p.w;
  const double t = double(steps_);  // already incremented for this step
  const float b1 = float(cfg_.adam_beta1), b2 = float(cfg_.adam_beta2);
  const float c1 = float(1.0 - cfg_.adam_beta1), c2 = float(1.0 - cfg_.adam_beta2);
  const float step_size = float(lr / (1.0 - std::pow(cfg_.adam_beta1, t)));
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(1.0 - std::pow(cfg_.adam_beta2, t)));
  const float eps = float(cfg_.adam_eps);
  const float decay = plans_[i].weight_decay ? float(1.0 - lr * cfg_.weight_decay) : 1.0f;
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t j = 0; j < n; ++j) {
    const float gj = g[j];
    const float mj = b1 * m[j] + c1 * gj;
    const float vj = b2 * v[j] + c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    w[j] = w[j] * decay - step_size * mj / (std::sqrt(vj) * inv_sqrt_bc2 + eps);
  }
}

void Optimizer::step(double lr) {
  ZAYA_CHECK(std::isfinite(lr) && lr >= 0, "optimizer: step learning rate must be finite and >= 0, got ", lr);
  ++steps_;
  const float mu = float(cfg_.muon_momentum);
  // Muon: momentum and the update direction of every block into the group's batch, one batched
  // Newton–Schulz per shape, then the update W ← W·decay − scale·O.
  for (Group& gr : groups_) {
    const int64_t sz = gr.rows * gr.cols, nb = int64_t(gr.blocks.size());
#pragma omp parallel for schedule(static) if (nb * sz >= (1 << 16))
    for (int64_t k = 0; k < nb; ++k) {
      const Block& b = gr.blocks[size_t(k)];
      float* M = state_[b.param][0].data() + b.offset;
      const float* G = params_[b.param].g + b.offset;
      float* U = stage_.data() + gr.staged + k * sz;
      for (int64_t i = 0; i < sz; ++i) {
        M[i] = mu * M[i] + G[i];
        U[i] = cfg_.muon_nesterov ? G[i] + mu * M[i] : M[i];
      }
    }
    newton_schulz5_batched(be_, stage_.data() + gr.staged, nb, gr.rows, gr.cols, cfg_, work_);
    const float scale = float(lr * cfg_.muon_rms_scale * std::sqrt(double(std::max(gr.rows, gr.cols))));
#pragma omp parallel for schedule(static) if (nb * sz >= (1 << 16))
    for (int64_t k = 0; k < nb; ++k) {
      const Block& b = gr.blocks[size_t(k)];
      const float decay = plans_[b.param].weight_decay ? float(1.0 - lr * cfg_.weight_decay) : 1.0f;
      float* W = params_[b.param].w + b.offset;
      const float* O = stage_.data() + gr.staged + k * sz;
      for (int64_t i = 0; i < sz; ++i) W[i] = W[i] * decay - scale * O[i];
    }
  }
  for (size_t i = 0; i < params_.size(); ++i)
    if (plans_[i].kind == OptKind::AdamW) adamw_param(i, lr);
}

// ---------------------------------------------------------------------------------------------------------
// Gradient clipping

double clip_grad_norm(const std::vector<ParamRef>& ps, double max_norm, Backend& be) {
  ZAYA_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  // Per tensor in a fixed order (each summed in fixed chunks): independent of the thread count.
  double total = 0;
  for (const ParamRef& p : ps) {
    ZAYA_CHECK(p.g, "clip_grad_norm: tensor '", p.name, "' has no gradient buffer");
    total += be.sum_squares(p.g, p.numel());
  }
  const double norm = std::sqrt(total);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (const ParamRef& p : ps) be.scale(p.g, float(coef), p.numel());
  return norm;
}

// ---------------------------------------------------------------------------------------------------------
// State bytes: "ZAYAOPT1", u32 version, u32 0, i64 steps, u64 n_params, then per parameter
// { u32 name length, name, u8 kind (0 Muon, 1 AdamW), u8 n_buffers, i64 numel, n_buffers x numel f32 },
// then u64 XXH64 of everything before it. Native (little-endian) byte order.

namespace {

constexpr char kMagic[8] = {'Z', 'A', 'Y', 'A', 'O', 'P', 'T', '1'};
constexpr uint32_t kVersion = 1;

template <typename T>
void put(std::string& s, const T& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

struct Reader {
  const std::string& bytes;
  size_t pos, end;
  const std::string& what;
  const char* take(size_t n) {
    if (n > end - pos) throw_error(what, ": optimizer state is truncated at byte ", pos);
    const char* p = bytes.data() + pos;
    pos += n;
    return p;
  }
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
};

}  // namespace

std::string Optimizer::save_state() const {
  std::string s;
  size_t total = 40;
  for (size_t i = 0; i < params_.size(); ++i)
    total += 14 + params_[i].name.size() + state_[i].size() * size_t(params_[i].numel()) * sizeof(float);
  s.reserve(total);
  s.append(kMagic, sizeof kMagic);
  put(s, kVersion);
  put(s, uint32_t(0));
  put(s, int64_t(steps_));
  put(s, uint64_t(params_.size()));
  for (size_t i = 0; i < params_.size(); ++i) {
    put(s, uint32_t(params_[i].name.size()));
    s += params_[i].name;
    put(s, uint8_t(plans_[i].kind == OptKind::Muon ? 0 : 1));
    put(s, uint8_t(state_[i].size()));
    put(s, int64_t(params_[i].numel()));
    for (const auto& buf : state_[i]) s.append(reinterpret_cast<const char*>(buf.data()), buf.size() * sizeof(float));
  }
  put(s, uint64_t(XXH64(s.data(), s.size(), 0)));
  return s;
}

void Optimizer::load_state(const std::string& bytes, const std::string& what) {
  ZAYA_CHECK(bytes.size() >= sizeof kMagic + 8 && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0, what,
             ": not a zaya optimizer state (bad magic or too short)");
  const size_t body = bytes.size() - 8;
  uint64_t sum;
  std::memcpy(&sum, bytes.data() + body, 8);
  ZAYA_CHECK(sum == XXH64(bytes.data(), body, 0), what, ": optimizer state is corrupted (checksum mismatch)");

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) index[params_[i].name] = i;
  // Pass 0 validates everything, pass 1 copies: a bad file leaves the optimizer unchanged.
  for (int pass = 0; pass < 2; ++pass) {
    Reader r{bytes, sizeof kMagic, body, what};
    const uint32_t version = r.get<uint32_t>();
    ZAYA_CHECK(version == kVersion, what, ": optimizer state version ", version, " is not supported (expected ",
               kVersion, ")");
    r.get<uint32_t>();
    const int64_t steps = r.get<int64_t>();
    ZAYA_CHECK(steps >= 0, what, ": optimizer state has a negative step count ", steps);
    const uint64_t n = r.get<uint64_t>();
    ZAYA_CHECK(n == params_.size(), what, ": optimizer state has ", n, " tensors, this model has ", params_.size());
    std::vector<bool> seen(params_.size(), false);
    for (uint64_t k = 0; k < n; ++k) {
      const uint32_t len = r.get<uint32_t>();
      const std::string name(r.take(len), len);
      auto it = index.find(name);
      ZAYA_CHECK(it != index.end(), what, ": optimizer state has tensor '", name, "', which this model lacks");
      const size_t i = it->second;
      ZAYA_CHECK(!seen[i], what, ": optimizer state lists tensor '", name, "' twice");
      seen[i] = true;
      const uint8_t kind = r.get<uint8_t>(), nbuf = r.get<uint8_t>();
      const int64_t numel = r.get<int64_t>();
      const bool muon = plans_[i].kind == OptKind::Muon;
      ZAYA_CHECK(kind == (muon ? 0 : 1), what, ": tensor '", name, "' was optimized with ", kind == 0 ? "Muon" : "AdamW",
                 ", this run uses ", muon ? "Muon" : "AdamW");
      ZAYA_CHECK(nbuf == state_[i].size() && numel == params_[i].numel(), what, ": tensor '", name, "' has ",
                 int(nbuf), " state buffers of ", numel, " elements, expected ", state_[i].size(), " of ",
                 params_[i].numel());
      for (auto& buf : state_[i]) {
        const char* src = r.take(buf.size() * sizeof(float));
        if (pass == 1) std::memcpy(buf.data(), src, buf.size() * sizeof(float));
      }
    }
    ZAYA_CHECK(r.pos == body, what, ": optimizer state has ", body - r.pos, " unexpected trailing bytes");
    if (pass == 1) steps_ = steps;
  }
}

}  // namespace zaya
