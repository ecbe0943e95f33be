// The HTTP server of `zaya serve` (server.h; docs/serving.md): setup, authentication, errors, and the
// small endpoints (/health, /v1/models, /metrics, /tokenize, /detokenize, /tokenizer_info).
#include "serve/server.h"

#include <algorithm>
#include <filesystem>

#include "core/fileutil.h"
#include "serve/server_impl.h"

namespace zaya {

namespace {

// tokenizer_config.json's special-token strings: plain strings or {"content": ...}.
std::string config_token(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
  return "";
}

void add_unique(std::vector<int32_t>& v, int32_t id) {
  if (id >= 0 && std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
}

}  // namespace

std::unique_ptr<ServedModel> load_served_model(const ServeOptions& opt, std::unique_ptr<Backend> backend,
                                               const LoadOptions& load) {
  auto m = std::make_unique<ServedModel>();
  m->backend = std::move(backend);
  m->model = Model::load(opt.model_dir, *m->backend, load);
  const std::string tok_path = opt.tokenizer.empty() ? path_join(opt.model_dir, "tokenizer.json") : opt.tokenizer;
  m->tok.emplace(Tokenizer::from_file(tok_path));
  ZAYA_CHECK(m->tok->vocab_size() <= m->model->config().vocab_size, tok_path, ": the tokenizer has ",
             m->tok->vocab_size(), " ids, more than the model's vocabulary (", m->model->config().vocab_size, ")");
  m->chat = ChatTemplate::load(opt.model_dir);
  const std::string cfg_path = path_join(opt.model_dir, "tokenizer_config.json");
  if (std::filesystem::exists(cfg_path)) {
    nlohmann::json cfg;
    try {
      cfg = nlohmann::json::parse(read_file(cfg_path));
    } catch (const nlohmann::json::exception& e) {
      throw_error(cfg_path, ": not valid JSON: ", e.what());
    }
    m->bos_token = config_token(cfg, "bos_token");
    m->eos_token = config_token(cfg, "eos_token");
    m->pad_token = config_token(cfg, "pad_token");
  }
  const Tokenizer& tok = *m->tok;
  if (m->bos_token.empty() && tok.bos_id() >= 0) m->bos_token = tok.id_to_token(tok.bos_id());
  if (m->eos_token.empty() && tok.eos_id() >= 0) m->eos_token = tok.id_to_token(tok.eos_id());
  if (m->pad_token.empty() && tok.pad_id() >= 0) m->pad_token = tok.id_to_token(tok.pad_id());
  // Stops: the model's eos ids and the tokenizer's eos token (vLLM stops on both).
  for (int32_t id : m->model->config().eos_ids) add_unique(m->stop_ids, id);
  if (!m->eos_token.empty()) add_unique(m->stop_ids, tok.token_to_id(m->eos_token));
  const std::string& rp = opt.reasoning_parser;
  ZAYA_CHECK(rp == "auto" || rp == "qwen3" || rp == "none", "--reasoning-parser must be qwen3, none or auto (got '",
             rp, "')");
  m->reasoning = rp == "qwen3" || (rp == "auto" && m->chat && m->chat->source().find("<think>") != std::string::npos);
  if (m->reasoning)
    for (const char* t : {"<think>", "</think>"}) add_unique(m->keep_special, tok.token_to_id(t));
  m->engine = std::make_unique<Engine>(*m->model, opt.engine);
  return m;
}

namespace serve {
namespace {

bool is_known_path(const std::string& p) {
  static const char* paths[] = {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics",
                                "/tokenize", "/detokenize", "/tokenizer_info"};
  for (const char* k : paths)
    if (p == k) return true;
  return false;
}

void handle_health(Core& core, httplib::Response& res) {
  const int st = core.state.load(std::memory_order_acquire);
  if (st == Core::Loading) {  // llama.cpp's exact body
    reply_json(res, 503, {{"error", {{"code", 503}, {"message", "Loading model"}, {"type", "unavailable_error"}}}});
  } else if (st == Core::Failed) {
    std::lock_guard<std::mutex> lk(core.mu);
    reply_json(res, 500, api::error_json(500, "server_error", "the model failed to load: " + core.load_error));
  } else if (!core.m->engine->alive()) {  // never healthy after the engine died (vLLM #7633)
    reply_json(res, 500, api::error_json(500, "server_error", "the engine has stopped: " + core.m->engine->death_reason()));
  } else {
    reply_json(res, 200, {{"status", "ok"}});
  }
}

void handle_models(Core& core, httplib::Response& res) {
  ServedModel& m = core.require_model();
  json card = {{"id", core.model_id}, {"object", "model"},  {"created", core.created},
               {"owned_by", "zaya"},  {"root", core.root},  {"parent", nullptr},
               {"max_model_len", m.engine->ctx()}};
  reply_json(res, 200, {{"object", "list"}, {"data", json::array({card})}});
}

void handle_tokenize(Core& core, const httplib::Request& req, httplib::Response& res) {
  api::TokenizeRequest r = api::parse_tokenize_request(req.body);
  ServedModel& m = core.require_model();
  core.check_model(r.model);
  std::string text = r.prompt;
  if (r.is_chat) {
    if (!m.chat) throw api::ApiError(400, "invalid_request_error", "this model has no chat template", "messages");
    try {
      text = m.chat->render(r.messages, r.tools, r.add_generation_prompt, r.chat_template_kwargs);
    } catch (const Error& e) {
      api::bad_request("messages", std::string("the chat template failed on these messages: ") + e.what());
    }
  }
  std::vector<int32_t> ids = m.tok->encode(text, r.add_special_tokens);
  json out = {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", m.engine->ctx()}, {"token_strs", nullptr}};
  if (r.return_token_strs) {
    json strs = json::array();
    for (int32_t id : ids) strs.push_back(m.tok->id_to_token(id));
    out["token_strs"] = std::move(strs);
  }
  reply_json(res, 200, out);
}

void handle_detokenize(Core& core, const httplib::Request& req, httplib::Response& res) {
  api::DetokenizeRequest r = api::parse_detokenize_request(req.body);
  ServedModel& m = core.require_model();
  core.check_model(r.model);
  const int64_t V = m.model->config().vocab_size;
  for (size_t i = 0; i < r.tokens.size(); ++i)
    if (r.tokens[i] >= V)
      api::bad_request("tokens[" + std::to_string(i) + "]", "token id " + std::to_string(r.tokens[i]) +
                                                                " is outside the vocabulary [0, " + std::to_string(V) + ")");
  reply_json(res, 200, {{"prompt", m.tok->decode(r.tokens, false)}});
}

// What lm-eval's remote tokenizer reads (eos_token, bos_token, pad_token, chat_template), plus sizes.
void handle_tokenizer_info(Core& core, httplib::Response& res) {
  ServedModel& m = core.require_model();
  auto tok_or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json out = {{"tokenizer_class", "PreTrainedTokenizerFast"},
              {"eos_token", tok_or_null(m.eos_token)},
              {"bos_token", tok_or_null(m.bos_token)},
              {"pad_token", tok_or_null(m.pad_token)},
              {"chat_template", m.chat ? json(m.chat->source()) : json(nullptr)},
              {"model_max_length", m.engine->ctx()},
              {"vocab_size", m.tok->vocab_size()}};
  for (const char* k : {"eos", "bos", "pad"}) {
    const std::string& s = std::string(k) == "eos" ? m.eos_token : std::string(k) == "bos" ? m.bos_token : m.pad_token;
    int32_t id = s.empty() ? -1 : m.tok->token_to_id(s);
    out[std::string(k) + "_token_id"] = id >= 0 ? json(id) : json(nullptr);
  }
  reply_json(res, 200, out);
}

void handle_metrics(Core& core, httplib::Response& res) {
  ServedModel& m = core.require_model();
  res.status = 200;
  res.set_content(core.metrics->render(m.engine->stats()), "text/plain; version=0.0.4; charset=utf-8");
}

// Every handler answers errors as OpenAI error objects; nothing escapes to httplib.
template <typename F>
httplib::Server::Handler guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const api::ApiError& e) {
      reply_error(res, e);
    } catch (const std::exception& e) {
      reply_json(res, 500, api::error_json(500, "server_error", e.what()));
    }
  };
}

}  // namespace
}  // namespace serve

Server::Server(ServeOptions opt) : core_(std::make_unique<serve::Core>()) {
  using namespace serve;
  Core& c = *core_;
  ZAYA_CHECK(!opt.model_dir.empty(), "serve: the model directory is required");
  c.opt = std::move(opt);
  c.root = c.opt.model_dir;
  c.model_id = c.opt.model_id;
  if (c.model_id.empty()) {
    std::filesystem::path p(c.opt.model_dir);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" → "dir"
    c.model_id = p.filename().string();
  }
  c.created = std::time(nullptr);
  const EngineOptions& e = c.opt.engine;
  int threads = c.opt.http_threads > 0 ? c.opt.http_threads
                                       : int(std::max<int64_t>(128, 2 * (int64_t(e.slots) + e.max_queue)));
  c.http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  c.http.set_payload_max_length(c.opt.max_body_bytes);
  c.http.set_read_timeout(c.opt.read_timeout_s, 0);
  c.http.set_write_timeout(c.opt.write_timeout_s, 0);
  c.http.set_keep_alive_max_count(1000);
  c.http.set_keep_alive_timeout(5);
  c.http.set_tcp_nodelay(true);

  Core* cp = &c;
  c.http.set_pre_routing_handler([cp](const httplib::Request& req, httplib::Response& res) {
    if (cp->opt.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + cp->opt.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    reply_json(res, 401,
               api::error_json(401, "authentication_error",
                               "Unauthorized: a valid API key is required (header 'Authorization: Bearer <key>')"));
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib produces itself (no route, body too large, bad request line) become JSON too;
  // responses that already carry a body are ours and stay as they are.
  c.http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg;
    if (res.status == 404 && is_known_path(req.path)) {
      res.status = 405;
      msg = "Method " + req.method + " is not allowed for " + req.path;
    } else if (res.status == 404) {
      msg = "Not found: " + req.method + " " + req.path;
    } else if (res.status == 413) {
      msg = "The request body is larger than the server's limit";
    } else {
      msg = "HTTP error " + std::to_string(res.status);
    }
    reply_json(res, res.status, api::error_json(res.status, api::error_type(res.status), msg));
    return httplib::Server::HandlerResponse::Handled;
  }));
  c.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    reply_json(res, 500, api::error_json(500, "server_error", msg));
  });

  c.http.Get("/health", guarded([cp](const httplib::Request&, httplib::Response& res) { handle_health(*cp, res); }));
  c.http.Get("/v1/models", guarded([cp](const httplib::Request&, httplib::Response& res) { handle_models(*cp, res); }));
  c.http.Get("/metrics", guarded([cp](const httplib::Request&, httplib::Response& res) { handle_metrics(*cp, res); }));
  c.http.Get("/tokenizer_info",
             guarded([cp](const httplib::Request&, httplib::Response& res) { handle_tokenizer_info(*cp, res); }));
  c.http.Post("/tokenize", guarded([cp](const httplib::Request& q, httplib::Response& res) { handle_tokenize(*cp, q, res); }));
  c.http.Post("/detokenize",
              guarded([cp](const httplib::Request& q, httplib::Response& res) { handle_detokenize(*cp, q, res); }));
  c.http.Post("/v1/completions",
              guarded([cp](const httplib::Request& q, httplib::Response& res) { handle_completions(*cp, q, res); }));
  c.http.Post("/v1/chat/completions",
              guarded([cp](const httplib::Request& q, httplib::Response& res) { handle_chat(*cp, q, res); }));
}

Server::~Server() { stop(); }

int Server::bind() {
  serve::Core& c = *core_;
  if (c.opt.port == 0) {
    c.port = c.http.bind_to_any_port(c.opt.host);
    ZAYA_CHECK(c.port > 0, "serve: cannot bind ", c.opt.host, " (any port)");
  } else {
    ZAYA_CHECK(c.http.bind_to_port(c.opt.host, c.opt.port), "serve: cannot bind ", c.opt.host, ":", c.opt.port,
               " (in use, or not an address of this machine)");
    c.port = c.opt.port;
  }
  return c.port;
}

void Server::start(Loader loader) {
  serve::Core& c = *core_;
  ZAYA_CHECK(c.port > 0, "serve: bind() must come before start()");
  c.http_thread = std::thread([&c] { c.http.listen_after_bind(); });
  c.load_thread = std::thread([&c, loader = std::move(loader)] {
    try {
      std::unique_ptr<ServedModel> m = loader();
      ZAYA_CHECK(m && m->engine && m->tok, "serve: the loader returned no model");
      c.metrics = std::make_unique<Metrics>(c.model_id, m->engine->ctx());
      Metrics* mt = c.metrics.get();
      m->engine->on_token_gap([mt](double s) { mt->on_token_gap(s); });
      c.reaper = std::make_unique<serve::Reaper>(c.recorder());
      std::lock_guard<std::mutex> lk(c.mu);
      c.m = std::move(m);
      c.state.store(serve::Core::Ready, std::memory_order_release);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(c.mu);
      c.load_error = e.what();
      c.state.store(serve::Core::Failed, std::memory_order_release);
    }
    c.cv.notify_all();
  });
}

std::string Server::wait_loaded() {
  serve::Core& c = *core_;
  std::unique_lock<std::mutex> lk(c.mu);
  c.cv.wait(lk, [&] { return c.state.load() != serve::Core::Loading; });
  return c.state.load() == serve::Core::Ready ? std::string() : c.load_error;
}

void Server::stop() {
  serve::Core& c = *core_;
  {
    std::lock_guard<std::mutex> lk(c.mu);
    if (c.stopped) return;
    c.stopped = true;
  }
  // Handlers see `stopping` within ~50 ms, cancel their engine requests and return; then the HTTP
  // workers are joined (idle keep-alive connections close within the keep-alive timeout), and only
  // then does the engine go, so that no handler can still be using it.
  c.stopping.store(true);
  if (c.load_thread.joinable()) c.load_thread.join();
  c.http.stop();
  if (c.http_thread.joinable()) c.http_thread.join();
  if (c.m) c.m->engine.reset();
  c.reaper.reset();
}

int Server::port() const { return core_->port; }
const std::string& Server::model_id() const { return core_->model_id; }

}  // namespace zaya
