#include "model/init.h"

#include <cmath>

namespace zaya {

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Standard normal from two uniforms (Box–Muller), a function of (key, i) only.
float normal_at(uint64_t key, int64_t i) {
  uint64_t a = splitmix(key ^ splitmix(uint64_t(i)));
  uint64_t b = splitmix(a);
  double u1 = (double(a >> 11) + 1.0) * (1.0 / 9007199254740993.0);  // (0, 1]
  double u2 = double(b >> 11) * (1.0 / 9007199254740992.0);
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

float uniform_at(uint64_t key, int64_t i) { return float(double(splitmix(key ^ splitmix(uint64_t(i))) >> 11) * (1.0 / 9007199254740992.0)); }

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

enum class Kind { Weight, Embedding, Zero, One, Balancing, Temp };

Kind kind_of(const std::string& n) {
  if (ends_with(n, "embed_tokens.weight")) return Kind::Embedding;
  if (ends_with(n, "balancing_biases")) return Kind::Balancing;
  if (ends_with(n, "qk_norm.temp") || ends_with(n, "qkv.temp")) return Kind::Temp;
  // Norm weights (incl. input_norm, final_norm, router rmsnorm_eda) and every *_scale vector.
  if (ends_with(n, "_scale") || ends_with(n, "norm.weight") || ends_with(n, "rmsnorm_eda.weight")) return Kind::One;
  if (ends_with(n, "_bias") || ends_with(n, ".bias")) return Kind::Zero;
  return Kind::Weight;
}

}  // namespace

void init_tensor_range(const ModelConfig& cfg, const std::string& name, const std::vector<int64_t>& shape,
                       const InitOptions& opt, int64_t begin, int64_t n, float* out) {
  const uint64_t key = splitmix(opt.seed ^ hash_name(name));
  const Kind k = kind_of(name);
  int64_t cols = shape.size() >= 2 ? shape.back() : 1;
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  double fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= double(shape[i]);
  for (int64_t j = 0; j < n; ++j) {
    int64_t i = begin + j;
    float v = 0;
    switch (k) {
      case Kind::Weight:
        v = float(opt.perturbed ? 0.5 / std::sqrt(fan_in) : opt.std) * normal_at(key, i);
        break;
      case Kind::Embedding:
        v = (i / cols == cfg.pad_id && !opt.perturbed) ? 0.0f : float(opt.perturbed ? 0.5 : opt.std) * normal_at(key, i);
        break;
      case Kind::Zero: v = opt.perturbed ? 0.1f * normal_at(key, i) : 0.0f; break;
      case Kind::One: v = opt.perturbed ? 1.0f + 0.1f * normal_at(key, i) : 1.0f; break;
      case Kind::Balancing:
        v = (cfg.use_skip_slot && i == numel - 1) ? -1.0f : (opt.perturbed ? 0.02f * normal_at(key, i) : 0.0f);
        break;
      case Kind::Temp: {
        float t = opt.perturbed ? 1.2f + 2.8f * uniform_at(key, i) : float(opt.temp_value);
        v = cfg.clamp_temp ? std::log(std::max(t, 1.0000001f)) : t;  // legacy stores log t
        break;
      }
    }
    out[j] = v;
  }
}

}  // namespace zaya
