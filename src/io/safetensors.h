// safetensors files: memory-mapped reader (single file or sharded through
// model.safetensors.index.json) and an atomic writer (temp file, fsync, rename).
//
// Format: 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}
// then the data section; offsets are relative to the start of the data section.
// Every field read from a file is validated; a problem throws zaya::Error naming the file and tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fileutil.h"

namespace zaya {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // points into the mapped file (valid while the file is open)
  size_t nbytes = 0;
  std::string file;  // the file the tensor lives in, for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[4, 16]"
};

// Parses and validates a safetensors file image. `data`/`size` is the whole file (header and data
// section); every data_offsets range is checked against the data section, so each returned
// TensorInfo::data (= data + 8 + N + begin) .. data + nbytes lies inside [data, data + size).
// The data pointers need not be aligned (files written by the Python library and by
// SafeTensorsWriter start the data section at a multiple of 8; files from elsewhere may not).
// Duplicate keys in the header JSON (e.g. a tensor listed twice) are rejected.
// `what` names the file in errors.
struct ParsedHeader {
  std::vector<TensorInfo> tensors;             // in file order of data offsets
  std::map<std::string, std::string> metadata;  // "__metadata__" (string values only)
};
ParsedHeader safetensors_parse(const uint8_t* data, size_t size, const std::string& what);

// One memory-mapped safetensors file.
class SafeTensorsFile {
 public:
  explicit SafeTensorsFile(const std::string& path);  // throws zaya::Error
  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

 private:
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  ParsedHeader header_;
};

// All tensors of a checkpoint directory: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` ("weight_map": name -> file). Also accepts a path to one .safetensors file.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& path);  // throws zaya::Error

  const TensorInfo* find(const std::string& name) const;  // nullptr if absent
  // Finds a tensor and checks its shape; throws "<dir>: tensor 'X' is missing" or
  // "<file>: tensor 'X' has shape [a, b], expected [c, d]".
  const TensorInfo& require(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, TensorInfo>& tensors() const { return by_name_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;   // the checkpoint directory (the parent directory when given a single file)
  std::string what_;  // what errors name: the directory, or the single file
  std::vector<std::unique_ptr<SafeTensorsFile>> files_;
  std::map<std::string, TensorInfo> by_name_;
};

// Collects tensors (copied or referenced) and writes them as one safetensors file or as shards with an
// index. Writes go to "<path>.tmp", are fsync'ed and renamed, so a crash never leaves a partial file.
class SafeTensorsWriter {
 public:
  // `data` must stay valid until write(); nbytes = numel * dtype_size.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  // A tensor whose bytes are produced while writing, in chunks: gen(first_element, n_elements, dst).
  // Lets multi-GB checkpoints be written with a small buffer.
  using Generator = std::function<void(size_t first, size_t n, void* dst)>;
  void add_generated(const std::string& name, DType dtype, std::vector<int64_t> shape, Generator gen);
  void set_metadata(const std::string& key, const std::string& value);
  void write(const std::string& path) const;
  // Writes <dir>/model.safetensors, or, if the total exceeds max_shard_bytes,
  // <dir>/model-0000i-of-0000n.safetensors plus <dir>/model.safetensors.index.json (written last;
  // tensors are split greedily in insertion order; a tensor larger than max_shard_bytes gets a shard
  // of its own). Creates `dir` if needed. An unsharded write removes a stale index from an earlier
  // sharded write (old shard files are left alone). The data section of each file starts at a
  // multiple of 8 bytes; the header lists tensors in insertion order, "__metadata__" first.
  void write_dir(const std::string& dir, size_t max_shard_bytes = size_t(5) << 30) const;

 private:
  void check_new(const std::string& name, DType dtype, const std::vector<int64_t>& shape) const;  // name, shape, size
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
    Generator gen;  // used when data is null
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace zaya
