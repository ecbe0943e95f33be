// `zaya serve` streaming and generation control (docs/serving.md "Streaming", "Stop strings",
// "Disconnects"): SSE format rules clients rely on, stream == non-stream, UTF-8 never split, stop
// strings, n and seeds, and vanished clients freeing their slots without touching other requests.
#include "serve/generation.h"
#include "serve_test_util.h"

namespace zaya::test {
namespace {

TestServer& server() {
  static TestServer* s = new TestServer(serve_options());
  return *s;
}

// Checks the rules of a stream with `choices` choices and returns each choice's concatenated text.
std::vector<std::string> check_stream(const Sse& sse, int choices, bool chat, bool usage) {
  std::vector<std::string> text(static_cast<size_t>(choices));
  std::vector<int> finals(static_cast<size_t>(choices), 0);
  EXPECT_TRUE(sse.done_last);
  EXPECT_EQ(sse.done_count, 1);
  if (sse.events.empty()) {
    ADD_FAILURE() << "no events";
    return text;
  }
  const json id = sse.events[0]["id"];
  int usage_chunks = 0;
  for (size_t k = 0; k < sse.events.size(); ++k) {
    const json& e = sse.events[k];
    EXPECT_EQ(e["id"], id);
    EXPECT_EQ(e["object"], chat ? "chat.completion.chunk" : "text_completion");
    EXPECT_EQ(e["model"], "tiny");
    EXPECT_TRUE(e["created"].is_number_integer());
    if (e["choices"].empty()) {  // the usage chunk: after every final chunk
      ++usage_chunks;
      EXPECT_TRUE(e["usage"].is_object());
      for (int f : finals) EXPECT_EQ(f, 1);
      continue;
    }
    EXPECT_EQ(usage_chunks, 0) << "a chunk after the usage chunk";
    EXPECT_EQ(e["choices"].size(), 1u);
    const json& c = e["choices"][0];
    const int i = c["index"];
    EXPECT_TRUE(i >= 0 && i < choices);
    if (i < 0 || i >= choices) continue;
    EXPECT_EQ(finals[size_t(i)], 0) << "a chunk after choice " << i << "'s final chunk";
    std::string piece;
    if (chat) {
      const json& d = c["delta"];
      if (d.contains("content") && d["content"].is_string()) piece = d["content"];
      if (d.contains("reasoning_content") && d["reasoning_content"].is_string()) piece += d["reasoning_content"];
      if (!c["finish_reason"].is_null()) {
        EXPECT_EQ(d, json::object());
      }
    } else {
      piece = c["text"];
      if (!c["finish_reason"].is_null()) {
        EXPECT_EQ(piece, "");
      }
    }
    EXPECT_TRUE(valid_utf8(piece)) << "a chunk splits a UTF-8 character";
    text[size_t(i)] += piece;
    if (!c["finish_reason"].is_null()) {
      EXPECT_TRUE(c["finish_reason"] == "stop" || c["finish_reason"] == "length") << c;
      finals[size_t(i)]++;
    }
  }
  for (int f : finals) EXPECT_EQ(f, 1) << "each choice ends with exactly one final chunk";
  EXPECT_EQ(usage_chunks, usage ? 1 : 0);
  return text;
}

TEST(ServeStream, CompletionStreamEqualsNonStream) {
  json req = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}, {"ignore_eos", true}};
  Reply plain = post(server(), "/v1/completions", req);
  ASSERT_EQ(plain.status, 200) << plain.body;
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  Reply st = post(server(), "/v1/completions", req);
  ASSERT_EQ(st.status, 200);
  Sse sse = parse_sse(st.body);
  auto text = check_stream(sse, 1, false, true);
  EXPECT_EQ(text[0], plain.j["choices"][0]["text"]);
  EXPECT_EQ(sse.events.back()["usage"], plain.j["usage"]);
}

TEST(ServeStream, ChatStreamRules) {
  json req = {{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}},
              {"max_tokens", 30}, {"temperature", 0}, {"ignore_eos", true}};
  Reply plain = post(server(), "/v1/chat/completions", req);
  ASSERT_EQ(plain.status, 200) << plain.body;
  req["stream"] = true;
  Reply st = post(server(), "/v1/chat/completions", req);
  Sse sse = parse_sse(st.body);
  auto text = check_stream(sse, 1, true, false);
  EXPECT_EQ(text[0], plain.j["choices"][0]["message"]["content"]);
  ASSERT_FALSE(sse.events.empty());
  EXPECT_EQ(sse.events[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(sse.events[0]["choices"][0]["finish_reason"].is_null());
}

TEST(ServeStream, SeveralPromptsAndNInterleave) {
  json req = {{"prompt", {"A B C", "one two"}}, {"n", 2}, {"max_tokens", 10}, {"temperature", 0.9},
              {"seed", 7}, {"ignore_eos", true}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  Reply st = post(server(), "/v1/completions", req);
  auto text = check_stream(parse_sse(st.body), 4, false, true);
  req.erase("stream");
  req.erase("stream_options");
  Reply plain = post(server(), "/v1/completions", req);
  ASSERT_EQ(plain.j["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(plain.j["choices"][i]["index"], i);
    EXPECT_EQ(text[size_t(i)], plain.j["choices"][i]["text"]) << i;  // seeded: the same stream twice
  }
  // Choice j of a prompt is the single request with seed + j.
  for (int j = 0; j < 2; ++j) {
    Reply one = post(server(), "/v1/completions",
                     json{{"prompt", "one two"}, {"max_tokens", 10}, {"temperature", 0.9}, {"seed", 7 + j}, {"ignore_eos", true}});
    EXPECT_EQ(one.j["choices"][0]["text"], plain.j["choices"][2 + j]["text"]) << j;
  }
}

TEST(ServeStream, StopStrings) {
  json req = {{"prompt", "Hello"}, {"max_tokens", 40}, {"temperature", 0}, {"ignore_eos", true}};
  Reply full = post(server(), "/v1/completions", req);
  const std::string text = full.j["choices"][0]["text"];
  ASSERT_GE(text.size(), 12u) << text;
  // A stop string taken from the middle of the greedy text (starting at a character boundary).
  size_t at = text.size() / 2;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  size_t len = 1;
  while (at + len < text.size() && (static_cast<unsigned char>(text[at + len]) & 0xC0) == 0x80) ++len;
  const std::string stop = text.substr(at, std::min<size_t>(len + 2, text.size() - at));
  const std::string expect = text.substr(0, text.find(stop));
  req["stop"] = {stop, "\x01never"};
  Reply r = post(server(), "/v1/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["choices"][0]["text"], expect);
  EXPECT_EQ(r.j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r.j["choices"][0]["stop_reason"], stop);
  req["stream"] = true;
  auto streamed = check_stream(parse_sse(post(server(), "/v1/completions", req).body), 1, false, false);
  EXPECT_EQ(streamed[0], expect);
}

// min_tokens (vLLM): before it, stop tokens cannot be sampled and stop strings do not match.
TEST(ServeStream, MinTokensHoldsOffStops) {
  json req = {{"prompt", "Hello there"}, {"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true},
              {"logprobs", 0}};
  Reply full = post(server(), "/v1/completions", req);
  ASSERT_EQ(full.status, 200) << full.body;
  // The first greedy token as a stop token: alone it ends the choice at once.
  Reply t = post(server(), "/tokenize", json{{"prompt", full.j["choices"][0]["logprobs"]["tokens"][0]},
                                             {"add_special_tokens", false}});
  ASSERT_EQ(t.j["tokens"].size(), 1u) << t.body;
  const int first = t.j["tokens"][0];
  json stop_req = req;
  stop_req["stop_token_ids"] = {first};
  Reply a = post(server(), "/v1/completions", stop_req);
  EXPECT_EQ(a.j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(a.j["usage"]["completion_tokens"], 1);
  // With min_tokens 5 the token is masked for 5 steps: at least 5 tokens, none of the first 5 is it.
  stop_req["min_tokens"] = 5;
  for (bool stream : {false, true}) {
    stop_req["stream"] = stream;
    Reply b = post(server(), "/v1/completions", stop_req);
    ASSERT_EQ(b.status, 200) << b.body;
    if (!stream) {
      EXPECT_GE(b.j["usage"]["completion_tokens"].get<int>(), 5) << b.body;
      Reply ids = post(server(), "/tokenize", json{{"prompt", b.j["choices"][0]["text"]}, {"add_special_tokens", false}});
      for (size_t i = 0; i < std::min<size_t>(5, ids.j["tokens"].size()); ++i) EXPECT_NE(ids.j["tokens"][i], first);
    } else {
      auto texts = check_stream(parse_sse(b.body), 1, false, false);
      EXPECT_FALSE(texts[0].empty());
    }
  }
  // A stop string that the first token completes matches only from min_tokens on.
  const std::string text = full.j["choices"][0]["text"];
  const std::string tok0 = full.j["choices"][0]["logprobs"]["tokens"][0];
  json sreq = req;
  sreq["stop"] = {tok0};
  Reply c = post(server(), "/v1/completions", sreq);
  EXPECT_EQ(c.j["choices"][0]["text"], "");
  sreq["min_tokens"] = 4;
  Reply d = post(server(), "/v1/completions", sreq);
  ASSERT_EQ(d.status, 200) << d.body;
  std::string first3;
  for (int i = 0; i < 3; ++i) first3 += full.j["choices"][0]["logprobs"]["tokens"][i].get<std::string>();
  EXPECT_EQ(d.j["choices"][0]["text"].get<std::string>().rfind(first3, 0), 0u) << d.body;
  EXPECT_GE(d.j["usage"]["completion_tokens"].get<int>(), 4);
  EXPECT_TRUE(text.rfind(d.j["choices"][0]["text"].get<std::string>(), 0) == 0) << "a prefix of the greedy text";
  // min_tokens above max_tokens is a 400 naming both.
  sreq["min_tokens"] = 13;
  Reply e = post(server(), "/v1/completions", sreq);
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.body.find("max_tokens=12"), std::string::npos) << e.body;
}

TEST(ServeStream, GreedyNIsAllowedAndSeedsReproduce) {
  json req = {{"prompt", "x y"}, {"n", 2}, {"max_tokens", 8}, {"temperature", 0}, {"ignore_eos", true}};
  Reply r = post(server(), "/v1/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["choices"][0]["text"], r.j["choices"][1]["text"]);
  req["temperature"] = 1.0;
  req["seed"] = 123;
  Reply a = post(server(), "/v1/completions", req), b = post(server(), "/v1/completions", req);
  EXPECT_EQ(a.j["choices"], b.j["choices"]);
}

TEST(ServeStream, TextAssemblerNeverSplitsUtf8AndHoldsStopPrefixes) {
  Tokenizer tok = Tokenizer::from_file(serve_model_dir() + "/tokenizer.json");
  // "€" as three byte-fallback tokens: nothing is emitted until the character is complete.
  serve::DecodeRules rules;
  serve::TextAssembler a(tok, rules);
  EXPECT_EQ(a.push(tok.token_to_id("<0xE2>")), "");
  EXPECT_EQ(a.push(tok.token_to_id("<0x82>")), "");
  EXPECT_EQ(a.push(tok.token_to_id("<0xAC>")), "\xE2\x82\xAC");
  // A stop string across tokens: its prefix is held back, the match and what follows are dropped.
  std::vector<int32_t> ids = tok.encode("alpha beta gamma delta", false);
  rules.stop = {"gamma"};
  serve::TextAssembler b(tok, rules);
  std::string out;
  for (int32_t id : ids) {
    std::string piece = b.push(id);
    EXPECT_EQ(piece.find("gam"), std::string::npos);
    out += piece;
  }
  out += b.finish();
  EXPECT_EQ(out, "alpha beta ");
  EXPECT_TRUE(b.stopped());
  EXPECT_EQ(b.stop_reason(), "gamma");
  // A stop token ends the text without its own text; stop_reason is the id.
  rules.stop.clear();
  rules.stop_token_ids = {ids[1]};
  serve::TextAssembler c(tok, rules);
  std::string t0 = c.push(ids[0]);
  t0 += c.push(ids[1]);
  t0 += c.push(ids[2]);  // after the stop: ignored
  t0 += c.finish();
  EXPECT_EQ(t0, tok.decode({ids[0]}));
  EXPECT_TRUE(c.stopped_by_token());
  EXPECT_EQ(c.stop_reason(), ids[1]);
  EXPECT_EQ(c.tokens(), 2);
}

// Greedy text of a request alone, for comparison with the same request run beside a vanishing one.
std::string alone(const json& req) {
  Reply r = post(server(), "/v1/completions", req);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.j["choices"][0]["text"];
}

TEST(ServeStream, DisconnectDuringDecodeFreesTheSlot) {
  const TestServer& s = server();
  const json other = {{"prompt", "The other client"}, {"max_tokens", 24}, {"temperature", 0}, {"ignore_eos", true}};
  const std::string expected = alone(other);
  const std::string m0 = get(s, "/metrics").body;
  const double abort_before = metric(m0, "vllm:request_success_total", "\"abort\"");
  const double gen_before = metric(m0, "vllm:generation_tokens_total");
  {
    RawClient c(s.port);
    c.send_post("/v1/completions",
                json{{"prompt", "Go on"}, {"max_tokens", 900}, {"ignore_eos", true}, {"stream", true}}.dump());
    std::string got = c.read_until("\"text\"", std::chrono::seconds(20));
    ASSERT_NE(got.find("data: "), std::string::npos) << got;
    std::string concurrent;
    std::thread t([&] { concurrent = alone(other); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    c.close();  // the client vanishes mid-decode
    t.join();
    EXPECT_EQ(concurrent, expected);
  }
  std::string m = wait_metrics(s, [&](const std::string& t) {
    return metric(t, "vllm:num_requests_running") == 0 &&
           metric(t, "vllm:request_success_total", "\"abort\"") == abort_before + 1;
  });
  EXPECT_EQ(metric(m, "vllm:num_requests_running"), 0) << m;
  EXPECT_EQ(metric(m, "vllm:request_success_total", "\"abort\""), abort_before + 1);
  EXPECT_LT(metric(m, "vllm:generation_tokens_total"), gen_before + 900);  // it did not run to the end
}

TEST(ServeStream, DisconnectDuringPrefillFreesTheSlot) {
  const TestServer& s = server();
  json ids = json::array();
  for (int i = 0; i < 1000; ++i) ids.push_back(1000 + (i * 37) % 5000);
  std::string m0 = get(s, "/metrics").body;
  const double gen0 = metric(m0, "vllm:generation_tokens_total"), prompt0 = metric(m0, "vllm:prompt_tokens_total");
  {
    RawClient c(s.port);  // non-streaming: the handler watches the socket while the prompt is prefilled
    c.send_post("/v1/completions", json{{"prompt", ids}, {"max_tokens", 10}, {"ignore_eos", true}}.dump());
    wait_metrics(s, [&](const std::string& t) { return metric(t, "vllm:prompt_tokens_total") > prompt0; });
    c.close();
  }
  std::string m = wait_metrics(s, [&](const std::string& t) { return metric(t, "vllm:num_requests_running") == 0; });
  EXPECT_EQ(metric(m, "vllm:num_requests_running"), 0) << m;
  EXPECT_EQ(metric(m, "vllm:generation_tokens_total"), gen0) << "the request should not have reached decode";
  EXPECT_LT(metric(m, "vllm:prompt_tokens_total"), prompt0 + 1000);
}

TEST(ServeStream, StopEndsOpenStreamsCleanly) {
  TestServer s(serve_options());
  RawClient c(s.port);
  c.send_post("/v1/completions", json{{"prompt", "Go"}, {"max_tokens", 900}, {"ignore_eos", true}, {"stream", true}}.dump());
  ASSERT_NE(c.read_until("\"text\"", std::chrono::seconds(20)).find("data: "), std::string::npos);
  const auto t0 = std::chrono::steady_clock::now();
  std::string rest;
  std::thread reader([&] { rest = c.read_until("[DONE]", std::chrono::seconds(20)); });
  s.srv->stop();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(rest.find("shutting down"), std::string::npos) << rest.substr(rest.size() > 500 ? rest.size() - 500 : 0);
  EXPECT_NE(rest.find("data: [DONE]"), std::string::npos);
}

// A copy of the tiny model whose chat template opens a think block (ZAYA1-8B's generation prompt),
// closed at once with enable_thinking: false; the server's reasoning parser is then on by default.
std::string thinking_model_dir() {
  namespace fs = std::filesystem;
  const std::string dir = serve_model_dir() + "_think";
  fs::create_directories(dir);
  for (auto& e : fs::directory_iterator(serve_model_dir()))
    if (e.path().filename() != "tokenizer_config.json" && !fs::exists(dir + "/" + e.path().filename().string()))
      fs::create_symlink(e.path(), dir + "/" + e.path().filename().string());
  write_file_atomic(dir + "/chat_template.jinja",
                    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n"
                    "{% if enable_thinking is defined and not enable_thinking %}</think>\n\n{% endif %}{% endif %}");
  write_file_atomic(dir + "/tokenizer_config.json", R"({"bos_token": "<bos>", "eos_token": "<eos>"})");
  return dir;
}

TEST(ServeStream, ReasoningSplitFollowsThePrompt) {
  ServeOptions o = serve_options();
  o.model_dir = thinking_model_dir();  // reasoning_parser "auto": on, the template has <think>
  TestServer s(o);
  for (bool thinking : {true, false}) {
    json req = {{"messages", {{{"role", "user"}, {"content", "Think about it"}}}},
                {"max_tokens", 20}, {"temperature", 0}, {"ignore_eos", true},
                {"chat_template_kwargs", {{"enable_thinking", thinking}}}};
    Reply plain = post(s, "/v1/chat/completions", req);
    ASSERT_EQ(plain.status, 200) << plain.body;
    const json msg = plain.j["choices"][0]["message"];
    ASSERT_TRUE(msg.contains("reasoning_content")) << msg;
    // The output has no </think>: while thinking it is all reasoning; after a closed block all content.
    if (thinking) {
      EXPECT_TRUE(msg["reasoning_content"].is_string() && !msg["reasoning_content"].get<std::string>().empty()) << msg;
      EXPECT_TRUE(msg["content"].is_null()) << msg;
    } else {
      EXPECT_TRUE(msg["content"].is_string() && !msg["content"].get<std::string>().empty()) << msg;
      EXPECT_TRUE(msg["reasoning_content"].is_null()) << msg;
    }
    req["stream"] = true;
    Sse sse = parse_sse(post(s, "/v1/chat/completions", req).body);
    check_stream(sse, 1, true, false);
    std::string content, reasoning;
    for (auto& e : sse.events) {
      if (e["choices"].empty()) continue;
      const json& d = e["choices"][0]["delta"];
      if (d.contains("content") && d["content"].is_string()) content += d["content"].get<std::string>();
      if (d.contains("reasoning_content") && d["reasoning_content"].is_string())
        reasoning += d["reasoning_content"].get<std::string>();
    }
    EXPECT_EQ(content, msg["content"].is_string() ? msg["content"].get<std::string>() : "") << thinking;
    EXPECT_EQ(reasoning, msg["reasoning_content"].is_string() ? msg["reasoning_content"].get<std::string>() : "")
        << thinking;
  }
  std::filesystem::remove_all(o.model_dir);
}

}  // namespace
}  // namespace zaya::test
