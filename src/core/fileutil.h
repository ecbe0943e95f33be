// Small file helpers shared by readers and writers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace zaya {

std::string read_file(const std::string& path);  // throws zaya::Error naming the path

// A file written as "<path>.tmp" and renamed over `path` by commit() after fsync (then the directory
// is fsync'ed); removed if never committed. A crash never leaves a partial file at `path`.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* p, size_t n);
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// Writes `data` to path atomically: path.tmp, fsync, rename, fsync of the directory.
void write_file_atomic(const std::string& path, const std::string& data);
// A read-only, private memory mapping of a whole regular file (size 0 for an empty file, with a
// valid data() pointer). Throws zaya::Error naming the path.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* map_ = nullptr;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

bool file_exists(const std::string& path);
void fsync_parent_dir(const std::string& path);  // makes a rename or unlink in that directory durable
std::string path_join(const std::string& a, const std::string& b);
uint64_t xxh64_file(const std::string& path);  // streaming xxh64 (seed 0); throws zaya::Error naming the path

}  // namespace zaya
