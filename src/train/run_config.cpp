#include "train/run_config.h"

#include "ops/backend.h"

#include <set>
#include <toml++/toml.h>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

namespace {

struct Table {
  const toml::table& t;
  std::string path;  // e.g. "optim"
  const std::string& what;

  std::string key(const std::string& k) const { return path.empty() ? k : path + "." + k; }
  [[noreturn]] void bad(const std::string& k, const char* expect) const {
    throw_error(what, ": '", key(k), "' must be ", expect);
  }
  void only(std::initializer_list<const char*> allowed) const {
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (auto& [k, v] : t)
      if (!ok.count(std::string(k.str()))) throw_error(what, ": unknown key '", key(std::string(k.str())), "'");
  }
  bool has(const char* k) const { return t.contains(k); }
  double num(const char* k, double dflt) const {
    auto n = t[k];
    if (!n) return dflt;
    if (auto v = n.value<double>()) return *v;
    bad(k, "a number");
  }
  int64_t integer(const char* k, int64_t dflt) const {
    auto n = t[k];
    if (!n) return dflt;
    if (n.is_integer()) return n.value<int64_t>().value();
    bad(k, "an integer");
  }
  bool boolean(const char* k, bool dflt) const {
    auto n = t[k];
    if (!n) return dflt;
    if (auto v = n.value<bool>()) return *v;
    bad(k, "true or false");
  }
  std::string str(const char* k, const std::string& dflt) const {
    auto n = t[k];
    if (!n) return dflt;
    if (auto v = n.value<std::string>()) return *v;
    bad(k, "a string");
  }
  Table sub(const char* k) const {
    auto* s = t[k].as_table();
    if (!s) bad(k, "a table");
    return Table{*s, key(k), what};
  }
};

const toml::table& empty_table() {
  static const toml::table e;
  return e;
}

}  // namespace

int64_t RunConfig::total_steps() const {
  int64_t n = 0;
  for (auto& p : phases) n += steps_of(p);
  return n;
}

RunConfig parse_run_config(const std::string& text, const std::string& what) {
  toml::table root;
  try {
    root = toml::parse(text, what);
  } catch (const toml::parse_error& e) {
    throw_error(what, ":", e.source().begin.line, ":", e.source().begin.column, ": ", e.description());
  }
  RunConfig c;
  c.source = what;
  Table r{root, "", what};
  r.only({"run", "model", "data", "optim", "schedule", "balance", "phase", "checkpoint", "eval", "parallel", "guard"});
  auto section = [&](const char* k) { return r.has(k) ? r.sub(k) : Table{empty_table(), k, what}; };

  Table run = section("run");
  run.only({"dir", "seed", "threads", "recompute", "backend"});
  c.dir = run.str("dir", "");
  if (c.dir.empty()) throw_error(what, ": 'run.dir' is required");
  int64_t seed = run.integer("seed", 0);
  if (seed < 0) run.bad("seed", "non-negative");
  c.seed = uint64_t(seed);
  c.threads = int(run.integer("threads", 0));
  c.recompute = run.boolean("recompute", false);
  if (c.threads < 0) run.bad("threads", "non-negative");
  c.backend = run.str("backend", "");
  if (!c.backend.empty()) {
    bool known = false;
    for (auto& b : backend_names()) known |= b == c.backend;
    if (!known) run.bad("backend", "one of cpu-f32, cpu-bf16");
  }

  Table model = section("model");
  model.only({"config", "init_from", "tokenizer"});
  c.model_config = model.str("config", "");
  c.init_from = model.str("init_from", "");
  c.tokenizer = model.str("tokenizer", "");
  if (c.model_config.empty() == c.init_from.empty())
    throw_error(what, ": give exactly one of 'model.config' (new model) or 'model.init_from' (continue training)");

  Table data = section("data");
  data.only({"datasets", "mask_eos_targets", "document_masking"});
  if (!data.has("datasets")) throw_error(what, ": 'data.datasets' is required");
  Table ds = data.sub("datasets");
  for (auto& [k, v] : ds.t) {
    auto s = v.value<std::string>();
    if (!s) throw_error(what, ": 'data.datasets.", std::string(k.str()), "' must be the path of a manifest");
    c.datasets[std::string(k.str())] = *s;
  }
  if (c.datasets.empty()) throw_error(what, ": 'data.datasets' is empty");
  c.mask_eos_targets = data.boolean("mask_eos_targets", false);
  c.document_masking = data.boolean("document_masking", false);

  Table o = section("optim");
  o.only({"lr", "weight_decay", "grad_clip", "grad_accum", "adam_beta1", "adam_beta2", "adam_eps", "muon_momentum",
          "muon_nesterov", "ns_steps", "ns_coefficients", "muon_rms_scale"});
  c.optim.lr = o.num("lr", 3e-3);
  c.optim.weight_decay = o.num("weight_decay", 0.1);
  c.grad_clip = o.num("grad_clip", 1.0);
  c.grad_accum = int(o.integer("grad_accum", 1));
  if (c.grad_accum < 1 || c.grad_accum > 4096) o.bad("grad_accum", "between 1 and 4096");
  c.optim.adam_beta1 = o.num("adam_beta1", 0.9);
  c.optim.adam_beta2 = o.num("adam_beta2", 0.95);
  c.optim.adam_eps = o.num("adam_eps", 1e-8);
  c.optim.muon_momentum = o.num("muon_momentum", 0.95);
  c.optim.muon_nesterov = o.boolean("muon_nesterov", true);
  c.optim.ns_steps = int(o.integer("ns_steps", 5));
  c.optim.muon_rms_scale = o.num("muon_rms_scale", 0.2);
  if (o.has("ns_coefficients")) {
    auto* a = o.t["ns_coefficients"].as_array();
    if (!a || a->size() != 3) o.bad("ns_coefficients", "a list of three numbers");
    double v[3];
    for (size_t i = 0; i < 3; ++i) {
      auto x = (*a)[i].value<double>();
      if (!x) o.bad("ns_coefficients", "a list of three numbers");
      v[i] = *x;
    }
    c.optim.ns_a = v[0];
    c.optim.ns_b = v[1];
    c.optim.ns_c = v[2];
  }
  if (!(c.optim.lr > 0)) o.bad("lr", "positive");
  if (!(c.grad_clip > 0)) o.bad("grad_clip", "positive");
  if (c.optim.ns_steps < 1 || c.optim.ns_steps > 20) o.bad("ns_steps", "between 1 and 20");

  Table s = section("schedule");
  s.only({"kind", "warmup", "decay_fraction", "min_ratio", "decay_shape"});
  c.schedule.kind = s.str("kind", "wsd");
  c.schedule.warmup = s.integer("warmup", 0);
  c.schedule.decay_fraction = s.num("decay_fraction", 0.2);
  c.schedule.min_ratio = s.num("min_ratio", 0.1);
  c.schedule.decay_shape = s.str("decay_shape", "linear");

  Table b = section("balance");
  b.only({"rule", "kp", "ki", "kd", "lr", "beta1", "beta2", "eps", "balance_skip"});
  c.balance.rule = b.str("rule", "pid");
  c.balance.kp = b.num("kp", 1e-3);
  c.balance.ki = b.num("ki", 0.0);
  c.balance.kd = b.num("kd", 0.0);
  c.balance.lr = b.num("lr", 1e-3);
  c.balance.beta1 = b.num("beta1", 0.9);
  c.balance.beta2 = b.num("beta2", 0.999);
  c.balance.eps = b.num("eps", 1e-8);
  c.balance.balance_skip = b.boolean("balance_skip", false);
  try {
    c.balance.validate();
  } catch (const Error& e) {
    throw_error(what, ": ", e.what());
  }

  auto* phases = root["phase"].as_array();
  if (!phases || phases->empty()) throw_error(what, ": at least one [[phase]] is required");
  for (size_t i = 0; i < phases->size(); ++i) {
    auto* pt = (*phases)[i].as_table();
    std::string path = "phase[" + std::to_string(i) + "]";
    if (!pt) throw_error(what, ": '", path, "' must be a table");
    Table p{*pt, path, what};
    p.only({"name", "tokens", "seq_len", "batch", "rope_theta", "weights"});
    PhaseConfig ph;
    ph.name = p.str("name", "phase" + std::to_string(i));
    ph.tokens = p.integer("tokens", 0);
    ph.seq_len = p.integer("seq_len", 0);
    ph.batch = p.integer("batch", 0);
    ph.rope_theta = p.num("rope_theta", 0);
    if (ph.seq_len < 2 || ph.seq_len > (1 << 20)) p.bad("seq_len", "between 2 and 1048576");
    if (ph.batch < 1 || ph.batch > 65536) p.bad("batch", "between 1 and 65536");
    if (ph.tokens < ph.batch * ph.seq_len * c.grad_accum)
      p.bad("tokens", "at least batch × seq_len × grad_accum (one step)");
    if (ph.rope_theta < 0) p.bad("rope_theta", "positive");
    if (p.has("weights")) {
      Table w = p.sub("weights");
      for (auto& [k, v] : w.t) {
        std::string name(k.str());
        if (!c.datasets.count(name)) throw_error(what, ": '", path, ".weights.", name, "' names no dataset");
        auto x = v.value<double>();
        if (!x || *x < 0) throw_error(what, ": '", path, ".weights.", name, "' must be a non-negative number");
        ph.weights[name] = *x;
      }
    } else {
      for (auto& [name, m] : c.datasets) ph.weights[name] = 1.0;
    }
    double sum = 0;
    for (auto& [n, x] : ph.weights) sum += x;
    if (!(sum > 0)) throw_error(what, ": '", path, ".weights' must give some dataset a positive weight");
    c.phases.push_back(ph);
  }
  c.schedule.total = c.total_steps();
  try {
    validate(c.schedule);
  } catch (const Error& e) {
    throw_error(what, ": schedule: ", e.what());
  }

  Table ck = section("checkpoint");
  ck.only({"every", "keep_last"});
  c.checkpoint_every = ck.integer("every", 0);
  c.keep_last = int(ck.integer("keep_last", 3));
  if (c.checkpoint_every < 0) ck.bad("every", "non-negative (0: only at the end)");
  if (c.keep_last < 1) ck.bad("keep_last", "at least 1");

  Table ev = section("eval");
  ev.only({"every", "batches"});
  c.eval_every = ev.integer("every", 0);
  c.eval_batches = ev.integer("batches", 4);
  if (c.eval_every < 0) ev.bad("every", "non-negative");
  if (c.eval_batches < 1) ev.bad("batches", "positive");

  Table par = section("parallel");
  par.only({"ep", "zero", "collective_timeout", "step_timeout", "save_timeout", "load_timeout"});
  c.parallel.ep = int(par.integer("ep", 1));
  c.parallel.zero = int(par.integer("zero", 0));
  c.parallel.collective_timeout = par.num("collective_timeout", 300);
  c.parallel.step_timeout = par.num("step_timeout", 3600);
  c.parallel.save_timeout = par.num("save_timeout", 1800);
  c.parallel.load_timeout = par.num("load_timeout", 1800);
  if (c.parallel.ep < 1 || c.parallel.ep > 4096) par.bad("ep", "between 1 and 4096");
  if (c.parallel.zero != 0 && c.parallel.zero != 1) par.bad("zero", "0 or 1");
  for (const char* k : {"collective_timeout", "step_timeout", "save_timeout", "load_timeout"})
    if (par.has(k) && !(par.num(k, 1) > 0)) par.bad(k, "positive (seconds)");

  Table g = section("guard");
  g.only({"spike_zscore", "spike_window", "max_consecutive_skips"});
  c.guard.spike_zscore = g.num("spike_zscore", 6.0);
  c.guard.spike_window = g.integer("spike_window", 128);
  c.guard.max_consecutive_skips = int(g.integer("max_consecutive_skips", 3));
  if (!(c.guard.spike_zscore >= 0)) g.bad("spike_zscore", "non-negative (0: no spike detection)");
  if (c.guard.spike_window < 8 || c.guard.spike_window > 100000) g.bad("spike_window", "between 8 and 100000");
  if (c.guard.max_consecutive_skips < 0) g.bad("max_consecutive_skips", "non-negative (0: never roll back)");
  return c;
}

RunConfig load_run_config(const std::string& path) { return parse_run_config(read_file(path), path); }

}  // namespace zaya
