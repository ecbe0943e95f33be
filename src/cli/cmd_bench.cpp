// zaya bench: prefill and decode throughput of a model on random prompt ids; one JSON line out.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "infer/generate.h"

namespace zaya::cli {

namespace {
struct BenchArgs {
  std::string model;
  int64_t prompt_len = 128, gen = 32, batch = 1, chunk = 512;
  int threads = 0, warmup = 1;
  bool touch_all = false;
  uint64_t seed = 1;
};

void run(const BenchArgs& a) {
  set_threads(a.threads);
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
  c->add_option("--prompt-len", a->prompt_len, "Prompt tokens per sequence")->check(CLI::Range(1, 1 << 20));
  c->add_option("--gen", a->gen, "Tokens to generate per sequence")->check(CLI::Range(1, 1 << 20));
  c->add_option("--batch", a->batch, "Sequences decoded together")->check(CLI::Range(1, 4096));
  c->add_option("--prefill-chunk", a->chunk, "Prompt tokens per prefill step")->check(CLI::Range(1, 1 << 20));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  c->add_option("--seed", a->seed, "Seed of the random prompt ids");
  c->add_flag("--touch-all", a->touch_all, "Fault in every weight page before timing (RSS = whole model)");
  c->add_option("--warmup", a->warmup, "Untimed runs before the timed one")->check(CLI::Range(0, 100));
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
