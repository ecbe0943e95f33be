#include "train/trainer.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "data/loader.h"
#include "model/count.h"
#include "train/balance.h"
#include "train/ckpt.h"
#include "model/model.h"
#include "ops/backend.h"
#include "train/optim.h"

namespace zaya {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
std::atomic<bool> g_stop{false};
}  // namespace

void request_stop() { g_stop = true; }

TrainResult train(const RunConfig& rc, const TrainOptions& opt) {
  if (rc.threads > 0) omp_set_num_threads(rc.threads);
  auto backend = make_backend(opt.backend.empty() ? rc.backend : opt.backend);
  Backend& be = *backend;
  CheckpointManager ckpts(rc.dir, rc.keep_last);
  // Model: a new one from a config, or a checkpoint to continue from.
  ModelConfig mc = rc.model_config.empty() ? load_config(path_join(rc.init_from, "config.json"))
                                           : load_config(rc.model_config);
  for (auto& p : rc.phases)
    ZAYA_CHECK(mc.max_position_embeddings <= 0 || p.seq_len <= mc.max_position_embeddings, rc.source, ": phase '",
               p.name, "' has seq_len ", p.seq_len, ", longer than the model's max_position_embeddings (",
               mc.max_position_embeddings, ")");
  auto model_ptr = Model::create(mc, be);
  Model& model = *model_ptr;
  model.set_recompute(rc.recompute);
  std::vector<DatasetSpec> specs;
  std::vector<std::string> names;
  for (auto& [name, manifest] : rc.datasets) {
    specs.push_back({manifest, 1.0});
    names.push_back(name);
  }
  LoaderOptions lo;
  lo.seed = rc.seed;
  lo.mask_eos_targets = rc.mask_eos_targets;
  DataLoader data(specs, lo);
  ZAYA_CHECK(data.vocab_size() <= mc.vocab_size, rc.source, ": the data's vocabulary (", data.vocab_size(),
             ") is larger than the model's (", mc.vocab_size, ")");

  std::vector<ParamRef> params;
  for (auto& t : model.tensors())
    if (t.trainable) params.push_back({t.name, model.param(t.name), model.grad(t.name), t.shape});
  Optimizer optim(params, rc.optim, be);
  if (!opt.quiet)
    std::fprintf(stderr, "%s\nbackend %s\n%s\n", mc.summary().c_str(), be.describe().c_str(),
                 describe_plans(params).c_str());
  Balancer balancer(mc.n_pairs, mc.n_experts, mc.use_skip_slot, rc.balance);
  std::vector<float*> betas;
  for (int j = 0; j < mc.n_pairs; ++j)
    betas.push_back(model.param("model.layers." + std::to_string(j) + ".mlp.gate.balancing_biases"));

  int64_t step = 0, tokens = 0;
  auto existing = ckpts.list();
  if (opt.resume) {
    std::vector<std::string> skipped;
    auto found = ckpts.latest_good(&skipped);
    for (auto& s : skipped) std::fprintf(stderr, "note: skipping damaged checkpoint %s\n", s.c_str());
    if (!found) throw_error(rc.dir, ": --resume given but there is no good checkpoint");
    std::fprintf(stderr, "resuming from %s\n", found->dir.c_str());
    Checkpoint ck(found->dir);
    model.load_params(ck);
    auto blobs = CheckpointManager::read_blobs(found->dir);
    for (const char* k : {"optimizer", "balance", "data", "trainer"})
      ZAYA_CHECK(blobs.count(k), found->dir, ": state/", k, ".bin is missing");
    optim.load_state(blobs["optimizer"], found->dir + "/state/optimizer.bin");
    balancer.load_state(blobs["balance"], found->dir + "/state/balance.bin");
    data.load_state(blobs["data"], found->dir + "/state/data.bin");
    json ts = json::parse(blobs["trainer"]);
    step = ts.at("step").get<int64_t>();
    tokens = ts.at("tokens").get<int64_t>();
  } else {
    ZAYA_CHECK(existing.empty(), rc.dir, ": already holds checkpoints; use --resume to continue, or another run.dir");
    if (rc.model_config.empty())
      model.load_params(Checkpoint(rc.init_from));
    else {
      InitOptions io;
      io.seed = rc.seed;
      model.init(io);
    }
  }
  fs::create_directories(rc.dir);
  // Metrics: keep the lines up to the resumed step, then append.
  const std::string metrics_path = path_join(rc.dir, "metrics.jsonl");
  {
    std::string kept;
    if (opt.resume && file_exists(metrics_path)) {
      std::istringstream in(read_file(metrics_path));
      std::string line;
      while (std::getline(in, line)) {
        try {
          if (json::parse(line).value("step", int64_t(1) << 62) <= step) kept += line + "\n";
        } catch (...) {
        }
      }
    }
    write_file_atomic(metrics_path, kept);
  }
  std::ofstream metrics(metrics_path, std::ios::app);

  auto save = [&](int64_t at) {
    json ts = {{"step", at}, {"tokens", tokens}, {"seed", rc.seed}};
    return ckpts.save(
        at,
        [&](const std::string& dir) {
          model.save(dir);
          if (!rc.tokenizer.empty()) write_file_atomic(path_join(dir, "tokenizer.json"), read_file(rc.tokenizer));
        },
        {{"optimizer", optim.save_state()},
         {"balance", balancer.save_state()},
         {"data", data.save_state()},
         {"trainer", ts.dump()}});
  };

  const int64_t total = rc.total_steps();
  const int64_t stop_at = opt.max_steps >= 0 ? std::min(opt.max_steps, total) : total;
  ParamCount pc = count_params(mc);
  const double flop_per_token = 6.0 * double(pc.active + mc.vocab_size * mc.hidden);
  std::unique_ptr<Progress> bar;
  if (!opt.quiet) bar = std::make_unique<Progress>("train", double(total), "steps");
  TrainResult res;
  int current_phase = -1;
  std::vector<int32_t> ids, targets;
  std::vector<DocInfo> info;
  std::vector<std::vector<int32_t>> starts;
  auto doc_starts = [&](int64_t n) -> const std::vector<std::vector<int32_t>>* {
    if (!rc.document_masking) return nullptr;
    starts.assign(size_t(n), {});
    for (int64_t b = 0; b < n; ++b) starts[size_t(b)] = info[size_t(b)].starts;
    return &starts;
  };
  auto t_last = std::chrono::steady_clock::now();
  while (step < stop_at) {
    // Phase of this step: data weights, sequence shape, RoPE θ.
    int64_t acc = 0;
    int ph = 0;
    for (; ph < int(rc.phases.size()); ++ph) {
      if (step < acc + rc.steps_of(rc.phases[size_t(ph)])) break;
      acc += rc.steps_of(rc.phases[size_t(ph)]);
    }
    const PhaseConfig& P = rc.phases[size_t(ph)];
    if (ph != current_phase) {
      std::vector<double> w;
      for (auto& n : names) w.push_back(P.weights.count(n) ? P.weights.at(n) : 0.0);
      data.set_weights(w);
      if (P.rope_theta > 0) model.set_rope_theta(P.rope_theta);
      current_phase = ph;
      if (!opt.quiet) std::fprintf(stderr, "\nphase %s: seq_len %lld, batch %lld\n", P.name.c_str(),
                                   (long long)P.seq_len, (long long)P.batch);
    }
    const int64_t B = P.batch, L = P.seq_len;
    ids.resize(size_t(B * L));
    targets.resize(size_t(B * L));
    info.resize(size_t(B));
    // grad_accum micro-batches per optimizer step; router statistics over all of them.
    const int K = rc.grad_accum;
    const int S = mc.n_slots();
    double loss = 0;
    std::vector<int32_t> step_choices;
    std::vector<std::vector<float>> step_probs(size_t(mc.n_pairs));
    for (int k = 0; k < K; ++k) {
      data.next_batch(B, L, ids.data(), targets.data(), info.data());
      for (auto& t : targets)
        if (t < 0) t = -100;
      loss += model.step(ids.data(), targets.data(), B, L, true, doc_starts(B), k > 0, 1.0 / K) / K;
      const auto& ch = model.choices();
      step_choices.insert(step_choices.end(), ch.begin(), ch.end());
      for (int j = 0; j < mc.n_pairs; ++j)
        step_probs[size_t(j)].insert(step_probs[size_t(j)].end(), model.router_probs(j),
                                     model.router_probs(j) + B * L * S);
    }
    double gnorm = clip_grad_norm(params, rc.grad_clip, be);
    double lr = lr_at(rc.schedule, rc.optim.lr, step);
    const bool finite = std::isfinite(gnorm) && std::isfinite(loss);
    if (finite) {
      optim.step(lr);
    } else {
      ++res.skipped_steps;
      std::fprintf(stderr, "\nwarning: step %lld: %s is not finite (loss %g, gradient norm %g); the optimizer step "
                   "is skipped and the weights are unchanged\n", (long long)(step + 1),
                   std::isfinite(loss) ? "the gradient norm" : "the loss", loss, gnorm);
    }
    std::vector<const float*> probs;
    for (auto& v : step_probs) probs.push_back(v.data());
    auto stats = balancer.update(step_choices, B * L * K, betas, probs);
    ++step;
    tokens += B * L * K;
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    json m = {{"step", step},          {"phase", P.name},  {"loss", loss}, {"skipped", !finite},
              {"lr", lr},              {"grad_norm", gnorm}, {"tokens", tokens},
              {"tokens_per_s", double(B * L * K) / dt}, {"flops_per_s", flop_per_token * double(B * L * K) / dt}};
    double maxv = 0, skip = 0;
    json layers = json::array();
    for (auto& s : stats) {
      maxv = std::max(maxv, s.max_violation);
      skip += s.skip_rate / double(stats.size());
      layers.push_back({{"load", s.load}, {"entropy", s.entropy}, {"skip_rate", s.skip_rate}});
    }
    m["load_max_violation"] = maxv;
    m["skip_rate"] = skip;
    m["router"] = layers;
    if (rc.eval_every > 0 && (step % rc.eval_every == 0 || step == total)) {
      // The mean over every held-out target token (not over sequences).
      data.reset_val();
      double sum = 0;
      int64_t n = 0;
      for (int d = 0; d < data.n_datasets(); ++d)
        for (int64_t bi = 0; bi < rc.eval_batches; ++bi) {
          int64_t got = data.next_val_batch(d, B, L, ids.data(), targets.data(), info.data());
          if (got == 0) break;
          for (auto& t : targets)
            if (t < 0) t = -100;
          const double mean = model.step(ids.data(), targets.data(), got, L, false, doc_starts(got));
          sum += mean * double(model.last_target_count());
          n += model.last_target_count();
        }
      if (n > 0) {
        m["val_loss"] = sum / double(n);
        m["val_tokens"] = n;
      }
    }
    metrics << m.dump() << "\n" << std::flush;
    res.last_loss = loss;
    if (bar) {
      char sfx[128];
      std::snprintf(sfx, sizeof sfx, "loss %.4f  %.0f tok/s  %.2f GFLOP/s", loss, double(B * L * K) / dt,
                    flop_per_token * double(B * L * K) / dt / 1e9);
      bar->set_suffix(sfx);
      bar->update(double(step));
    }
    bool stop = g_stop.load();
    if ((rc.checkpoint_every > 0 && step % rc.checkpoint_every == 0) || step == stop_at || stop)
      res.checkpoint = save(step);
    if (stop) {
      res.interrupted = true;
      std::fprintf(stderr, "\nstopped by signal at step %lld; checkpoint %s\n", (long long)step,
                   res.checkpoint.c_str());
      break;
    }
  }
  if (bar && step == total) bar->finish();
  else if (bar) std::fprintf(stderr, "\n");
  res.steps = step;
  return res;
}

}  // namespace zaya
