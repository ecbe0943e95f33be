// The optimizer across data-parallel ranks (issue 7 §2; spec zaya1-system.md §2): distributed Muon with
// one owner per matrix, and AdamW either replicated (zero = 0) or sharded in flat slices (ZeRO-1).
//
// Ownership, the same on every rank (deterministic):
//   Muon   every matrix (a Linear weight, one expert's [out, in], one head of a grouped conv) is one
//          unit of cost max(m,n)·min(m,n)² (Newton–Schulz); units go largest first to the least loaded
//          rank (LPT), ties to the lower matrix index and the lower rank.
//   AdamW  zero = 1: the AdamW tensors, concatenated in model order, are cut into `world` equal flat
//          slices, slice r to rank r. zero = 0: every rank holds all of them.
// A step: the gradients (each rank's share of the global-mean gradient) are packed owner-aligned and
// reduce-scattered, so each owner holds the whole summed gradient of what it owns; the replicated
// AdamW gradients are all-reduced. The global norm is summed from the owners' pieces; clipping,
// momentum, Newton–Schulz and AdamW run on the owner only (momentum and moments live only there), and
// the updated parameters are all-gathered, so every rank holds the same full model afterwards.
// On one rank this is exactly the single-process Optimizer (whole tensors, no copies).
//
// State in checkpoints (shards in global coordinates, never flat-buffer offsets): each rank writes
// state/optim-rank-NNNNN.bin = u64 header length, a JSON header {format "zaya-optim-shard-1", steps,
// rank, world, zero, chunks: [{tensor, shape, offset, count, buffer, data}]}, then the f32 data. A chunk
// is elements [offset, offset + count) of the row-major tensor `tensor` of global shape `shape`;
// buffer is "momentum" (Muon) or "exp_avg" / "exp_avg_sq" (AdamW); data is its byte offset after the
// header. load_shards() fills whatever this rank owns now from every chunk that intersects it, so a
// checkpoint resumes on any number of ranks (reshape), and checks that every owned element is covered.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dist/comm.h"
#include "train/optim.h"

namespace zaya {

// The shard blob names of a checkpoint's state/ (CheckpointManager::read_blobs keys): "optim-rank-NNNNN"
// (+ suffix, e.g. "-experts"), and the (path, bytes) of every shard among a checkpoint's blobs.
std::string optim_shard_name(int rank, const std::string& suffix = "");
std::vector<std::pair<std::string, std::string>> optim_shards(const std::map<std::string, std::string>& blobs,
                                                              const std::string& dir);

class ShardedOptimizer {
 public:
  // params: the full model's trainable tensors (weights and gradients in the model's arenas).
  ShardedOptimizer(std::vector<ParamRef> params, const OptimConfig& cfg, Backend& be, Comm& comm, int zero);

  // Sums the gradients over the ranks, clips them to max_norm by the global norm and returns that norm
  // (before clipping; the same on every rank). Non-finite: returned without clipping.
  double reduce_and_clip(double max_norm);
  // The same in parts, for several optimizers over different groups (dense parameters over the world,
  // experts over the expert-data-parallel group) sharing one norm: reduce() sums the gradients and
  // returns this rank's share of Σg² (what it owns, plus the replicated tensors on the group's rank 0);
  // the caller sums the shares over the world, and scale() multiplies the reduced gradients.
  double reduce();
  void scale(double coef);
  // The update at learning rate lr, then the parameter all-gather. Call only after reduce_and_clip.
  void step(double lr);
  int64_t steps() const { return opt_->steps(); }

  // This rank's shard (format above); load_shards reads all shards of a checkpoint (any world size).
  std::string save_shard() const;
  // (path, bytes); chunks of tensors in `others` (another optimizer's) are passed over.
  void load_shards(const std::vector<std::pair<std::string, std::string>>& files,
                   const std::vector<std::string>& others = {});
  // Single-process checkpoints written before sharding (state/optimizer.bin): only on one rank.
  void load_legacy(const std::string& bytes, const std::string& what);

  // Elements of Muon matrices and AdamW state this rank owns; a one-line description of the split.
  std::string describe() const;
  const Optimizer& local() const { return *opt_; }

  struct Piece {  // elements [offset, offset + count) of params[param], owned by `owner`
    size_t param;
    int64_t offset, count;
    int owner;
    ParamPlan plan;
  };

 private:
  std::vector<ParamRef> params_;
  Comm& comm_;
  int zero_;
  Backend& be_;
  std::vector<Piece> pieces_;          // owner-aligned: rank 0's pieces, then rank 1's, ...
  std::vector<Piece> replicated_;      // zero = 0: AdamW tensors every rank updates
  std::vector<int64_t> seg_;           // elements per rank in pieces_
  int64_t seg_start_ = 0;              // this rank's first element in the packed order
  std::vector<float> send_, own_g_, rep_g_, gather_;
  std::unique_ptr<Optimizer> opt_;     // over this rank's pieces (+ the replicated ones)
  std::vector<const Piece*> local_;    // the piece behind each of opt_'s parameters
};

}  // namespace zaya
