// zaya bench: prefill and decode throughput of a model on random prompt ids; one JSON line out.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include <cblas.h>

#include "infer/generate.h"
#include "model/count.h"
#include "train/optim.h"
#include "train/train_model.h"

namespace zaya::cli {

namespace {
struct BenchArgs {
  std::string model;
  int64_t prompt_len = 128, gen = 32, batch = 1, chunk = 512;
  int threads = 0, warmup = 1;
  bool touch_all = false;
  bool train = false;
  int64_t steps = 5;
  uint64_t seed = 1;
};

// OpenBLAS sgemm FLOP/s on a square 1024 problem: the machine's practical fp32 matmul peak.
double sgemm_peak() {
  const int n = 1024;
  std::vector<float> A(size_t(n) * n, 0.5f), B(size_t(n) * n, 0.25f), C(size_t(n) * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(),
                n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * n * n * n / best;
}

// Training throughput: forward + backward (+ optimizer step) of TrainModel on random batches.
void run_train(const BenchArgs& a) {
  ModelConfig cfg = load_config(a.model + "/config.json");
  TrainModel m(cfg);
  m.load(Checkpoint(a.model));
  std::vector<ParamRef> ps;
  for (auto& t : m.tensors())
    if (t.trainable) ps.push_back({t.name, m.param(t.name), m.grad(t.name), t.shape});
  Optimizer opt(ps, OptimConfig{});
  const int64_t B = a.batch, T = a.prompt_len;
  std::mt19937_64 g(a.seed);
  std::uniform_int_distribution<int32_t> tok(3, int32_t(cfg.vocab_size - 1));
  std::vector<int32_t> ids(size_t(B * T)), tg(size_t(B * T));
  double fb = 0, full = 0;
  for (int64_t s = -1; s < a.steps; ++s) {  // step -1 warms up
    for (auto& x : ids) x = tok(g);
    for (int64_t i = 0; i < B * T; ++i) tg[size_t(i)] = (i % T) + 1 < T ? ids[size_t(i + 1)] : -100;
    auto t0 = std::chrono::steady_clock::now();
    m.step(ids.data(), tg.data(), B, T);
    auto t1 = std::chrono::steady_clock::now();
    opt.step(1e-4);
    auto t2 = std::chrono::steady_clock::now();
    if (s >= 0) {
      fb += std::chrono::duration<double>(t1 - t0).count();
      full += std::chrono::duration<double>(t2 - t0).count();
    }
  }
  ParamCount pc = count_params(cfg);
  double tokens = double(B * T * a.steps);
  // Matmul FLOPs per token: 6 x (active non-embedding parameters + the LM head).
  double flops = 6.0 * double(pc.active + cfg.vocab_size * cfg.hidden) * tokens;
  double peak = sgemm_peak();
  nlohmann::json j = {{"model", a.model},
                      {"batch", B},
                      {"seq_len", T},
                      {"steps", a.steps},
                      {"fwd_bwd_tok_s", tokens / fb},
                      {"step_tok_s", tokens / full},
                      {"model_flops_per_s", flops / fb},
                      {"sgemm_peak_flops_per_s", peak},
                      {"gemm_efficiency", flops / fb / peak}};
  std::printf("%s\n", j.dump().c_str());
}

void run(const BenchArgs& a) {
  set_threads(a.threads);
  if (a.train) return run_train(a);
  LoadOptions lo;
  lo.quiet = true;
  auto t0 = std::chrono::steady_clock::now();
  auto model = Model::load(a.model, lo);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double touch_s = 0;
  if (a.touch_all) {
    auto t1 = std::chrono::steady_clock::now();
    model->touch_weights();
    touch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  }
  std::mt19937_64 g(a.seed);
  std::uniform_int_distribution<int32_t> tok(3, int32_t(model->config().vocab_size - 1));
  std::vector<std::vector<int32_t>> prompts(size_t(a.batch));
  for (auto& p : prompts)
    for (int64_t i = 0; i < a.prompt_len; ++i) p.push_back(tok(g));
  GenerateOptions go;
  go.max_new_tokens = a.gen;
  go.prefill_chunk = a.chunk;
  GenerateStats st;
  for (int w = 0; w < a.warmup; ++w) generate(*model, prompts, go, {}, &st);  // touch every mapped page
  generate(*model, prompts, go, {}, &st);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  // The first decode step is timed with prefill in generate(); decode covers the remaining steps.
  nlohmann::json j = {{"model", a.model},
                      {"batch", a.batch},
                      {"prompt_len", a.prompt_len},
                      {"gen", a.gen},
                      {"threads", a.threads},
                      {"load_s", load_s},
                      {"touch_all_s", touch_s},
                      {"prefill_tokens", st.prefill_tokens},
                      {"prefill_s", st.prefill_seconds},
                      {"prefill_tok_s", st.prefill_tokens / st.prefill_seconds},
                      {"decode_tokens", st.decode_tokens},
                      {"decode_s", st.decode_seconds},
                      {"decode_tok_s", st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0},
                      {"max_rss_gib", double(ru.ru_maxrss) / (1 << 20)}};
  std::printf("%s\n", j.dump().c_str());
}
}  // namespace

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* c = app.add_subcommand("bench", "Measure prefill and decode tokens/s on random prompts (JSON output)");
  c->add_option("--model,-m", a->model, "Model directory")->required();
  c->add_option("--prompt-len,--seq-len", a->prompt_len, "Prompt tokens per sequence (sequence length with --train)")->check(CLI::Range(1, 1 << 20));
  c->add_option("--gen", a->gen, "Tokens to generate per sequence")->check(CLI::Range(1, 1 << 20));
  c->add_option("--batch", a->batch, "Sequences decoded together")->check(CLI::Range(1, 4096));
  c->add_option("--prefill-chunk", a->chunk, "Prompt tokens per prefill step")->check(CLI::Range(1, 1 << 20));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  c->add_option("--seed", a->seed, "Seed of the random prompt ids");
  c->add_flag("--train", a->train, "Measure training (forward + backward + Muon/AdamW step) instead of inference");
  c->add_option("--steps", a->steps, "Timed training steps (with --train)")->check(CLI::Range(1, 100000));
  c->add_flag("--touch-all", a->touch_all, "Fault in every weight page before timing (RSS = whole model)");
  c->add_option("--warmup", a->warmup, "Untimed runs before the timed one")->check(CLI::Range(0, 100));
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
