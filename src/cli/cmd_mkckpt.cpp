// zaya mkckpt: write a random-weight checkpoint of any config (up to the full ZAYA1 sizes) in either
// layout and dtype, streaming — memory use stays small whatever the model size.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/init.h"
#include "model/weights.h"

namespace zaya::cli {

namespace {
struct MkArgs {
  std::string config, out, dtype = "bf16", layout, init = "spec", tokenizer;
  uint64_t seed = 0;
  double shard_gib = 5.0;
};

void run(const MkArgs& a) {
  std::string text = read_file(a.config);
  ModelConfig cfg = parse_config(text, a.config);
  CheckpointLayout layout = cfg.layout;
  if (a.layout == "native") layout = CheckpointLayout::Native;
  if (a.layout == "legacy") layout = CheckpointLayout::Legacy;
  ZAYA_CHECK(layout == cfg.layout || layout == CheckpointLayout::Native,
             a.config, ": a native config cannot be written in the legacy layout; give a legacy config");
  DType dt = a.dtype == "f32" ? DType::F32 : a.dtype == "f16" ? DType::F16 : DType::BF16;
  InitOptions io;
  io.seed = a.seed;
  io.perturbed = a.init == "perturbed";
  std::filesystem::create_directories(a.out);

  auto specs = checkpoint_tensor_specs(cfg, layout);
  double total_bytes = 0;
  for (auto& s : specs) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    total_bytes += double(n) * double(s.name.find("balancing_biases") != std::string::npos ? 4 : dtype_size(dt));
  }
  Progress prog("writing " + a.out, total_bytes, "GiB", double(1 << 30));
  double done = 0;
  SafeTensorsWriter w;
  for (auto& s : specs) {
    // β is a fp32 buffer in upstream checkpoints; everything else takes the requested dtype.
    DType tdt = s.name.find("balancing_biases") != std::string::npos ? DType::F32 : dt;
    w.add_generated(s.name, tdt, s.shape, [&, s, tdt](size_t first, size_t n, void* dst) {
      const size_t block = 1 << 16;
      const int64_t nb = int64_t((n + block - 1) / block);
#pragma omp parallel
      {
        std::vector<float> buf(block);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; ++b) {
          size_t o = size_t(b) * block, m = std::min(block, n - o);
          init_tensor_range(cfg, s.name, s.shape, io, int64_t(first + o), int64_t(m), buf.data());
          uint8_t* d = static_cast<uint8_t*>(dst) + o * dtype_size(tdt);
          for (size_t i = 0; i < m; ++i) {
            if (tdt == DType::F32)
              reinterpret_cast<float*>(d)[i] = buf[i];
            else if (tdt == DType::BF16)
              reinterpret_cast<uint16_t*>(d)[i] = f32_to_bf16(buf[i]);
            else
              reinterpret_cast<uint16_t*>(d)[i] = f32_to_f16(buf[i]);
          }
        }
      }
      done += double(n * dtype_size(tdt));
      prog.update(done);
    });
  }
  w.set_metadata("format", "pt");
  w.write_dir(a.out, size_t(a.shard_gib * double(1ull << 30)));
  prog.finish();
  // config.json: the given file when the layout is unchanged, else the native translation.
  write_file_atomic(path_join(a.out, "config.json"), layout == cfg.layout ? text : native_config_json(cfg));
  if (!a.tokenizer.empty()) write_file_atomic(path_join(a.out, "tokenizer.json"), read_file(a.tokenizer));
  std::fprintf(stderr, "wrote %zu tensors (%s, %s layout) to %s\n", specs.size(), dtype_name(dt),
               layout == CheckpointLayout::Native ? "native" : "legacy", a.out.c_str());
}
}  // namespace

void register_mkckpt(CLI::App& app) {
  auto a = std::make_shared<MkArgs>();
  auto* c = app.add_subcommand("mkckpt", "Write a random-weight checkpoint for a config (benchmarks, tests, demos)");
  c->add_option("--config,-c", a->config, "config.json (native or legacy layout)")->required()->check(CLI::ExistingFile);
  c->add_option("--out,-o", a->out, "Output directory")->required();
  c->add_option("--dtype", a->dtype, "Weight dtype: bf16 | f16 | f32")->check(CLI::IsMember({"bf16", "f16", "f32"}));
  c->add_option("--layout", a->layout, "native | legacy (default: the config's)")
      ->check(CLI::IsMember({"native", "legacy"}));
  c->add_option("--init", a->init, "spec: the from-scratch init of spec §7; perturbed: every parameter randomized")
      ->check(CLI::IsMember({"spec", "perturbed"}));
  c->add_option("--seed", a->seed, "Random seed");
  c->add_option("--tokenizer", a->tokenizer, "A tokenizer.json to copy next to the weights")
      ->check(CLI::ExistingFile);
  c->add_option("--shard-gib", a->shard_gib, "Maximum shard size in GiB")->check(CLI::Range(0.001, 1024.0));
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
