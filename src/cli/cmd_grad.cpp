// zaya grad: the training twin of `zaya logits` — one forward and backward over given ids with the
// next-token cross-entropy averaged over the predicted positions (transformers' loss with labels = ids),
// writing the fp32 gradient of every trainable parameter under the tensor names of the checkpoint's own
// layout (native, or legacy with one tensor per expert), and printing {"loss": ...}.
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"

namespace zaya::cli {

namespace {
struct GradArgs {
  std::vector<std::string> ids;
  std::string model, out, skip_mode, backend;
  int threads = 0;
};

void run(const GradArgs& a) {
  auto be = open_backend(a.backend, a.threads);
  // Several --ids form a batch: each sequence is its own segment of one packed row (fresh state,
  // positions from 0), and the loss is the mean over every predicted position of every sequence.
  std::vector<int32_t> ids, targets;
  std::vector<std::vector<int32_t>> starts(1);
  for (auto& s : a.ids) {
    std::vector<int32_t> seq = parse_ids(s);
    ZAYA_CHECK(seq.size() >= 2, "--ids '", s, "': at least 2 ids are needed (position t predicts t+1)");
    starts[0].push_back(int32_t(ids.size()));
    ids.insert(ids.end(), seq.begin(), seq.end());
    targets.insert(targets.end(), seq.begin() + 1, seq.end());
    targets.push_back(-100);
  }
  const std::string cfg_path = path_join(a.model, "config.json");
  if (!file_exists(cfg_path)) throw_error(a.model, ": no config.json (expected a Hugging Face model directory)");
  ModelConfig cfg = load_config(cfg_path);
  LoadOptions lo = load_options(a.skip_mode);
  if (lo.skip_mode) cfg.skip_mode = *lo.skip_mode;
  const CheckpointLayout layout = cfg.layout;
  const bool clamp = cfg.clamp_temp;
  Checkpoint ck(a.model);
  auto m = Model::create(cfg, *be);
  m->load_params(ck);
  const int64_t T = int64_t(ids.size());
  const double loss = m->step(ids.data(), targets.data(), 1, T, true, &starts);

  SafeTensorsWriter w;
  std::vector<std::vector<float>> keep;  // gradients whose bytes the writer references
  std::map<std::string, std::string> legacy_of;
  for (auto& [n, l] : native_to_legacy_names(cfg)) legacy_of[n] = l;
  for (auto& t : m->tensors()) {
    if (!t.trainable) continue;
    const float* g = m->grad(t.name);
    if (layout == CheckpointLayout::Native) {
      w.add(t.name, DType::F32, t.shape, g);
      continue;
    }
    auto it = legacy_of.find(t.name);
    if (it != legacy_of.end()) {
      const std::string& ln = it->second;
      if (clamp && ln.find(".temp") != std::string::npos) {
        // Legacy clamp_temp stores s with temp = exp(clip(s, 1e-7, 2)): d/ds = d/dtemp · exp(s) inside the
        // clip range, 0 outside (spec §1.1).
        const TensorInfo& ti = ck.require(ln, t.shape);
        std::vector<float> s(size_t(ti.numel()));
        std::vector<uint8_t> raw(ti.data, ti.data + ti.nbytes);
        convert_to_f32(ti.dtype, raw.data(), s.data(), s.size());
        keep.emplace_back(size_t(t.numel));
        for (int64_t i = 0; i < t.numel; ++i)
          keep.back()[size_t(i)] = s[size_t(i)] > 1e-7f && s[size_t(i)] < 2.0f ? g[i] * std::exp(s[size_t(i)]) : 0.0f;
        w.add(ln, DType::F32, t.shape, keep.back().data());
      } else {
        w.add(ln, DType::F32, t.shape, g);
      }
      continue;
    }
    // Stacked experts → one legacy tensor per expert.
    const bool fc1 = t.name.find("gate_up_proj") != std::string::npos;
    const int j = std::stoi(t.name.substr(std::string("model.layers.").size()));
    const int64_t per = t.shape[1] * t.shape[2];
    for (int e = 0; e < cfg.n_experts; ++e)
      w.add(legacy_expert_name(j, e, fc1), DType::F32, {t.shape[1], t.shape[2]}, g + e * per);
  }
  w.set_metadata("loss", std::to_string(loss));
  w.set_metadata("tokens", std::to_string(T));
  w.set_metadata("sequences", std::to_string(a.ids.size()));
  w.set_metadata("backend", be->name());
  w.write(a.out);
  std::printf("%s\n", nlohmann::json{{"loss", loss}}.dump().c_str());
  std::fprintf(stderr, "wrote %s: fp32 gradients over %lld ids (%s layout names, backend %s)\n", a.out.c_str(),
               (long long)T, layout == CheckpointLayout::Native ? "native" : "legacy", be->name().c_str());
}
}  // namespace

void register_grad(CLI::App& app) {
  auto a = std::make_shared<GradArgs>();
  auto* c = app.add_subcommand("grad", "Write d(next-token loss)/d(every parameter) of one pass over ids (safetensors)");
  c->add_option("--model,-m", a->model, "Model directory (config.json + safetensors, either layout)")->required();
  c->add_option("--ids", a->ids, "Comma-separated token ids, e.g. 2,9259,236888; repeat for a batch")->required();
  c->add_option("--out,-o", a->out, "Output .safetensors path (fp32, the checkpoint's own tensor names)")->required();
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
