// An RsaBackend over the in-process continuous-batching engine (docs/rsa.md): each round's calls are
// submitted together and run as concurrent slots (infer/engine.h run_all). Used by `zaya rsa` and by
// the server's "rsa" request extension.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "infer/engine.h"
#include "infer/rsa.h"

namespace zaya {

struct EngineRsaOptions {
  // The prompt ids of one user message (chat template applied, or the raw text with BOS). Required.
  std::function<std::vector<int32_t>(const std::string& user_text)> encode_prompt;
  std::vector<int32_t> stop_ids;  // usually the model's eos_ids (and the template's end-of-turn token)
  // Called as traces of the current batch finish (done of total), from the calling thread.
  std::function<void(size_t done, size_t total)> progress;
};

// The completion text is the generated ids without a final stop token, decoded with special tokens
// kept (so a </think> that is a special token survives); completion_tokens counts every generated id,
// the stop token included (as vLLM's usage does). A call's max_tokens is clamped to what the context
// leaves after its prompt; a prompt that leaves no room is a zaya::Error naming the call.
RsaBackend engine_rsa_backend(Engine& engine, const Tokenizer& tok, EngineRsaOptions opt);

}  // namespace zaya
