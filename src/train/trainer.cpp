#include "train/trainer.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <cmath>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "dist/watchdog.h"
#include "model/count.h"
#include "model/model.h"
#include "ops/backend.h"
#include "train/balance.h"
#include "train/ckpt.h"
#include "train/dist_optim.h"
#include "train/guard.h"

namespace zaya {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
std::atomic<bool> g_stop{false};

// Threads per rank: [run] threads, else the cores shared among the ranks of this node.
int threads_per_rank(int configured) {
  if (configured > 0) return configured;
  const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!v) v = std::getenv("MPI_LOCALNRANKS");
  if (!v) v = std::getenv("SLURM_NTASKS_PER_NODE");
  const int local = v ? std::max(1, std::atoi(v)) : 1;
  if (local <= 1) return 0;
  return std::max(1, int(std::thread::hardware_concurrency()) / local);
}

// Rows [b0, b1) of a batch of B that rank r of W computes.
std::pair<int64_t, int64_t> my_rows(int64_t B, int r, int W) { return {B * r / W, B * (r + 1) / W}; }

TrainResult run(const RunConfig& rc, const TrainOptions& opt, Comm& comm);
}  // namespace

void request_stop() { g_stop = true; }

TrainResult train(const RunConfig& rc, const TrainOptions& opt) {
  auto comm = make_world_comm();
  if (comm->size() == 1) return run(rc, opt, *comm);
  watchdog::Config wc;
  wc.collective_s = rc.parallel.collective_timeout;
  wc.step_s = rc.parallel.step_timeout;
  wc.save_s = rc.parallel.save_timeout;
  wc.load_s = rc.parallel.load_timeout;
  wc.heartbeat_dir = path_join(rc.dir, ".ranks");
  wc.stop_requested = [] { return g_stop.load(); };
  watchdog::start(comm->rank(), comm->size(), wc);
  try {
    TrainResult r = run(rc, opt, *comm);
    comm->barrier("end of training");
    watchdog::stop();
    return r;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: rank %d of %d: %s\n", comm->rank(), comm->size(), e.what());
    abort_world(1);
  }
}

namespace {

TrainResult run(const RunConfig& rc, const TrainOptions& opt, Comm& comm) {
  const int R = comm.rank(), W = comm.size();
  const bool lead = R == 0;
  const bool quiet = opt.quiet || !lead;
  const int nthreads = threads_per_rank(rc.threads);
  if (nthreads > 0) omp_set_num_threads(nthreads);
  const int EP = rc.parallel.ep;
  auto backend = make_backend(opt.backend.empty() ? rc.backend : opt.backend);
  Backend& be = *backend;
  if (nthreads > 0) be.set_threads(nthreads);
  CheckpointManager ckpts(rc.dir, rc.keep_last);
  ModelConfig mc = rc.model_config.empty() ? load_config(path_join(rc.init_from, "config.json"))
                                           : load_config(rc.model_config);
  for (auto& p : rc.phases) {
    ZAYA_CHECK(mc.max_position_embeddings <= 0 || p.seq_len <= mc.max_position_embeddings, rc.source, ": phase '",
               p.name, "' has seq_len ", p.seq_len, ", longer than the model's max_position_embeddings (",
               mc.max_position_embeddings, ")");
    ZAYA_CHECK(p.batch >= W, rc.source, ": phase '", p.name, "' has a global batch of ", p.batch,
               " sequences, fewer than the ", W, " ranks");
  }
  // Expert parallelism: groups of EP consecutive ranks share the experts of every MoE layer (rank r holds
  // experts [(r mod EP)·E/EP, ...)); ranks with the same position in their group (the expert-data-
  // parallel group) hold the same experts and sum their gradients.
  std::unique_ptr<Comm> ep_comm, edp_comm;
  if (EP > 1) {
    ZAYA_CHECK(W % EP == 0, rc.source, ": [parallel] ep = ", EP, " does not divide the ", W, " ranks");
    ZAYA_CHECK(mc.n_experts % EP == 0, rc.source, ": [parallel] ep = ", EP, " does not divide the model's ",
               mc.n_experts, " experts");
    ep_comm = comm.split(R / EP, R);
    edp_comm = comm.split(R % EP, R);
    mc.expert_count = mc.n_experts / EP;
    mc.expert_first = (R % EP) * mc.expert_count;
    mc.ep = ep_comm.get();
  }
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

  std::vector<ParamRef> params, dense, experts;
  std::vector<std::string> dense_names, expert_names;
  for (auto& t : model.tensors()) {
    if (!t.trainable) continue;
    ParamRef p{t.name, model.param(t.name), model.grad(t.name), t.shape};
    params.push_back(p);
    if (EP > 1 && t.name.find("mlp.experts.") != std::string::npos) {
      p.global_shape = t.shape;
      p.global_shape[0] = mc.n_experts;
      p.global_offset = int64_t(mc.expert_first) * (t.numel / t.shape[0]);
      experts.push_back(p);
      expert_names.push_back(t.name);
    } else {
      dense.push_back(p);
      dense_names.push_back(t.name);
    }
  }
  ShardedOptimizer optim(dense, rc.optim, be, comm, rc.parallel.zero);
  std::unique_ptr<ShardedOptimizer> expert_optim;
  if (EP > 1) expert_optim = std::make_unique<ShardedOptimizer>(experts, rc.optim, be, *edp_comm, rc.parallel.zero);
  if (!quiet)
    std::fprintf(stderr, "%s\nbackend %s\n%s", mc.summary().c_str(), be.describe().c_str(),
                 describe_plans(params).c_str());
  if (!quiet && W > 1)
    std::fprintf(stderr, "data parallel over %d ranks (%s), %d threads each; %s\n", W, comm.kind().c_str(),
                 omp_get_max_threads(), optim.describe().c_str());
  if (!quiet && EP > 1)
    std::fprintf(stderr, "expert parallel: groups of %d ranks, %d experts per rank; experts' optimizer: %s\n", EP,
                 mc.expert_count, expert_optim->describe().c_str());
  Balancer balancer(mc.n_pairs, mc.n_experts, mc.use_skip_slot, rc.balance);
  std::vector<float*> betas;
  for (int j = 0; j < mc.n_pairs; ++j)
    betas.push_back(model.param("model.layers." + std::to_string(j) + ".mlp.gate.balancing_biases"));

  int64_t step = 0, tokens = 0;
  // Loads model, optimizer, balancing and counters from a checkpoint; the data position too unless
  // keep_data (a rollback skips the data that caused it).
  auto load_from = [&](const std::string& dir, bool keep_data) {
    watchdog::Phase ph("load " + dir, rc.parallel.load_timeout);
    Checkpoint ck(dir);
    model.load_params(ck);
    auto blobs = CheckpointManager::read_blobs(dir);
    for (const char* k : {"balance", "data", "trainer"})
      ZAYA_CHECK(blobs.count(k), dir, ": state/", k, ".bin is missing");
    const auto shards = optim_shards(blobs, dir);
    if (!shards.empty()) {
      optim.load_shards(shards, expert_names);
      if (expert_optim) expert_optim->load_shards(shards, dense_names);
    } else if (blobs.count("optimizer") && !expert_optim) {
      optim.load_legacy(blobs["optimizer"], dir + "/state/optimizer.bin");
    } else if (blobs.count("optimizer")) {
      throw_error(dir, ": state/optimizer.bin (written before sharded checkpoints) cannot be resumed with ep > 1; "
                  "resume it once with ep = 1, which writes sharded state");
    } else {
      throw_error(dir, ": the checkpoint has no optimizer state (state/optim-rank-*.bin)");
    }
    balancer.load_state(blobs["balance"], dir + "/state/balance.bin");
    if (!keep_data) data.load_state(blobs["data"], dir + "/state/data.bin");
    json ts = json::parse(blobs["trainer"]);
    step = ts.at("step").get<int64_t>();
    tokens = ts.at("tokens").get<int64_t>();
  };
  auto existing = ckpts.list();
  std::vector<std::string> skipped_ckpts;
  auto found = (opt.resume || opt.auto_resume) ? ckpts.latest_good(&skipped_ckpts) : std::nullopt;
  if (found) {
    if (!quiet) {
      for (auto& s : skipped_ckpts) std::fprintf(stderr, "note: skipping damaged checkpoint %s\n", s.c_str());
      std::fprintf(stderr, "resuming from %s\n", found->dir.c_str());
    }
    load_from(found->dir, false);
  } else {
    if (opt.resume) throw_error(rc.dir, ": --resume given but there is no good checkpoint");
    ZAYA_CHECK(existing.empty() || opt.auto_resume, rc.dir,
               ": already holds checkpoints; use --resume to continue, or another run.dir");
    if (rc.model_config.empty())
      model.load_params(Checkpoint(rc.init_from));
    else {
      InitOptions io;
      io.seed = rc.seed;
      model.init(io);
    }
  }
  if (lead) fs::create_directories(rc.dir);
  // Metrics (rank 0): keep the lines up to the resumed step, then append.
  const std::string metrics_path = path_join(rc.dir, "metrics.jsonl");
  std::ofstream metrics;
  if (lead) {
    std::string kept;
    if (found && file_exists(metrics_path)) {
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
    metrics.open(metrics_path, std::ios::app);
  }
  auto log = [&](const json& m) {
    if (lead) metrics << m.dump() << "\n" << std::flush;
  };

  // A checkpoint written by every rank: its optimizer shard; rank 0 the model and the other state, then
  // (after all have written) the manifest and DONE.
  auto save = [&](int64_t at) {
    watchdog::Phase ph("save step " + std::to_string(at), rc.parallel.save_timeout);
    if (lead) ckpts.begin(at);
    comm.barrier("checkpoint begin");
    const std::string tmp = ckpts.dir_of(at, true);
    write_file_atomic(path_join(tmp, "state/" + optim_shard_name(R) + ".bin"), optim.save_shard());
    WholeTensors whole;  // expert parallelism: every expert tensor gathered whole (its group's ranks in order)
    if (expert_optim) {
      write_file_atomic(path_join(tmp, "state/" + optim_shard_name(R, "-experts") + ".bin"), expert_optim->save_shard());
      for (const ParamRef& p : experts) {
        auto& [shape, v] = whole[p.name];
        shape = p.global_shape;
        v.resize(size_t(p.numel() * EP));
        std::vector<int64_t> counts(size_t(EP), p.numel());
        ep_comm->all_gather(p.w, v.data(), counts, CommType::F32, "expert weights all-gather");
      }
    }
    if (lead) {
      model.save(tmp, expert_optim ? &whole : nullptr);
      if (!rc.tokenizer.empty()) write_file_atomic(path_join(tmp, "tokenizer.json"), read_file(rc.tokenizer));
      json ts = {{"step", at}, {"tokens", tokens}, {"seed", rc.seed}, {"world", W}, {"zero", rc.parallel.zero}};
      write_file_atomic(path_join(tmp, "state/balance.bin"), balancer.save_state());
      write_file_atomic(path_join(tmp, "state/data.bin"), data.save_state());
      write_file_atomic(path_join(tmp, "state/trainer.bin"), ts.dump());
    }
    comm.barrier("checkpoint written");
    if (lead) ckpts.commit(at);
    comm.barrier("checkpoint committed");
    return ckpts.dir_of(at);
  };

  const auto injections = parse_injections(opt.inject);
  // Each injected fault fires the first time its step runs (a rollback replays the step numbers on
  // other data, which is what makes it pass).
  std::set<std::pair<std::string, int64_t>> fired;
  auto injected = [&](const char* kind, int64_t s) {
    for (auto& in : injections)
      if (in.at(kind, s)) return fired.insert({kind, s}).second;
    return false;
  };
  LossGuard guard(rc.guard);
  int consecutive_skips = 0;
  const int64_t total = rc.total_steps();
  const int64_t stop_at = opt.max_steps >= 0 ? std::min(opt.max_steps, total) : total;
  ParamCount pc = count_params(mc);
  const double flop_per_token = 6.0 * double(pc.active + mc.vocab_size * mc.hidden);
  std::unique_ptr<Progress> bar;
  if (!quiet) bar = std::make_unique<Progress>("train", double(total), "steps");
  TrainResult res;
  res.world = W;
  res.rank = R;
  int current_phase = -1;
  const int K = rc.grad_accum;
  std::vector<int32_t> ids, targets;
  std::vector<DocInfo> info;
  std::vector<std::vector<int32_t>> starts;
  auto doc_starts = [&](int64_t b0, int64_t n) -> const std::vector<std::vector<int32_t>>* {
    if (!rc.document_masking) return nullptr;
    starts.assign(size_t(n), {});
    for (int64_t b = 0; b < n; ++b) starts[size_t(b)] = info[size_t(b0 + b)].starts;
    return &starts;
  };
  auto t_last = std::chrono::steady_clock::now();
  double comm_last = watchdog::collective_seconds();
  while (step < stop_at) {
    watchdog::Phase step_phase("step " + std::to_string(step + 1), rc.parallel.step_timeout);
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
      if (!quiet) std::fprintf(stderr, "\nphase %s: seq_len %lld, batch %lld\n", P.name.c_str(),
                               (long long)P.seq_len, (long long)P.batch);
    }
    const int64_t B = P.batch, L = P.seq_len;
    const auto [b0, b1] = my_rows(B, R, W);
    const int64_t nb = b1 - b0;
    // The K micro-batches of the global batch (every rank reads the same stream: one global cursor);
    // this rank computes rows [b0, b1) of each.
    ids.resize(size_t(K * B * L));
    targets.resize(size_t(K * B * L));
    info.resize(size_t(K * B));
    std::vector<int64_t> counts(size_t(2 * K), 0);  // [local target count per micro-batch, global]
    for (int k = 0; k < K; ++k) {
      data.next_batch(B, L, ids.data() + k * B * L, targets.data() + k * B * L, info.data() + k * B);
      for (int64_t i = k * B * L; i < (k + 1) * B * L; ++i)
        if (targets[size_t(i)] < 0) targets[size_t(i)] = -100;
      for (int64_t i = (k * B + b0) * L; i < (k * B + b1) * L; ++i) counts[size_t(k)] += targets[size_t(i)] >= 0;
    }
    for (int k = 0; k < K; ++k) counts[size_t(K + k)] = counts[size_t(k)];
    if (W > 1) comm.sum(std::span<int64_t>(counts.data() + K, size_t(K)), "target count all-reduce");
    double loss_part = 0;
    RouterTotals totals;
    for (int k = 0; k < K; ++k) {
      const int64_t off = (k * B + b0) * L;
      const auto* dsp = doc_starts(k * B + b0, nb);
      const double share = W == 1 ? 1.0 : counts[size_t(K + k)] > 0
                                             ? double(counts[size_t(k)]) / double(counts[size_t(K + k)]) : 0.0;
      const double mean = model.step(ids.data() + off, targets.data() + off, nb, L, true, dsp, k > 0, share / K);
      loss_part += W == 1 ? mean / K : counts[size_t(k)] > 0 ? mean * share / K : 0.0;
      std::vector<const float*> probs;
      for (int j = 0; j < mc.n_pairs; ++j) probs.push_back(model.router_probs(j));
      RouterTotals t = router_totals(model.choices(), nb * L, mc.n_pairs, mc.n_experts, mc.use_skip_slot, probs);
      if (k == 0) totals = std::move(t);
      else
        for (size_t i = 0; i < t.v.size(); ++i) totals.v[i] += t.v[i];
    }
    if (injected("nan-grad", step + 1) && lead) params[0].g[0] = std::nanf("");
    // One all-reduce for everything the ranks must agree on: loss, router totals, stop request.
    std::vector<double> red = {loss_part, g_stop.load() ? 1.0 : 0.0};
    red.insert(red.end(), totals.v.begin(), totals.v.end());
    if (W > 1) comm.sum(red, "step statistics all-reduce");
    double loss = red[0];
    const bool stop = red[1] > 0;
    std::copy(red.begin() + 2, red.end(), totals.v.begin());
    if (injected("loss-spike", step + 1)) loss *= 1000;
    double gnorm;
    if (expert_optim) {  // one norm over the dense and the expert gradients
      double ss[1] = {optim.reduce() + expert_optim->reduce()};
      comm.sum(std::span<double>(ss, 1), "gradient norm all-reduce");
      gnorm = std::sqrt(ss[0]);
      const double coef = rc.grad_clip / (gnorm + 1e-6);
      if (std::isfinite(gnorm) && coef < 1.0) {
        optim.scale(coef);
        expert_optim->scale(coef);
      }
    } else {
      gnorm = optim.reduce_and_clip(rc.grad_clip);
    }
    const double lr = lr_at(rc.schedule, rc.optim.lr, step);
    const bool finite = std::isfinite(gnorm) && std::isfinite(loss);
    const double z = finite ? guard.zscore(loss) : 0;
    const bool spike = finite && guard.is_spike(loss);
    std::string why;
    if (!finite) why = std::isfinite(loss) ? "the gradient norm is not finite" : "the loss is not finite";
    else if (spike) why = "loss spike (z = " + std::to_string(z) + ")";
    if (why.empty()) {
      optim.step(lr);
      if (expert_optim) expert_optim->step(lr);
      guard.accept(loss);
      consecutive_skips = 0;
    } else {
      ++res.skipped_steps;
      ++consecutive_skips;
      if (!quiet)
        std::fprintf(stderr, "\nwarning: step %lld: %s (loss %g, gradient norm %g); the optimizer step is skipped "
                     "and the weights are unchanged\n", (long long)(step + 1), why.c_str(), loss, gnorm);
    }
    auto stats = balancer.update(totals, betas);
    ++step;
    tokens += B * L * K;
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    json m = {{"step", step},          {"phase", P.name},  {"loss", loss}, {"skipped", !why.empty()},
              {"lr", lr},              {"grad_norm", gnorm}, {"tokens", tokens},
              {"tokens_per_s", double(B * L * K) / dt}, {"flops_per_s", flop_per_token * double(B * L * K) / dt}};
    if (!why.empty()) m["skip_reason"] = why;
    if (rc.guard.spike_zscore > 0) m["loss_zscore"] = z;
    if (W > 1) {
      const double cs = watchdog::collective_seconds();
      m["world"] = W;
      m["comm_s"] = cs - comm_last;  // rank 0's time inside collectives this step
      m["comm_share"] = (cs - comm_last) / dt;
      comm_last = cs;
    }
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
      // The mean over every held-out target token (not over sequences); ranks split each batch's rows.
      data.reset_val();
      double vs[2] = {0, 0};
      for (int d = 0; d < data.n_datasets(); ++d)
        for (int64_t bi = 0; bi < rc.eval_batches; ++bi) {
          int64_t got = data.next_val_batch(d, B, L, ids.data(), targets.data(), info.data());
          if (got == 0) break;
          for (int64_t i = 0; i < B * L; ++i)
            if (targets[size_t(i)] < 0) targets[size_t(i)] = -100;
          const auto [v0, v1] = my_rows(got, R, W);
          if (v1 <= v0 && EP == 1) continue;
          // With expert parallelism every rank runs the forward (its all-to-alls); one with no rows of
          // this batch runs a padding row and discards it.
          const bool pad = v1 <= v0;
          const int64_t r0 = pad ? 0 : v0, nr = pad ? 1 : v1 - v0;
          const double mean = model.step(ids.data() + r0 * L, targets.data() + r0 * L, nr, L, false,
                                         doc_starts(r0, nr));
          if (!pad && model.last_target_count() > 0) {
            vs[0] += mean * double(model.last_target_count());
            vs[1] += double(model.last_target_count());
          }
        }
      if (W > 1) comm.sum(std::span<double>(vs, 2), "validation all-reduce");
      if (vs[1] > 0) {
        m["val_loss"] = vs[0] / vs[1];
        m["val_tokens"] = int64_t(vs[1]);
      }
    }
    log(m);
    res.last_loss = loss;
    if (bar) {
      char sfx[128];
      std::snprintf(sfx, sizeof sfx, "loss %.4f  %.0f tok/s  %.2f GFLOP/s", loss, double(B * L * K) / dt,
                    flop_per_token * double(B * L * K) / dt / 1e9);
      bar->set_suffix(sfx);
      bar->update(double(step));
    }
    // Too many skips in a row: back to the newest good checkpoint, past the data that caused them.
    if (rc.guard.max_consecutive_skips > 0 && consecutive_skips >= rc.guard.max_consecutive_skips) {
      auto back = ckpts.latest_good(nullptr);
      comm.barrier("rollback");
      if (back) {
        const int64_t from = step;
        load_from(back->dir, true);
        guard.clear();
        ++res.rollbacks;
        consecutive_skips = 0;
        current_phase = -1;
        if (!quiet)
          std::fprintf(stderr, "\nwarning: %d consecutive skipped steps: rolled back from step %lld to %s; the data "
                       "of those steps is skipped\n", rc.guard.max_consecutive_skips, (long long)from,
                       back->dir.c_str());
        log({{"event", "rollback"}, {"step", step}, {"from_step", from}, {"checkpoint", back->dir}});
        continue;
      }
      if (!quiet) std::fprintf(stderr, "\nwarning: %d consecutive skipped steps and no checkpoint to roll back to\n",
                               consecutive_skips);
    }
    if ((rc.checkpoint_every > 0 && step % rc.checkpoint_every == 0) || step == stop_at || stop)
      res.checkpoint = save(step);
    if (stop) {
      res.interrupted = true;
      if (!quiet)
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

}  // namespace
}  // namespace zaya
