// zaya rsa: Markovian RSA test-time compute on one problem or a JSONL file of problems, through the
// in-process engine (docs/rsa.md, src/infer/rsa.h).
//   zaya rsa --model DIR --prompt TEXT --n 16 --k 4 --rounds 1 --tau 4096 --max-tokens 40000 [--format json]
//   zaya rsa --model DIR --problems aime.jsonl --preset report
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "infer/engine.h"
#include "infer/rsa.h"
#include "infer/rsa_engine.h"
#include "serve/chat.h"
#include "tokenizer/tokenizer.h"

namespace zaya::cli {

namespace {
struct RsaArgs {
  std::string model, tokenizer, skip_mode, backend, prompt, problems, format = "text", preset, final_mode, tail_unit;
  int n = 0, k = 0, rounds = 0, top_k = 0, slots = 0, threads = 0;
  int64_t tau = 0, max_tokens = 0, final_max_tokens = 0;
  uint64_t seed = 0;
  float temperature = 0, top_p = 0;
  // The options given on the command line, as RsaConfig::from_json keys (the preset is applied first).
  nlohmann::json given = nlohmann::json::object();
  std::vector<std::function<void()>> collect;  // fill `given` after parsing
};

struct Problem {
  std::string text;
  std::optional<std::string> answer;  // the reference, when the file has one
};

std::vector<Problem> load_problems(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<Problem> out;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw_error(path, ":", lineno, ": invalid JSON: ", e.what());
    }
    ZAYA_CHECK(j.is_object(), path, ":", lineno, ": expected a JSON object");
    const char* key = j.contains("problem") ? "problem" : "prompt";
    ZAYA_CHECK(j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty(), path, ":", lineno,
               ": expected a non-empty string field \"problem\" (or \"prompt\")");
    Problem p;
    p.text = j[key].get<std::string>();
    if (j.contains("answer") && !j["answer"].is_null()) {
      const auto& a = j["answer"];
      ZAYA_CHECK(a.is_string() || a.is_number(), path, ":", lineno, ": \"answer\" must be a string or a number");
      p.answer = a.is_string() ? a.get<std::string>() : a.dump();
    }
    out.push_back(std::move(p));
  }
  ZAYA_CHECK(!out.empty(), path, ": no problems in the file");
  return out;
}

void run(const RsaArgs& a) {
  ZAYA_CHECK(a.prompt.empty() != a.problems.empty(), "zaya rsa: give exactly one of --prompt TEXT or --problems FILE");
  nlohmann::json cj = a.given;
  if (!a.preset.empty()) cj["preset"] = a.preset;
  const RsaConfig cfg = RsaConfig::from_json(cj);  // validates before the model is loaded
  std::vector<Problem> problems = a.problems.empty() ? std::vector<Problem>{{a.prompt, std::nullopt}}
                                                     : load_problems(a.problems);
  const bool json_out = a.format == "json";

  auto be = open_backend(a.backend, a.threads);
  auto model = Model::load(a.model, *be, load_options(a.skip_mode, json_out));
  const std::string tok_path = a.tokenizer.empty() ? path_join(a.model, "tokenizer.json") : a.tokenizer;
  Tokenizer tok = Tokenizer::from_file(tok_path);
  std::optional<ChatTemplate> tmpl = ChatTemplate::load(a.model);

  EngineOptions eo;
  eo.slots = a.slots > 0 ? a.slots : cfg.n;  // a whole round at once
  eo.threads = a.threads;  // OpenMP threads are set per thread: the engine thread sets its own
  Engine engine(*model, eo);
  EngineRsaOptions ro;
  const int32_t V = model->config().vocab_size;
  ro.encode_prompt = [&](const std::string& user) {
    std::vector<int32_t> ids;
    if (tmpl) {
      nlohmann::json msgs = nlohmann::json::array({{{"role", "user"}, {"content", user}}});
      ids = tok.encode(tmpl->render(msgs, nullptr, true), false);  // the template writes BOS itself
    } else {
      ids = tok.encode(user, true);
    }
    for (int32_t id : ids)
      ZAYA_CHECK(id < V, tok_path, ": token id ", id, " is outside the model's vocabulary (", V, ")");
    return ids;
  };
  // Stops as the server's: the model's eos ids and the tokenizer's eos token (tokenizer_config.json),
  // which for chat models is the end-of-turn token the template writes.
  ro.stop_ids = model->config().eos_ids;
  if (tmpl && !tmpl->eos_token().empty()) {
    const int32_t id = tok.token_to_id(tmpl->eos_token());
    if (id >= 0 && std::find(ro.stop_ids.begin(), ro.stop_ids.end(), id) == ro.stop_ids.end()) ro.stop_ids.push_back(id);
  }

  const int per_problem = cfg.n * (cfg.rounds + 1) + (cfg.final_aggregate ? 1 : 0);
  Progress bar("rsa", double(per_problem) * double(problems.size()), "traces");
  double base = 0;  // traces finished before the current backend call
  size_t cur_problem = 0;
  ro.progress = [&](size_t done, size_t) { bar.update(base + double(done)); };
  RsaBackend backend = engine_rsa_backend(engine, tok, ro);
  auto progress = [&](int round, int done, int total) {
    if (done == total) base += total;
    std::string s = "problem " + std::to_string(cur_problem + 1) + "/" + std::to_string(problems.size()) + ", ";
    s += round <= cfg.rounds ? "round " + std::to_string(round) + "/" + std::to_string(cfg.rounds) : "final call";
    bar.set_suffix(s);
    bar.update(base);
  };

  int64_t scored = 0, correct = 0;
  double cand_sum = 0;
  int64_t usage = 0;
  for (cur_problem = 0; cur_problem < problems.size(); ++cur_problem) {
    const Problem& p = problems[cur_problem];
    RsaResult r = run_rsa(cfg, p.text, tok, backend, progress);
    usage += r.prompt_tokens + r.completion_tokens;
    nlohmann::json j = r.to_json();
    if (p.answer) {
      // Scored as the report does: the selected answer, and the mean correctness over the final round.
      const std::string ref = normalize_answer(*p.answer);
      const bool ok = !ref.empty() && r.answer_normalized == ref;
      int64_t cand_ok = 0;
      for (const auto& ans : r.rounds.back().answers) cand_ok += ans && *ans == ref;
      const double cand = double(cand_ok) / double(r.rounds.back().answers.size());
      ++scored;
      correct += ok;
      cand_sum += cand;
      j["reference"] = *p.answer;
      j["correct"] = ok;
      j["candidate_accuracy"] = cand;
    }
    if (json_out) {
      if (!a.problems.empty()) j["index"] = cur_problem;
      std::printf("%s\n", j.dump(a.problems.empty() ? 2 : -1).c_str());
    } else {
      std::printf("[%zu] answer: %s%s\n", cur_problem, r.answer.empty() ? "(none)" : r.answer.c_str(),
                  p.answer ? (j["correct"].get<bool>() ? "  (correct)" : "  (wrong)") : "");
      for (size_t rd = 0; rd < r.rounds.size(); ++rd) {
        const RsaRound& x = r.rounds[rd];
        int64_t boxed = 0;
        for (auto& ans : x.answers) boxed += ans.has_value();
        std::printf("  round %zu: %lld traces, %lld prompt + %lld completion tokens, %lld boxed\n", rd,
                    (long long)x.population, (long long)x.prompt_tokens, (long long)x.completion_tokens,
                    (long long)boxed);
      }
      std::printf("  usage: %lld tokens\n", (long long)(r.prompt_tokens + r.completion_tokens));
      if (a.problems.empty()) std::printf("--- final text ---\n%s\n", r.final_text.c_str());
    }
    std::fflush(stdout);
  }
  bar.finish();
  if (scored > 0)
    std::fprintf(stderr, "accuracy %.4f (%lld/%lld), mean final-round candidate accuracy %.4f, %lld tokens\n",
                 double(correct) / double(scored), (long long)correct, (long long)scored, cand_sum / double(scored),
                 (long long)usage);
}
}  // namespace

void register_rsa(CLI::App& app) {
  auto a = std::make_shared<RsaArgs>();
  auto* c = app.add_subcommand("rsa", "Markovian RSA: N traces, T rounds of aggregating K bounded tails (docs/rsa.md)");
  c->add_option("--model,-m", a->model, "Model directory (config.json + safetensors + tokenizer.json)")->required();
  c->add_option("--prompt,-p", a->prompt, "The problem (the user message of round 0)");
  c->add_option("--problems", a->problems, "JSONL file: {\"problem\": ..., \"answer\": ...} per line (answer optional)");
  c->add_option("--preset", a->preset, "report | zyphra-proxy (applied first; other options override it)")
      ->check(CLI::IsMember({"report", "zyphra-proxy"}));
  // Options that map onto RsaConfig keys are recorded only when given, so a preset keeps the rest.
  auto keyed = [&](CLI::Option* o, const char* key, auto* field) {
    a->collect.push_back([o, key, field, args = a.get()] {
      if (o->count() > 0) args->given[key] = *field;
    });
  };
  keyed(c->add_option("--n", a->n, "Population per round (N)"), "n", &a->n);
  keyed(c->add_option("--k", a->k, "Tails per aggregation prompt (K ≤ N, distinct)"), "k", &a->k);
  keyed(c->add_option("--rounds", a->rounds, "Aggregation rounds after round 0 (T; docs/rsa.md)"), "rounds", &a->rounds);
  keyed(c->add_option("--tau", a->tau, "Tail length in tokens (or words with --tail-unit words)"), "tau", &a->tau);
  keyed(c->add_option("--max-tokens", a->max_tokens, "Per-trace budget of every round (beta)"), "max_tokens",
        &a->max_tokens);
  keyed(c->add_option("--final-max-tokens", a->final_max_tokens, "Budget of the final aggregation (0: --max-tokens)"),
        "final_max_tokens", &a->final_max_tokens);
  keyed(c->add_option("--final", a->final_mode, "vote | aggregate")->check(CLI::IsMember({"vote", "aggregate"})),
        "final", &a->final_mode);
  keyed(c->add_option("--tail-unit", a->tail_unit, "tokens | words")->check(CLI::IsMember({"tokens", "words"})),
        "tail_unit", &a->tail_unit);
  keyed(c->add_option("--seed", a->seed, "Seed of the tail draws and of every call's sampler"), "seed", &a->seed);
  keyed(c->add_option("--temperature,-t", a->temperature, "Sampling temperature of the rounds"), "temperature",
        &a->temperature);
  keyed(c->add_option("--top-p", a->top_p, "Nucleus mass of the rounds (1 = off)"), "top_p", &a->top_p);
  keyed(c->add_option("--top-k", a->top_k, "Top-k of the rounds (0 = off)"), "top_k", &a->top_k);
  c->add_option("--format", a->format, "text | json (the result JSON on stdout; JSONL with --problems)")
      ->check(CLI::IsMember({"text", "json"}));
  c->add_option("--slots", a->slots, "Concurrent engine slots (default: N)")->check(CLI::Range(0, 4096));
  c->add_option("--tokenizer", a->tokenizer, "tokenizer.json (default: MODEL/tokenizer.json)");
  c->add_option("--skip-mode", a->skip_mode, "Skip-slot semantics: zero | passthrough (default by layout)")
      ->check(CLI::IsMember({"zero", "passthrough"}));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] {
    for (auto& f : a->collect) f();
    run(*a);
  });
}

}  // namespace zaya::cli
