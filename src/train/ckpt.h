// Training checkpoints that survive crashes (issue 3): <run>/checkpoints/step-00000123/ holds
//   the model in Hugging Face layout (written by a callback: model.safetensors + config.json ...),
//   state/<name>.bin blobs (optimizer, balancing, data position, RNG, trainer counters),
//   MANIFEST.json — size and xxh64 of every other file — and, last, an empty DONE marker.
// A checkpoint is written into step-XXXXXXXX.tmp/ (every file fsync'ed), then renamed into place and
// the parent directory fsync'ed, so a crash leaves either the previous state or a complete new one.
// latest_good() walks the checkpoints newest first and returns the first whose DONE, manifest, sizes
// and checksums all verify, reporting every damaged or incomplete one it skipped.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zaya {

class CheckpointManager {
 public:
  CheckpointManager(std::string run_dir, int keep_last);

  // Writes checkpoint `step`: write_model(dir) puts the model files into dir; blobs go to state/.
  // Returns the final directory. Older checkpoints beyond keep_last are removed afterwards.
  std::string save(int64_t step, const std::function<void(const std::string& dir)>& write_model,
                   const std::map<std::string, std::string>& blobs);

  // The same in two halves, for several processes writing one checkpoint: begin() (one rank) makes the
  // empty temporary directory step-XXXXXXXX.tmp/ with state/ and returns it; every rank then writes its
  // files there (fsync'ed: write_file_atomic); commit() (the same rank, after all have written) writes the
  // manifest over every file, then DONE, renames it into place and prunes. Returns the final directory.
  std::string begin(int64_t step);
  std::string commit(int64_t step);
  // checkpoints/step-XXXXXXXX (tmp: the .tmp directory begin() makes).
  std::string dir_of(int64_t step, bool tmp = false) const;

  struct Found {
    std::string dir;
    int64_t step;
  };
  std::optional<Found> latest_good(std::vector<std::string>* skipped) const;
  // Verifies one checkpoint directory; on failure returns false and says why in *why.
  static bool verify(const std::string& dir, std::string* why);
  static std::map<std::string, std::string> read_blobs(const std::string& dir);

  std::string checkpoints_dir() const;
  std::vector<std::pair<int64_t, std::string>> list() const;  // (step, dir), oldest first, incl. damaged

 private:
  void prune();
  std::string run_dir_;
  int keep_last_;
};

}  // namespace zaya
