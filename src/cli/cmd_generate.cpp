// zaya generate: tokenize prompts, batched prefill + decode, stream text, report tokens/s.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "infer/generate.h"
#include "tokenizer/tokenizer.h"

namespace zaya::cli {

namespace {
struct GenerateArgs {
  std::string model, tokenizer, skip_mode, backend;
  std::vector<std::string> prompts;
  int64_t n = 64, chunk = 2048;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
  bool ignore_eos = false;
};

void run(const GenerateArgs& a) {
  auto be = open_backend(a.backend, a.threads);
  auto model = Model::load(a.model, *be, load_options(a.skip_mode));
  std::string tok_path = a.tokenizer.empty() ? path_join(a.model, "tokenizer.json") : a.tokenizer;
  Tokenizer tok = Tokenizer::from_file(tok_path);
  std::vector<std::vector<int32_t>> prompts;
  for (auto& p : a.prompts) {
    prompts.push_back(tok.encode(p, true));
    for (int32_t id : prompts.back())
      ZAYA_CHECK(id < model->config().vocab_size, tok_path, ": token id ", id,
                 " is outside the model's vocabulary (", model->config().vocab_size, ")");
  }
  GenerateOptions go;
  go.max_new_tokens = a.n;
  go.prefill_chunk = a.chunk;
  go.sampler = {a.temperature, a.top_k, a.top_p, a.seed};
  if (!a.ignore_eos) go.stop_ids = model->config().eos_ids;
  const bool stream = prompts.size() == 1;
  std::unique_ptr<StreamDecoder> sd;
  if (stream) {
    sd = std::make_unique<StreamDecoder>(tok);
    std::printf("%s", a.prompts[0].c_str());
    std::fflush(stdout);
  }
  GenerateStats st;
  auto outs = generate(*model, prompts, go,
                       [&](size_t, int32_t id) {
                         if (!stream) return;
                         std::printf("%s", sd->push(id).c_str());
                         std::fflush(stdout);
                       },
                       &st);
  if (stream) {
    std::printf("%s\n", sd->flush().c_str());
  } else {
    for (size_t i = 0; i < outs.size(); ++i)
      std::printf("[%zu] %s%s\n", i, a.prompts[i].c_str(), tok.decode(outs[i], false).c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "prefill: %lld tokens in %.3f s (%.1f tok/s); decode: %lld tokens in %.3f s (%.2f tok/s)\n",
               (long long)st.prefill_tokens, st.prefill_seconds,
               st.prefill_seconds > 0 ? st.prefill_tokens / st.prefill_seconds : 0.0, (long long)st.decode_tokens,
               st.decode_seconds, st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0);
}
}  // namespace

void register_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* c = app.add_subcommand("generate", "Generate text from a prompt (several --prompt run as one batch)");
  c->add_option("--model,-m", a->model, "Model directory (config.json + safetensors)")->required();
  c->add_option("--prompt,-p", a->prompts, "Prompt text; repeat for a batch")->required();
  c->add_option("-n,--max-new-tokens", a->n, "Tokens to generate per prompt")->check(CLI::Range(0, 1 << 24));
  c->add_option("--temperature,-t", a->temperature, "Sampling temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-k", a->top_k, "Keep the k most likely tokens (0 = off)")->check(CLI::NonNegativeNumber);
  c->add_option("--top-p", a->top_p, "Nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  c->add_option("--seed", a->seed, "Random seed");
  c->add_option("--tokenizer", a->tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--prefill-chunk", a->chunk, "Prompt tokens per prefill step")->check(CLI::Range(1, 1 << 20));
  c->add_flag("--ignore-eos", a->ignore_eos, "Do not stop at the end-of-sequence token");
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
