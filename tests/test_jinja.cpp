// zaya's Jinja interpreter and ChatTemplate against Python's jinja2: tests/data/jinja/golden.json
// (tools/reference/make_jinja_golden.py) holds what jinja2 3.1 renders, configured as
// transformers' apply_chat_template configures it, for real chat templates x conversations, for
// feature snippets and for syntax errors. Every output must match byte for byte; every error must
// contain jinja2's message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/fileutil.h"
#include "serve/chat.h"
#include "serve/jinja.h"

namespace {

using ojson = nlohmann::ordered_json;
using zaya::ChatTemplate;
namespace jinja = zaya::jinja;

const std::string kDir = ZAYA_SOURCE_DIR "/tests/data/jinja/";

const ojson& golden() {
  static const ojson g = ojson::parse(zaya::read_file(kDir + "golden.json"));
  return g;
}

std::string template_source(const std::string& name) { return zaya::read_file(kDir + name + ".jinja"); }

// The golden file's strftime_now() time: 2024-07-26 10:00:00 (a Friday).
jinja::Options fixed_time_options(const std::string& name) {
  jinja::Options o;
  o.name = name;
  o.now = [] {
    std::tm t{};
    t.tm_year = 124, t.tm_mon = 6, t.tm_mday = 26, t.tm_hour = 10, t.tm_wday = 5, t.tm_yday = 207;
    return t;
  };
  return o;
}

// The variables transformers passes: special tokens, extra kwargs, messages, tools, documents,
// add_generation_prompt.
ojson case_context(const ojson& c) {
  ojson ctx = ojson::object();
  ctx["bos_token"] = c["bos_token"];
  ctx["eos_token"] = c["eos_token"];
  for (const auto& [k, v] : c["extra"].items()) ctx[k] = v;
  ctx["messages"] = c["messages"];
  ctx["tools"] = c["tools"];
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = c["add_generation_prompt"];
  return ctx;
}

// Renders and compares with the golden entry (expected text, or an error containing its message).
template <typename F>
void expect_golden(const std::string& label, const ojson& want, F render) {
  std::string got, err;
  try {
    got = render();
  } catch (const zaya::Error& e) {
    err = e.what();
  }
  if (want.contains("expected")) {
    EXPECT_EQ(err, "") << label;
    EXPECT_EQ(got, want["expected"].get<std::string>()) << label;
  } else {
    const std::string msg = want["error"].get<std::string>();
    EXPECT_NE(err.find(msg), std::string::npos) << label << "\n  jinja2: " << msg << "\n  zaya:   " << err
                                                << "\n  output: " << got;
  }
}

TEST(Jinja, GoldenTemplatesTimesConversations) {
  const ojson& cases = golden()["cases"];
  ASSERT_GE(cases.size(), 200u);
  size_t n_ok = 0, n_err = 0;
  for (const ojson& c : cases) {
    const std::string name = c["template"], label = name + " x " + c["conversation"].get<std::string>();
    expect_golden(label, c, [&] {
      return jinja::Template::parse(template_source(name), fixed_time_options(name)).render(case_context(c));
    });
    (c.contains("expected") ? n_ok : n_err)++;
  }
  EXPECT_GT(n_ok, 150u);  // most conversations render; the rest are the templates' own errors
  EXPECT_GT(n_err, 20u);
}

// The same conversations through ChatTemplate (from_string + render), which builds the context
// itself. Templates that print strftime_now() are skipped here (ChatTemplate uses the real clock).
TEST(Jinja, GoldenThroughChatTemplate) {
  size_t n = 0;
  for (const ojson& c : golden()["cases"]) {
    const std::string name = c["template"];
    const std::string src = template_source(name);
    if (src.find("strftime_now") != std::string::npos) continue;
    const ChatTemplate t = ChatTemplate::from_string(src, c["bos_token"], c["eos_token"], name);
    expect_golden(name + " x " + c["conversation"].get<std::string>(), c, [&] {
      return t.render(c["messages"], c["tools"], c["add_generation_prompt"].get<bool>(), c["extra"]);
    });
    ++n;
  }
  EXPECT_GT(n, 200u);
}

TEST(Jinja, GoldenSnippets) {
  const ojson& ctx = golden()["snippet_context"];
  for (const ojson& s : golden()["snippets"]) {
    const std::string src = s["source"];
    expect_golden(src, s, [&] { return jinja::Template::parse(src, fixed_time_options("snippet")).render(ctx); });
  }
}

TEST(Jinja, GoldenSyntaxErrors) {
  for (const ojson& s : golden()["syntax_errors"]) {
    const std::string src = s["source"];
    try {
      jinja::Template::parse(src, fixed_time_options("t.jinja"));
      ADD_FAILURE() << "no syntax error for " << src;
    } catch (const zaya::Error& e) {
      const std::string err = e.what(), msg = s["error"];
      EXPECT_NE(err.find(msg), std::string::npos) << src << "\n  jinja2: " << msg << "\n  zaya:   " << err;
      if (s.contains("line"))
        EXPECT_EQ(err.rfind("t.jinja:" + std::to_string(s["line"].get<int>()) + ":", 0), 0u) << err;
    }
  }
}

TEST(Jinja, ErrorsNameTheTemplateAndPosition) {
  try {
    jinja::Options o;
    o.name = "chat_template.jinja";
    jinja::Template::parse("line one\n{{ x.y }}", o).render(ojson::object());
    FAIL();
  } catch (const zaya::Error& e) {
    EXPECT_STREQ(e.what(), "chat_template.jinja:2:5: 'x' is undefined");  // the '.' of x.y
  }
}

TEST(Jinja, KeyOrderOfOrderedJsonIsKept) {
  const auto t = jinja::Template::parse("{{ d | tojson }} {% for k in d %}{{ k }}{% endfor %}");
  EXPECT_EQ(t.render(ojson::parse(R"({"d": {"b": 1, "a": 2, "c": 3}})")), R"({"b": 1, "a": 2, "c": 3} bac)");
  // nlohmann::json sorts its keys before the template sees them
  EXPECT_EQ(t.render(nlohmann::json::parse(R"({"d": {"b": 1, "a": 2, "c": 3}})")), R"({"a": 2, "b": 1, "c": 3} abc)");
}

void expect_error(const std::string& src, const std::string& needle, const jinja::Options& o = {}) {
  try {
    const std::string out = jinja::Template::parse(src, o).render(ojson::object());
    ADD_FAILURE() << "no error for " << src.substr(0, 80) << " (rendered " << out.size() << " bytes)";
  } catch (const zaya::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << src.substr(0, 80) << ": " << e.what();
  }
}

TEST(Jinja, LimitsStopRunawayTemplates) {
  jinja::Options o;
  o.limits.max_steps = 200000;
  expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "evaluation steps", o);
  expect_error("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
               "over the limit");
  expect_error("{{ 'x' * 100000000000 }}", "over the limit");
  expect_error("{{ [1] * 100000000000 }}", "over the limit");
  expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "maximum recursion depth exceeded");
  expect_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "nested too deeply");
  expect_error("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}", "nested too deeply");
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  expect_error(ifs, "nested too deeply");
  expect_error("{{ " + std::string(100000, '-') + "1 }}", "nested too deeply");
  std::string chain = "{{ x";
  for (int i = 0; i < 100000; ++i) chain += ".a";
  expect_error(chain + " }}", "nested too deeply");
  expect_error("{{ range(100001) }}", "MAX_RANGE (100000)");
  expect_error("{{ 2 ** 63 }}", "integer overflow");
  expect_error("{{ 9223372036854775807 + 1 }}", "integer overflow");
  jinja::Options small;
  small.limits.max_output_bytes = 1000;
  expect_error("{% for i in range(2000) %}x{% endfor %}", "over the limit", small);
  // a deep value: repr/tojson/== stop instead of overflowing the stack
  expect_error("{% set ns = namespace(v=1) %}{% for i in range(2000) %}{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v }}",
               "maximum recursion depth");
}

TEST(Jinja, NotValidUtf8IsAnError) { expect_error("ok \xff bad", "not valid UTF-8"); }

TEST(Jinja, StrftimeNowUsesTheClockByDefault) {
  char want[16];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(want, sizeof want, "%Y", &tm);
  EXPECT_EQ(jinja::Template::parse("{{ strftime_now('%Y') }}").render(ojson::object()), want);
}

TEST(Jinja, RenderIsThreadSafe) {
  const auto t = jinja::Template::parse(template_source("qwen3"));
  const ojson* q = nullptr;
  for (const ojson& x : golden()["cases"])
    if (x["template"] == "qwen3" && x["conversation"] == "tools_and_calls_dict_args") q = &x;
  ASSERT_NE(q, nullptr);
  const ojson ctx = case_context(*q);
  const std::string want = (*q)["expected"];
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (t.render(ctx) != want) ++bad;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// ------------------------------------------------------------------------ ChatTemplate::load

class TempDir {
 public:
  TempDir() {
    char buf[] = "/tmp/zaya-test-chat-XXXXXX";
    path_ = mkdtemp(buf);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name, std::ios::binary) << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const ojson kUser = ojson::parse(R"([{"role": "user", "content": "Hi"}])");

TEST(ChatTemplateLoad, NoTemplateIsNullopt) {
  TempDir d;
  EXPECT_FALSE(ChatTemplate::load(d.path()).has_value());
  d.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_FALSE(ChatTemplate::load(d.path()).has_value());
}

TEST(ChatTemplateLoad, TokenizerConfigStringAndSpecialTokens) {
  TempDir d;
  d.write("tokenizer_config.json", R"({
    "bos_token": {"__type": "AddedToken", "content": "<bos>", "lstrip": false},
    "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": null,
    "chat_template": "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ unk_token is defined }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|{{ messages[0].content }}|{{ flag }}"})");
  d.write("special_tokens_map.json", R"({"unk_token": {"content": "<unk>"}, "mask_token": "<mask>"})");
  std::optional<ChatTemplate> t = ChatTemplate::load(d.path());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->bos_token(), "<bos>");
  EXPECT_EQ(t->eos_token(), "<eos>");
  EXPECT_EQ(t->pad_token(), "<pad>");
  EXPECT_EQ(t->render(kUser, nullptr, true, ojson{{"flag", 7}}), "<bos>|<eos>|<pad>|True|None|None|True|Hi|7");
  EXPECT_EQ(t->render(nlohmann::json::parse(kUser.dump()), nullptr, false), "<bos>|<eos>|<pad>|True|None|None|False|Hi|");
}

TEST(ChatTemplateLoad, JinjaFileWinsOverTokenizerConfig) {
  TempDir d;
  d.write("tokenizer_config.json", R"({"eos_token": "</s>", "chat_template": "from config"})");
  d.write("chat_template.jinja", "from file {{ eos_token }}\n");
  std::optional<ChatTemplate> t = ChatTemplate::load(d.path());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render(kUser, nullptr, true), "from file </s>");  // jinja2 drops one trailing newline
  EXPECT_EQ(t->source(), "from file {{ eos_token }}\n");
}

TEST(ChatTemplateLoad, NamedTemplatesPickDefaultOrToolUse) {
  TempDir d;
  d.write("tokenizer_config.json", R"({"chat_template": [
      {"name": "tool_use", "template": "tools: {{ tools | length }}"},
      {"name": "default", "template": "default"},
      {"name": "rag", "template": "rag"}]})");
  std::optional<ChatTemplate> t = ChatTemplate::load(d.path());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render(kUser, nullptr, true), "default");
  EXPECT_EQ(t->render(kUser, ojson::parse(R"([{"type": "function"}])"), true), "tools: 1");
  d.write("tokenizer_config.json", R"({"chat_template": [{"name": "rag", "template": "x"}]})");
  EXPECT_THROW(ChatTemplate::load(d.path()), zaya::Error);
}

TEST(ChatTemplateLoad, MalformedInputNamesTheFile) {
  TempDir d;
  d.write("tokenizer_config.json", "{not json");
  try {
    ChatTemplate::load(d.path());
    FAIL();
  } catch (const zaya::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
  d.write("tokenizer_config.json", R"({"chat_template": 5})");
  EXPECT_THROW(ChatTemplate::load(d.path()), zaya::Error);
  d.write("tokenizer_config.json", R"({"bos_token": 3, "chat_template": "x"})");
  EXPECT_THROW(ChatTemplate::load(d.path()), zaya::Error);
  d.write("tokenizer_config.json", "{}");
  d.write("chat_template.jinja", "{% for x in y %}");
  try {
    ChatTemplate::load(d.path());
    FAIL();
  } catch (const zaya::Error& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template.jinja:1:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Unexpected end of template"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplateRender, ValidatesArgumentsAndRaisesTemplateErrors) {
  const ChatTemplate t = ChatTemplate::from_string(template_source("gemma3"), "<bos>", "<eos>");
  EXPECT_THROW(t.render(ojson::object(), nullptr, true), zaya::Error);
  EXPECT_THROW(t.render(kUser, ojson::object(), true), zaya::Error);
  EXPECT_THROW(t.render(kUser, nullptr, true, ojson{{"messages", 1}}), zaya::Error);
  try {
    t.render(ojson::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])"), nullptr, true);
    FAIL();
  } catch (const zaya::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate user/assistant/user/assistant/..."),
              std::string::npos);
  }
}

// The real Gemma 3 tokenizer_config.json, where the shared data folder is present.
TEST(ChatTemplateLoad, Gemma3ModelDirectory) {
  const std::string dir = ZAYA_SOURCE_DIR "/../shared/data/gemma3";
  if (!zaya::file_exists(dir + "/tokenizer_config.json")) GTEST_SKIP() << "no " << dir;
  std::optional<ChatTemplate> t = ChatTemplate::load(dir);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->bos_token(), "<bos>");
  EXPECT_EQ(t->source(), template_source("gemma3"));
  EXPECT_EQ(t->render(kUser, nullptr, true), "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
}

}  // namespace

// Format widths and precisions: wide fields render in full (Python's bytes); absurd ones are errors,
// never an overflow (a fuzz find: '%4444444444444444444d').
TEST(Jinja, FormatWidthsAreBounded) {
  const auto r = [](const std::string& src) { return jinja::Template::parse(src, {}).render(ojson::object()); };
  EXPECT_EQ(r("{{ '%600d' % 7 }}"), std::string(599, ' ') + "7");
  EXPECT_EQ(r("{{ '%-600.3f|' % 2.5 }}"), "2.500" + std::string(595, ' ') + "|");
  EXPECT_EQ(r("{{ '{:>600}'.format('ab') }}"), std::string(598, ' ') + "ab");
  expect_error("{{ '%" + std::string(19, '4') + "d' % 1 }}", "width too big");
  expect_error("{{ '%." + std::string(30, '9') + "f' % 1.0 }}", "precision too big");
  expect_error("{{ '{:" + std::string(30, '9') + "}'.format(1) }}", "Too many decimal digits");
  expect_error("{{ '%d' % 1.23e81 }}", "64-bit integer range");
}
