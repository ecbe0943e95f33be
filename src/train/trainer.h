// The training loop of `zaya train` (issue 3): phases (token budget, sequence length, batch, RoPE θ,
// data weights), Muon/AdamW with a schedule and clipping, aux-loss-free balancing, metrics in JSONL,
// periodic validation, crash-safe checkpoints with bit-exact resume, SIGINT/SIGTERM → checkpoint + exit.
#pragma once
#include <cstdint>
#include <string>

#include "train/run_config.h"

namespace zaya {

struct TrainOptions {
  bool resume = false;       // continue from the newest good checkpoint of run.dir
  int64_t max_steps = -1;    // stop (with a checkpoint) after this global step; -1: run every phase
  bool quiet = false;        // no progress bar
  std::string backend;       // overrides [run] backend ("" = keep)
};

struct TrainResult {
  int64_t steps = 0;         // global steps done when the run stopped
  double last_loss = 0;
  bool interrupted = false;  // stopped by a signal
  int64_t skipped_steps = 0; // optimizer steps skipped for a non-finite loss or gradient
  std::string checkpoint;    // the last checkpoint written
};

TrainResult train(const RunConfig& cfg, const TrainOptions& opt);

// Set by SIGINT/SIGTERM (installed by the zaya program); the loop checkpoints and stops.
void request_stop();

}  // namespace zaya
