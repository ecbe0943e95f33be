// zaya ckpt reshape: rewrite a training checkpoint's optimizer state for another number of ranks or
// ZeRO setting, offline. Model tensors and the data / balancing / trainer state are copied; each new
// rank's shard is filled from every chunk of the old shards that intersects what it will own
// (train/dist_optim.h). `zaya train --resume` does the same on load, so this is for preparing or
// inspecting a layout ahead of a job.
//
//   zaya ckpt reshape --from runs/a/checkpoints/step-00001000 --to runs/b --world 8 --zero 1
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "dist/comm.h"
#include "train/ckpt.h"
#include "train/dist_optim.h"

namespace zaya::cli {

namespace fs = std::filesystem;

namespace {
struct ReshapeArgs {
  std::string from, to;
  int world = 1, zero = 0;
};

void reshape(const ReshapeArgs& a) {
  std::string why;
  ZAYA_CHECK(CheckpointManager::verify(a.from, &why), a.from, ": not a good checkpoint: ", why);
  const std::string name = fs::path(a.from).filename().string();
  ZAYA_CHECK(name.size() == 13 && name.rfind("step-", 0) == 0, a.from, ": expected a step-XXXXXXXX directory");
  const int64_t step = std::stoll(name.substr(5));
  ModelConfig mc = load_config(path_join(a.from, "config.json"));
  auto model = Model::create(mc, reference_backend());
  std::vector<ParamRef> params;
  for (auto& t : model->tensors())
    if (t.trainable) params.push_back({t.name, model->param(t.name), model->grad(t.name), t.shape});
  auto blobs = CheckpointManager::read_blobs(a.from);
  const auto shards = optim_shards(blobs, a.from);
  ZAYA_CHECK(!shards.empty() || blobs.count("optimizer"), a.from, ": the checkpoint has no optimizer state");
  CheckpointManager out(a.to, 1000000);
  ZAYA_CHECK(!fs::exists(out.dir_of(step)), out.dir_of(step), ": already exists");
  const std::string tmp = out.begin(step);
  for (auto& e : fs::recursive_directory_iterator(a.from)) {
    const std::string rel = fs::relative(e.path(), a.from).string();
    if (e.is_directory()) {
      fs::create_directories(path_join(tmp, rel));
      continue;
    }
    if (rel == "MANIFEST.json" || rel == "DONE" || rel.rfind("state/optim-rank-", 0) == 0 || rel == "state/optimizer.bin")
      continue;
    write_file_atomic(path_join(tmp, rel), read_file(e.path().string()));
  }
  for (int r = 0; r < a.world; ++r) {
    auto lc = make_layout_comm(r, a.world);
    ShardedOptimizer so(params, OptimConfig{}, reference_backend(), *lc, a.zero);
    if (!shards.empty()) so.load_shards(shards);
    else so.load_legacy(blobs["optimizer"], a.from + "/state/optimizer.bin");
    write_file_atomic(path_join(tmp, "state/" + optim_shard_name(r) + ".bin"), so.save_shard());
    std::fprintf(stderr, "%s\n", so.describe().c_str());
  }
  const std::string dir = out.commit(step);
  std::fprintf(stderr, "wrote %s: %d rank shard(s), zero = %d (from %zu shard(s))\n", dir.c_str(), a.world, a.zero,
               shards.size());
}
}  // namespace

void register_ckpt(CLI::App& app) {
  auto* c = app.add_subcommand("ckpt", "Training checkpoint tools (reshape between parallel layouts)");
  c->require_subcommand(1);
  auto a = std::make_shared<ReshapeArgs>();
  auto* r = c->add_subcommand("reshape", "Rewrite a checkpoint's optimizer shards for another world size / ZeRO");
  r->add_option("--from", a->from, "Checkpoint directory (.../checkpoints/step-XXXXXXXX)")->required()->check(
      CLI::ExistingDirectory);
  r->add_option("--to", a->to, "Run directory to write checkpoints/step-XXXXXXXX into")->required();
  r->add_option("--world", a->world, "Data-parallel ranks of the new layout")->required()->check(CLI::Range(1, 65536));
  r->add_option("--zero", a->zero, "0: AdamW state replicated; 1: sharded (ZeRO-1)")->check(CLI::Range(0, 1));
  r->callback([a] { reshape(*a); });
}

}  // namespace zaya::cli
