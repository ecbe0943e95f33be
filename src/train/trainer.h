// The training loop of `zaya train` (issue 3): phases (token budget, sequence length, batch, RoPE θ,
// data weights), Muon/AdamW with a schedule and clipping, aux-loss-free balancing, metrics in JSONL,
// periodic validation, crash-safe checkpoints with bit-exact resume, SIGINT/SIGTERM → checkpoint + exit.
// Under mpirun/srun (issue 7) every rank runs this loop over its share of each global batch: data
// parallelism with distributed Muon and optional ZeRO-1 (train/dist_optim.h), expert parallelism
// (experts sharded over groups of [parallel] ep ranks, all-to-all dispatch in model/moe.cpp), reduced statistics, a
// watchdog on every collective and phase (dist/watchdog.h), sharded reshapeable optimizer state.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/run_config.h"

namespace zaya {

struct TrainOptions {
  bool resume = false;       // continue from the newest good checkpoint of run.dir
  int64_t max_steps = -1;    // stop (with a checkpoint) after this global step; -1: run every phase
  bool quiet = false;        // no progress bar
  std::string backend;       // overrides [run] backend ("" = keep)
  bool auto_resume = false;  // resume when run.dir has a good checkpoint, else start (zaya supervise)
  // Testing the guards: "nan-grad:STEP[-STEP]" poisons rank 0's gradient, "loss-spike:STEP[-STEP]"
  // reports the loss ×1000, the first time those 1-based global steps run.
  std::vector<std::string> inject;
};

struct TrainResult {
  int64_t steps = 0;         // global steps done when the run stopped
  double last_loss = 0;
  bool interrupted = false;  // stopped by a signal
  int64_t skipped_steps = 0; // optimizer steps skipped for a non-finite loss or gradient
  std::string checkpoint;    // the last checkpoint written
  int64_t rollbacks = 0;     // returns to the previous checkpoint after too many consecutive skips
  int world = 1, rank = 0;   // ranks that trained, and this one
};

TrainResult train(const RunConfig& cfg, const TrainOptions& opt);

// Set by SIGINT/SIGTERM (installed by the zaya program); the loop checkpoints and stops.
void request_stop();

}  // namespace zaya
