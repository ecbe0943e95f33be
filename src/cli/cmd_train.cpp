// zaya train: train or continue training a ZAYA1 model from a TOML run configuration.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "train/trainer.h"

namespace zaya::cli {

namespace {
struct TrainArgs {
  std::string config, backend;
  bool resume = false, auto_resume = false;
  int64_t max_steps = -1;
  std::vector<std::string> inject;
};
extern "C" void on_signal(int) { request_stop(); }
}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* c = app.add_subcommand("train", "Train a ZAYA1 model (phases, Muon, balancing, checkpoints) from run.toml");
  c->add_option("--config,-c", a->config, "Run configuration (TOML)")->required()->check(CLI::ExistingFile);
  c->add_flag("--resume", a->resume, "Continue from the newest good checkpoint of run.dir (bit-exact)");
  c->add_option("--max-steps", a->max_steps, "Stop after this global step (with a checkpoint)")
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--auto-resume", a->auto_resume,
              "Resume when run.dir has a good checkpoint, else start (also ZAYA_AUTO_RESUME=1; zaya supervise sets it)");
  c->add_option("--inject-fault", a->inject,
                "Testing the guards: nan-grad:STEP[-STEP] or loss-spike:STEP[-STEP] (1-based global steps)");
  add_backend_option(c, a->backend);
  c->callback([a] {
    RunConfig rc = load_run_config(a->config);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    TrainOptions o;
    o.resume = a->resume;
    const char* ar = std::getenv("ZAYA_AUTO_RESUME");
    o.auto_resume = a->auto_resume || (ar && std::string(ar) == "1");
    o.inject = a->inject;
    o.max_steps = a->max_steps;
    o.backend = a->backend;
    TrainResult r = train(rc, o);
    if (r.world > 1 && r.rank != 0) return;
    std::fprintf(stderr, "%s at step %lld, loss %.4f; checkpoint %s\n", r.interrupted ? "interrupted" : "done",
                 (long long)r.steps, r.last_loss, r.checkpoint.c_str());
  });
}

}  // namespace zaya::cli
