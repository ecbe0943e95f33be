// zaya serve: the OpenAI-compatible HTTP server (src/serve/server.h, docs/serving.md).
//   zaya serve --model DIR [--host 127.0.0.1] [--port 8080] [--api-key K] [--slots N] [--ctx N] [--backend B]
// It listens at once (/health answers 503 "Loading model"), loads the model on a background thread,
// prints one line when listening and one when ready, and stops cleanly on SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "serve/server.h"

namespace zaya::cli {

namespace {
struct ServeArgs {
  ServeOptions o;
  std::string backend, skip_mode;
  int threads = 0;
  int64_t max_body_mib = 64;
};

void run(ServeArgs a) {
  ServeOptions& o = a.o;
  o.max_body_bytes = size_t(a.max_body_mib) << 20;
  o.engine.threads = a.threads;  // the engine thread sets its own OpenMP thread count
  // Signals go to one waiting thread only: block them before any thread exists.
  ::signal(SIGPIPE, SIG_IGN);  // a vanished client must not kill the server
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Server srv(o);
  const int port = srv.bind();
  std::printf("zaya serve: listening on http://%s:%d (loading %s)\n", o.host.c_str(), port, o.model_dir.c_str());
  std::fflush(stdout);
  const std::string backend = a.backend, skip_mode = a.skip_mode;
  const int threads = a.threads;
  srv.start([o, backend, skip_mode, threads] {
    return load_served_model(o, open_backend(backend, threads), load_options(skip_mode, true));
  });

  int sig = 0;
  std::thread waiter([&] { sigwait(&set, &sig); });
  std::string err = srv.wait_loaded();
  if (!err.empty()) {
    pthread_kill(waiter.native_handle(), SIGTERM);  // pending (blocked) → its sigwait returns
    waiter.join();
    srv.stop();
    throw_error(err);
  }
  std::printf("zaya serve: ready: model '%s' on http://%s:%d (%d slots)\n", srv.model_id().c_str(), o.host.c_str(),
              port, o.engine.slots);
  std::fflush(stdout);
  waiter.join();
  std::fprintf(stderr, "zaya serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  srv.stop();
}
}  // namespace

void register_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  ServeOptions& o = a->o;
  auto* c = app.add_subcommand("serve", "OpenAI-compatible HTTP server with continuous batching (docs/serving.md)");
  c->add_option("--model,-m", o.model_dir, "Model directory (config.json, safetensors, tokenizer files)")->required();
  c->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  c->add_option("--port", o.port, "Port to listen on (0: any free port, printed)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  c->add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY' on every endpoint but /health");
  c->add_option("--slots", o.engine.slots, "Requests running at once")->check(CLI::Range(1, 4096))->capture_default_str();
  c->add_option("--ctx", o.engine.ctx, "Tokens per request, prompt + completion (0: the model's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--max-queue", o.engine.max_queue, "Waiting requests beyond which the server answers 503")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  c->add_option("--prefill-chunk", o.engine.prefill_chunk, "Prompt tokens per request per engine step")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  c->add_option("--max-batch-tokens", o.engine.max_batch_tokens, "Rows per forward call")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24))
      ->capture_default_str();
  c->add_option("--kv-budget-gib", o.engine.kv_budget_gib, "Memory for the slots' KV cache and states (0: no limit)")
      ->check(CLI::Range(0.0, 1e6));
  c->add_option("--served-model-name", o.model_id, "The model id clients use (default: the directory's name)");
  c->add_option("--reasoning-parser", o.reasoning_parser,
                "qwen3: split <think>…</think> into reasoning_content; none; auto: qwen3 if the chat template has <think>")
      ->check(CLI::IsMember({"qwen3", "none", "auto"}))
      ->capture_default_str();
  c->add_option("--tokenizer", o.tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--threads", a->threads, "CPU threads for the model (default: all)")->check(CLI::NonNegativeNumber);
  c->add_option("--http-threads", o.http_threads, "HTTP worker threads (0: max(128, 2 × (slots + max-queue)))")
      ->check(CLI::Range(0, 100000));
  c->add_option("--max-body-mib", a->max_body_mib, "Largest request body; larger ones get 413")
      ->check(CLI::Range(int64_t(1), int64_t(4096)))
      ->capture_default_str();
  add_backend_option(c, a->backend);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
