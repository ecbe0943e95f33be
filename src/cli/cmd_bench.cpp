// zaya bench: prefill and decode throughput of a model on random prompt ids, or (--train) training
// throughput; one JSON line out. Every number is measured in this process on the chosen backend.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "core/error.h"
#include "infer/generate.h"
#include "model/count.h"
#include "train/optim.h"

namespace zaya::cli {

namespace {
struct BenchArgs {
  std::string model, backend;
  int64_t prompt_len = 128, gen = 32, batch = 1, chunk = 2048;
  int threads = 0, warmup = 1;
  bool touch_all = false;
  bool train = false;
  bool profile = false;
  bool mem_read = false;
  int64_t steps = 5;
  uint64_t seed = 1;
};

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The backend's own GEMM on a square problem (fp32 weights, its GEMM precision): the peak that
// GEMM efficiency is measured against.
double gemm_peak(Backend& be, int64_t n = 2048) {
  std::mt19937_64 g(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> A(static_cast<size_t>(n * n)), B(size_t(n * n)), C(size_t(n * n));
  for (auto& x : A) x = d(g);
  for (auto& x : B) x = d(g);
  Mat W{B.data(), DType::F32, n, n};
  be.linear_forward(C.data(), n, A.data(), n, W, nullptr, n);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clock_type::now();
    be.linear_forward(C.data(), n, A.data(), n, W, nullptr, n);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * double(n) * double(n) * double(n) / best;
}

// Read bandwidth: the sum of a 1 GiB buffer over the threads, best of 5 (the decode roofline's denominator).
double read_bandwidth() {
  const size_t n = (size_t(1) << 30) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  double best = 1e30, sink = 0;
  for (int r = 0; r < 5; ++r) {
    auto t0 = clock_type::now();
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (int64_t c = 0; c < int64_t(n / 4096); ++c) {
      const float* p = buf.data() + size_t(c) * 4096;
      float acc[16] = {};
      for (int i = 0; i < 4096; i += 16)
        for (int k = 0; k < 16; ++k) acc[k] += p[i + k];
      for (float a : acc) s += a;
    }
    best = std::min(best, seconds_since(t0));
    sink += s;
  }
  if (sink < 0) std::printf(" ");
  return double(n * sizeof(float)) / best;
}

// Matmul FLOPs per trained token: 6 × (active parameters + LM head), plus causal attention
// (2 GEMMs of nq·d per query and visible key, ×3 for the backward).
double train_flops_per_token(const ModelConfig& cfg, int64_t T) {
  ParamCount pc = count_params(cfg);
  double attn = 0;
  for (auto& p : cfg.pairs) {
    const double keys = p.window > 0 ? std::min<double>(p.window, (T + 1) / 2.0) : (T + 1) / 2.0;
    attn += 4.0 * cfg.nq * cfg.head_dim * keys;
  }
  return 6.0 * double(pc.active + cfg.vocab_size * cfg.hidden) + 3.0 * attn;
}

// Training throughput: forward + backward, then the Muon/AdamW step, on random batches.
void run_train(const BenchArgs& a, Backend& be) {
  ModelConfig cfg = load_config(a.model + "/config.json");
  auto m = Model::create(cfg, be);
  m->load_params(Checkpoint(a.model));
  std::vector<ParamRef> ps;
  for (auto& t : m->tensors())
    if (t.trainable) ps.push_back({t.name, m->param(t.name), m->grad(t.name), t.shape});
  Optimizer opt(ps, OptimConfig{}, be);
  const int64_t B = a.batch, T = a.prompt_len;
  std::mt19937_64 g(a.seed);
  std::uniform_int_distribution<int32_t> tok(3, int32_t(cfg.vocab_size - 1));
  std::vector<int32_t> ids(static_cast<size_t>(B * T)), tg(static_cast<size_t>(B * T));
  double fb = 0, full = 0;
  for (int64_t s = -a.warmup; s < a.steps; ++s) {
    for (auto& x : ids) x = tok(g);
    for (int64_t i = 0; i < B * T; ++i) tg[size_t(i)] = (i % T) + 1 < T ? ids[size_t(i + 1)] : -100;
    auto t0 = clock_type::now();
    m->step(ids.data(), tg.data(), B, T);
    const double t_fb = seconds_since(t0);
    clip_grad_norm(ps, 1.0, be);
    opt.step(1e-4);
    const double t_full = seconds_since(t0);
    if (s >= 0) {
      fb += t_fb;
      full += t_full;
    }
    if (s == -1 || (a.warmup == 0 && s == -a.warmup)) be.profile().clear();  // time only the measured steps
    be.profile().enabled = a.profile;
  }
  if (a.profile) std::fprintf(stderr, "%s", be.profile().report().c_str());
  const double tokens = double(B * T * a.steps);
  const double flops = train_flops_per_token(cfg, T) * tokens;
  const double peak = gemm_peak(be);
  nlohmann::json j = {{"model", a.model},
                      {"backend", be.name()},
                      {"kernels", be.describe()},
                      {"batch", B},
                      {"seq_len", T},
                      {"steps", a.steps},
                      {"fwd_bwd_tok_s", tokens / fb},
                      {"step_tok_s", tokens / full},
                      {"fwd_bwd_s_per_step", fb / double(a.steps)},
                      {"optimizer_s_per_step", (full - fb) / double(a.steps)},
                      {"model_flops_per_s", flops / fb},
                      {"gemm_peak_flops_per_s", peak},
                      {"gemm_efficiency", flops / fb / peak}};
  std::printf("%s\n", j.dump().c_str());
}

void run(const BenchArgs& a) {
  auto be = open_backend(a.backend, a.threads);
  if (a.train) return run_train(a, *be);
  LoadOptions lo;
  lo.quiet = true;
  auto t0 = clock_type::now();
  auto model = Model::load(a.model, *be, lo);
  const double load_s = seconds_since(t0);
  double touch_s = 0;
  if (a.touch_all) {
    auto t1 = clock_type::now();
    model->touch_weights();
    touch_s = seconds_since(t1);
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
  be->profile().enabled = a.profile;
  generate(*model, prompts, go, {}, &st);
  if (a.profile) std::fprintf(stderr, "%s", be->profile().report().c_str());
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double bw = a.mem_read ? read_bandwidth() : 0.0;
  // The first decode step is timed with prefill in generate(); decode covers the remaining steps.
  nlohmann::json j = {{"model", a.model},
                      {"backend", be->name()},
                      {"kernels", be->describe()},
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
  if (a.mem_read) j["read_bytes_per_s"] = bw;
  std::printf("%s\n", j.dump().c_str());
}
}  // namespace

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* c = app.add_subcommand("bench", "Measure prefill/decode (or --train training) tokens/s on random ids (JSON)");
  c->add_option("--model,-m", a->model, "Model directory (required unless a subcommand: comm, gemm)");
  c->add_option("--prompt-len,--seq-len", a->prompt_len, "Prompt tokens per sequence (sequence length with --train)")
      ->check(CLI::Range(1, 1 << 20));
  c->add_option("--gen", a->gen, "Tokens to generate per sequence")->check(CLI::Range(1, 1 << 20));
  c->add_option("--batch", a->batch, "Sequences decoded (or trained) together")->check(CLI::Range(1, 4096));
  c->add_option("--prefill-chunk", a->chunk, "Prompt tokens per prefill step")->check(CLI::Range(1, 1 << 20));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  c->add_option("--seed", a->seed, "Seed of the random prompt ids");
  c->add_flag("--train", a->train, "Measure training (forward + backward + Muon/AdamW step) instead of inference");
  c->add_option("--steps", a->steps, "Timed training steps (with --train)")->check(CLI::Range(1, 100000));
  c->add_flag("--touch-all", a->touch_all, "Fault in every weight page before timing (RSS = whole model)");
  c->add_option("--warmup", a->warmup, "Untimed runs (training steps) before the timed ones")->check(CLI::Range(0, 100));
  c->add_flag("--profile", a->profile, "Print the time spent in each op (stderr)");
  c->add_flag("--mem-read", a->mem_read, "Also measure the read bandwidth (1 GiB, all threads): read_bytes_per_s");
  add_backend_option(c, a->backend);
  register_bench_comm(c);
  register_bench_gemm(c);
  c->require_subcommand(0, 1);
  c->callback([a, c] {
    if (!c->get_subcommands().empty()) return;
    ZAYA_CHECK(!a->model.empty(), "bench: --model is required (or run a subcommand: bench comm, bench gemm)");
    run(*a);
  });
}

}  // namespace zaya::cli
