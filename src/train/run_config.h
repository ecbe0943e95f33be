// The run configuration of `zaya train --config run.toml` (issue 3): model, data, optimizer, schedule,
// balancing, curriculum phases, checkpoints, evaluation. Every key is checked: an unknown key or an
// impossible value is an error naming the file and the key.
//
//   [run]        dir = "runs/tiny"   seed = 1   threads = 0   recompute = false
//                backend = "cpu-f32" | "cpu-bf16"   (default: default_backend_name(); --backend overrides)
//   [model]      config = "configs/zaya1-tiny.json"  (or init_from = "<native checkpoint dir>")
//                tokenizer = "tokenizer.json"  (copied into every checkpoint)
//   [data]       datasets = { web = "data/web.json", code = "data/code.json" }   (manifests of zaya data)
//                mask_eos_targets = false   document_masking = false
//   [optim]      lr = 3e-3  weight_decay = 0.1  grad_clip = 1.0  grad_accum = 1  adam_beta1/2/eps  muon_momentum
//                muon_nesterov  ns_steps  ns_coefficients = [3.4445, -4.7750, 2.0315]  muon_rms_scale
//   [schedule]   kind = "wsd" | "cosine"  warmup = 100  decay_fraction = 0.2  min_ratio = 0.1
//                decay_shape = "linear" | "sqrt"
//   [balance]    rule = "pid" | "adam" | "sign"  kp ki kd lr  balance_skip = false
//   [[phase]]    name  tokens  seq_len  batch  rope_theta (optional)  weights = { web = 0.7, code = 0.3 }
//   [checkpoint] every = 200  keep_last = 3
//   [eval]       every = 100  batches = 8
//   [parallel]   ep = 1  zero = 0|1  collective_timeout = 300  step_timeout = 3600  save_timeout = 1800
//                load_timeout = 1800   (seconds; multi-process runs under mpirun/srun, docs/parallel.md)
//   [guard]      spike_zscore = 6.0  spike_window = 128  max_consecutive_skips = 3
//                (a step whose loss is > z σ above the mean of the last window losses, or whose loss or
//                gradient is not finite, is skipped; that many skips in a row roll back to the previous
//                checkpoint and skip the data range that caused them)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "train/balance.h"
#include "train/optim.h"

namespace zaya {

struct PhaseConfig {
  std::string name;
  int64_t tokens = 0, seq_len = 0, batch = 0;
  double rope_theta = 0;               // 0: keep the model's
  std::map<std::string, double> weights;  // dataset name -> mixture weight
};

struct ParallelConfig {
  int ep = 1;    // expert-parallel degree (divides the number of ranks and the number of experts)
  int zero = 0;  // 1: AdamW state sharded across the data-parallel ranks (ZeRO-1)
  double collective_timeout = 300, step_timeout = 3600, save_timeout = 1800, load_timeout = 1800;
};

struct GuardConfig {
  double spike_zscore = 6.0;  // 0: off
  int64_t spike_window = 128;
  int max_consecutive_skips = 3;  // 0: never roll back
};

struct RunConfig {
  std::string source;  // the .toml path, for messages
  std::string dir;
  uint64_t seed = 0;
  int threads = 0;
  bool recompute = false;  // activation checkpointing: re-run each pair's forward in the backward
  std::string backend;     // "" = the default backend
  std::string model_config, init_from, tokenizer;
  std::map<std::string, std::string> datasets;  // name -> manifest path (ordered by name)
  bool mask_eos_targets = false;
  bool document_masking = false;  // each packed document restarts CCA state, positions and attention
  OptimConfig optim;
  double grad_clip = 1.0;
  int grad_accum = 1;  // micro-batches of [[phase]].batch sequences per optimizer step
  Schedule schedule;
  BalanceConfig balance;
  std::vector<PhaseConfig> phases;
  int64_t checkpoint_every = 0;
  int keep_last = 3;
  int64_t eval_every = 0, eval_batches = 4;
  ParallelConfig parallel;
  GuardConfig guard;

  int64_t steps_of(const PhaseConfig& p) const { return p.tokens / (p.batch * p.seq_len * grad_accum); }
  int64_t total_steps() const;
};

RunConfig load_run_config(const std::string& path);
RunConfig parse_run_config(const std::string& toml_text, const std::string& what);

}  // namespace zaya
