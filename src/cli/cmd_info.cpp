// zaya info: configuration summary, parameter counts, cache sizes — from config.json alone.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/fileutil.h"
#include "model/config.h"
#include "model/count.h"

namespace zaya::cli {

void register_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* c = app.add_subcommand("info", "Describe a model from its config.json: sizes, parameters, KV cache");
  c->add_option("model", *path, "Model directory or config.json path")->required();
  c->callback([path] {
    std::string p = file_exists(path_join(*path, "config.json")) ? path_join(*path, "config.json") : *path;
    ModelConfig cfg = load_config(p);
    ParamCount pc = count_params(cfg);
    std::printf("%s\n", cfg.summary().c_str());
    std::printf("parameters: %lld total, %lld embedding, %lld non-embedding, %lld active non-embedding per token\n",
                (long long)pc.total, (long long)pc.embedding, (long long)(pc.total - pc.embedding),
                (long long)pc.active);
    std::printf("checkpoint tensors: %lld native layout, %lld legacy layout\n", (long long)pc.tensors_native,
                (long long)pc.tensors_legacy);
    std::printf("weights: %.2f GiB in bf16; active weights read per decoded token: %.2f GiB (bf16, incl. LM head)\n",
                pc.total * 2.0 / (1 << 30), (pc.active + cfg.vocab_size * cfg.hidden) * 2.0 / (1 << 30));
    std::printf("KV cache per token: %lld bytes with --backend cpu-f32 (fp32 cache, %.1f KiB), %lld bytes with "
                "cpu-bf16 (bf16 cache, %.1f KiB); conv+value state %lld fp32 values per sequence\n",
                (long long)pc.kv_bytes_per_token_f32, pc.kv_bytes_per_token_f32 / 1024.0,
                (long long)pc.kv_bytes_per_token_bf16, pc.kv_bytes_per_token_bf16 / 1024.0,
                (long long)cfg.n_pairs * (cfg.conv_state_len() * cfg.conv_channels() + cfg.value_half()));
  });
}

}  // namespace zaya::cli
