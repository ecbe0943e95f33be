// The qwen3 reasoning split (serve/reasoning.h). Whole outputs follow vLLM's Qwen3ReasoningParser
// (vLLM main, commit 00a4c6a) with thinking enabled; a stream, however its text is chunked, adds up
// to the whole output's split.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "serve/reasoning.h"

namespace {

using zaya::ReasoningSplit;
using zaya::ReasoningStream;
using zaya::split_reasoning;
using Opt = std::optional<std::string>;

void expect_split(const std::string& text, const Opt& reasoning, const Opt& content) {
  const ReasoningSplit s = split_reasoning(text);
  EXPECT_EQ(s.reasoning, reasoning) << "reasoning of " << text;
  EXPECT_EQ(s.content, content) << "content of " << text;
}

TEST(Reasoning, WholeOutputsAsVllm) {
  // <think> in the prompt (ZAYA1-8B, Qwen3.5): only the closing tag is generated
  expect_split("Let me think.\n</think>\n\nThe answer is 4.", "Let me think.\n", "\n\nThe answer is 4.");
  // the model writes <think> itself (older Qwen3 templates): the tag is removed
  expect_split("<think>abc</think>xyz", "abc", "xyz");
  // nothing after </think>: content None; nothing before: reasoning ""
  expect_split("reasoning only</think>", "reasoning only", std::nullopt);
  expect_split("</think>answer", "", "answer");
  expect_split("</think>", "", std::nullopt);
  // no </think> with thinking enabled: the output was cut while thinking, all of it is reasoning
  expect_split("still thinking about it", "still thinking about it", std::nullopt);
  expect_split("", "", std::nullopt);
  // only the first </think> splits
  expect_split("a</think>b</think>c", "a", "b</think>c");
  // a tool call without </think> ends the reasoning when <function follows (Qwen3.5)
  expect_split("I will call.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
               "I will call.\n", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>");
  expect_split("<tool_call><function name=\"f\">", std::nullopt, "<tool_call><function name=\"f\">");
  // a <tool_call> mentioned in the reasoning, not followed by <function, does not end it
  expect_split("use <tool_call> tags", "use <tool_call> tags", std::nullopt);
  expect_split("x<tool_call>", "x<tool_call>", std::nullopt);
  expect_split("x<tool_call>\n<functionality", "x<tool_call>\n<functionality", std::nullopt);
  // ZAYA's own tool-call tag is not Qwen's
  expect_split("r</think>\n\n<zyphra_tool_call>\n<function=f>\n</function>\n</zyphra_tool_call>", "r",
               "\n\n<zyphra_tool_call>\n<function=f>\n</function>\n</zyphra_tool_call>");
  // unicode passes through
  expect_split("думаю 🤔</think>ответ ✅", "думаю 🤔", "ответ ✅");
}

TEST(Reasoning, StreamingCornerCasesFollowTheStreamableRule) {
  // vLLM's non-streaming parser drops text before a <think>; its streaming parser keeps it. The
  // streamable rule keeps it in both.
  expect_split("pre<think>in</think>post", "prein", "post");
  // a <think> after the end of the reasoning is content
  expect_split("r</think>c<think>x", "r", "c<think>x");
  // whichever end comes first wins
  expect_split("a<tool_call> <function=f></tool_call></think>b", "a", "<tool_call> <function=f></tool_call></think>b");
}

// Feeds `chunks` and checks the concatenated deltas against the whole split.
void expect_stream_equals_whole(const std::string& text, const std::vector<std::string>& chunks) {
  ReasoningStream st;
  std::string reasoning, content;
  bool any_reasoning = false, any_content = false;
  auto take = [&](const ReasoningSplit& d) {
    if (d.reasoning) {
      EXPECT_FALSE(d.reasoning->empty());  // an empty delta is nullopt
      reasoning += *d.reasoning;
      any_reasoning = true;
    }
    if (d.content) {
      EXPECT_FALSE(d.content->empty());
      content += *d.content;
      any_content = true;
    }
  };
  for (const std::string& c : chunks) take(st.push(c));
  take(st.finish());
  const ReasoningSplit whole = split_reasoning(text);
  std::string joined;
  for (const std::string& c : chunks) joined += c;
  ASSERT_EQ(joined, text);
  EXPECT_EQ(reasoning, whole.reasoning.value_or("")) << text;
  EXPECT_EQ(content, whole.content.value_or("")) << text;
  EXPECT_EQ(any_content, whole.content.has_value()) << text;
  EXPECT_EQ(any_reasoning, whole.reasoning.has_value() && !whole.reasoning->empty()) << text;
}

// Code point boundaries of s (the server streams decoded text, never half a character).
std::vector<size_t> boundaries(const std::string& s) {
  std::vector<size_t> b;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) b.push_back(i);
  return b;
}

const std::vector<std::string> kOutputs = {
    "Let me think.\n</think>\n\nThe answer is 4.",
    "<think>abc</think>xyz",
    "pre<think>in</think>post",
    "a</th</think>b</think>c",
    "<thin<think><</think>",
    "no end at all <thi",
    "x<tool_call>\n<function=get_weather>\n</function>\n</tool_call>",
    "x<tool_call>\u3000<function\t>",
    "x<tool_call> <functio",
    "x<tool_call>\n<functionality</think>y",
    "<tool_call><tool_call><function=f>",
    "r</think>c<think>x</think>",
    "думаю 🤔<</think>ответ ✅",
    "",
    "</think>",
};

TEST(Reasoning, StreamEqualsWholeForEveryTwoAndThreeWaySplit) {
  for (const std::string& text : kOutputs) {
    const std::vector<size_t> b = boundaries(text);
    for (size_t i = 0; i < b.size(); ++i) {
      expect_stream_equals_whole(text, {text.substr(0, b[i]), text.substr(b[i])});
      for (size_t j = i; j < b.size(); ++j)
        expect_stream_equals_whole(text, {text.substr(0, b[i]), text.substr(b[i], b[j] - b[i]), text.substr(b[j])});
    }
    std::vector<std::string> singles;  // one code point per chunk, with empty chunks between
    for (size_t k = 0; k + 1 < b.size(); ++k) {
      singles.push_back(text.substr(b[k], b[k + 1] - b[k]));
      singles.push_back("");
    }
    expect_stream_equals_whole(text, singles);
  }
}

TEST(Reasoning, StreamHoldsBackOnlyPossibleTags) {
  ReasoningStream st;
  ReasoningSplit d = st.push("thinking </th");
  EXPECT_EQ(d.reasoning, Opt("thinking "));  // "</th" may be the start of </think>
  EXPECT_EQ(d.content, std::nullopt);
  d = st.push("ink>\n\nHello");
  EXPECT_EQ(d.reasoning, std::nullopt);
  EXPECT_EQ(d.content, Opt("\n\nHello"));
  d = st.push(" <think> and </think> are content now");
  EXPECT_EQ(d.content, Opt(" <think> and </think> are content now"));
  d = st.finish();
  EXPECT_EQ(d.reasoning, std::nullopt);
  EXPECT_EQ(d.content, std::nullopt);

  ReasoningStream st2;
  d = st2.push("a <");
  EXPECT_EQ(d.reasoning, Opt("a "));
  d = st2.push("b");  // "<b" is no tag
  EXPECT_EQ(d.reasoning, Opt("<b"));
  d = st2.push("<tool_call>");  // undecided until what follows is known
  EXPECT_EQ(d.reasoning, std::nullopt);
  d = st2.push(" maybe");
  EXPECT_EQ(d.reasoning, Opt("<tool_call> maybe"));
  d = st2.finish();
  EXPECT_EQ(d.reasoning, std::nullopt);
}

}  // namespace
