// Crash-safe training checkpoints: atomic directories, keep-last-k, and fallback to the previous good
// checkpoint when the newest is truncated, bit-flipped or incomplete — never a silent load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/fileutil.h"
#include "train/ckpt.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;

class Ckpt : public testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() / ("zaya_ckpt_" + std::to_string(::getpid()))).string();
    fs::remove_all(run_);
  }
  void TearDown() override { fs::remove_all(run_); }
  std::string save(CheckpointManager& m, int64_t step) {
    return m.save(
        step,
        [&](const std::string& dir) {
          write_file_atomic(dir + "/model.safetensors", std::string(1000 + size_t(step), char('a' + step % 26)));
          write_file_atomic(dir + "/config.json", "{\"step\": " + std::to_string(step) + "}");
        },
        {{"optimizer", "opt" + std::to_string(step)}, {"data", "pos" + std::to_string(step)}});
  }
  std::string run_;
};

TEST_F(Ckpt, SaveVerifyKeepLast) {
  CheckpointManager m(run_, 2);
  for (int64_t s : {10, 20, 30}) save(m, s);
  auto all = m.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 20);
  EXPECT_EQ(all[1].first, 30);
  std::vector<std::string> skipped;
  auto f = m.latest_good(&skipped);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->step, 30);
  EXPECT_TRUE(skipped.empty());
  auto blobs = CheckpointManager::read_blobs(f->dir);
  EXPECT_EQ(blobs["optimizer"], "opt30");
  EXPECT_EQ(blobs["data"], "pos30");
  for (auto& e : fs::recursive_directory_iterator(run_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left a temp file: " << e.path();
}

TEST_F(Ckpt, DamagedNewestFallsBackWithAMessage) {
  CheckpointManager m(run_, 3);
  save(m, 1);
  save(m, 2);
  std::string newest = save(m, 3);
  // Truncation, a flipped byte in a state blob, and a missing DONE marker each disqualify it.
  std::vector<std::function<void()>> damage = {
      [&] { fs::resize_file(newest + "/model.safetensors", 10); },
      [&] {
        std::fstream f(newest + "/state/optimizer.bin", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1);
        f.put('X');
      },
      [&] { fs::remove(newest + "/DONE"); },
      [&] { write_file_atomic(newest + "/MANIFEST.json", "{broken"); },
  };
  for (size_t i = 0; i < damage.size(); ++i) {
    newest = save(m, 3);  // a fresh good copy, then damage it
    damage[i]();
    std::vector<std::string> skipped;
    auto f = m.latest_good(&skipped);
    ASSERT_TRUE(f) << i;
    EXPECT_EQ(f->step, 2) << "damage " << i;
    ASSERT_EQ(skipped.size(), 1u) << i;
    EXPECT_NE(skipped[0].find("step-00000003"), std::string::npos) << skipped[0];
  }
}

TEST_F(Ckpt, NoGoodCheckpoint) {
  CheckpointManager m(run_, 2);
  EXPECT_FALSE(m.latest_good(nullptr));
  std::string d = save(m, 5);
  fs::remove(d + "/DONE");
  std::vector<std::string> skipped;
  EXPECT_FALSE(m.latest_good(&skipped));
  EXPECT_EQ(skipped.size(), 1u);
}

TEST_F(Ckpt, DamagedCheckpointsDoNotCountTowardKeepLast) {
  CheckpointManager m(run_, 2);
  save(m, 1);
  std::string b = save(m, 2);
  fs::resize_file(b + "/config.json", 1);  // damaged after writing
  save(m, 3);
  auto all = m.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 1) << "the older good checkpoint is kept";
  EXPECT_EQ(all[1].first, 3);
  // A damaged newest checkpoint with no good one after it stays for inspection.
  std::string d = save(m, 4);
  fs::remove(d + "/DONE");
  save(m, 4 - 0);  // rewriting step 4 replaces the damaged directory
  EXPECT_EQ(m.list().back().first, 4);
  std::string why;
  EXPECT_TRUE(CheckpointManager::verify(m.list().back().second, &why)) << why;
}

}  // namespace
}  // namespace zaya
