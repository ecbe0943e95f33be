// zaya eval: perplexity of a text file, or a multiple-choice / generation task file, scored through the
// engine with lm-evaluation-harness's definitions (docs/eval.md, src/infer/eval.h).
//   zaya eval --model DIR --task items.jsonl [--format json] [--max-length 2048] [--limit N]
//   zaya eval --model DIR --perplexity text.txt|docs.jsonl [--format json]
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "infer/engine.h"
#include "infer/eval.h"
#include "tokenizer/tokenizer.h"

namespace zaya::cli {

namespace {
struct EvalArgs {
  std::string model, tokenizer, skip_mode, backend, perplexity, task, format = "text", samples;
  std::vector<std::string> until;
  int64_t max_length = 0, max_tokens = 256, limit = 0, batch = 2048;
  int slots = 8, threads = 0;
  bool bos = false;
};

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// --until values with C escapes (\n, \t, \\) turned into their characters: stop strings such as
// "\n\n" are hard to type otherwise.
std::string unescape(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      o += s[i];
      continue;
    }
    const char c = s[++i];
    o += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
  }
  return o;
}

void write_samples(const std::string& path, const std::vector<nlohmann::json>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.dump() + "\n";
  write_file_atomic(path, out);
}

void run(const EvalArgs& a) {
  ZAYA_CHECK(a.perplexity.empty() != a.task.empty(), "zaya eval: give exactly one of --perplexity FILE or --task FILE");
  // Read and validate the input before loading the model: a bad file fails fast.
  TaskFile task;
  std::vector<std::string> docs;
  if (!a.task.empty()) task = load_task(a.task, a.limit);
  else docs = load_perplexity_docs(a.perplexity, a.limit);

  auto be = open_backend(a.backend, a.threads);
  auto model = Model::load(a.model, *be, load_options(a.skip_mode, a.format == "json"));
  const std::string tok_path = a.tokenizer.empty() ? path_join(a.model, "tokenizer.json") : a.tokenizer;
  Tokenizer tok = Tokenizer::from_file(tok_path);
  const int64_t mpe = model->config().max_position_embeddings;
  const int64_t max_length = a.max_length > 0 ? a.max_length : std::min<int64_t>(2048, mpe);
  ZAYA_CHECK(max_length <= mpe, "--max-length ", max_length, " exceeds the model's max_position_embeddings (", mpe, ")");

  EngineOptions eo;
  eo.slots = a.slots;
  eo.threads = a.threads;  // OpenMP threads are set per thread: the engine thread sets its own
  eo.ctx = max_length;
  eo.max_batch_tokens = a.batch;
  eo.prefill_chunk = std::min<int64_t>(eo.prefill_chunk, a.batch);
  Engine engine(*model, eo);
  std::unique_ptr<Progress> bar;
  auto progress = [&](size_t done, size_t total) {
    if (!bar) bar = std::make_unique<Progress>("eval", double(total), "req");
    bar->update(double(done));
  };
  auto finish_bar = [&] {
    if (bar) bar->finish();
  };

  nlohmann::json out;
  std::string text;
  char buf[512];
  if (!docs.empty()) {
    PerplexityResult r = perplexity(engine, tok, docs, max_length, progress);
    finish_bar();
    out = {{"word_perplexity", num(r.word_perplexity)}, {"byte_perplexity", num(r.byte_perplexity)},
           {"bits_per_byte", num(r.bits_per_byte)},     {"token_perplexity", num(r.token_perplexity)},
           {"loglikelihood", r.loglikelihood},          {"n_tokens", r.n_tokens},
           {"n_words", r.n_words},                      {"n_bytes", r.n_bytes},
           {"n_docs", r.n_docs},                        {"n_requests", r.n_requests},
           {"max_length", max_length}};
    std::snprintf(buf, sizeof buf,
                  "word_perplexity  %.8g\nbyte_perplexity  %.8g\nbits_per_byte    %.8g\ntoken_perplexity %.8g\n"
                  "(%lld documents, %lld tokens, %lld words, %lld bytes, %lld windows of at most %lld tokens)\n",
                  r.word_perplexity, r.byte_perplexity, r.bits_per_byte, r.token_perplexity, (long long)r.n_docs,
                  (long long)r.n_tokens, (long long)r.n_words, (long long)r.n_bytes, (long long)r.n_requests,
                  (long long)(max_length - 1));
    text = buf;
  } else if (!task.generation) {
    McResult r = eval_multiple_choice(engine, tok, task.mc, max_length, a.bos, progress);
    finish_bar();
    out = {{"acc", r.acc},
           {"acc_stderr", num(r.acc_stderr)},
           {"acc_norm", r.acc_norm},
           {"acc_norm_stderr", num(r.acc_norm_stderr)},
           {"n", r.n},
           {"max_length", max_length}};
    std::snprintf(buf, sizeof buf, "acc      %.4f ± %.4f\nacc_norm %.4f ± %.4f\n(%lld items)\n", r.acc, r.acc_stderr,
                  r.acc_norm, r.acc_norm_stderr, (long long)r.n);
    text = buf;
    if (!a.samples.empty()) {
      std::vector<nlohmann::json> lines;
      for (size_t i = 0; i < task.mc.size(); ++i) {
        nlohmann::json lls = nlohmann::json::array(), greedy = nlohmann::json::array(), reqs = nlohmann::json::array();
        for (size_t c = 0; c < r.lls[i].size(); ++c) {
          lls.push_back(r.lls[i][c].logprob);
          greedy.push_back(r.lls[i][c].is_greedy);
          reqs.push_back({{"context", r.requests[i][c].context}, {"continuation", r.requests[i][c].continuation}});
        }
        lines.push_back({{"index", i}, {"gold", task.mc[i].gold}, {"lls", lls}, {"is_greedy", greedy},
                         {"pred", r.pred[i]}, {"pred_norm", r.pred_norm[i]},
                         {"acc", r.pred[i] == task.mc[i].gold ? 1.0 : 0.0},
                         {"acc_norm", r.pred_norm[i] == task.mc[i].gold ? 1.0 : 0.0}, {"requests", reqs}});
      }
      write_samples(a.samples, lines);
    }
  } else {
    GenOptions go;
    go.max_tokens = a.max_tokens;
    for (const auto& u : a.until) go.until.push_back(unescape(u));
    go.add_bos = a.bos;
    go.max_length = max_length;
    go.stop_ids = model->config().eos_ids;
    if (go.stop_ids.empty() && tok.eos_id() >= 0) go.stop_ids.push_back(tok.eos_id());
    GenResult r = eval_generation(engine, tok, task.gen, go, progress);
    finish_bar();
    out = {{"exact_match", r.exact_match}, {"boxed_match", r.boxed_match}, {"n", r.n}, {"max_tokens", a.max_tokens},
           {"max_length", max_length}};
    std::snprintf(buf, sizeof buf, "exact_match %.4f\nboxed_match %.4f\n(%lld items)\n", r.exact_match, r.boxed_match,
                  (long long)r.n);
    text = buf;
    if (!a.samples.empty()) {
      std::vector<nlohmann::json> lines;
      for (size_t i = 0; i < task.gen.size(); ++i)
        lines.push_back({{"index", i}, {"output", r.outputs[i]}, {"answer", task.gen[i].answer},
                         {"exact_match", r.exact[i]}, {"boxed_match", r.boxed[i]}});
      write_samples(a.samples, lines);
    }
  }
  if (a.format == "json") std::printf("%s\n", out.dump(2).c_str());
  else std::printf("%s", text.c_str());
  std::fflush(stdout);
}
}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* c = app.add_subcommand("eval", "Perplexity, multiple-choice and generation tasks (lm-evaluation-harness "
                                       "definitions; docs/eval.md)");
  c->add_option("--model,-m", a->model, "Model directory (config.json + safetensors)")->required();
  c->add_option("--tokenizer", a->tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  c->add_option("--perplexity", a->perplexity,
                "Text file (one document) or .jsonl ({\"text\"} per line, one document each)");
  c->add_option("--task", a->task,
                "JSONL task: {\"context\",\"choices\",\"gold\"} (multiple choice) or {\"prompt\",\"answer\"} (generation)");
  c->add_option("--format", a->format, "text | json")->check(CLI::IsMember({"text", "json"}));
  c->add_option("--max-length", a->max_length,
                "lm-eval's max_length: inputs hold at most N-1 tokens (default: min(2048, max_position_embeddings))")
      ->check(CLI::Range(int64_t(3), int64_t(1) << 24));
  c->add_option("--max-tokens", a->max_tokens, "Generation tasks: tokens to generate (lm-eval's max_gen_toks)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  c->add_option("--until", a->until, "Generation tasks: stop string (repeatable; \\n and \\t are escapes); the text is cut before it");
  c->add_option("--limit", a->limit, "Only the first N items or documents")->check(CLI::NonNegativeNumber);
  c->add_flag("--bos", a->bos,
              "Prepend the tokenizer's special tokens (BOS) to contexts and prompts, as lm-eval's hf model with "
              "add_bos_token=True (local-completions with tokenizer_backend=remote never does)");
  c->add_option("--samples", a->samples, "Write per-item results (JSONL) to this file");
  c->add_option("--slots", a->slots, "Requests running at once in the engine")->check(CLI::Range(1, 4096));
  c->add_option("--batch", a->batch, "Tokens per forward step (the engine's max_batch_tokens)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
