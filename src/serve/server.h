// `zaya serve`: an OpenAI-compatible HTTP server (the shapes of vLLM's server) over the
// continuous-batching engine (docs/serving.md). It listens before the model is loaded; the model
// loads on a background thread while /health answers 503 "Loading model" (llama.cpp's shape).
//
//   POST /v1/completions, /v1/chat/completions (stream or not), GET /v1/models, GET /health,
//   GET /metrics (Prometheus, vLLM's names), POST /tokenize, POST /detokenize, GET /tokenizer_info
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infer/engine.h"
#include "model/model.h"
#include "serve/chat.h"
#include "tokenizer/tokenizer.h"

namespace zaya {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port (see Server::bind)
  std::string api_key;                    // non-empty: every endpoint but /health needs "Bearer <key>"
  std::string model_dir;                  // required
  std::string model_id;                   // the served name; "": the basename of model_dir
  std::string tokenizer;                  // tokenizer.json; "": model_dir/tokenizer.json
  std::string reasoning_parser = "auto";  // qwen3 | none | auto (qwen3 when the chat template has "<think>")
  EngineOptions engine;
  int http_threads = 0;                   // worker threads; 0: max(128, 2 × (slots + max_queue))
  size_t max_body_bytes = size_t(64) << 20;  // larger request bodies get 413
  int read_timeout_s = 60, write_timeout_s = 60;
};

// Everything a ready server serves; built by a loader on the background thread.
// Members are destroyed in reverse order: the engine first, the backend last.
struct ServedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tok;
  std::optional<ChatTemplate> chat;          // none: /v1/chat/completions answers 400
  std::string bos_token, eos_token, pad_token;  // tokenizer_config.json's (for /tokenizer_info)
  std::vector<int32_t> stop_ids;             // end generation unless ignore_eos: the model's eos ids + the tokenizer's eos
  std::vector<int32_t> keep_special;         // special tokens whose text is kept (the reasoning tags)
  bool reasoning = false;                    // chat responses split <think>…</think> into reasoning_content
  std::unique_ptr<Engine> engine;
};

// The default loading: Model::load(model_dir) on `backend`, the tokenizer, the chat template
// (ChatTemplate::load), the stop ids, the reasoning switch, and the engine. Throws zaya::Error.
std::unique_ptr<ServedModel> load_served_model(const ServeOptions& opt, std::unique_ptr<Backend> backend,
                                               const LoadOptions& load = {});

namespace serve {
struct Core;
}

class Server {
 public:
  using Loader = std::function<std::unique_ptr<ServedModel>()>;
  explicit Server(ServeOptions opt);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free port) and returns the port. Throws zaya::Error.
  int bind();
  // Starts answering (on its own thread) and runs `loader` on another thread.
  void start(Loader loader);
  // Blocks until the model is ready ("") or failed to load (the reason).
  std::string wait_loaded();
  // Stops accepting, ends open streams, joins the threads. Idempotent.
  void stop();
  int port() const;
  const std::string& model_id() const;

 private:
  std::unique_ptr<serve::Core> core_;
};

}  // namespace zaya
