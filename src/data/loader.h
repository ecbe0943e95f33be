// DataLoader: packs the documents of one or more datasets (manifests written by `zaya data`) into
// training sequences, with a weighted mixture over datasets, deterministic shuffling and exactly
// resumable state.
//
// Stream of one dataset, epoch e: its training documents in a pseudo-random order drawn from
// (seed, dataset index, e), each followed by one EOS token; epoch e+1 follows epoch e without a gap.
// A sequence of length L+1 is a window of that stream: inputs = window[0, L), targets = window[1, L+1);
// the next window of the same dataset starts L tokens later, so each stream token is an input exactly
// once and a target exactly once (documents longer than a window are split across sequences).
// Mixture: sequence number c (counting every sequence ever produced) comes from dataset d drawn with
// probability weight[d] / sum(weights) by a counter-based hash of (seed, c), so the choice depends only
// on the seed, c and the weights in force — never on batch sizes or thread timing.
//
// Validation: the validation documents of one dataset in file order (no shuffle), packed the same way,
// one pass; reset_val() starts it over.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace zaya {

// Where documents start inside one sequence of L input positions.
struct DocInfo {
  // Ascending; starts[0] == 0. Segment k covers input positions [starts[k], starts[k+1]) (the last one
  // up to L) and holds tokens of a single document, its trailing EOS included. A model that isolates
  // documents resets its convolution / value-shift state at each start and masks attention across
  // segments.
  std::vector<int32_t> starts;
  bool first_is_continuation = false;  // segment 0 continues a document begun in an earlier sequence
  int32_t dataset = -1;                // which dataset the sequence came from (-1: padding)
  int32_t n_valid = 0;                 // input positions holding data (L except in a short last val sequence)
};

struct DatasetSpec {
  std::string manifest;  // path of NAME.json
  double weight = 1.0;
};

struct LoaderOptions {
  uint64_t seed = 0;
  int32_t eos_id = -1;          // separator after every document; -1: the manifests' eos_id
  bool verify_payload = true;   // check token ids and checksums of every shard at open
  bool mask_eos_targets = false;  // target -1 (ignored) where the input is a document's EOS
};

class DataLoader {
 public:
  // Opens and validates every shard of every dataset (train and val); all datasets must share the
  // tokenizer (same vocab size and, when recorded, the same tokenizer xxh64).
  DataLoader(const std::vector<DatasetSpec>& datasets, const LoaderOptions& options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // New mixture weights (one per dataset, >= 0, finite, not all 0), e.g. at a curriculum phase change.
  void set_weights(const std::vector<double>& weights);
  const std::vector<double>& weights() const { return weights_; }

  // Fills B sequences of L inputs and L targets (row-major [B, L]) and, if info is not null, info[0..B).
  void next_batch(int64_t B, int64_t L, int32_t* ids, int32_t* targets, DocInfo* info);

  // The complete position (seed, sequence counter, weights, per dataset epoch and place in the stream)
  // as bytes; load_state restores it, after which next_batch yields bit-identical batches. load_state
  // checks that the datasets are the ones the state was saved with and throws zaya::Error naming `what`.
  std::string save_state() const;
  void load_state(const std::string& bytes, const std::string& what);

  // Validation of dataset d: fills up to B sequences; returns how many hold data (0: pass over).
  // Sequences past the returned count, and the tail of a short last sequence, are padding: ids = EOS,
  // targets = -1, info.dataset = -1 for whole padding sequences.
  int64_t next_val_batch(int d, int64_t B, int64_t L, int32_t* ids, int32_t* targets, DocInfo* info);
  void reset_val();  // every dataset's validation pass starts over

  int n_datasets() const { return int(sets_.size()); }
  const DatasetManifest& manifest(int d) const;
  int32_t eos_id() const { return eos_; }
  int32_t vocab_size() const { return int32_t(vocab_); }
  uint64_t epoch(int d) const;             // current training epoch of dataset d
  uint64_t sequences_produced() const { return counter_; }

  struct Dataset;  // internal

 private:
  int pick_dataset(uint64_t counter) const;
  std::vector<std::unique_ptr<Dataset>> sets_;
  std::vector<double> weights_;
  uint64_t seed_ = 0, counter_ = 0;
  uint32_t vocab_ = 0;
  int32_t eos_ = -1;
  bool mask_eos_ = false;
};

}  // namespace zaya
