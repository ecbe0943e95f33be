#include "train/dist_optim.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace zaya {

using json = nlohmann::json;

namespace {

const char* const kMuonBuffers[] = {"momentum"};
const char* const kAdamBuffers[] = {"exp_avg", "exp_avg_sq"};

const char* buffer_name(OptKind k, int b) { return k == OptKind::Muon ? kMuonBuffers[b] : kAdamBuffers[b]; }

}  // namespace

std::string optim_shard_name(int rank, const std::string& suffix) {
  char b[40];
  std::snprintf(b, sizeof b, "optim-rank-%05d", rank);
  return b + suffix;
}

std::vector<std::pair<std::string, std::string>> optim_shards(const std::map<std::string, std::string>& blobs,
                                                              const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [k, v] : blobs)
    if (k.rfind("optim-rank-", 0) == 0) out.emplace_back(dir + "/state/" + k + ".bin", v);
  return out;
}

ShardedOptimizer::ShardedOptimizer(std::vector<ParamRef> params, const OptimConfig& cfg, Backend& be, Comm& comm,
                                   int zero)
    : params_(std::move(params)), comm_(comm), zero_(zero), be_(be) {
  const int N = comm.size(), me = comm.rank();
  ZAYA_CHECK(zero == 0 || zero == 1, "[parallel] zero must be 0 or 1, got ", zero);
  seg_.assign(size_t(N), 0);
  if (N == 1) {  // the single-process optimizer, unchanged: whole tensors, gradients in place
    opt_ = std::make_unique<Optimizer>(params_, cfg, be);
    for (size_t i = 0; i < params_.size(); ++i) pieces_.push_back({i, 0, params_[i].numel(), 0, opt_->plans()[i]});
    for (auto& p : pieces_) local_.push_back(&p), seg_[0] += p.count;
    return;
  }
  // Muon units and their owners (LPT on max(m,n)·min(m,n)²).
  std::vector<Piece> muon;
  std::vector<size_t> adam;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamPlan pl = plan_param(params_[i]);
    if (pl.kind == OptKind::Muon) {
      ParamPlan one = pl;
      one.n_blocks = 1;
      for (int64_t b = 0; b < pl.n_blocks; ++b) muon.push_back({i, b * pl.rows * pl.cols, pl.rows * pl.cols, -1, one});
    } else {
      adam.push_back(i);
    }
  }
  auto cost = [](const Piece& p) {
    const double a = double(std::max(p.plan.rows, p.plan.cols)), b = double(std::min(p.plan.rows, p.plan.cols));
    return a * b * b;
  };
  std::vector<size_t> order(muon.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost(muon[a]) > cost(muon[b]); });
  std::vector<double> load(size_t(N), 0.0);
  for (size_t k : order) {
    int best = 0;
    for (int r = 1; r < N; ++r)
      if (load[size_t(r)] < load[size_t(best)]) best = r;
    muon[k].owner = best;
    load[size_t(best)] += cost(muon[k]);
  }
  // AdamW: flat slices (ZeRO-1) or replicated.
  std::vector<Piece> slices;
  if (zero == 1) {
    int64_t total = 0;
    for (size_t i : adam) total += params_[i].numel();
    int64_t pos = 0;  // start of tensor i in the concatenation
    for (size_t i : adam) {
      const int64_t n = params_[i].numel();
      const ParamPlan pl = plan_param(params_[i]);
      for (int r = 0; r < N; ++r) {
        const int64_t lo = std::max(pos, total * r / N), hi = std::min(pos + n, total * (r + 1) / N);
        if (hi > lo) slices.push_back({i, lo - pos, hi - lo, r, pl});
      }
      pos += n;
    }
  } else {
    for (size_t i : adam) replicated_.push_back({i, 0, params_[i].numel(), -1, plan_param(params_[i])});
  }
  for (int r = 0; r < N; ++r) {
    for (auto& p : muon)
      if (p.owner == r) pieces_.push_back(p);
    for (auto& p : slices)
      if (p.owner == r) pieces_.push_back(p);
  }
  for (auto& p : pieces_) seg_[size_t(p.owner)] += p.count;
  for (int r = 0; r < me; ++r) seg_start_ += seg_[size_t(r)];
  int64_t all = 0, rep = 0;
  for (int64_t s : seg_) all += s;
  for (auto& p : replicated_) rep += p.count;
  send_.assign(size_t(all), 0.0f);
  gather_.assign(size_t(all), 0.0f);
  own_g_.assign(size_t(seg_[size_t(me)]), 0.0f);
  rep_g_.assign(size_t(rep), 0.0f);

  std::vector<ParamRef> refs;
  std::vector<ParamPlan> plans;
  int64_t at = 0;
  for (auto& p : pieces_) {
    if (p.owner != me) continue;
    const ParamRef& t = params_[p.param];
    std::vector<int64_t> shape = p.plan.kind == OptKind::Muon ? std::vector<int64_t>{p.plan.rows, p.plan.cols}
                                                               : std::vector<int64_t>{p.count};
    refs.push_back({t.name + "@" + std::to_string(p.offset), t.w + p.offset, own_g_.data() + at, shape});
    plans.push_back(p.plan);
    local_.push_back(&p);
    at += p.count;
  }
  at = 0;
  for (auto& p : replicated_) {
    const ParamRef& t = params_[p.param];
    refs.push_back({t.name, t.w, rep_g_.data() + at, t.shape});
    plans.push_back(p.plan);
    local_.push_back(&p);
    at += p.count;
  }
  opt_ = std::make_unique<Optimizer>(refs, plans, cfg, be);
}

double ShardedOptimizer::reduce_and_clip(double max_norm) {
  if (comm_.size() == 1) return clip_grad_norm(params_, max_norm, be_);
  ZAYA_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  double ss[1] = {reduce()};
  comm_.sum(std::span<double>(ss, 1), "gradient norm all-reduce");
  const double norm = std::sqrt(ss[0]);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) scale(coef);
  return norm;
}

void ShardedOptimizer::scale(double coef) {
  if (comm_.size() == 1) {
    for (const ParamRef& p : params_) be_.scale(p.g, float(coef), p.numel());
    return;
  }
  be_.scale(own_g_.data(), float(coef), int64_t(own_g_.size()));
  be_.scale(rep_g_.data(), float(coef), int64_t(rep_g_.size()));
}

double ShardedOptimizer::reduce() {
  if (comm_.size() == 1) {
    double total = 0;
    for (const ParamRef& p : params_) total += be_.sum_squares(p.g, p.numel());
    return total;
  }
  int64_t at = 0;
  for (auto& p : pieces_) {
    std::memcpy(send_.data() + at, params_[p.param].g + p.offset, size_t(p.count) * 4);
    at += p.count;
  }
  comm_.reduce_scatter(send_.data(), own_g_.data(), seg_, CommType::F32, "gradient reduce-scatter");
  at = 0;
  for (auto& p : replicated_) {
    std::memcpy(rep_g_.data() + at, params_[p.param].g, size_t(p.count) * 4);
    at += p.count;
  }
  if (!rep_g_.empty())
    comm_.all_reduce(rep_g_.data(), int64_t(rep_g_.size()), CommType::F32, "replicated gradient all-reduce");
  double ss = be_.sum_squares(own_g_.data(), int64_t(own_g_.size()));
  if (comm_.rank() == 0) ss += be_.sum_squares(rep_g_.data(), int64_t(rep_g_.size()));
  return ss;
}

void ShardedOptimizer::step(double lr) {
  opt_->step(lr);
  if (comm_.size() == 1) return;
  const int me = comm_.rank();
  int64_t at = 0;
  for (auto& p : pieces_)
    if (p.owner == me) {
      std::memcpy(own_g_.data() + at, params_[p.param].w + p.offset, size_t(p.count) * 4);
      at += p.count;
    }
  comm_.all_gather(own_g_.data(), gather_.data(), seg_, CommType::F32, "parameter all-gather");
  at = 0;
  for (auto& p : pieces_) {
    if (p.owner != me) std::memcpy(params_[p.param].w + p.offset, gather_.data() + at, size_t(p.count) * 4);
    at += p.count;
  }
}

std::string ShardedOptimizer::describe() const {
  const int me = comm_.rank();
  int64_t muon = 0, adam = 0, nm = 0, nm_all = 0;
  for (size_t k = 0; k < local_.size(); ++k) {
    const Piece& p = *local_[k];
    if (p.plan.kind == OptKind::Muon) muon += p.count, ++nm;
    else adam += p.count;
  }
  for (auto& p : pieces_)
    nm_all += p.plan.kind == OptKind::Muon;
  char b[256];
  std::snprintf(b, sizeof b, "rank %d of %d: Muon %lld of %lld matrices (%lld elements), AdamW %lld elements (%s)", me,
                comm_.size(), (long long)nm, (long long)nm_all, (long long)muon, (long long)adam,
                comm_.size() == 1 ? "one process" : zero_ ? "ZeRO-1 slice" : "replicated");
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Shards

std::string ShardedOptimizer::save_shard() const {
  json chunks = json::array();
  std::string data;
  for (size_t k = 0; k < local_.size(); ++k) {
    const Piece& p = *local_[k];
    const bool replicated = comm_.size() > 1 && p.owner < 0;
    if (replicated && comm_.rank() != 0) continue;  // written once
    const ParamRef& t = params_[p.param];
    for (int b = 0; b < opt_->n_state(k); ++b) {
      chunks.push_back({{"tensor", t.name}, {"shape", t.global_shape.empty() ? t.shape : t.global_shape},
                        {"offset", t.global_offset + p.offset}, {"count", p.count},
                        {"buffer", buffer_name(p.plan.kind, b)}, {"data", data.size()}});
      data.append(reinterpret_cast<const char*>(opt_->state(k, b)), size_t(p.count) * 4);
    }
  }
  json h = {{"format", "zaya-optim-shard-1"}, {"steps", opt_->steps()}, {"rank", comm_.rank()},
            {"world", comm_.size()}, {"zero", zero_}, {"chunks", chunks}};
  std::string hs = h.dump();
  std::string out;
  const uint64_t n = hs.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += hs;
  out += data;
  return out;
}

void ShardedOptimizer::load_shards(const std::vector<std::pair<std::string, std::string>>& files,
                                   const std::vector<std::string>& others) {
  const std::set<std::string> skip(others.begin(), others.end());
  struct Chunk {
    const std::string* file;
    int64_t offset, count;
    const char* data;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Chunk>> index;  // (tensor, buffer) -> chunks
  std::map<std::string, const ParamRef*> by_name;
  for (auto& t : params_) by_name[t.name] = &t;
  int64_t steps = -1;
  ZAYA_CHECK(!files.empty(), "optimizer state: the checkpoint has no optimizer shards");
  for (auto& [path, bytes] : files) {
    ZAYA_CHECK(bytes.size() >= 8, path, ": optimizer shard is truncated");
    uint64_t hl;
    std::memcpy(&hl, bytes.data(), 8);
    ZAYA_CHECK(hl <= bytes.size() - 8, path, ": optimizer shard header length ", hl, " exceeds the file");
    json h;
    try {
      h = json::parse(bytes.substr(8, size_t(hl)));
      ZAYA_CHECK(h.value("format", "") == "zaya-optim-shard-1", path, ": not a zaya optimizer shard");
      const int64_t s = h.at("steps").get<int64_t>();
      ZAYA_CHECK(steps < 0 || s == steps, path, ": step count ", s, " differs from the other shards' ", steps);
      steps = s;
      const size_t base = 8 + size_t(hl);
      for (auto& c : h.at("chunks")) {
        const std::string tensor = c.at("tensor").get<std::string>(), buffer = c.at("buffer").get<std::string>();
        if (skip.count(tensor)) continue;
        auto it = by_name.find(tensor);
        ZAYA_CHECK(it != by_name.end(), path, ": tensor '", tensor, "' is not in this model");
        const std::vector<int64_t>& whole = it->second->global_shape.empty() ? it->second->shape
                                                                              : it->second->global_shape;
        ZAYA_CHECK(c.at("shape").get<std::vector<int64_t>>() == whole, path, ": tensor '", tensor,
                   "' has another shape in the checkpoint");
        int64_t whole_n = 1;
        for (int64_t x : whole) whole_n *= x;
        const int64_t off = c.at("offset").get<int64_t>(), cnt = c.at("count").get<int64_t>();
        const uint64_t d = c.at("data").get<uint64_t>();
        ZAYA_CHECK(off >= 0 && cnt > 0 && cnt <= whole_n && off <= whole_n - cnt, path, ": tensor '", tensor,
                   "' chunk [", off, ", +", cnt, ") is outside the tensor");
        ZAYA_CHECK(d <= bytes.size() - base && uint64_t(cnt) * 4 <= bytes.size() - base - d, path, ": tensor '",
                   tensor, "' chunk data lies outside the file");
        index[{tensor, buffer}].push_back({&path, off, cnt, bytes.data() + base + d});
      }
    } catch (const json::exception& e) {
      throw_error(path, ": optimizer shard header is malformed: ", e.what());
    }
  }
  // Chunks of one tensor buffer must not overlap (then covering a piece's count means covering it all).
  for (auto& [key, list] : index) {
    std::sort(list.begin(), list.end(), [](const Chunk& x, const Chunk& y) { return x.offset < y.offset; });
    for (size_t i = 1; i < list.size(); ++i)
      ZAYA_CHECK(list[i].offset >= list[i - 1].offset + list[i - 1].count, *list[i].file, ": tensor '", key.first,
                 "' (", key.second, ") has overlapping chunks at element ", list[i].offset, " (also in ",
                 *list[i - 1].file, ")");
  }
  // Pass 0 checks that every owned element of every buffer is covered exactly once; pass 1 copies.
  for (int pass = 0; pass < 2; ++pass)
    for (size_t k = 0; k < local_.size(); ++k) {
      const Piece& p = *local_[k];
      const ParamRef& t = params_[p.param];
      const int64_t g0 = t.global_offset + p.offset;  // the piece in the whole tensor's coordinates
      for (int b = 0; b < opt_->n_state(k); ++b) {
        const char* bn = buffer_name(p.plan.kind, b);
        int64_t covered = 0;
        auto it = index.find({t.name, bn});
        if (it != index.end())
          for (const Chunk& c : it->second) {
            const int64_t lo = std::max(c.offset, g0), hi = std::min(c.offset + c.count, g0 + p.count);
            if (hi <= lo) continue;
            covered += hi - lo;
            if (pass == 1)
              std::memcpy(opt_->state(k, b) + (lo - g0), c.data + (lo - c.offset) * 4, size_t(hi - lo) * 4);
          }
        ZAYA_CHECK(covered == p.count, "optimizer state: elements [", p.offset, ", ", p.offset + p.count, ") of '",
                   t.name, "' (", bn, ") are not each covered once: the checkpoint holds ", covered, " of these ", p.count, " elements (",
                   p.plan.kind == OptKind::Muon ? "Muon" : "AdamW", " here; was it optimized otherwise?)");
      }
    }
  opt_->set_steps(steps);
}

void ShardedOptimizer::load_legacy(const std::string& bytes, const std::string& what) {
  if (comm_.size() == 1) return opt_->load_state(bytes, what);
  Optimizer whole(params_, opt_->config(), be_);
  whole.load_state(bytes, what);
  for (size_t k = 0; k < local_.size(); ++k) {
    const Piece& p = *local_[k];
    for (int b = 0; b < opt_->n_state(k); ++b)
      std::memcpy(opt_->state(k, b), whole.state(p.param, b) + p.offset, size_t(p.count) * 4);
  }
  opt_->set_steps(whole.steps());
}

}  // namespace zaya
