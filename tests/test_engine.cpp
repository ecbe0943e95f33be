// The continuous-batching engine (src/infer/engine.h): requests served concurrently, with chunked
// prefill interleaved with decode, give exactly what each gives alone; prompt logprobs equal a direct
// forward; cancellation frees the slot without touching the others; limits answer with the right status.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "infer/engine.h"
#include "infer/generate.h"
#include "test_util.h"

namespace zaya {
namespace {

struct Tiny {
  std::string dir;
  std::unique_ptr<Backend> be;
  std::unique_ptr<Model> model;
};

const Tiny& tiny() {
  static Tiny* t = [] {
    auto* x = new Tiny;
    x->dir = (std::filesystem::temp_directory_path() / ("zaya_test_engine_" + std::to_string(::getpid()))).string();
    std::string err = test::make_tiny_serving_model(x->dir);
    EXPECT_EQ(err, "");
    x->be = make_backend("cpu-f32");
    LoadOptions lo;
    lo.quiet = true;
    x->model = Model::load(x->dir, *x->be, lo);
    return x;
  }();
  return *t;
}

std::vector<int32_t> random_prompt(std::mt19937_64& g, int64_t n, int64_t V) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& id : p) id = int32_t(g() % uint64_t(V));
  return p;
}

// Drains one request: (ids, finish reason).
std::pair<std::vector<int32_t>, FinishReason> drain(Request& r) {
  std::vector<int32_t> ids;
  EngineEvent ev;
  while (true) {
    if (!r.next(ev, std::chrono::milliseconds(30000))) {
      ADD_FAILURE() << "request timed out";
      return {ids, FinishReason::Error};
    }
    if (ev.kind == EngineEvent::Token) ids.push_back(ev.token.id);
    if (ev.kind == EngineEvent::Done) return {ids, ev.finish};
  }
}

TEST(Engine, ConcurrentGreedyEqualsAlone) {
  const Model& m = *tiny().model;
  std::mt19937_64 g(test::test_seed());
  const int64_t V = m.config().vocab_size;
  std::vector<RequestParams> reqs;
  for (int i = 0; i < 7; ++i) {
    RequestParams p;
    p.prompt = random_prompt(g, 1 + int64_t(g() % 90), V);
    p.max_tokens = 4 + int64_t(g() % 20);
    reqs.push_back(p);
  }
  // Alone: the batch-of-one generate() path, unchunked.
  std::vector<std::vector<int32_t>> alone;
  for (auto& p : reqs) {
    GenerateOptions go;
    go.max_new_tokens = p.max_tokens;
    alone.push_back(generate(m, {p.prompt}, go)[0]);
  }
  // Together: 3 slots, 16-token prefill chunks, a 24-row step budget, so prefill interleaves with decode.
  EngineOptions eo;
  eo.slots = 3;
  eo.prefill_chunk = 16;
  eo.max_batch_tokens = 24;
  Engine e(m, eo);
  std::vector<std::shared_ptr<Request>> rs;
  for (auto& p : reqs) rs.push_back(e.submit(p));
  for (size_t i = 0; i < rs.size(); ++i) {
    auto [ids, fin] = drain(*rs[i]);
    EXPECT_EQ(fin, FinishReason::Length);
    EXPECT_EQ(ids, alone[i]) << "request " << i;
  }
  EngineStats st = e.stats();
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.requests_finished, 7);
  int64_t P = 0, G = 0;
  for (auto& p : reqs) P += int64_t(p.prompt.size()), G += p.max_tokens;
  EXPECT_EQ(st.prompt_tokens_total, P);
  EXPECT_EQ(st.generation_tokens_total, G);
}

TEST(Engine, StopIdsAndSeededSampling) {
  const Model& m = *tiny().model;
  std::mt19937_64 g(test::test_seed() + 1);
  Engine e(m, EngineOptions{});
  RequestParams p;
  p.prompt = random_prompt(g, 12, m.config().vocab_size);
  p.max_tokens = 12;
  auto first = drain(*e.submit(p)).first;
  ASSERT_EQ(first.size(), 12u);
  p.stop_ids = {first[3]};
  auto [ids, fin] = drain(*e.submit(p));
  EXPECT_EQ(fin, FinishReason::Stop);
  const size_t stop_at = size_t(std::find(first.begin(), first.end(), first[3]) - first.begin());
  EXPECT_EQ(ids, std::vector<int32_t>(first.begin(), first.begin() + stop_at + 1));
  p.stop_ids.clear();
  p.sampler = {1.0f, 40, 0.95f, 1234};
  auto a = drain(*e.submit(p)).first, b = drain(*e.submit(p)).first;
  EXPECT_EQ(a, b);
  GenerateOptions go;  // the same sampler stream as the one-request path
  go.max_new_tokens = p.max_tokens;
  go.sampler = p.sampler;
  EXPECT_EQ(a, generate(m, {p.prompt}, go)[0]);
}

TEST(Engine, PromptLogprobsEqualDirectForward) {
  const Model& m = *tiny().model;
  const int64_t V = m.config().vocab_size;
  std::mt19937_64 g(test::test_seed() + 2);
  EngineOptions eo;
  eo.prefill_chunk = 7;  // several chunks
  Engine e(m, eo);
  RequestParams p;
  p.prompt = random_prompt(g, 30, V);
  p.max_tokens = 0;
  p.prompt_logprobs = true;
  p.top_logprobs = 2;
  auto r = e.submit(p);
  EngineEvent ev;
  std::vector<TokenLogprob> lp;
  FinishReason fin = FinishReason::None;
  while (r->next(ev, std::chrono::milliseconds(30000))) {
    if (ev.kind == EngineEvent::Prompt) lp = ev.prompt;
    EXPECT_NE(ev.kind, EngineEvent::Token);
    if (ev.kind == EngineEvent::Done) fin = ev.finish;
  }
  EXPECT_EQ(fin, FinishReason::Length);
  ASSERT_EQ(lp.size(), p.prompt.size());
  EXPECT_TRUE(std::isnan(lp[0].logprob));
  // Independent: one unchunked forward with every row's logits, log-softmax in double.
  SeqState st = m.new_state(30);
  Workspace ws;
  std::vector<float> logits(30 * size_t(V));
  SeqChunk c{&st, p.prompt.data(), 30};
  ForwardOptions fo;
  fo.all_logits = true;
  m.forward({&c, 1}, logits.data(), ws, fo);
  double num = 0, den = 0;
  for (size_t t = 1; t < p.prompt.size(); ++t) {
    const float* row = logits.data() + (t - 1) * size_t(V);
    double mx = row[0], s = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
    for (int64_t i = 0; i < V; ++i) s += std::exp(double(row[i]) - mx);
    double want = double(row[p.prompt[t]]) - mx - std::log(s);
    ASSERT_FALSE(std::isnan(lp[t].logprob));
    num += (lp[t].logprob - want) * (lp[t].logprob - want);
    den += want * want;
    EXPECT_EQ(lp[t].id, p.prompt[t]);
    ASSERT_EQ(lp[t].top.size(), 2u);
    EXPECT_EQ(lp[t].top[0].first, argmax(row, V));
    EXPECT_GE(lp[t].top[0].second, lp[t].top[1].second);
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
}

TEST(Engine, CancelFreesTheSlotAndLeavesOthersAlone) {
  const Model& m = *tiny().model;
  std::mt19937_64 g(test::test_seed() + 3);
  const int64_t V = m.config().vocab_size;
  RequestParams keep;
  keep.prompt = random_prompt(g, 40, V);
  keep.max_tokens = 30;
  GenerateOptions go;
  go.max_new_tokens = keep.max_tokens;
  auto want = generate(m, {keep.prompt}, go)[0];

  EngineOptions eo;
  eo.slots = 2;
  eo.prefill_chunk = 8;
  Engine e(m, eo);
  RequestParams victim;
  victim.prompt = random_prompt(g, 200, V);  // cancelled during its prefill
  victim.max_tokens = 50;
  auto rv = e.submit(victim);
  auto rk = e.submit(keep);
  RequestParams late = victim;  // cancelled during decode
  late.prompt.resize(5);
  late.max_tokens = 1000;
  auto rl = e.submit(late);  // waits for a slot
  EngineEvent ev;
  rv->cancel();
  auto [ids, fin] = drain(*rk);
  EXPECT_EQ(ids, want);
  EXPECT_EQ(fin, FinishReason::Length);
  EXPECT_EQ(drain(*rv).second, FinishReason::Cancelled);
  // The late one got the freed slot; cancel it once it is decoding.
  ASSERT_TRUE(rl->next(ev, std::chrono::milliseconds(30000)));
  EXPECT_EQ(ev.kind, EngineEvent::Token);
  rl->cancel();
  EXPECT_EQ(drain(*rl).second, FinishReason::Cancelled);
  for (int i = 0; i < 100 && e.stats().running != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(e.stats().running, 0);
  EXPECT_EQ(e.stats().requests_cancelled, 2);
  EXPECT_EQ(e.stats().kv_bytes, 0u);
}

TEST(Engine, LimitsAnswerWithStatus) {
  const Model& m = *tiny().model;
  EngineOptions eo;
  eo.ctx = 64;
  eo.max_queue = 1;
  eo.slots = 1;
  Engine e(m, eo);
  RequestParams p;
  p.prompt = std::vector<int32_t>(60, 5);
  p.max_tokens = 10;
  try {
    e.submit(p);
    ADD_FAILURE() << "no refusal";
  } catch (const EngineRefused& r) {
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(std::string(r.what()).find("maximum context length is 64 tokens"), std::string::npos) << r.what();
    EXPECT_NE(std::string(r.what()).find("70 tokens (60 in the prompt, 10 for the completion)"), std::string::npos)
        << r.what();
  }
  p.prompt = {int32_t(m.config().vocab_size)};
  EXPECT_THROW(e.submit(p), EngineRefused);
  p.prompt.clear();
  EXPECT_THROW(e.submit(p), EngineRefused);
  // The queue: one running, one waiting, the third refused with 503.
  p.prompt = {5, 6, 7};
  p.max_tokens = 50;
  auto a = e.submit(p);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::shared_ptr<Request> b;
  int refused = 0;
  for (int i = 0; i < 3; ++i) {
    try {
      auto r = e.submit(p);
      if (!b) b = r; else r->cancel();
    } catch (const EngineRefused& r) {
      EXPECT_EQ(r.status, 503);
      ++refused;
    }
  }
  EXPECT_GE(refused, 1);
  a->cancel();
  if (b) b->cancel();
}

TEST(Engine, KvBudgetAdmitsWithinIt) {
  const Model& m = *tiny().model;
  EngineOptions probe;
  Engine e0(m, probe);
  // A budget for about 1.5 requests of 100 tokens: the second waits until the first is done.
  const ModelConfig& c = m.config();
  double per_token = double(c.n_pairs) * 2 * double(int64_t(c.nk) * c.head_dim) * 4;
  EngineOptions eo;
  eo.slots = 4;
  eo.kv_budget_gib = 150 * per_token / double(1ull << 30);
  Engine e(m, eo);
  RequestParams p;
  p.prompt = std::vector<int32_t>(80, 9);
  p.max_tokens = 20;
  auto a = e.submit(p), b = e.submit(p);
  EngineEvent ev;
  ASSERT_TRUE(a->next(ev, std::chrono::milliseconds(30000)));
  EXPECT_EQ(e.stats().running, 1);
  EXPECT_LE(e.stats().kv_usage, 1.0);
  EXPECT_EQ(drain(*a).second, FinishReason::Length);
  EXPECT_EQ(drain(*b).second, FinishReason::Length);
  p.prompt = std::vector<int32_t>(200, 9);
  EXPECT_THROW(e.submit(p), EngineRefused);  // more than the whole budget
}

TEST(Engine, RunAllKeepsOrder) {
  const Model& m = *tiny().model;
  EngineOptions eo;
  eo.slots = 2;
  eo.max_queue = 2;  // run_all must throttle to stay within the queue
  Engine e(m, eo);
  std::vector<RequestParams> reqs;
  std::mt19937_64 g(test::test_seed() + 4);
  for (int i = 0; i < 9; ++i) {
    RequestParams p;
    p.prompt = random_prompt(g, 3 + i, m.config().vocab_size);
    p.max_tokens = 2 + i % 3;
    reqs.push_back(p);
  }
  auto out = run_all(e, reqs);
  ASSERT_EQ(out.size(), 9u);
  for (size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(int64_t(out[i].ids.size()), reqs[i].max_tokens);
    EXPECT_EQ(out[i].prompt_tokens, int64_t(reqs[i].prompt.size()));
  }
}

}  // namespace
}  // namespace zaya
