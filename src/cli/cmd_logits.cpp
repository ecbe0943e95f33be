// zaya logits: one full forward pass over given ids, float32 logits [T, V] to a .npy file.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "io/npy.h"
#include "model/model.h"

namespace zaya::cli {

namespace {
struct LogitsArgs {
  std::string model, ids, out, skip_mode, backend;
  int threads = 0;
};

std::vector<int32_t> parse_ids_impl(const std::string& s) {
  std::vector<int32_t> ids;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    std::string tok = s.substr(p, q - p);
    size_t a = tok.find_first_not_of(" \t"), b = tok.find_last_not_of(" \t");
    ZAYA_CHECK(a != std::string::npos, "--ids: empty entry at position ", ids.size());
    tok = tok.substr(a, b - a + 1);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (...) {
      used = 0;
    }
    ZAYA_CHECK(used == tok.size() && v >= 0 && v < (1LL << 31), "--ids: '", tok, "' is not a token id");
    ids.push_back(int32_t(v));
    p = q + 1;
  }
  ZAYA_CHECK(!ids.empty(), "--ids: no ids given");
  return ids;
}

}  // namespace

std::vector<int32_t> parse_ids(const std::string& s) { return parse_ids_impl(s); }

namespace {
void run(const LogitsArgs& a) {
  auto be = open_backend(a.backend, a.threads);
  std::vector<int32_t> ids = parse_ids(a.ids);
  auto model = Model::load(a.model, *be, load_options(a.skip_mode));
  const int64_t T = int64_t(ids.size()), V = model->config().vocab_size;
  SeqState st = model->new_state(T);
  std::vector<float> logits(size_t(T * V));
  Workspace ws;
  SeqChunk chunk{&st, ids.data(), T};
  ForwardOptions fo;
  fo.all_logits = true;
  model->forward(std::span<const SeqChunk>(&chunk, 1), logits.data(), ws, fo);
  write_npy_f32(a.out, logits.data(), {T, V});
  std::fprintf(stderr, "wrote %s: float32 [%lld, %lld]\n", a.out.c_str(), (long long)T, (long long)V);
}
}  // namespace

void register_logits(CLI::App& app) {
  auto a = std::make_shared<LogitsArgs>();
  auto* c = app.add_subcommand("logits", "Write the float32 logits [T, V] of one forward pass to a .npy file");
  c->add_option("--model,-m", a->model, "Model directory")->required();
  c->add_option("--ids", a->ids, "Comma-separated token ids, e.g. 2,9259,236888")->required();
  c->add_option("--out,-o", a->out, "Output .npy path")->required();
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
