// libFuzzer target: arbitrary bytes as an optimizer shard (state/optim-rank-NNNNN.bin of a training
// checkpoint, train/dist_optim.h) loaded by a one-process ShardedOptimizer over two small tensors (a
// Muon matrix and an AdamW vector). load_shards must throw zaya::Error or fill the state; a loaded state
// saved again must load back.
// (CMake build only: it links the zaya library.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/comm.h"
#include "train/dist_optim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<float> w(12 + 5), g(12 + 5);
  static auto comm = zaya::make_self_comm();
  std::vector<zaya::ParamRef> ps = {{"model.layers.0.mlp.down.weight", w.data(), g.data(), {4, 3}},
                                    {"model.layers.0.mlp.down.bias", w.data() + 12, g.data() + 12, {5}}};
  zaya::ShardedOptimizer so(ps, zaya::OptimConfig{}, zaya::reference_backend(), *comm, 0);
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    so.load_shards({{"fuzz.bin", bytes}});
  } catch (const zaya::Error&) {
    return 0;
  }
  const std::string again = so.save_shard();
  zaya::ShardedOptimizer so2(ps, zaya::OptimConfig{}, zaya::reference_backend(), *comm, 0);
  try {
    so2.load_shards({{"again.bin", again}});
  } catch (const zaya::Error&) {
    std::abort();  // what was accepted and written back must load
  }
  return 0;
}
