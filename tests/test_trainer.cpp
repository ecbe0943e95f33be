// zaya train end to end on a tiny model: the same run twice gives bitwise-identical losses; a run
// killed with SIGKILL at random points and resumed ends with bitwise-identical weights; corrupt
// newest checkpoint → resume falls back with a message; run-config errors are clear.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
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

struct RemoveAtExit {
  std::string dir;
  ~RemoveAtExit() {
    if (!dir.empty()) fs::remove_all(dir);
  }
};

std::string root() {
  static RemoveAtExit cleanup;
  static std::string r = [] {
    std::string d = (fs::temp_directory_path() / ("zaya_trainer_" + std::to_string(::getpid()))).string();
    fs::remove_all(d);
    fs::create_directories(d);
    std::string cmd = std::string(ZAYA_BINARY) + " data --tokenizer " +
                      test::src_path("tests/data/tokenizer/bytelevel/tokenizer.json") + " --input " +
                      test::src_path("tests/data/tokenizer/corpus.jsonl") + " --out " + d +
                      "/data --name corpus --val-fraction 0.05 > /dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "zaya data failed: " << cmd;
    write_file_atomic(d + "/model.json", R"({"model_type": "zaya", "vocab_size": 4096, "hidden_size": 32,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
      "num_experts": 4, "moe_intermediate_size": 32, "router_hidden_size": 16,
      "layer_types": ["hybrid", "hybrid"], "rope_parameters": {"hybrid": {"rope_type": "default",
      "rope_theta": 10000.0, "partial_rotary_factor": 0.5}}, "eos_token_id": 1, "max_position_embeddings": 512})");
    cleanup.dir = d;
    return d;
  }();
  return r;
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

std::string final_weights(const std::string& dir) {
  return read_file(dir + "/checkpoints/step-00000080/model.safetensors");  // 40 + 40 steps
}

TEST(Trainer, DeterministicAndResumesBitExactlyAfterSigkill) {
  std::string r = root();
  for (std::string n : {"a", "b"}) {
    write_file_atomic(r + "/" + n + ".toml", run_toml(r + "/run-" + n));
    ASSERT_EQ(zaya("train --config " + r + "/" + n + ".toml"), 0);
  }
  std::string la = losses(r + "/run-a");
  EXPECT_EQ(std::count(la.begin(), la.end(), '\n'), 80);
  EXPECT_EQ(la, losses(r + "/run-b")) << "the same run twice must give bitwise-identical losses";
  const std::string want = final_weights(r + "/run-a");
  ASSERT_FALSE(want.empty());

  // Kill at several random moments, resume each time, until the run completes.
  std::mt19937 g(std::random_device{}());
  std::string dir = r + "/run-k";
  write_file_atomic(r + "/k.toml", run_toml(dir));
  bool started = false;
  for (int kill_round = 0; kill_round < 3; ++kill_round) {
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::string cfg = r + "/k.toml";
      if (started)
        execl(ZAYA_BINARY, ZAYA_BINARY, "train", "--config", cfg.c_str(), "--resume", (char*)nullptr);
      else
        execl(ZAYA_BINARY, ZAYA_BINARY, "train", "--config", cfg.c_str(), (char*)nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + g() % 600));
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    // Only runs that wrote a checkpoint can be resumed; otherwise start over.
    std::vector<std::string> unused;
    started = fs::exists(dir + "/checkpoints") && !fs::is_empty(dir + "/checkpoints");
    if (!started) fs::remove_all(dir);
  }
  ASSERT_EQ(zaya("train --config " + r + "/k.toml" + (started ? " --resume" : "")), 0);
  EXPECT_EQ(final_weights(dir), want) << "resumed run must end with bitwise-identical weights";
  EXPECT_EQ(losses(dir), la) << "and the same loss curve";
}

TEST(Trainer, SigintAndSigtermWriteACheckpointAndExitCleanly) {
  std::string r = root();
  for (int sig : {SIGINT, SIGTERM}) {
    std::string dir = r + "/run-sig" + std::to_string(sig);
    write_file_atomic(r + "/sig.toml", run_toml(dir, ""));
    std::string log = dir + ".log";
    pid_t pid = fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      std::string cfg = r + "/sig.toml";
      execl(ZAYA_BINARY, ZAYA_BINARY, "train", "--config", cfg.c_str(), (char*)nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    kill(pid, sig);
    int st;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st)) << "killed by the signal instead of stopping cleanly";
    EXPECT_EQ(WEXITSTATUS(st), 0);
    std::string text = read_file(log);
    EXPECT_NE(text.find("stopped by signal"), std::string::npos) << text;
    // The checkpoint written on the signal verifies and resumes to the same end as an uninterrupted run.
    ASSERT_EQ(zaya("train --config " + r + "/sig.toml --resume"), 0);
    EXPECT_EQ(final_weights(dir), final_weights(r + "/run-a"));
  }
}

TEST(Trainer, DocumentMaskingRuns) {
  std::string r = root();
  std::string dir = r + "/run-m";
  std::string toml = run_toml(dir);
  toml.replace(toml.find("[optim]"), 7, "document_masking = true\n[optim]");
  write_file_atomic(r + "/m.toml", toml);
  ASSERT_EQ(zaya("train --config " + r + "/m.toml --max-steps 12"), 0);
  std::string l = losses(dir);
  EXPECT_EQ(std::count(l.begin(), l.end(), '\n'), 12);
  write_file_atomic(r + "/u.toml", run_toml(r + "/run-u"));
  ASSERT_EQ(zaya("train --config " + r + "/u.toml --max-steps 12"), 0);
  EXPECT_NE(l, losses(r + "/run-u")) << "masking changes what the model sees";
}

TEST(Trainer, GradientAccumulationTrainsLikeTheLargerBatch) {
  std::string r = root();
  std::string big = run_toml(r + "/run-big"), acc = run_toml(r + "/run-acc");
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

TEST(Trainer, CorruptNewestCheckpointFallsBack) {
  std::string r = root();
  std::string dir = r + "/run-c";
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

TEST(Trainer, BadRunConfigs) {
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
  std::string too_long = run_toml(r + "/run-long");
  too_long.replace(too_long.find("seq_len = 64"), 12, "seq_len = 1024");
  write_file_atomic(r + "/long.toml", too_long);
  auto res = test::run_zaya("train --config " + r + "/long.toml");
  test::expect_clean_error(res, {"long.toml", "max_position_embeddings"});
  EXPECT_FALSE(fs::exists(r + "/run-long/checkpoints"));
  // Existing checkpoints are never overwritten without --resume.
  std::string dir = r + "/run-d";
  write_file_atomic(r + "/d.toml", run_toml(dir));
  ASSERT_EQ(zaya("train --config " + r + "/d.toml --max-steps 4"), 0);
  EXPECT_EQ(zaya("train --config " + r + "/d.toml"), 1);
  EXPECT_NE(zaya("train --config " + r + "/nonexistent.toml"), 0);
}

}  // namespace
}  // namespace zaya
