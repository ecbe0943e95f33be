#include "data/loader.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

using json = nlohmann::json;

namespace {

// Tags that keep the hash streams of different purposes apart.
constexpr uint64_t kTagMixture = 0x6d69787475726531ULL;  // "mixture1"
constexpr uint64_t kTagShuffle = 0x73687566666c6531ULL;  // "shuffle1"

uint64_t hash3(uint64_t a, uint64_t b, uint64_t c, uint64_t tag) {
  const uint64_t v[3] = {a, b, c};
  return XXH64(v, sizeof v, tag);
}

// splitmix64: the generator behind the per-epoch shuffles (fully specified here, so the order of
// documents is the same on every platform and compiler).
struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (Lemire's multiply-and-reject).
  uint64_t below(uint64_t n) {
    unsigned __int128 m = (unsigned __int128)next() * n;
    uint64_t lo = uint64_t(m);
    if (lo < n) {
      const uint64_t t = (0 - n) % n;
      while (lo < t) {
        m = (unsigned __int128)next() * n;
        lo = uint64_t(m);
      }
    }
    return uint64_t(m >> 64);
  }
};

// The documents of one split of one dataset, over all its shards (global document ids in shard order).
struct DocSet {
  std::vector<std::unique_ptr<ShardFile>> shards;
  std::vector<uint64_t> first_doc{0};  // first global id of each shard; back() = n_docs
  uint64_t n_docs() const { return first_doc.back(); }

  // Shard and local index of global document g.
  const ShardFile& locate(uint64_t g, uint64_t* local) const {
    size_t s = size_t(std::upper_bound(first_doc.begin(), first_doc.end(), g) - first_doc.begin()) - 1;
    *local = g - first_doc[s];
    return *shards[s];
  }
};

// Place in a stream: document `pos` of the epoch's order, token `off` of it (off == size: its EOS).
struct Cursor {
  uint64_t epoch = 0, pos = 0, off = 0;
};

constexpr uint8_t kStart = 1, kEos = 2;

}  // namespace

struct DataLoader::Dataset {
  DatasetManifest m;
  DocSet train, val;
  uint64_t fingerprint = 0;  // of the training shards (state files are bound to it)
  uint64_t index = 0;        // position in the loader's list (part of the shuffle seed)
  Cursor cur, vcur;
  std::vector<uint64_t> perm;
  uint64_t perm_epoch = std::numeric_limits<uint64_t>::max();

  uint64_t train_doc(uint64_t seed, uint64_t epoch, uint64_t pos) {
    if (perm_epoch != epoch) {
      const uint64_t n = train.n_docs();
      perm.resize(size_t(n));
      for (uint64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
      SplitMix64 rng{hash3(seed, index, epoch, kTagShuffle)};
      for (uint64_t i = n; i > 1; --i) std::swap(perm[size_t(i - 1)], perm[size_t(rng.below(i))]);
      perm_epoch = epoch;
    }
    return perm[size_t(pos)];
  }
};

namespace {

// Reads up to n tokens of a stream from c (advancing it) into out, with kStart / kEos flags.
// wrap: continue into the next epoch at the end (training); otherwise stop (validation).
template <class DocOf>
int64_t read_stream(const DocSet& s, Cursor& c, DocOf doc_of, bool wrap, int64_t n, int32_t eos, int32_t* out,
                    uint8_t* flags) {
  int64_t i = 0;
  while (i < n) {
    if (c.pos >= s.n_docs()) {
      if (!wrap) break;
      c.epoch += 1;
      c.pos = 0;
      c.off = 0;
    }
    uint64_t local;
    const ShardFile& sh = s.locate(doc_of(c.epoch, c.pos), &local);
    const uint64_t len = sh.doc_size(local);
    if (c.off < len) {
      const uint64_t k = std::min<uint64_t>(len - c.off, uint64_t(n - i));
      sh.view().copy_tokens(sh.doc_begin(local) + c.off, k, out + i);
      std::fill(flags + i, flags + i + k, uint8_t(0));
      if (c.off == 0) flags[i] = kStart;
      i += int64_t(k);
      c.off += k;
    }
    if (i < n && c.off == len) {
      out[i] = eos;
      flags[i] = kEos;
      ++i;
      c.off = 0;
      c.pos += 1;
    }
  }
  return i;
}

// Targets, DocInfo from a window of n_valid inputs (+ one look-ahead token when have_next).
void finish_sequence(int64_t L, int64_t n_valid, bool have_next, int32_t next, const uint8_t* flags, int32_t eos,
                     bool mask_eos, int dataset, int32_t* ids, int32_t* targets, DocInfo* info) {
  for (int64_t p = 0; p + 1 < n_valid; ++p) targets[p] = ids[p + 1];
  if (n_valid > 0) targets[n_valid - 1] = have_next ? next : -1;
  for (int64_t p = n_valid; p < L; ++p) {
    ids[p] = eos;
    targets[p] = -1;
  }
  if (mask_eos)
    for (int64_t p = 0; p < n_valid; ++p)
      if (flags[p] & kEos) targets[p] = -1;
  if (!info) return;
  info->starts.assign(1, 0);
  for (int64_t p = 1; p < n_valid; ++p)
    if (flags[p] & kStart) info->starts.push_back(int32_t(p));
  if (n_valid > 0 && n_valid < L) info->starts.push_back(int32_t(n_valid));
  info->first_is_continuation = n_valid > 0 && !(flags[0] & kStart);
  info->dataset = n_valid > 0 ? dataset : -1;
  info->n_valid = int32_t(n_valid);
}

void check_shape(int64_t B, int64_t L) {
  ZAYA_CHECK(B >= 1 && L >= 1 && L <= std::numeric_limits<int32_t>::max() &&
                 B <= std::numeric_limits<int64_t>::max() / L,
             "data loader: batch shape B=", B, " L=", L, " is invalid");
}

bool valid_weights(const std::vector<double>& w) {
  double sum = 0;
  for (double x : w) {
    if (!std::isfinite(x) || x < 0) return false;
    sum += x;
  }
  return sum > 0 && std::isfinite(sum);
}

}  // namespace

DataLoader::DataLoader(const std::vector<DatasetSpec>& datasets, const LoaderOptions& options)
    : seed_(options.seed), mask_eos_(options.mask_eos_targets) {
  ZAYA_CHECK(!datasets.empty(), "data loader: no datasets given");
  for (size_t d = 0; d < datasets.size(); ++d) {
    auto ds = std::make_unique<Dataset>();
    ds->index = d;
    ds->m = read_manifest(datasets[d].manifest);
    const DatasetManifest& m = ds->m;
    ZAYA_CHECK(m.train.documents > 0, m.path, ": the dataset has no training documents");
    weights_.push_back(datasets[d].weight);
    // Open (and verify) the shards; in parallel, since verification reads every byte.
    struct Job {
      DocSet* set;
      const ShardEntry* e;
      size_t slot;
    };
    std::vector<Job> jobs;
    for (auto [set, split] : {std::pair{&ds->train, &m.train}, std::pair{&ds->val, &m.val}}) {
      set->shards.resize(split->shards.size());
      for (size_t i = 0; i < split->shards.size(); ++i) {
        jobs.push_back({set, &split->shards[i], i});
        set->first_doc.push_back(set->first_doc.back() + split->shards[i].documents);
      }
    }
    std::vector<std::exception_ptr> errs(jobs.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t j = 0; j < int64_t(jobs.size()); ++j) {
      try {
        const Job& jb = jobs[size_t(j)];
        const std::string& f = jb.e->file;
        std::string path = !f.empty() && f[0] == '/' ? f : path_join(m.dir, f);
        auto sh = std::make_unique<ShardFile>(path, options.verify_payload);
        ZAYA_CHECK(sh->view().vocab_size == m.vocab_size, path, ": vocab size ", sh->view().vocab_size,
                   " differs from the manifest's ", m.vocab_size, " (", m.path, ")");
        ZAYA_CHECK(sh->n_docs() == jb.e->documents && sh->n_tokens() == jb.e->tokens, path, ": holds ", sh->n_docs(),
                   " documents and ", sh->n_tokens(), " tokens, the manifest ", m.path, " says ", jb.e->documents,
                   " and ", jb.e->tokens, " (a shard from another run?)");
        ZAYA_CHECK(sh->view().payload_xxh64 == jb.e->xxh64, path, ": payload xxh64 ", hex64(sh->view().payload_xxh64),
                   " differs from the manifest's ", hex64(jb.e->xxh64), " (", m.path, "; a shard from another run?)");
        jb.set->shards[jb.slot] = std::move(sh);
      } catch (...) {
        errs[size_t(j)] = std::current_exception();
      }
    }
    for (auto& e : errs)
      if (e) std::rethrow_exception(e);
    // Fingerprint of the training data: counts and payload hashes of its shards.
    std::vector<uint64_t> fp{m.train.documents, m.train.tokens};
    for (const ShardEntry& e : m.train.shards) fp.push_back(e.xxh64);
    ds->fingerprint = XXH64(fp.data(), fp.size() * 8, 0);
    sets_.push_back(std::move(ds));
  }
  // One tokenizer for all datasets.
  const DatasetManifest& m0 = sets_[0]->m;
  vocab_ = m0.vocab_size;
  for (const auto& ds : sets_) {
    ZAYA_CHECK(ds->m.vocab_size == vocab_, ds->m.path, ": vocab size ", ds->m.vocab_size, " differs from ", m0.path,
               "'s ", vocab_, " (datasets of one loader must share a tokenizer)");
    ZAYA_CHECK(ds->m.tokenizer_xxh64.empty() || m0.tokenizer_xxh64.empty() || ds->m.tokenizer_xxh64 == m0.tokenizer_xxh64,
               ds->m.path, ": tokenizer_xxh64 ", ds->m.tokenizer_xxh64, " differs from ", m0.path, "'s ",
               m0.tokenizer_xxh64, " (datasets of one loader must share a tokenizer)");
  }
  if (options.eos_id >= 0) {
    eos_ = options.eos_id;
  } else {
    eos_ = int32_t(m0.eos_id);
    for (const auto& ds : sets_)
      ZAYA_CHECK(ds->m.eos_id == m0.eos_id, ds->m.path, ": eos_id ", ds->m.eos_id, " differs from ", m0.path, "'s ",
                 m0.eos_id, "; give the EOS id explicitly");
    ZAYA_CHECK(eos_ >= 0, m0.path, ": the manifest records no eos_id; give the EOS id explicitly");
  }
  ZAYA_CHECK(uint32_t(eos_) < vocab_, "data loader: EOS id ", eos_, " is outside the vocabulary [0, ", vocab_, ")");
  ZAYA_CHECK(valid_weights(weights_), "data loader: dataset weights must be finite, >= 0 and not all 0");
}

DataLoader::~DataLoader() = default;

const DatasetManifest& DataLoader::manifest(int d) const {
  ZAYA_CHECK(d >= 0 && d < n_datasets(), "data loader: dataset ", d, " out of range");
  return sets_[size_t(d)]->m;
}

uint64_t DataLoader::epoch(int d) const {
  manifest(d);  // range check
  const Dataset& ds = *sets_[size_t(d)];
  return ds.cur.pos >= ds.train.n_docs() ? ds.cur.epoch + 1 : ds.cur.epoch;
}

void DataLoader::set_weights(const std::vector<double>& weights) {
  ZAYA_CHECK(weights.size() == sets_.size(), "data loader: ", weights.size(), " weights for ", sets_.size(),
             " datasets");
  ZAYA_CHECK(valid_weights(weights), "data loader: dataset weights must be finite, >= 0 and not all 0");
  weights_ = weights;
}

int DataLoader::pick_dataset(uint64_t counter) const {
  if (sets_.size() == 1) return 0;
  double sum = 0;
  for (double w : weights_) sum += w;
  const double u = double(hash3(seed_, counter, 0, kTagMixture) >> 11) * 0x1.0p-53 * sum;
  double acc = 0;
  int last = 0;
  for (size_t d = 0; d < weights_.size(); ++d) {
    if (weights_[d] <= 0) continue;
    acc += weights_[d];
    last = int(d);
    if (u < acc) return int(d);
  }
  return last;  // rounding at the top end
}

void DataLoader::next_batch(int64_t B, int64_t L, int32_t* ids, int32_t* targets, DocInfo* info) {
  check_shape(B, L);
  std::vector<uint8_t> flags(size_t(L + 1));
  for (int64_t b = 0; b < B; ++b) {
    const int d = pick_dataset(counter_++);
    Dataset& ds = *sets_[size_t(d)];
    auto order = [&](uint64_t e, uint64_t p) { return ds.train_doc(seed_, e, p); };
    int32_t* row = ids + b * L;
    read_stream(ds.train, ds.cur, order, true, L, eos_, row, flags.data());
    Cursor peek = ds.cur;
    int32_t next;
    read_stream(ds.train, peek, order, true, 1, eos_, &next, flags.data() + L);
    finish_sequence(L, L, true, next, flags.data(), eos_, mask_eos_, d, row, targets + b * L, info ? info + b : nullptr);
  }
}

int64_t DataLoader::next_val_batch(int d, int64_t B, int64_t L, int32_t* ids, int32_t* targets, DocInfo* info) {
  check_shape(B, L);
  manifest(d);  // range check
  Dataset& ds = *sets_[size_t(d)];
  std::vector<uint8_t> flags(size_t(L + 1));
  auto order = [](uint64_t, uint64_t p) { return p; };
  int64_t filled = 0;
  for (int64_t b = 0; b < B; ++b) {
    int32_t* row = ids + b * L;
    int64_t got = read_stream(ds.val, ds.vcur, order, false, L, eos_, row, flags.data());
    Cursor peek = ds.vcur;
    int32_t next = eos_;
    bool have_next = got > 0 && read_stream(ds.val, peek, order, false, 1, eos_, &next, flags.data() + L) == 1;
    if (got == 0 || (got == 1 && !have_next)) got = 0;  // nothing left to predict: the pass is over
    finish_sequence(L, got, have_next, next, flags.data(), eos_, mask_eos_, d, row, targets + b * L,
                    info ? info + b : nullptr);
    if (got > 0) ++filled;
  }
  return filled;
}

void DataLoader::reset_val() {
  for (auto& ds : sets_) ds->vcur = Cursor{};
}

std::string DataLoader::save_state() const {
  json sets = json::array();
  for (const auto& ds : sets_)
    sets.push_back({{"name", ds->m.name},
                    {"fingerprint", hex64(ds->fingerprint)},
                    {"epoch", ds->cur.epoch},
                    {"pos", ds->cur.pos},
                    {"off", ds->cur.off}});
  json j = {{"format", "zaya-loader-state"}, {"version", 1},      {"seed", seed_},
            {"counter", counter_},           {"weights", weights_}, {"datasets", sets}};
  return j.dump();
}

void DataLoader::load_state(const std::string& bytes, const std::string& what) {
  json j;
  try {
    j = json::parse(bytes);
  } catch (const json::exception& e) {
    throw_error(what, ": data loader state is not valid JSON: ", e.what());
  }
  auto u64 = [&](const json& o, const char* key, const std::string& where) {
    ZAYA_CHECK(o.is_object() && o.contains(key) && o[key].is_number_unsigned(), what, ": ", where, "field \"", key,
               "\" must be a non-negative integer");
    return o[key].get<uint64_t>();
  };
  ZAYA_CHECK(j.is_object() && j.value("format", json()) == "zaya-loader-state", what,
             ": not a data loader state (field \"format\" must be \"zaya-loader-state\")");
  ZAYA_CHECK(u64(j, "version", "") == 1, what, ": data loader state version ", j["version"], " is not supported");
  const uint64_t seed = u64(j, "seed", ""), counter = u64(j, "counter", "");
  ZAYA_CHECK(j.contains("weights") && j["weights"].is_array() && j["weights"].size() == sets_.size(), what,
             ": field \"weights\" must be an array of ", sets_.size(), " numbers");
  std::vector<double> w;
  for (const json& x : j["weights"]) {
    ZAYA_CHECK(x.is_number(), what, ": field \"weights\" must hold numbers");
    w.push_back(x.get<double>());
  }
  ZAYA_CHECK(valid_weights(w), what, ": field \"weights\": weights must be finite, >= 0 and not all 0");
  ZAYA_CHECK(j.contains("datasets") && j["datasets"].is_array() && j["datasets"].size() == sets_.size(), what,
             ": the state is for ", j.contains("datasets") && j["datasets"].is_array() ? j["datasets"].size() : 0,
             " datasets, this loader has ", sets_.size());
  std::vector<Cursor> curs;
  for (size_t d = 0; d < sets_.size(); ++d) {
    const json& o = j["datasets"][d];
    const std::string where = "datasets[" + std::to_string(d) + "]: ";
    Dataset& ds = *sets_[d];
    ZAYA_CHECK(o.is_object() && o.value("fingerprint", json()) == hex64(ds.fingerprint), what, ": ", where,
               "the state was saved with other training data than ", ds.m.path, " (fingerprint ",
               o.is_object() ? o.value("fingerprint", json()).dump() : "?", ", expected \"", hex64(ds.fingerprint), "\")");
    Cursor c{u64(o, "epoch", where), u64(o, "pos", where), u64(o, "off", where)};
    ZAYA_CHECK(c.pos <= ds.train.n_docs(), what, ": ", where, "document position ", c.pos, " > ", ds.train.n_docs());
    if (c.pos == ds.train.n_docs()) {
      ZAYA_CHECK(c.off == 0, what, ": ", where, "token offset ", c.off, " past the end of the epoch");
    } else {
      uint64_t local;
      const ShardFile& sh = ds.train.locate(ds.train_doc(seed, c.epoch, c.pos), &local);
      ZAYA_CHECK(c.off <= sh.doc_size(local), what, ": ", where, "token offset ", c.off, " > document size ",
                 sh.doc_size(local));
    }
    curs.push_back(c);
  }
  // Everything checked: apply.
  seed_ = seed;
  counter_ = counter;
  weights_ = w;
  for (size_t d = 0; d < sets_.size(); ++d) {
    sets_[d]->cur = curs[d];
    sets_[d]->perm_epoch = std::numeric_limits<uint64_t>::max();  // the seed may have changed
  }
}

}  // namespace zaya
