// Multi-process training under mpirun (issue 7): the same run.toml on 1 process and on 2 and 4 ranks
// (with and without ZeRO-1) gives the same losses and final weights; a checkpoint of 2 ranks resumes on
// 1 and 3 (reshape) and continues as the uninterrupted run; SIGKILL of a rank under `zaya supervise` ends
// every rank within the watchdog timeout naming the missing rank, and the restarted job ends at the
// uninterrupted loss; a stopped (hung) rank trips the watchdog; injected NaN gradients and loss spikes
// are skipped and rolled back. Ranks are oversubscribed on this 2-core machine (1 thread each).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/fileutil.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Env {
  std::string dir, error;
};

struct RemoveAtExit {
  std::string dir;
  ~RemoveAtExit() {
    if (!dir.empty()) fs::remove_all(dir);
  }
};

const Env& env() {
  static RemoveAtExit cleanup;
  static Env e = [] {
    Env x;
    // Root in containers and more ranks than cores: what OpenMPI refuses by default.
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);  // no CMA/ptrace in containers
    x.dir = (fs::temp_directory_path() / ("zaya_parallel_" + std::to_string(::getpid()))).string();
    fs::remove_all(x.dir);
    fs::create_directories(x.dir);
    cleanup.dir = x.dir;
    x.error = test::make_tiny_training_inputs(x.dir);
    return x;
  }();
  return e;
}

#define REQUIRE_MPI()                                                                                        \
  do {                                                                                                       \
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed";   \
    ASSERT_TRUE(env().error.empty()) << env().error;                                                          \
  } while (0)

// run.toml: 30 steps of 8 × 32 (global batch), checkpoints every 5, validation every 10, on the fp32
// reference backend (the default is cpu-bf16 where AMX makes it faster; the 1e-4 bounds are fp32's).
std::string toml(const std::string& name, const std::string& extra = "", int64_t tokens = 7680) {
  const std::string r = env().dir, d = r + "/" + name;
  fs::remove_all(d);
  std::string t = "[run]\ndir = \"" + d + "\"\nseed = 7\nthreads = 1\nbackend = \"cpu-f32\"\n[model]\nconfig = \"" + r +
                  "/model.json\"\n[data]\ndatasets = { corpus = \"" + r + "/data/corpus.json\" }\n[optim]\nlr = 0.01\n"
                  "[schedule]\nwarmup = 3\n[[phase]]\nname = \"a\"\ntokens = " + std::to_string(tokens) +
                  "\nseq_len = 32\nbatch = 8\n[checkpoint]\nevery = 5\nkeep_last = 50\n[eval]\nevery = 10\nbatches = 2\n" +
                  extra;
  const std::string path = r + "/" + name + ".toml";
  write_file_atomic(path, t);
  return path;
}
std::string run_dir(const std::string& name) { return env().dir + "/" + name; }

int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}
std::string Z() { return ZAYA_BINARY; }
std::string mpirun(int n) { return "mpirun -np " + std::to_string(n) + " "; }

std::vector<json> metrics(const std::string& name) {
  std::vector<json> out;
  std::istringstream in(read_file(run_dir(name) + "/metrics.jsonl"));
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"loss\"") != std::string::npos) out.push_back(json::parse(line));
  return out;
}

// Largest relative loss difference, and the relative difference of all final weights (‖a−b‖/‖b‖ over
// every tensor together, and the worst single tensor).
struct Diff {
  double loss = 0, val = 0, weights = 0, worst_tensor = 0;
};
Diff compare(const std::string& a, const std::string& b, int64_t step = 30) {
  Diff d;
  auto ma = metrics(a), mb = metrics(b);
  EXPECT_EQ(ma.size(), mb.size()) << a << " vs " << b;
  for (size_t i = 0; i < std::min(ma.size(), mb.size()); ++i) {
    EXPECT_EQ(ma[i]["step"], mb[i]["step"]);
    const double x = ma[i]["loss"], y = mb[i]["loss"];
    EXPECT_TRUE(std::isfinite(x)) << a << " step " << i;
    d.loss = std::max(d.loss, std::fabs(x - y) / std::fabs(y));
    if (mb[i].contains("val_loss")) {
      const double vx = ma[i].value("val_loss", NAN), vy = mb[i]["val_loss"];
      d.val = std::max(d.val, std::isfinite(vx) ? std::fabs(vx - vy) / vy : 1.0);
    }
  }
  char s[32];
  std::snprintf(s, sizeof s, "/checkpoints/step-%08lld", (long long)step);
  Checkpoint ca(run_dir(a) + s), cb(run_dir(b) + s);
  double num = 0, den = 0;
  for (auto& [name, info] : cb.tensors()) {
    auto x = test::tensor_f32(ca, name), y = test::tensor_f32(cb, name);
    EXPECT_EQ(x.size(), y.size()) << name;
    double n = 0, m = 0;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      EXPECT_FALSE(std::isnan(x[i])) << name;
      n += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
      m += double(y[i]) * y[i];
    }
    num += n;
    den += m;
    if (m > 0) d.worst_tensor = std::max(d.worst_tensor, std::sqrt(n / m));
  }
  d.weights = std::sqrt(num / den);
  std::printf("%s vs %s: losses %.2e, validation %.2e, weights %.2e (worst tensor %.2e)\n", a.c_str(), b.c_str(),
              d.loss, d.val, d.weights, d.worst_tensor);
  return d;
}

TEST(Parallel, SameResultsOnOneTwoAndFourRanks) {
  REQUIRE_MPI();
  ASSERT_EQ(sh(Z() + " train -c " + toml("one") + " > /dev/null 2>&1"), 0);
  struct Layout {
    const char* name;
    int n;
    const char* extra;
  };
  for (Layout l : {Layout{"dp2", 2, ""}, Layout{"dp2z", 2, "[parallel]\nzero = 1\n"}, Layout{"dp4", 4, ""},
                   Layout{"dp4z", 4, "[parallel]\nzero = 1\n"}, Layout{"ep2", 2, "[parallel]\nep = 2\n"},
                   Layout{"ep2dp2z", 4, "[parallel]\nep = 2\nzero = 1\n"}}) {
    ASSERT_EQ(sh(mpirun(l.n) + Z() + " train -c " + toml(l.name, l.extra) + " > " + run_dir(l.name) + ".log 2>&1"),
              0)
        << read_file(run_dir(l.name) + ".log");
    Diff d = compare(l.name, "one");
    EXPECT_LT(d.loss, 1e-4) << l.name;
    EXPECT_LT(d.val, 1e-4) << l.name;
    EXPECT_LT(d.weights, 1e-4) << l.name;
    EXPECT_LT(d.worst_tensor, 1e-4) << l.name;
    EXPECT_EQ(metrics(l.name).size(), 30u);
  }
  // Each rank wrote its optimizer shard (with expert parallelism also its experts' shard); rank 0 the model,
  // whose expert tensors are whole (compare() read them at the single process's shapes).
  EXPECT_TRUE(file_exists(run_dir("dp4z") + "/checkpoints/step-00000030/state/optim-rank-00003.bin"));
  EXPECT_FALSE(file_exists(run_dir("dp4z") + "/checkpoints/step-00000030/state/optim-rank-00004.bin"));
  EXPECT_TRUE(file_exists(run_dir("ep2dp2z") + "/checkpoints/step-00000030/state/optim-rank-00003-experts.bin"));
}

TEST(Parallel, CheckpointOfTwoRanksResumesOnOneAndThree) {
  REQUIRE_MPI();
  const std::string ref = toml("ref");
  ASSERT_EQ(sh(Z() + " train -c " + ref + " > /dev/null 2>&1"), 0);
  // Written by 2 ranks with ep = 2 and ZeRO-1, resumed on 1 rank and on 3 (ep = 1: 4 experts do not split 3 ways).
  const std::string a = toml("reshape1", "[parallel]\nzero = 1\n"), b = toml("reshape3", "[parallel]\nzero = 1\n");
  const std::string w = toml("reshape_src", "[parallel]\nzero = 1\nep = 2\n");
  fs::remove_all(run_dir("reshape1"));
  ASSERT_EQ(sh(mpirun(2) + Z() + " train -c " + w + " --max-steps 15 > /dev/null 2>&1"), 0);
  fs::copy(run_dir("reshape_src"), run_dir("reshape1"), fs::copy_options::recursive);
  EXPECT_TRUE(file_exists(run_dir("reshape1") + "/checkpoints/step-00000015/state/optim-rank-00001-experts.bin"));
  fs::copy(run_dir("reshape1"), run_dir("reshape3"), fs::copy_options::recursive);
  ASSERT_EQ(sh(Z() + " train -c " + a + " --resume > /dev/null 2>&1"), 0);
  ASSERT_EQ(sh(mpirun(3) + Z() + " train -c " + b + " --resume > " + run_dir("reshape3") + ".log 2>&1"), 0)
      << read_file(run_dir("reshape3") + ".log");
  for (const char* n : {"reshape1", "reshape3"}) {
    Diff d = compare(n, "ref");
    EXPECT_LT(d.loss, 1e-4) << n;
    EXPECT_LT(d.worst_tensor, 1e-4) << n;
  }
  // Offline: zaya ckpt reshape writes a 3-rank ZeRO-0 layout that 3 ranks resume from.
  const std::string c = toml("reshape_off");
  ASSERT_EQ(sh(Z() + " ckpt reshape --from " + run_dir("reshape1") + "/checkpoints/step-00000015 --to " +
               run_dir("reshape_off") + " --world 3 --zero 0 > " + run_dir("reshape_off") + ".log 2>&1"),
            0)
      << read_file(run_dir("reshape_off") + ".log");
  EXPECT_TRUE(file_exists(run_dir("reshape_off") + "/checkpoints/step-00000015/state/optim-rank-00002.bin"));
  ASSERT_EQ(sh(mpirun(3) + Z() + " train -c " + c + " --resume > /dev/null 2>&1"), 0);
  // metrics of the offline copy start at its resume point: compare the final weights only.
  Checkpoint x(run_dir("reshape_off") + "/checkpoints/step-00000030"), y(run_dir("ref") + "/checkpoints/step-00000030");
  for (auto& [name, info] : y.tensors()) EXPECT_LT(test::rel_err(test::tensor_f32(x, name), test::tensor_f32(y, name)), 1e-4) << name;
}

// The pid of rank r from its heartbeat record (.ranks/rank-NNNNN: "rank R pid P ...").
int rank_pid(const std::string& run, int r) {
  char b[32];
  std::snprintf(b, sizeof b, "/.ranks/rank-%05d", r);
  std::istringstream in(read_file(run + b));
  std::string w;
  int rank = -1, pid = 0;
  in >> w >> rank >> w >> pid;
  return pid;
}

size_t lines(const std::string& path) {
  if (!file_exists(path)) return 0;
  std::istringstream in(read_file(path));
  std::string l;
  size_t n = 0;
  while (std::getline(in, l)) ++n;
  return n;
}

bool wait_for(const std::function<bool()>& f, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(Parallel, KilledRankUnderSuperviseRestartsAndEndsAtTheSameLoss) {
  REQUIRE_MPI();
  const std::string extra = "[parallel]\ncollective_timeout = 20\n";
  const std::string u = toml("uninterrupted", extra, 61440), k = toml("killed", extra, 61440);  // 240 steps
  ASSERT_EQ(sh(mpirun(2) + Z() + " train -c " + u + " > /dev/null 2>&1"), 0);
  const std::string log = run_dir("killed") + ".log";
  pid_t sup = ::fork();
  if (sup == 0) {
    std::string cmd = Z() + " supervise --max-restarts 2 --backoff 0.2 --log " + run_dir("killed") + ".jsonl -- " +
                      mpirun(2) + Z() + " train -c " + k + " > " + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    ::_exit(127);
  }
  const std::string m = run_dir("killed") + "/metrics.jsonl";
  ASSERT_TRUE(wait_for([&] { return lines(m) >= 50; }, 120)) << "the run did not reach step 50";
  const int victim = rank_pid(run_dir("killed"), 1), survivor = rank_pid(run_dir("killed"), 0);
  ASSERT_GT(victim, 0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_for([&] { return ::kill(survivor, 0) != 0; }, 20)) << "rank 0 outlived the watchdog timeout";
  const double ended = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("rank 0 ended %.2f s after rank 1 was killed (collective timeout 20 s)\n", ended);
  int st = 0;
  ASSERT_EQ(::waitpid(sup, &st, 0), sup);
  const std::string out = read_file(log);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find("rank(s) 1 never arrived"), std::string::npos) << out;
  EXPECT_NE(out.find("resuming from"), std::string::npos) << out;
  const std::string attempts = read_file(run_dir("killed") + ".jsonl");
  EXPECT_EQ(lines(run_dir("killed") + ".jsonl"), 2u) << attempts;
  auto mk = metrics("killed"), mu = metrics("uninterrupted");
  ASSERT_EQ(mk.size(), mu.size());
  EXPECT_EQ(mk.back()["step"], 240);
  EXPECT_EQ(double(mk.back()["loss"]), double(mu.back()["loss"]));  // resume is bit-exact
}

TEST(Parallel, HungRankTripsTheWatchdogOnEveryRank) {
  REQUIRE_MPI();
  const std::string h = toml("hung", "[parallel]\ncollective_timeout = 3\n", 61440);
  const std::string log = run_dir("hung") + ".log";
  pid_t job = ::fork();
  if (job == 0) {
    std::string cmd = mpirun(2) + Z() + " train -c " + h + " > " + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    ::_exit(127);
  }
  ASSERT_TRUE(wait_for([&] { return lines(run_dir("hung") + "/metrics.jsonl") >= 20; }, 120));
  const int stopped = rank_pid(run_dir("hung"), 1);
  ASSERT_EQ(::kill(stopped, SIGSTOP), 0);
  const auto t0 = std::chrono::steady_clock::now();
  int st = 0;
  ASSERT_EQ(::waitpid(job, &st, 0), job);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::kill(stopped, SIGKILL);
  const std::string out = read_file(log);
  EXPECT_LT(secs, 3 + 10) << out;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  EXPECT_NE(out.find("error: rank 0: watchdog: collective"), std::string::npos) << out;
  EXPECT_NE(out.find("timed out after 3.0 s; rank(s) 1 never arrived"), std::string::npos) << out;
}

TEST(Parallel, NanGradientAndLossSpikeAreSkippedAndRolledBack) {
  REQUIRE_MPI();
  const std::string g = toml("guard", "[guard]\nspike_window = 8\nmax_consecutive_skips = 3\n");
  ASSERT_EQ(sh(mpirun(2) + Z() + " train -c " + g +
               " --inject-fault nan-grad:4 --inject-fault loss-spike:12 --inject-fault nan-grad:17-19 > " +
               run_dir("guard") + ".log 2>&1"),
            0)
      << read_file(run_dir("guard") + ".log");
  std::istringstream in(read_file(run_dir("guard") + "/metrics.jsonl"));
  std::string line;
  std::map<int64_t, std::string> skipped;
  int rollbacks = 0;
  int64_t last = 0;
  while (std::getline(in, line)) {
    json m = json::parse(line);
    if (m.value("event", "") == "rollback") {
      ++rollbacks;
      EXPECT_EQ(m["from_step"], 19);
      EXPECT_EQ(m["step"], 15);
      continue;
    }
    last = m["step"];
    EXPECT_TRUE(std::isfinite(double(m["loss"])) || m["skipped"] == true);
    if (m["skipped"] == true) skipped[m["step"]] = m["skip_reason"];
  }
  EXPECT_EQ(rollbacks, 1);
  EXPECT_EQ(last, 30);
  ASSERT_EQ(skipped.size(), 5u);
  EXPECT_NE(skipped[4].find("gradient norm is not finite"), std::string::npos);
  EXPECT_NE(skipped[12].find("loss spike"), std::string::npos);
  for (int s : {17, 18, 19}) EXPECT_TRUE(skipped.count(s)) << s;
}

TEST(Supervise, RestartsUntilTheBudgetIsSpentAndSaysWhy) {
  const std::string log = testing::TempDir() + "/supervise.jsonl";
  std::remove(log.c_str());
  auto r = test::run_zaya("supervise --max-restarts 2 --backoff 0 --log " + log + " -- sh -c 'exit 7'");
  EXPECT_EQ(r.code, 7) << r.out;
  EXPECT_NE(r.out.find("attempt 3 ended"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit code 7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restart budget (2) is spent"), std::string::npos) << r.out;
  EXPECT_EQ(lines(log), 3u);
  auto ok = test::run_zaya("supervise -- sh -c 'test \"$ZAYA_AUTO_RESUME\" = 1'");
  EXPECT_EQ(ok.code, 0) << ok.out;  // every attempt resumes from the newest good checkpoint
  auto missing = test::run_zaya("supervise --max-restarts 5 -- /nonexistent/zaya-nope");
  EXPECT_EQ(missing.code, 127) << missing.out;
  EXPECT_NE(missing.out.find("giving up"), std::string::npos) << missing.out;
}

TEST(Parallel, ClearErrors) {
  REQUIRE_MPI();
  auto r = test::run_zaya("train -c " + toml("ep", "[parallel]\nep = 2\n"));  // one process: 1 rank
  test::expect_clean_error(r, {"ep = 2", "does not divide the 1 ranks"});
  // Under mpirun a rank's error names the rank and ends every rank (MPI_Abort).
  const std::string cfg = toml("ep3", "[parallel]\nep = 3\n");
  FILE* p = popen((mpirun(2) + Z() + " train -c " + cfg + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_NE(pclose(p), 0);
  EXPECT_NE(out.find("error: rank 0 of 2:"), std::string::npos) << out;
  EXPECT_NE(out.find("ep = 3 does not divide the 2 ranks"), std::string::npos) << out;
  auto z = test::run_zaya("train -c " + toml("badzero", "[parallel]\nzero = 2\n"));
  test::expect_clean_error(z, {"zero", "0 or 1"});
}

}  // namespace
}  // namespace zaya
