// libFuzzer target: parse a tokenizer.json from the input, then encode/decode/stream-decode.
// Input: JSON bytes, optionally followed by a NUL byte and the text to encode (raw bytes, maybe
// invalid UTF-8). The only exception allowed to escape the library is zaya::Error.
//   clang++-14 -std=c++20 -g -O1 -march=x86-64-v3 -fsanitize=fuzzer,address,undefined -Isrc \
//     fuzz/fuzz_tokenizer_json.cpp src/tokenizer/*.cpp src/core/*.cpp -o /tmp/fuzz_tok
//   mkdir -p /tmp/tok_corpus   # new units go to the first directory; the seeds stay untouched
//   /tmp/fuzz_tok -max_total_time=60 -max_len=4096 /tmp/tok_corpus fuzz/seeds/tokenizer
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string json = input.substr(0, nul);
  const std::string text =
      nul == std::string::npos ? std::string("Hello <bos>world  \xE2\x96\x81x\n\xF0\x9F\x98\x80\xFF") : input.substr(nul + 1);
  try {
    const zaya::Tokenizer tok = zaya::Tokenizer::from_json_string(json, "fuzz.json");
    for (bool special : {true, false}) {
      const std::vector<int32_t> ids = tok.encode(text, special);
      for (int32_t id : ids) {
        if (id < 0 || id >= tok.vocab_size()) __builtin_trap();  // ids must be in range
        tok.id_to_token(id);
        tok.is_special(id);
      }
      for (bool skip : {false, true}) {
        const std::string decoded = tok.decode(ids, skip);
        zaya::StreamDecoder stream(tok, skip);
        std::string streamed;
        for (int32_t id : ids) streamed += stream.push(id);
        streamed += stream.flush();
      }
    }
    // Arbitrary ids, taken from the text bytes.
    std::vector<int32_t> junk;
    for (size_t i = 0; i + 1 < text.size() && junk.size() < 64; i += 2) {
      junk.push_back(int32_t((uint8_t(text[i]) << 8 | uint8_t(text[i + 1])) % (tok.vocab_size() + 3)) - 1);
    }
    tok.decode(junk, false);
    zaya::StreamDecoder stream(tok);
    for (int32_t id : junk) stream.push(id);
    stream.flush();
    tok.token_to_id(text);
    tok.bos_id();
    tok.eos_id();
    tok.pad_id();
  } catch (const zaya::Error&) {
  }
  return 0;
}
