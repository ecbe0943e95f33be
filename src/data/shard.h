// Binary token shards and the dataset manifest that lists them.
//
// Shard file (all integers little-endian):
//   offset  size  field
//        0     8  magic "ZAYASHRD"
//        8     4  format version (u32) = 1
//       12     4  token width in bytes (u32): 2 if vocab_size <= 65536, else 4
//       16     4  vocab size (u32); every token id is < vocab size
//       20     4  reserved (u32) = 0
//       24     8  number of tokens (u64)
//       32     8  number of documents (u64)
//       40     8  xxh64 (seed 0) of everything after the 56-byte header (offsets + tokens)
//       48     8  xxh64 (seed 0) of header bytes [0, 48)
//       56        document start offsets: u64[n_docs + 1], offsets[0] = 0, strictly increasing,
//                 offsets[n_docs] = n_tokens (documents are never empty)
//                 tokens: u16 or u32 [n_tokens]
// The file size is exactly 56 + 8 (n_docs + 1) + width * n_tokens.
//
// Dataset manifest (NAME.json, written last by DatasetWriter): the tokenizer (path, xxh64 of its file,
// vocab size, eos/bos ids) and, per split ("train", "val"), the shard files (relative to the manifest's
// directory) with their document and token counts and payload xxh64.
#pragma once
#include "core/fileutil.h"  // xxh64_file
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace zaya {

constexpr size_t kShardHeaderBytes = 56;
constexpr uint32_t kShardVersion = 1;

// A validated view of a shard file image (pointers into the caller's buffer).
struct ShardView {
  uint32_t version = 0, token_width = 0, vocab_size = 0;
  uint64_t n_tokens = 0, n_docs = 0, payload_xxh64 = 0;
  const uint8_t* offsets = nullptr;  // u64[n_docs + 1], little-endian, possibly unaligned
  const uint8_t* tokens = nullptr;   // token_width * n_tokens bytes

  uint64_t doc_begin(uint64_t d) const;  // offsets[d]
  uint32_t token(uint64_t i) const;
  // Copies tokens [begin, begin + n) widened to int32.
  void copy_tokens(uint64_t begin, uint64_t n, int32_t* out) const;
};

// Parses and validates a shard file image of `size` bytes: magic, version, header checksum, token width
// vs vocab, sizes vs the file size, offsets (first 0, strictly increasing, last = n_tokens) and,
// with verify_payload, every token id < vocab and the payload checksum. Throws zaya::Error
// "<what>: <field>: <problem>" on the first problem found. With check_header_checksum=false the
// header checksum is not checked (used by the fuzzer to reach the deeper checks).
ShardView shard_parse(const uint8_t* data, size_t size, const std::string& what, bool verify_payload = true,
                      bool check_header_checksum = true);

// One memory-mapped, validated shard file.
class ShardFile {
 public:
  explicit ShardFile(const std::string& path, bool verify_payload = true);  // throws zaya::Error
  ~ShardFile();
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  const std::string& path() const { return path_; }
  const ShardView& view() const { return view_; }
  uint64_t n_docs() const { return view_.n_docs; }
  uint64_t n_tokens() const { return view_.n_tokens; }
  uint64_t doc_begin(uint64_t d) const { return view_.doc_begin(d); }
  uint64_t doc_size(uint64_t d) const { return view_.doc_begin(d + 1) - view_.doc_begin(d); }
  std::vector<int32_t> document(uint64_t d) const;

 private:
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  ShardView view_;
};

// Writes one shard file, streaming: tokens go to "<path>.tokens.tmp" as documents arrive (only the
// document offsets stay in memory), and finish() writes the file through AtomicFile (temp + fsync +
// rename). If finish() is never called nothing appears at `path` and the temp files are removed.
class ShardWriter {
 public:
  ShardWriter(std::string path, uint32_t vocab_size);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one document; throws zaya::Error for an empty document or an id outside [0, vocab).
  void add_document(const int32_t* ids, size_t n);
  void add_document(const std::vector<int32_t>& ids) { add_document(ids.data(), ids.size()); }
  uint64_t n_docs() const { return offsets_.size() - 1; }
  uint64_t n_tokens() const { return offsets_.back(); }
  // Writes the file; returns the payload xxh64.
  uint64_t finish();

 private:
  void flush_buffer();
  std::string path_, spill_path_;
  uint32_t vocab_, width_;
  int spill_fd_ = -1;
  std::vector<uint64_t> offsets_{0};
  std::vector<uint8_t> buf_;
  bool finished_ = false;
};

enum class Split { Train, Val };
const char* split_name(Split s);

struct ShardEntry {
  std::string file;  // relative to the manifest's directory
  uint64_t documents = 0, tokens = 0, xxh64 = 0;
};
struct SplitInfo {
  uint64_t documents = 0, tokens = 0;
  std::vector<ShardEntry> shards;
};
struct DatasetManifest {
  std::string path, dir;  // the manifest file and its directory
  std::string name;
  uint32_t vocab_size = 0;
  int64_t eos_id = -1, bos_id = -1;
  std::string tokenizer_xxh64;  // 16 hex digits, "" when unknown
  SplitInfo train, val;
  nlohmann::json json;  // the whole manifest
};
// Reads and validates NAME.json; errors name the manifest path and the field.
DatasetManifest read_manifest(const std::string& path);

// Writes a dataset: documents are appended to the current shard of their split, a shard is closed once
// it holds >= shard_tokens tokens (documents are never split across shards). Shards are first written
// as "<DIR>/<NAME>-<split>-<i:05>.bin.part"; finish() renames them to their final names and then
// writes the manifest "<DIR>/<NAME>.json" atomically, so a failed run (exception, no finish) leaves
// existing files at the final names untouched and removes its .part files. DIR is created when the
// first shard is opened.
class DatasetWriter {
 public:
  DatasetWriter(std::string dir, std::string name, uint32_t vocab_size, uint64_t shard_tokens);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  void add(Split split, const int32_t* ids, size_t n);  // n > 0
  void add(Split split, const std::vector<int32_t>& ids) { add(split, ids.data(), ids.size()); }
  const SplitInfo& info(Split s) const { return s == Split::Train ? train_.info : val_.info; }
  // Throws if the train split is empty. `extra` fields (tokenizer, eos_id, bos_id, tokenizer_xxh64,
  // anything else) are merged into the manifest. Returns the manifest path.
  std::string finish(const nlohmann::json& extra = nlohmann::json::object());

 private:
  struct Part {
    SplitInfo info;
    std::unique_ptr<ShardWriter> open;
    std::vector<std::string> parts;  // .part paths of closed shards, same order as info.shards
    std::vector<uint64_t> counts;    // token frequencies, for the unigram entropy in the manifest
  };
  Part& part(Split s) { return s == Split::Train ? train_ : val_; }
  void close(Split s);
  std::string dir_, name_;
  uint32_t vocab_;
  uint64_t shard_tokens_;
  bool dir_made_ = false, finished_ = false;
  Part train_, val_;
};

std::string hex64(uint64_t v);  // 16 lowercase hex digits

}  // namespace zaya
