// zaya train end to end on a tiny model: the same run twice gives bitwise-identical losses and
// weights; a run killed with SIGKILL at random steps and resumed ends with bitwise-identical weights;
// SIGINT/SIGTERM write a checkpoint that resumes bit-exactly; corrupt newest checkpoint → resume falls
// back with a message; run-config errors are clear.
//
// Every test stands alone (any --gtest_filter, --gtest_shuffle, --gtest_repeat): the tokenized data
// and the uninterrupted reference run are built lazily, once per process, by whichever test needs
// them first, and each test trains into fresh directories of its own. Signals and kills are sent on
// observable events (metrics.jsonl lines, which the trainer writes after each step), never after a
// fixed sleep, so they land mid-run on a fast or a slow machine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/fileutil.h"
#include "train/run_config.h"
#include "test_util.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kTotalSteps = 80;  // 40 + 40 steps of the two phases of run_toml()
constexpr int kEvery = 4;        // checkpoint.every of run_toml()

struct RemoveAtExit {
  std::string dir;
  ~RemoveAtExit() {
    if (!dir.empty()) fs::remove_all(dir);
  }
};

// The shared inputs, built once per process: tokenized corpus and model config.
struct Shared {
  std::string dir, error;
};
const Shared& shared() {
  static RemoveAtExit cleanup;
  static Shared s = [] {
    Shared x;
    x.dir = (fs::temp_directory_path() / ("zaya_trainer_" + std::to_string(::getpid()))).string();
    fs::remove_all(x.dir);
    fs::create_directories(x.dir);
    cleanup.dir = x.dir;
    x.error = test::make_tiny_training_inputs(x.dir);
    return x;
  }();
  return s;
}
std::string root() { return shared().dir; }

// A directory of this test's own, empty (a run dir that already holds checkpoints would be refused).
std::string fresh_dir(const std::string& name) {
  std::string d = root() + "/" + name;
  fs::remove_all(d);
  return d;
}

std::string run_toml(const std::string& dir, const std::string& extra = "") {
  std::string r = root();
  return "[run]\ndir = \"" + dir + "\"\nseed = 7\nthreads = 1\n"
         "[model]\nconfig = \"" + r + "/model.json\"\n"
         "[data]\ndatasets = { corpus = \"" + r + "/data/corpus.json\" }\n"
         "[optim]\nlr = 0.01\n"
         "[schedule]\nkind = \"wsd\"\nwarmup = 3\n"
         "[[phase]]\nname = \"short\"\ntokens = 10240\nseq_len = 32\nbatch = 8\n"
         "[[phase]]\nname = \"long\"\ntokens = 10240\nseq_len = 64\nbatch = 4\nrope_theta = 100000.0\n"
         "[checkpoint]\nevery = 4\nkeep_last = 2\n"
         "[eval]\nevery = 10\nbatches = 2\n" + extra;
}

int zaya(const std::string& args) {
  std::string cmd = std::string(ZAYA_BINARY) + " " + args + " > /dev/null 2>&1";
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

std::string losses(const std::string& dir) {
  std::istringstream in(read_file(dir + "/metrics.jsonl"));
  std::string line, out;
  while (std::getline(in, line)) {
    auto a = line.find("\"loss\":");
    out += line.substr(a, line.find(',', a) - a) + "\n";
  }
  return out;
}

std::string first_lines(const std::string& s, int n) {
  size_t p = 0;
  for (int i = 0; i < n && p != std::string::npos; ++i) {
    p = s.find('\n', p);
    if (p != std::string::npos) ++p;
  }
  return p == std::string::npos ? s : s.substr(0, p);
}

std::string step_dir(const std::string& dir, int64_t step) {
  char b[32];
  std::snprintf(b, sizeof b, "step-%08lld", (long long)step);
  return dir + "/checkpoints/" + b;
}
std::string weights_at(const std::string& dir, int64_t step) {
  return read_file(step_dir(dir, step) + "/model.safetensors");
}
std::string final_weights(const std::string& dir) { return weights_at(dir, kTotalSteps); }

// Lines in <dir>/metrics.jsonl so far (one per finished step); 0 while there is none. Never throws:
// the trainer replaces the file atomically on resume and appends to it while we read.
int metrics_lines(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl", std::ios::binary);
  if (!in) return 0;
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return int(std::count(s.begin(), s.end(), '\n'));
}

// The uninterrupted run every resumed run is compared with, trained once per process by the first
// test that needs it. It keeps all its checkpoints (every 4 steps), so a resumed run can be compared
// at any checkpoint step, not only at the end.
struct Reference {
  std::string dir, error, losses;
};
const Reference& reference() {
  static Reference ref = [] {
    Reference x;
    x.dir = fresh_dir("run-ref");
    std::string toml = run_toml(x.dir);
    toml.replace(toml.find("keep_last = 2"), 13, "keep_last = 1000");
    write_file_atomic(root() + "/ref.toml", toml);
    if (int rc = zaya("train --config " + root() + "/ref.toml"); rc != 0) {
      x.error = "the reference run failed with exit code " + std::to_string(rc);
      return x;
    }
    x.losses = losses(x.dir);
    if (std::count(x.losses.begin(), x.losses.end(), '\n') != kTotalSteps)
      x.error = "the reference run wrote " + std::to_string(metrics_lines(x.dir)) + " metrics lines, not " +
                std::to_string(kTotalSteps);
    else if (!fs::exists(step_dir(x.dir, kTotalSteps) + "/DONE"))
      x.error = "the reference run has no final checkpoint";
    return x;
  }();
  return ref;
}

// `zaya <args>` as a child process, stdout to /dev/null, stderr to err_path (or /dev/null). Killed
// and reaped when it goes out of scope, so a failing assertion leaves no process behind.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& err_path = "") {
    std::vector<std::string> all{ZAYA_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string err = err_path.empty() ? "/dev/null" : err_path;
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(devnull, 1);
      dup2(fd, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  // Has it exited? (Reaps it if so; status() then holds its wait status.)
  bool exited() {
    if (!reaped_ && pid_ > 0 && waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    return reaped_ || pid_ <= 0;
  }
  int wait() {
    if (!reaped_ && pid_ > 0) {
      while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }
    return status_;
  }
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exited with code " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return "killed by signal " + std::to_string(WTERMSIG(st));
  return "wait status " + std::to_string(st);
}

// Waits until the training run of `dir` (the child) has written at least n metrics lines, i.e. has
// finished step n. Empty on success; otherwise why not: the child ended first, or the (generous)
// timeout passed — then the child is killed.
std::string wait_for_step(Child& c, const std::string& dir, int n, double timeout_s = 300) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    if (metrics_lines(dir) >= n) return "";
    if (c.exited())
      return "the run " + describe_status(c.status()) + " after " + std::to_string(metrics_lines(dir)) +
             " steps, before reaching step " + std::to_string(n);
    if (Clock::now() > deadline) {
      ::kill(c.pid(), SIGKILL);
      c.wait();
      return "timed out after " + std::to_string(int(timeout_s)) + " s waiting for step " + std::to_string(n) +
             " (at " + std::to_string(metrics_lines(dir)) + ")";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

class Trainer : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(shared().error.empty()) << shared().error; }
};

TEST_F(Trainer, DeterministicAndResumesBitExactlyAfterSigkill) {
  std::string r = root();
  // The same run a second time: alongside the reference run when that is still to be trained.
  std::string dir_b = fresh_dir("run-b");
  write_file_atomic(r + "/b.toml", run_toml(dir_b));
  int st_b;
  {
    Child b({"train", "--config", r + "/b.toml"});
    reference();
    st_b = b.wait();
  }
  const Reference& ref = reference();
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  ASSERT_TRUE(WIFEXITED(st_b) && WEXITSTATUS(st_b) == 0) << "the second run " << describe_status(st_b);
  EXPECT_EQ(losses(dir_b), ref.losses) << "the same run twice must give bitwise-identical losses";
  EXPECT_EQ(final_weights(dir_b), final_weights(ref.dir)) << "and bitwise-identical weights";

  // Kill with SIGKILL at a random point of a random step in each third of the run (so in both
  // phases), resume each time, then run to the end. Each kill waits for the run to reach its step
  // (step >= 5: checkpoint 4 exists, so there is always something to resume from), then a random
  // fraction of the time the last step took, so it can land in a step, a checkpoint write or a
  // metrics write.
  static uint64_t repeat = 0;  // other kill steps on each --gtest_repeat, reproducibly from the seed
  std::mt19937_64 g(test::test_seed() + repeat++);
  std::string dir = fresh_dir("run-k"), cfg = r + "/k.toml";
  write_file_atomic(cfg, run_toml(dir));
  std::string history;
  int lines = 0;
  for (int round = 0; round < 3; ++round) {
    // Past every line the previous process wrote: the resumed run first rewrites metrics.jsonl with
    // the lines up to its checkpoint, so a stale line count cannot satisfy the wait.
    int target = std::max(int(std::uniform_int_distribution<int>(5 + 20 * round, 24 + 20 * round)(g)), lines + 2);
    std::vector<std::string> args{"train", "--config", cfg};
    if (round > 0) args.push_back("--resume");
    std::string log = r + "/run-k.round" + std::to_string(round) + ".log";
    Child c(args, log);
    std::string why = wait_for_step(c, dir, target - 1);
    ASSERT_TRUE(why.empty()) << "kill round " << round << ": " << why << "; " << history << "\n" << read_file(log);
    auto t0 = Clock::now();
    why = wait_for_step(c, dir, target);
    ASSERT_TRUE(why.empty()) << "kill round " << round << ": " << why << "; " << history << "\n" << read_file(log);
    int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, us)(g)));
    ASSERT_FALSE(c.exited()) << "kill round " << round << ": the run " << describe_status(c.status())
                             << " before the kill could be sent";
    ::kill(c.pid(), SIGKILL);
    int st = c.wait();
    ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        << "kill round " << round << ": the run " << describe_status(st) << " before the kill landed";
    lines = metrics_lines(dir);
    history += "killed after step " + std::to_string(lines) + "; ";
    ASSERT_LT(lines, kTotalSteps) << history;
    if (round > 0) {
      EXPECT_NE(read_file(log).find("resuming from"), std::string::npos) << read_file(log);
    }
  }
  std::printf("SIGKILL rounds: %s\n", history.c_str());
  auto res = test::run_zaya("train --config " + cfg + " --resume");
  ASSERT_EQ(res.code, 0) << history << "\n" << res.out;
  EXPECT_NE(res.out.find("resuming from"), std::string::npos) << res.out;
  EXPECT_EQ(final_weights(dir), final_weights(ref.dir)) << "resumed run must end with bitwise-identical weights; "
                                                        << history;
  EXPECT_EQ(losses(dir), ref.losses) << "and the same loss curve; " << history;
}

TEST_F(Trainer, SigintAndSigtermWriteACheckpointAndExitCleanly) {
  const Reference& ref = reference();
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  std::string r = root();
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string name = sig == SIGINT ? "sigint" : "sigterm";
    SCOPED_TRACE(name);
    std::string dir = fresh_dir("run-" + name), cfg = r + "/" + name + ".toml", log = r + "/run-" + name + ".log";
    write_file_atomic(cfg, run_toml(dir));
    int st;
    {
      Child c({"train", "--config", cfg}, log);
      // Step 5 done: the handlers are installed (before step 1) and checkpoint 4 is written, so the
      // signal lands mid-run, between two regular checkpoints.
      std::string why = wait_for_step(c, dir, 5);
      ASSERT_TRUE(why.empty()) << "could not send " << name << " mid-run: " << why << "\n" << read_file(log);
      ASSERT_FALSE(c.exited()) << "the run " << describe_status(c.status()) << " before " << name
                               << " could be sent";
      ASSERT_EQ(::kill(c.pid(), sig), 0);
      st = c.wait();
    }
    std::string text = read_file(log);
    ASSERT_TRUE(WIFEXITED(st)) << "the run was " << describe_status(st) << " instead of stopping cleanly\n" << text;
    EXPECT_EQ(WEXITSTATUS(st), 0) << text;
    const std::string said = "stopped by signal at step ";
    auto p = text.find(said);
    ASSERT_NE(p, std::string::npos) << "the run did not stop on " << name << " (finished first?)\n" << text;
    const int64_t s = std::stoll(text.substr(p + said.size()));
    ASSERT_LT(s, kTotalSteps) << "the run finished before " << name << " landed";
    EXPECT_GE(s, 5);
    std::printf("%s: stopped at step %lld\n", name.c_str(), (long long)s);
    EXPECT_EQ(metrics_lines(dir), s);
    ASSERT_TRUE(fs::exists(step_dir(dir, s) + "/DONE")) << "no checkpoint of step " << s << ", where it stopped";
    // The checkpoint written on the signal verifies and resumes bit-exactly: up to the next regular
    // checkpoint step, weights and losses are those of the uninterrupted run.
    const int64_t next = (s / kEvery + 1) * kEvery;
    auto res = test::run_zaya("train --config " + cfg + " --resume --max-steps " + std::to_string(next));
    ASSERT_EQ(res.code, 0) << res.out;
    EXPECT_NE(res.out.find("resuming from " + step_dir(dir, s)), std::string::npos) << res.out;
    EXPECT_EQ(weights_at(dir, next), weights_at(ref.dir, next)) << "resumed at step " << s << ", compared at " << next;
    EXPECT_EQ(losses(dir), first_lines(ref.losses, int(next))) << "resumed at step " << s;
  }
}

TEST_F(Trainer, DocumentMaskingRuns) {
  std::string r = root();
  std::string dir = fresh_dir("run-m");
  std::string toml = run_toml(dir);
  toml.replace(toml.find("[optim]"), 7, "document_masking = true\n[optim]");
  write_file_atomic(r + "/m.toml", toml);
  ASSERT_EQ(zaya("train --config " + r + "/m.toml --max-steps 12"), 0);
  std::string l = losses(dir);
  EXPECT_EQ(std::count(l.begin(), l.end(), '\n'), 12);
  write_file_atomic(r + "/u.toml", run_toml(fresh_dir("run-u")));
  ASSERT_EQ(zaya("train --config " + r + "/u.toml --max-steps 12"), 0);
  EXPECT_NE(l, losses(r + "/run-u")) << "masking changes what the model sees";
}

TEST_F(Trainer, GradientAccumulationTrainsLikeTheLargerBatch) {
  std::string r = root();
  std::string big = run_toml(fresh_dir("run-big")), acc = run_toml(fresh_dir("run-acc"));
  acc.replace(acc.find("lr = 0.01"), 9, "lr = 0.01\ngrad_accum = 2");
  acc.replace(acc.find("batch = 8"), 9, "batch = 4");
  write_file_atomic(r + "/big.toml", big);
  write_file_atomic(r + "/acc.toml", acc);
  ASSERT_EQ(zaya("train --config " + r + "/big.toml --max-steps 6"), 0);
  ASSERT_EQ(zaya("train --config " + r + "/acc.toml --max-steps 6"), 0);
  auto values = [](const std::string& l) {
    std::vector<double> v;
    std::istringstream in(l);
    std::string line;
    while (std::getline(in, line)) v.push_back(std::stod(line.substr(line.find(':') + 1)));
    return v;
  };
  auto a = values(losses(r + "/run-big")), b = values(losses(r + "/run-acc"));
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 1e-4 * std::abs(a[i])) << "step " << i + 1;
}

TEST_F(Trainer, CorruptNewestCheckpointFallsBack) {
  std::string r = root();
  std::string dir = fresh_dir("run-c");
  write_file_atomic(r + "/c.toml", run_toml(dir));
  ASSERT_EQ(zaya("train --config " + r + "/c.toml --max-steps 8"), 0);
  // Flip a byte in the newest checkpoint's weights: resume must use step 4 and say so.
  std::string f = dir + "/checkpoints/step-00000008/model.safetensors";
  std::string s = read_file(f);
  s[s.size() / 2] ^= 0x40;
  write_file_atomic(f, s);
  std::string out = dir + "/resume.log";
  std::string cmd = std::string(ZAYA_BINARY) + " train --config " + r + "/c.toml --resume --max-steps 9 2> " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string log = read_file(out);
  EXPECT_NE(log.find("skipping damaged checkpoint"), std::string::npos) << log;
  EXPECT_NE(log.find("step-00000004"), std::string::npos) << log;
}

TEST_F(Trainer, BadRunConfigs) {
  std::string r = root();
  auto expect = [&](const std::string& toml, const std::string& needle) {
    try {
      parse_run_config(toml, "run.toml");
      ADD_FAILURE() << "accepted; expected " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::string good = run_toml(r + "/x");
  EXPECT_NO_THROW(parse_run_config(good, "run.toml"));
  expect(good + "[typo]\nx = 1\n", "unknown key 'typo'");
  std::string bad_lr = good;
  bad_lr.replace(bad_lr.find("lr = 0.01"), 9, "lr = -1.0");
  expect(bad_lr, "optim.lr");
  std::string bad_seq = good;
  bad_seq.replace(bad_seq.find("seq_len = 32"), 12, "seq_len = 1");
  expect(bad_seq, "phase[0].seq_len");
  std::string bad_w = good;
  bad_w.replace(bad_w.find("name = \"short\""), 14, "name = \"short\"\nweights = { nope = 1.0 }");
  expect(bad_w, "names no dataset");
  expect("[run\n", "run.toml");
  // A sequence length the model cannot take (max_position_embeddings is 512): error, nothing written.
  std::string too_long = run_toml(fresh_dir("run-long"));
  too_long.replace(too_long.find("seq_len = 64"), 12, "seq_len = 1024");
  write_file_atomic(r + "/long.toml", too_long);
  auto res = test::run_zaya("train --config " + r + "/long.toml");
  test::expect_clean_error(res, {"long.toml", "max_position_embeddings"});
  EXPECT_FALSE(fs::exists(r + "/run-long/checkpoints"));
  // Existing checkpoints are never overwritten without --resume.
  std::string dir = fresh_dir("run-d");
  write_file_atomic(r + "/d.toml", run_toml(dir));
  ASSERT_EQ(zaya("train --config " + r + "/d.toml --max-steps 4"), 0);
  EXPECT_EQ(zaya("train --config " + r + "/d.toml"), 1);
  EXPECT_NE(zaya("train --config " + r + "/nonexistent.toml"), 0);
}

}  // namespace
}  // namespace zaya
