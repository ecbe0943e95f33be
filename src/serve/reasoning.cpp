// The reasoning split of vLLM's `qwen3` reasoning parser (serve/reasoning.h), as of vLLM main
// commit 00a4c6a (vllm/reasoning/qwen3_reasoning_parser.py, the Qwen3/Qwen3.5 parser), with
// thinking enabled:
//   - a <think> the model writes itself is removed;
//   - the reasoning ends at the first </think>: what follows is the content (none if empty);
//   - or it ends at a <tool_call> followed (after whitespace) by "<function" and then whitespace
//     or "=": the content starts at that <tool_call> (Qwen3.5 may call a tool without closing
//     the think block);
//   - without either, the whole output is reasoning (generation stopped while thinking).
// vLLM's streaming and non-streaming paths disagree in corner cases; this follows the rule that
// can be streamed, so a streamed response always equals the whole one (docs/serving.md):
//   - only a <think> before the end of the reasoning is removed, and text before it is kept;
//   - whichever ending (</think> or a genuine <tool_call>) comes first wins, and every
//     <tool_call> is considered, not only the first.
// When a request disables thinking the prompt already holds the closed think block, and vLLM then
// treats the whole output as content without calling the parser: callers skip the split then.
#include "serve/reasoning.h"

#include <string_view>

#include "serve/jinja_unicode.h"

namespace zaya {

namespace {

constexpr std::string_view kStart = "<think>";
constexpr std::string_view kEnd = "</think>";
constexpr std::string_view kToolCall = "<tool_call>";
constexpr std::string_view kFunction = "<function";

// ReasoningStream::state_: still in the reasoning (before/after a <think> the model wrote), or in
// the content after </think>, or in the content that a tool call opened.
enum State : int { kReasoning = 0, kReasoningAfterStart = 1, kContent = 2, kContentToolCall = 3 };

enum class Genuine { Yes, No, Undecided };

// s[i] starts a multi-byte UTF-8 character whose bytes have not all arrived yet.
bool incomplete_char(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const size_t width = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 1;
  if (width == 1 || i + width <= s.size()) return false;
  for (size_t k = i + 1; k < s.size(); ++k)
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return false;
  return true;
}

// Whether the text after a <tool_call> makes it a genuine tool call: re.match(r"<function[\s=]",
// after.lstrip()). Undecided while the text so far could still become one.
Genuine tool_call_follows(std::string_view after, bool final) {
  size_t i = 0, len;
  while (i < after.size()) {
    if (!final && incomplete_char(after, i)) return Genuine::Undecided;
    if (!jinja::uni::is_space(jinja::uni::next_cp(after, i, &len))) break;
    i += len;
  }
  const std::string_view rest = after.substr(i);
  if (rest.size() <= kFunction.size()) {
    if (kFunction.substr(0, rest.size()) != rest) return Genuine::No;
    return final ? Genuine::No : Genuine::Undecided;
  }
  if (rest.substr(0, kFunction.size()) != kFunction) return Genuine::No;
  if (!final && incomplete_char(rest, kFunction.size())) return Genuine::Undecided;
  const uint32_t c = jinja::uni::next_cp(rest, kFunction.size(), &len);
  return (c == '=' || jinja::uni::is_space(c)) ? Genuine::Yes : Genuine::No;
}

// The longest suffix of s that is a proper prefix of `tag`.
size_t partial_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

void add(std::optional<std::string>& field, std::string_view text) {
  if (text.empty()) return;
  if (!field) field.emplace();
  field->append(text);
}

// Consumes `pending` as far as it is decided, appending to `out`. `final`: no more text follows.
void scan(std::string& pending, int& state, ReasoningSplit& out, bool final) {
  while (true) {
    if (state == kContent || state == kContentToolCall) {
      add(out.content, pending);
      pending.clear();
      return;
    }
    const std::string_view p = pending;
    size_t at = std::string_view::npos;
    std::string_view tag;
    auto consider = [&](std::string_view t) {
      const size_t f = p.find(t);
      if (f < at) at = f, tag = t;
    };
    if (state == kReasoning) consider(kStart);
    consider(kEnd);
    consider(kToolCall);
    if (at == std::string_view::npos) {
      size_t keep = 0;
      if (!final) {
        if (state == kReasoning) keep = std::max(keep, partial_suffix(p, kStart));
        keep = std::max(keep, partial_suffix(p, kEnd));
        keep = std::max(keep, partial_suffix(p, kToolCall));
      }
      add(out.reasoning, p.substr(0, p.size() - keep));
      pending.erase(0, p.size() - keep);
      return;
    }
    if (tag == kStart) {
      add(out.reasoning, p.substr(0, at));
      pending.erase(0, at + kStart.size());
      state = kReasoningAfterStart;
      continue;
    }
    if (tag == kEnd) {
      add(out.reasoning, p.substr(0, at));
      pending.erase(0, at + kEnd.size());
      state = kContent;
      continue;
    }
    const Genuine g = tool_call_follows(p.substr(at + kToolCall.size()), final);
    if (g == Genuine::Undecided) {
      add(out.reasoning, p.substr(0, at));
      pending.erase(0, at);
      return;
    }
    if (g == Genuine::Yes) {
      add(out.reasoning, p.substr(0, at));
      pending.erase(0, at);  // the content starts with the <tool_call>
      state = kContentToolCall;
      continue;
    }
    add(out.reasoning, p.substr(0, at + kToolCall.size()));  // a <tool_call> mentioned in thought
    pending.erase(0, at + kToolCall.size());
  }
}

}  // namespace

ReasoningSplit split_reasoning(const std::string& text) {
  std::string pending = text;
  int state = kReasoning;
  ReasoningSplit out;
  scan(pending, state, out, true);
  // vLLM: the reasoning is "" rather than None when the output ends the reasoning at once with
  // </think> or holds no end at all; it is None before a tool call that opens the output.
  if (!out.reasoning && state != kContentToolCall) out.reasoning.emplace();
  return out;
}

ReasoningSplit ReasoningStream::push(const std::string& delta) {
  ReasoningSplit out;
  pending_ += delta;
  scan(pending_, state_, out, false);
  return out;
}

ReasoningSplit ReasoningStream::finish() {
  ReasoningSplit out;
  scan(pending_, state_, out, true);
  return out;
}

}  // namespace zaya
