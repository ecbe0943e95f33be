// The reasoning split of vLLM's `qwen3` reasoning parser (docs/serving.md): the text inside
// <think>…</think> is `reasoning_content`, the rest is `content`. The generation prompt of ZAYA1-8B
// already ends in "<think>\n", so the model's output usually holds only the closing tag.
#pragma once
#include <optional>
#include <string>

namespace zaya {

struct ReasoningSplit {
  std::optional<std::string> reasoning;  // nullopt: no reasoning in this output
  std::optional<std::string> content;    // nullopt: nothing after the reasoning (yet)
};

// Whole outputs (non-streaming responses).
ReasoningSplit split_reasoning(const std::string& text);

// Streaming: push each chunk of newly decoded text; returns the deltas for this chunk (both may be
// empty). The concatenation of all reasoning deltas and of all content deltas equals
// split_reasoning(all text). Text that may be the start of a tag is held back until it is decided;
// finish() releases what is held back.
class ReasoningStream {
 public:
  ReasoningSplit push(const std::string& delta);
  ReasoningSplit finish();

 private:
  std::string pending_;  // undecided text (a possible partial tag)
  int state_ = 0;        // implementation-defined
};

}  // namespace zaya
