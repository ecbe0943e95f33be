// libFuzzer target: arbitrary bytes as a token shard file image (src/data/shard.h).
// shard_parse must either throw zaya::Error or return a view whose offsets and tokens lie inside the
// input and satisfy the documented invariants. Each input is parsed twice: with every check, and with
// the header checksum skipped, so that mutated headers reach the size, offset and token checks.
//
// fuzz-sources: src/data/shard.cpp src/core/fileutil.cpp -lxxhash
// (read by fuzz/run.sh when it compiles this target without CMake)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "data/shard.h"

namespace {

void check(const zaya::ShardView& v, const uint8_t* data, size_t size, bool verified_payload) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(data), hi = lo + size;
  const uintptr_t o = reinterpret_cast<uintptr_t>(v.offsets), t = reinterpret_cast<uintptr_t>(v.tokens);
  if (o != lo + zaya::kShardHeaderBytes) std::abort();
  if (t < o || (t - o) / 8 != v.n_docs + 1 || (t - o) % 8 != 0) std::abort();
  if (t > hi || v.n_tokens * v.token_width != hi - t) std::abort();  // tokens end exactly at the end
  if (v.token_width != 2 && v.token_width != 4) std::abort();
  if (v.vocab_size == 0) std::abort();
  if (v.doc_begin(0) != 0 || v.doc_begin(v.n_docs) != v.n_tokens) std::abort();
  for (uint64_t d = 0; d < v.n_docs; ++d)
    if (v.doc_begin(d + 1) <= v.doc_begin(d)) std::abort();
  volatile uint32_t sink = 0;
  if (v.n_tokens > 0) {
    int32_t first, last;
    v.copy_tokens(0, 1, &first);
    v.copy_tokens(v.n_tokens - 1, 1, &last);
    sink = sink ^ uint32_t(first) ^ uint32_t(last);
    if (verified_payload) {
      for (uint64_t i = 0; i < v.n_tokens; ++i)
        if (v.token(i) >= v.vocab_size) std::abort();
    }
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int mode = 0; mode < 3; ++mode) {
    const bool verify_payload = mode != 1, header_checksum = mode == 0;
    try {
      zaya::ShardView v = zaya::shard_parse(data, size, "fuzz.bin", verify_payload, header_checksum);
      check(v, data, size, verify_payload);
    } catch (const zaya::Error& e) {
      // rejected input: fine, but the message must name the file
      if (std::string(e.what()).rfind("fuzz.bin: ", 0) != 0) std::abort();
    }
  }
  return 0;
}
