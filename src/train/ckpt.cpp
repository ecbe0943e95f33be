#include "train/ckpt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

namespace fs = std::filesystem;
using json = nlohmann::json;


namespace {

std::string step_name(int64_t step) {
  char b[32];
  std::snprintf(b, sizeof b, "step-%08lld", (long long)step);
  return b;
}

void fsync_path(const std::string& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Every regular file below dir, relative, sorted, except MANIFEST.json and DONE.
std::vector<std::string> payload_files(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), dir).string();
    if (rel == "MANIFEST.json" || rel == "DONE") continue;
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

CheckpointManager::CheckpointManager(std::string run_dir, int keep_last)
    : run_dir_(std::move(run_dir)), keep_last_(keep_last) {
  ZAYA_CHECK(keep_last_ >= 1, "checkpoints: keep_last must be at least 1");
}

std::string CheckpointManager::checkpoints_dir() const { return path_join(run_dir_, "checkpoints"); }

std::string CheckpointManager::save(int64_t step, const std::function<void(const std::string&)>& write_model,
                                    const std::map<std::string, std::string>& blobs) {
  const std::string tmp = begin(step);
  write_model(tmp);
  for (auto& [name, bytes] : blobs) {
    ZAYA_CHECK(name.find('/') == std::string::npos && !name.empty(), "checkpoint blob name '", name, "' is invalid");
    write_file_atomic(path_join(path_join(tmp, "state"), name + ".bin"), bytes);
  }
  return commit(step);
}

std::string CheckpointManager::dir_of(int64_t step, bool tmp) const {
  return path_join(checkpoints_dir(), step_name(step)) + (tmp ? ".tmp" : "");
}

std::string CheckpointManager::begin(int64_t step) {
  const std::string root = checkpoints_dir(), tmp = path_join(root, step_name(step)) + ".tmp";
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw_error(root, ": cannot create: ", ec.message());
  fs::remove_all(tmp, ec);
  fs::create_directories(path_join(tmp, "state"), ec);
  if (ec) throw_error(tmp, ": cannot create: ", ec.message());
  return tmp;
}

std::string CheckpointManager::commit(int64_t step) {
  const std::string root = checkpoints_dir(), final_dir = path_join(root, step_name(step)),
                    tmp = final_dir + ".tmp";
  json files = json::object();
  for (auto& rel : payload_files(tmp)) {
    std::string p = path_join(tmp, rel);
    fsync_path(p);
    files[rel] = {{"bytes", fs::file_size(p)}, {"xxh64", xxh64_file(p)}};
  }
  json manifest = {{"format", "zaya-checkpoint-1"}, {"step", step}, {"files", files}};
  write_file_atomic(path_join(tmp, "MANIFEST.json"), manifest.dump(1));
  write_file_atomic(path_join(tmp, "DONE"), "");
  fsync_path(path_join(tmp, "state"));
  fsync_path(tmp);
  if (fs::exists(final_dir)) fs::remove_all(final_dir);  // a damaged checkpoint of the same step
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) throw_error(final_dir, ": rename failed");
  fsync_path(root);
  prune();
  return final_dir;
}

bool CheckpointManager::verify(const std::string& dir, std::string* why) {
  try {
    if (!file_exists(path_join(dir, "DONE"))) {
      *why = "incomplete (no DONE marker)";
      return false;
    }
    json m;
    try {
      m = json::parse(read_file(path_join(dir, "MANIFEST.json")));
    } catch (const json::exception& e) {
      *why = std::string("MANIFEST.json is not valid JSON: ") + e.what();
      return false;
    }
    if (!m.is_object() || !m.contains("files") || !m["files"].is_object()) {
      *why = "MANIFEST.json has no file list";
      return false;
    }
    for (auto& [rel, info] : m["files"].items()) {
      std::string p = path_join(dir, rel);
      if (!file_exists(p)) {
        *why = rel + " is missing";
        return false;
      }
      if (!info.is_object() || !info.contains("bytes") || !info.contains("xxh64") ||
          !info["bytes"].is_number_unsigned() || !info["xxh64"].is_number_unsigned()) {
        *why = "MANIFEST.json entry for " + rel + " is malformed";
        return false;
      }
      if (fs::file_size(p) != info["bytes"].get<uint64_t>()) {
        *why = rel + " has " + std::to_string(fs::file_size(p)) + " bytes, the manifest says " +
               std::to_string(info["bytes"].get<uint64_t>());
        return false;
      }
      if (xxh64_file(p) != info["xxh64"].get<uint64_t>()) {
        *why = rel + " fails its checksum";
        return false;
      }
    }
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
    return false;
  }
}

std::vector<std::pair<int64_t, std::string>> CheckpointManager::list() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir(), ec)) return out;
  for (auto& e : fs::directory_iterator(checkpoints_dir())) {
    std::string n = e.path().filename().string();
    if (!e.is_directory() || n.size() != 13 || n.compare(0, 5, "step-") != 0) continue;  // skips *.tmp
    if (!std::all_of(n.begin() + 5, n.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.emplace_back(std::stoll(n.substr(5)), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<CheckpointManager::Found> CheckpointManager::latest_good(std::vector<std::string>* skipped) const {
  auto all = list();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::string why;
    if (verify(it->second, &why)) return Found{it->second, it->first};
    if (skipped) skipped->push_back(it->second + ": " + why);
  }
  return std::nullopt;
}

std::map<std::string, std::string> CheckpointManager::read_blobs(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::string sd = path_join(dir, "state");
  if (!fs::is_directory(sd)) return out;
  for (auto& e : fs::directory_iterator(sd)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0)
      out[n.substr(0, n.size() - 4)] = read_file(e.path().string());
  }
  return out;
}

void CheckpointManager::prune() {
  // Keep the newest keep_last GOOD checkpoints. A damaged one older than a good one can never be
  // used and is removed; a damaged one newer than every good one stays for inspection.
  auto all = list();
  int good = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::string why;
    bool ok = verify(it->second, &why);
    if (ok && good < keep_last_) {
      ++good;
      continue;
    }
    if (good > 0) fs::remove_all(it->second);
  }
}

}  // namespace zaya
