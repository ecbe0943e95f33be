// `zaya serve` endpoints (src/serve/, docs/serving.md) against an in-process server on the tiny model:
// the shapes the openai client and vLLM users read, the errors malformed input gets (never a crash),
// authentication, health states, tokenization endpoints and metrics names. Streaming, stop strings,
// n / seeds and client disconnects are in test_serve_stream.cpp.
#include <future>

#include "serve_test_util.h"

namespace zaya::test {
namespace {

TestServer& server() {
  static TestServer* s = new TestServer(serve_options());
  return *s;
}

void expect_error(const Reply& r, int status, const std::string& param, const std::string& needle = "") {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_TRUE(r.j.is_object() && r.j.contains("error")) << r.body;
  const json& e = r.j["error"];
  EXPECT_TRUE(e["message"].is_string()) << r.body;
  EXPECT_TRUE(e["type"].is_string()) << r.body;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.body;
  EXPECT_EQ(e["code"], status) << r.body;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r.body;
  }
  if (!needle.empty()) {
    EXPECT_NE(e["message"].get<std::string>().find(needle), std::string::npos) << r.body;
  }
}

TEST(Serve, HealthIsLoadingThenOk) {
  ServeOptions o = serve_options();
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  Server::Loader inner = default_loader(o);
  TestServer s(o, [gate, inner] { gate.wait(); return inner(); }, /*wait=*/false);
  Reply h = get(s, "/health");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.j, json::parse(R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})"));
  expect_error(post(s, "/v1/completions", json{{"prompt", "hi"}}), 503, "");
  go.set_value();
  EXPECT_EQ(s.srv->wait_loaded(), "");
  h = get(s, "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.j, json({{"status", "ok"}}));
}

TEST(Serve, LoadFailureIsReported) {
  ServeOptions o = serve_options();
  o.model_dir = "/nonexistent/zaya-model";
  TestServer s(o, {}, false);
  EXPECT_NE(s.srv->wait_loaded(), "");
  Reply h = get(s, "/health");
  expect_error(h, 500, "", "failed to load");
}

// The engine thread dies mid-request: the request gets a JSON error, /health turns 500 with the
// reason and stays so (vLLM #7633), new requests are refused, and the server itself keeps answering.
TEST(Serve, EngineDeathIsReportedNeverHealthy) {
  ServeOptions o = serve_options();
  o.engine.fault_after_steps = 3;
  TestServer s(o);
  ASSERT_EQ(get(s, "/health").status, 200);
  Reply r = post(s, "/v1/completions", json{{"prompt", "hello"}, {"max_tokens", 20}, {"ignore_eos", true}});
  EXPECT_GE(r.status, 500) << r.body;
  ASSERT_TRUE(r.j.contains("error")) << r.body;
  for (int i = 0; i < 2; ++i) {
    Reply h = get(s, "/health");
    expect_error(h, 500, "", "injected fault");
  }
  Reply again = post(s, "/v1/completions", json{{"prompt", "hello"}, {"max_tokens", 2}});
  EXPECT_GE(again.status, 500) << again.body;
  ASSERT_TRUE(again.j.contains("error")) << again.body;
  expect_error(get(s, "/v1/models"), 500, "", "engine");  // the HTTP side still answers, in JSON
  EXPECT_EQ(post(s, "/tokenize", json{{"prompt", "hi"}}).j.contains("error"), true);
}

TEST(Serve, ModelsList) {
  Reply r = get(server(), "/v1/models");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["object"], "list");
  ASSERT_EQ(r.j["data"].size(), 1u);
  const json& m = r.j["data"][0];
  EXPECT_EQ(m["id"], "tiny");
  EXPECT_EQ(m["object"], "model");
  EXPECT_TRUE(m["created"].is_number_integer());
  EXPECT_EQ(m["owned_by"], "zaya");
  EXPECT_EQ(m["root"], serve_model_dir());
  EXPECT_EQ(m["max_model_len"], 1024);
}

TEST(Serve, CompletionShapeAndUsage) {
  Reply r = post(server(), "/v1/completions",
                 json{{"model", "tiny"}, {"prompt", "Hello, my name is"}, {"max_tokens", 8}, {"temperature", 0}, {"ignore_eos", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(r.j["object"], "text_completion");
  EXPECT_TRUE(r.j["created"].is_number_integer());
  EXPECT_EQ(r.j["model"], "tiny");
  ASSERT_EQ(r.j["choices"].size(), 1u);
  const json& c = r.j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_TRUE(c["text"].is_string());
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_EQ(c["finish_reason"], "length");
  const json& u = r.j["usage"];
  Reply t = post(server(), "/tokenize", json{{"prompt", "Hello, my name is"}});
  EXPECT_EQ(u["prompt_tokens"], t.j["count"]);
  EXPECT_EQ(u["completion_tokens"], 8);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + 8);
}

TEST(Serve, TokenIdPromptEqualsTextPrompt) {
  const json base = {{"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true}};
  json a = base, b = base, lists = base;
  a["prompt"] = "The capital of France is";
  Reply t = post(server(), "/tokenize", json{{"prompt", a["prompt"]}});
  ASSERT_EQ(t.status, 200);
  b["prompt"] = t.j["tokens"];
  lists["prompt"] = json::array({t.j["tokens"], t.j["tokens"]});
  Reply ra = post(server(), "/v1/completions", a), rb = post(server(), "/v1/completions", b);
  Reply rl = post(server(), "/v1/completions", lists);
  ASSERT_EQ(ra.status, 200) << ra.body;
  ASSERT_EQ(rb.status, 200) << rb.body;
  ASSERT_EQ(rl.status, 200) << rl.body;
  EXPECT_EQ(ra.j["choices"][0]["text"], rb.j["choices"][0]["text"]);
  ASSERT_EQ(rl.j["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(rl.j["choices"][i]["index"], i);
    EXPECT_EQ(rl.j["choices"][i]["text"], ra.j["choices"][0]["text"]);
  }
  EXPECT_EQ(rl.j["usage"]["prompt_tokens"], 2 * t.j["count"].get<int>());
}

TEST(Serve, EchoLogprobsScoreThePrompt) {
  Reply t = post(server(), "/tokenize", json{{"prompt", "One two three four"}});
  const json ids = t.j["tokens"];
  // lm-eval's local-completions request (spec interfaces §1).
  Reply r = post(server(), "/v1/completions",
                 json{{"prompt", ids}, {"max_tokens", 1}, {"logprobs", 1}, {"echo", true}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json& lp = r.j["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), ids.size() + 1);
  ASSERT_EQ(lp["token_logprobs"].size(), ids.size() + 1);
  ASSERT_EQ(lp["top_logprobs"].size(), ids.size() + 1);
  ASSERT_EQ(lp["text_offset"].size(), ids.size() + 1);
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  for (size_t i = 1; i < lp["token_logprobs"].size(); ++i) {
    double v = lp["token_logprobs"][i];
    EXPECT_TRUE(std::isfinite(v) && v <= 0) << i;
    EXPECT_TRUE(lp["top_logprobs"][i].contains(lp["tokens"][i].get<std::string>())) << i;
  }
  const std::string text = r.j["choices"][0]["text"];
  Reply d = post(server(), "/detokenize", json{{"tokens", ids}});
  EXPECT_EQ(text.rfind(d.j["prompt"].get<std::string>(), 0), 0u) << text;
  // max_tokens 0 with echo scores the prompt alone.
  Reply z = post(server(), "/v1/completions", json{{"prompt", ids}, {"max_tokens", 0}, {"logprobs", 0}, {"echo", true}});
  ASSERT_EQ(z.status, 200) << z.body;
  EXPECT_EQ(z.j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(z.j["choices"][0]["logprobs"]["tokens"].size(), ids.size());
  EXPECT_EQ(z.j["usage"]["completion_tokens"], 0);
  for (size_t i = 1; i < ids.size(); ++i)
    EXPECT_EQ(z.j["choices"][0]["logprobs"]["token_logprobs"][i], lp["token_logprobs"][i]) << i;
}

TEST(Serve, ChatShape) {
  json req = {{"model", "tiny"},
              {"messages", {{{"role", "user"}, {"content", "Hi there"}}}},
              {"max_tokens", 6},
              {"temperature", 0},
              {"ignore_eos", true},
              {"logprobs", true},
              {"top_logprobs", 2}};
  Reply r = post(server(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["object"], "chat.completion");
  EXPECT_EQ(r.j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const json& c = r.j["choices"][0];
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_TRUE(c["message"]["content"].is_string());
  EXPECT_EQ(c["finish_reason"], "length");
  ASSERT_EQ(c["logprobs"]["content"].size(), 6u);
  for (auto& e : c["logprobs"]["content"]) {
    EXPECT_TRUE(e["token"].is_string() && e["logprob"].is_number() && e["bytes"].is_array());
    EXPECT_EQ(e["top_logprobs"].size(), 2u);
  }
  // The prompt is the rendered template tokenized without adding <bos> again.
  Reply t = post(server(), "/tokenize", json{{"messages", req["messages"]}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(r.j["usage"]["prompt_tokens"], t.j["count"]);
  EXPECT_EQ(t.j["tokens"][0], 2);
  EXPECT_NE(t.j["tokens"][1], 2);
  // max_completion_tokens is max_tokens' other name.
  req.erase("max_tokens");
  req["max_completion_tokens"] = 3;
  r = post(server(), "/v1/chat/completions", req);
  EXPECT_EQ(r.j["usage"]["completion_tokens"], 3) << r.body;
}

TEST(Serve, MalformedInputGets400) {
  const TestServer& s = server();
  expect_error(post(s, "/v1/completions", std::string("{\"prompt\": ")), 400, "", "not valid JSON");
  expect_error(post(s, "/v1/completions", std::string("[1, 2]")), 400, "");
  expect_error(post(s, "/v1/completions", std::string(300, '[')), 400, "");
  expect_error(post(s, "/v1/completions", json{{"max_tokens", 5}}), 400, "prompt");
  expect_error(post(s, "/v1/completions", json{{"prompt", 5}}), 400, "prompt");
  expect_error(post(s, "/v1/completions", json{{"prompt", json::array()}}), 400, "prompt");
  expect_error(post(s, "/v1/completions", json{{"prompt", {1, -2}}}), 400, "prompt[1]");
  expect_error(post(s, "/v1/completions", json{{"prompt", {1, 999999999}}}), 400, "", "vocabulary");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", "8"}}), 400, "max_tokens");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", -1}}), 400, "max_tokens");
  expect_error(post(s, "/v1/completions", std::string(R"({"prompt": "x", "max_tokens": 1e308})")), 400, "max_tokens");
  expect_error(post(s, "/v1/completions", std::string(R"({"prompt": "x", "n": 1180591620717411303424})")), 400, "n");
  expect_error(post(s, "/v1/completions", std::string(R"({"prompt": "x", "n": 18446744073709551615})")), 400, "n");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"n", 0}}), 400, "n");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"temperature", -1}}), 400, "temperature");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"top_p", 0}}), 400, "top_p");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"logprobs", 21}}), 400, "logprobs");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"stop", {1}}}), 400, "stop[0]");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"stream", "yes"}}), 400, "stream");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}}), 400,
               "stream_options");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}, {"min_tokens", 3}}), 400, "min_tokens");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}, {"rsa", {{"n", 2}}}, {"stream", true}}), 400, "rsa");
  expect_error(post(s, "/v1/chat/completions", json{{"messages", "hi"}}), 400, "messages");
  expect_error(post(s, "/v1/chat/completions", json{{"messages", {{{"content", "hi"}}}}}), 400, "messages[0].role");
  expect_error(post(s, "/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", 3}}}}}), 400,
               "messages[0].content");
  expect_error(post(s, "/v1/chat/completions",
                    json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"top_logprobs", 2}}),
               400, "top_logprobs");
  expect_error(post(s, "/detokenize", json{{"tokens", {1, "a"}}}), 400, "tokens[1]");
  // Unknown fields are accepted (benchmark clients send them).
  Reply ok = post(s, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 1}, {"some_client_field", {1, 2}}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  // The server is still healthy after all that.
  EXPECT_EQ(get(s, "/health").status, 200);
}

TEST(Serve, ContextLengthErrorStatesTheNumbers) {
  json ids = json::array();
  for (int i = 0; i < 1000; ++i) ids.push_back(100 + i);
  Reply r = post(server(), "/v1/completions", json{{"prompt", ids}, {"max_tokens", 100}});
  expect_error(r, 400, "prompt",
               "This model's maximum context length is 1024 tokens. However, you requested 1100 tokens (1000 in the "
               "prompt, 100 in the completion).");
  std::string big;
  for (int i = 0; i < 1100; ++i) big += " hello";
  Reply c = post(server(), "/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", big}}}}});
  expect_error(c, 400, "messages", "maximum context length is 1024 tokens");
}

TEST(Serve, NotFoundMethodsAndSize) {
  const TestServer& s = server();
  expect_error(get(s, "/v1/nothing"), 404, "");
  expect_error(get(s, "/v1/completions"), 405, "");
  expect_error(post(s, "/v1/models", std::string("{}")), 405, "");
  expect_error(post(s, "/v1/completions", json{{"model", "other-model"}, {"prompt", "x"}}), 404, "model");
  Reply big = post(s, "/v1/completions", std::string(size_t(2) << 20, ' '));
  EXPECT_EQ(big.status, 413) << big.body.substr(0, 200);
}

TEST(Serve, ApiKey) {
  ServeOptions o = serve_options();
  o.api_key = "sekrit";
  TestServer s(o);
  expect_error(get(s, "/v1/models"), 401, "");
  expect_error(get(s, "/v1/models", "wrong"), 401, "");
  expect_error(post(s, "/v1/completions", json{{"prompt", "x"}}), 401, "");
  expect_error(get(s, "/metrics"), 401, "");
  EXPECT_EQ(get(s, "/v1/models", "sekrit").status, 200);
  EXPECT_EQ(get(s, "/health").status, 200);  // /health needs no key (llama.cpp)
}

TEST(Serve, TokenizeDetokenizeInfo) {
  const TestServer& s = server();
  Reply t = post(s, "/tokenize", json{{"prompt", "Hello world"}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.j["tokens"][0], 2);  // <bos>
  EXPECT_EQ(t.j["count"], t.j["tokens"].size());
  EXPECT_EQ(t.j["max_model_len"], 1024);
  Reply n = post(s, "/tokenize", json{{"prompt", "Hello world"}, {"add_special_tokens", false}});
  EXPECT_EQ(n.j["count"].get<int>(), t.j["count"].get<int>() - 1);
  Reply d = post(s, "/detokenize", json{{"tokens", n.j["tokens"]}});
  EXPECT_EQ(d.j["prompt"], "Hello world");
  Reply i = get(s, "/tokenizer_info");
  ASSERT_EQ(i.status, 200);
  EXPECT_EQ(i.j["eos_token"], "<end_of_turn>");
  EXPECT_EQ(i.j["bos_token"], "<bos>");
  EXPECT_EQ(i.j["pad_token"], "<pad>");
  EXPECT_TRUE(i.j["chat_template"].is_string());
  // lm-eval's remote tokenizer gets eos_token_id by encoding eos_token without special tokens.
  Reply e = post(s, "/tokenize", json{{"prompt", i.j["eos_token"]}, {"add_special_tokens", false}});
  EXPECT_EQ(e.j["tokens"], json::array({106}));
}

TEST(Serve, MetricsNamesAndCounts) {
  const TestServer& s = server();
  ASSERT_EQ(post(s, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 3}, {"ignore_eos", true}}).status, 200);
  Reply m = get(s, "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total", "vllm:request_success_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
        "vllm:request_queue_time_seconds_bucket", "vllm:request_prompt_tokens_bucket",
        "vllm:request_generation_tokens_bucket", "vllm:e2e_request_latency_seconds_sum",
        "vllm:e2e_request_latency_seconds_count"})
    EXPECT_GE(metric(m.body, name), 0) << name << "\n" << m.body;
  EXPECT_NE(m.body.find("model_name=\"tiny\""), std::string::npos);
  EXPECT_NE(m.body.find("# TYPE vllm:time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_GE(metric(m.body, "vllm:request_success_total", "finished_reason=\"length\""), 1);
  EXPECT_GE(metric(m.body, "vllm:generation_tokens_total"), 3);
  EXPECT_GE(metric(m.body, "vllm:time_to_first_token_seconds_count"), 1);
  EXPECT_GE(metric(m.body, "vllm:inter_token_latency_seconds_count"), 2);
  EXPECT_EQ(metric(m.body, "vllm:request_prompt_tokens_bucket", "le=\"+Inf\""),
            metric(m.body, "vllm:request_prompt_tokens_count"));
}

TEST(Serve, RsaExtension) {
  const json rsa = {{"n", 2}, {"k", 2}, {"rounds", 1}, {"max_tokens", 6}, {"seed", 5}};
  Reply c = post(server(), "/v1/chat/completions",
                 json{{"messages", {{{"role", "user"}, {"content", "What is 2+2?"}}}}, {"rsa", rsa}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(c.j["object"], "chat.completion");
  ASSERT_EQ(c.j["choices"].size(), 1u);
  EXPECT_TRUE(c.j["choices"][0]["message"]["content"].is_string());
  EXPECT_TRUE(c.j["choices"][0]["finish_reason"] == "stop" || c.j["choices"][0]["finish_reason"] == "length");
  ASSERT_TRUE(c.j["rsa"].is_object()) << c.body;
  EXPECT_EQ(c.j["rsa"]["rounds"].size(), 2u);  // round 0 and one aggregation round
  EXPECT_EQ(c.j["usage"], c.j["rsa"]["usage"]);
  // Usage sums every call: 2 traces per round, each at least one prompt token.
  EXPECT_GE(c.j["usage"]["prompt_tokens"].get<int>(), 4);
  EXPECT_GE(c.j["usage"]["completion_tokens"].get<int>(), 4);
  // The same run again (seeded) gives the same answer; completions take the extension too.
  Reply again = post(server(), "/v1/chat/completions",
                     json{{"messages", {{{"role", "user"}, {"content", "What is 2+2?"}}}}, {"rsa", rsa}});
  EXPECT_EQ(again.j["choices"][0]["message"], c.j["choices"][0]["message"]);
  Reply p = post(server(), "/v1/completions", json{{"prompt", "What is 2+2?"}, {"rsa", rsa}});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_TRUE(p.j["choices"][0]["text"].is_string());
  EXPECT_TRUE(p.j["rsa"].is_object());
  expect_error(post(server(), "/v1/completions", json{{"prompt", "x"}, {"rsa", {{"n", 2}, {"k", 3}}}}), 400, "rsa");
  expect_error(post(server(), "/v1/completions", json{{"prompt", "x"}, {"rsa", {{"bogus", 1}}}}), 400, "rsa");
  expect_error(post(server(), "/v1/completions", json{{"prompt", {"x", "y"}}, {"rsa", rsa}}), 400, "rsa");
}

}  // namespace
}  // namespace zaya::test
