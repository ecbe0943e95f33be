// libFuzzer target: arbitrary bytes as a safetensors file image.
// safetensors_parse must either throw zaya::Error or return tensors that lie inside the input;
// touching the first and last byte of each lets ASan catch an out-of-range pointer.
//
// fuzz-sources: src/io/safetensors.cpp src/core/dtype.cpp src/core/fileutil.cpp -lxxhash
// (read by fuzz/run.sh when it compiles this target without CMake)
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    zaya::ParsedHeader h = zaya::safetensors_parse(data, size, "fuzz.safetensors");
    const uintptr_t lo = reinterpret_cast<uintptr_t>(data), hi = lo + size;
    volatile uint8_t sink = 0;
    uintptr_t prev_end = lo;
    for (const zaya::TensorInfo& t : h.tensors) {
      const uintptr_t b = reinterpret_cast<uintptr_t>(t.data);
      if (b < lo || b > hi || t.nbytes > hi - b) std::abort();  // outside the input
      if (b < prev_end) std::abort();                            // overlaps the previous tensor
      prev_end = b + t.nbytes;
      if (uint64_t(t.numel()) * zaya::dtype_size(t.dtype) != t.nbytes) std::abort();
      if (t.nbytes > 0) {
        sink = sink ^ t.data[0];
        sink = sink ^ t.data[t.nbytes - 1];
      }
      if (t.shape_str().empty() || t.file != "fuzz.safetensors") std::abort();
    }
    for (const auto& [k, v] : h.metadata) sink = sink ^ uint8_t(k.size() + v.size());
    (void)sink;
  } catch (const zaya::Error&) {
    // rejected input: fine
  }
  return 0;
}
