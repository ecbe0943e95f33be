// libFuzzer target: arbitrary bytes as a config.json (all three schemas, src/model/config.h).
// parse_config must either throw zaya::Error or return a configuration that passes validate() and whose
// derived sizes are consistent; the native config it writes must parse back to the same shape.
//
// fuzz-sources: src/model/config.cpp src/core/fileutil.cpp -lxxhash
// (read by fuzz/run.sh when it compiles this target without CMake)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    zaya::ModelConfig c = zaya::parse_config(text, "fuzz.json");
    c.validate();
    if (int(c.pairs.size()) != c.n_pairs || c.nq % c.nk != 0) std::abort();
    if (c.conv_channels() != (c.nq + c.nk) * c.head_dim) std::abort();
    zaya::ModelConfig d = zaya::parse_config(zaya::native_config_json(c), "round-trip");
    if (d.n_pairs != c.n_pairs || d.hidden != c.hidden || d.nq != c.nq || d.nk != c.nk ||
        d.n_experts != c.n_experts || d.expert_inter != c.expert_inter)
      std::abort();
  } catch (const zaya::Error&) {
  }
  return 0;
}
