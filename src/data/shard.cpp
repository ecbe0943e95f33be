#include "data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

static_assert(std::endian::native == std::endian::little, "shard files are read and written in host order");

using json = nlohmann::json;

namespace {

constexpr char kMagic[8] = {'Z', 'A', 'Y', 'A', 'S', 'H', 'R', 'D'};
constexpr size_t kHashedHeaderBytes = 48;  // the header checksum covers bytes [0, 48)
constexpr size_t kIoChunk = size_t(4) << 20;

uint32_t ld32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t ld64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
void st32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void st64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

uint32_t width_for_vocab(uint64_t vocab) { return vocab <= 65536 ? 2 : 4; }

// Printable form of up to 8 raw bytes for the bad-magic message.
std::string printable(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"') {
      s += char(p[i]);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", p[i]);
      s += b;
    }
  }
  return s;
}

// RAII wrapper of a streaming XXH64 state.
struct Xxh64 {
  XXH64_state_t* st;
  Xxh64() : st(XXH64_createState()) {
    if (!st) throw std::bad_alloc();
    XXH64_reset(st, 0);
  }
  ~Xxh64() { XXH64_freeState(st); }
  Xxh64(const Xxh64&) = delete;
  Xxh64& operator=(const Xxh64&) = delete;
  void update(const void* p, size_t n) { XXH64_update(st, p, n); }
  uint64_t digest() const { return XXH64_digest(st); }
};

void make_header(uint8_t* h, uint32_t width, uint32_t vocab, uint64_t n_tokens, uint64_t n_docs, uint64_t payload) {
  std::memset(h, 0, kShardHeaderBytes);
  std::memcpy(h, kMagic, 8);
  st32(h + 8, kShardVersion);
  st32(h + 12, width);
  st32(h + 16, vocab);
  st32(h + 20, 0);
  st64(h + 24, n_tokens);
  st64(h + 32, n_docs);
  st64(h + 40, payload);
  st64(h + 48, XXH64(h, kHashedHeaderBytes, 0));
}

// pread exactly n bytes at off.
void pread_all(int fd, void* dst, size_t n, uint64_t off, const std::string& what) {
  uint8_t* d = static_cast<uint8_t*>(dst);
  while (n > 0) {
    ssize_t r = ::pread(fd, d, n, off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw_error(what, ": read failed: ", r < 0 ? std::strerror(errno) : "unexpected end of file");
    d += r;
    n -= size_t(r);
    off += uint64_t(r);
  }
}

}  // namespace

std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}


// ---------------------------------------------------------------------------------------------------
// Parsing

uint64_t ShardView::doc_begin(uint64_t d) const { return ld64(offsets + 8 * d); }

uint32_t ShardView::token(uint64_t i) const {
  if (token_width == 2) {
    uint16_t v;
    std::memcpy(&v, tokens + 2 * i, 2);
    return v;
  }
  return ld32(tokens + 4 * i);
}

void ShardView::copy_tokens(uint64_t begin, uint64_t n, int32_t* out) const {
  if (token_width == 2) {
    const uint8_t* p = tokens + 2 * begin;
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out[i] = int32_t(v);
    }
  } else {
    std::memcpy(out, tokens + 4 * begin, size_t(n) * 4);  // ids < vocab <= 2^31: valid int32
  }
}

ShardView shard_parse(const uint8_t* data, size_t size, const std::string& what, bool verify_payload,
                      bool check_header_checksum) {
  ZAYA_CHECK(size >= kShardHeaderBytes, what, ": file is truncated: ", size, " bytes, shorter than the ",
             kShardHeaderBytes, "-byte shard header");
  ZAYA_CHECK(std::memcmp(data, kMagic, 8) == 0, what, ": magic: expected \"ZAYASHRD\", found \"",
             printable(data, 8), "\" (not a zaya token shard)");
  ShardView v;
  v.version = ld32(data + 8);
  ZAYA_CHECK(v.version == kShardVersion, what, ": format version: ", v.version, " is not supported (this build reads ",
             kShardVersion, ")");
  if (check_header_checksum) {
    uint64_t stored = ld64(data + 48), actual = XXH64(data, kHashedHeaderBytes, 0);
    ZAYA_CHECK(stored == actual, what, ": header checksum mismatch: stored ", hex64(stored), ", computed ",
               hex64(actual), " (the header is damaged)");
  }
  v.token_width = ld32(data + 12);
  v.vocab_size = ld32(data + 16);
  uint32_t reserved = ld32(data + 20);
  v.n_tokens = ld64(data + 24);
  v.n_docs = ld64(data + 32);
  v.payload_xxh64 = ld64(data + 40);
  ZAYA_CHECK(v.vocab_size >= 1 && v.vocab_size <= uint32_t(std::numeric_limits<int32_t>::max()), what,
             ": vocab size: ", v.vocab_size, " is outside [1, 2^31 - 1]");
  ZAYA_CHECK(v.token_width == width_for_vocab(v.vocab_size), what, ": token width: ", v.token_width,
             " bytes, but vocab size ", v.vocab_size, " needs ", width_for_vocab(v.vocab_size));
  ZAYA_CHECK(reserved == 0, what, ": reserved header field: ", reserved, ", expected 0");

  // Sizes against the file size, without overflow.
  const uint64_t avail = uint64_t(size) - kShardHeaderBytes;
  ZAYA_CHECK(v.n_docs < avail / 8, what, ": number of documents: ", v.n_docs, " needs ",
             v.n_docs >= (uint64_t(1) << 60) ? std::string("more") : std::to_string(8 * (v.n_docs + 1)),
             " bytes of document offsets, the file has ", avail, " bytes after the header (file truncated?)");
  const uint64_t off_bytes = 8 * (v.n_docs + 1);
  const uint64_t tok_avail = avail - off_bytes;
  ZAYA_CHECK(v.n_tokens <= tok_avail / v.token_width, what, ": number of tokens: ", v.n_tokens, " tokens of ",
             v.token_width, " bytes do not fit in the ", tok_avail, " bytes left after the offsets (file truncated?)");
  const uint64_t expect = kShardHeaderBytes + off_bytes + v.n_tokens * v.token_width;
  ZAYA_CHECK(expect == size, what, ": file size: ", size, " bytes, but the header (", v.n_docs, " documents, ",
             v.n_tokens, " tokens) implies ", expect, " (trailing bytes)");
  v.offsets = data + kShardHeaderBytes;
  v.tokens = v.offsets + off_bytes;

  // Offsets: 0 = o[0] < o[1] < ... < o[n_docs] = n_tokens.
  uint64_t prev = v.doc_begin(0);
  ZAYA_CHECK(prev == 0, what, ": document offsets: offset 0 is ", prev, ", expected 0");
  for (uint64_t i = 1; i <= v.n_docs; ++i) {
    uint64_t o = v.doc_begin(i);
    ZAYA_CHECK(o > prev, what, ": document offsets not increasing at index ", i, " (", prev, " then ", o, ")");
    ZAYA_CHECK(o <= v.n_tokens, what, ": document offset out of range at index ", i, ": ", o, " > number of tokens ",
               v.n_tokens);
    prev = o;
  }
  ZAYA_CHECK(prev == v.n_tokens, what, ": document offsets: last offset (index ", v.n_docs, ") is ", prev,
             ", expected the number of tokens ", v.n_tokens);

  if (verify_payload) {
    if (v.vocab_size < (uint64_t(1) << (8 * v.token_width))) {
      for (uint64_t i = 0; i < v.n_tokens; ++i) {
        uint32_t t = v.token(i);
        if (t >= v.vocab_size) {
          // Which document: the last d with offsets[d] <= i.
          uint64_t lo = 0, hi = v.n_docs;
          while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            (v.doc_begin(mid) <= i ? lo : hi) = mid;
          }
          throw_error(what, ": token id ", t, " at position ", i, " (document ", lo, ") is >= vocab size ",
                      v.vocab_size);
        }
      }
    }
    uint64_t actual = XXH64(v.offsets, size - kShardHeaderBytes, 0);
    ZAYA_CHECK(actual == v.payload_xxh64, what, ": payload checksum mismatch: header says ", hex64(v.payload_xxh64),
               ", the offsets and tokens hash to ", hex64(actual), " (the file is damaged)");
  }
  return v;
}

ShardFile::ShardFile(const std::string& path, bool verify_payload) : path_(path) {
  map_ = std::make_unique<MappedFile>(path);
  view_ = shard_parse(map_->data(), map_->size(), path, verify_payload);
}

ShardFile::~ShardFile() = default;

std::vector<int32_t> ShardFile::document(uint64_t d) const {
  ZAYA_CHECK(d < n_docs(), path_, ": document ", d, " out of range (", n_docs(), " documents)");
  std::vector<int32_t> out(size_t(doc_size(d)));
  view_.copy_tokens(doc_begin(d), out.size(), out.data());
  return out;
}

// ---------------------------------------------------------------------------------------------------
// ShardWriter

ShardWriter::ShardWriter(std::string path, uint32_t vocab_size)
    : path_(std::move(path)), spill_path_(path_ + ".tokens.tmp"), vocab_(vocab_size), width_(width_for_vocab(vocab_size)) {
  ZAYA_CHECK(vocab_size >= 1 && vocab_size <= uint32_t(std::numeric_limits<int32_t>::max()), path_,
             ": vocab size ", vocab_size, " is outside [1, 2^31 - 1]");
  spill_fd_ = ::open(spill_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (spill_fd_ < 0) throw_error(spill_path_, ": cannot create: ", std::strerror(errno));
  buf_.reserve(size_t(1) << 20);
}

ShardWriter::~ShardWriter() {
  if (spill_fd_ >= 0) ::close(spill_fd_);
  if (!spill_path_.empty()) ::unlink(spill_path_.c_str());
}

void ShardWriter::flush_buffer() {
  const uint8_t* p = buf_.data();
  size_t n = buf_.size();
  while (n > 0) {
    ssize_t w = ::write(spill_fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_error(spill_path_, ": write failed: ", std::strerror(errno));
    p += w;
    n -= size_t(w);
  }
  buf_.clear();
}

void ShardWriter::add_document(const int32_t* ids, size_t n) {
  ZAYA_CHECK(!finished_, path_, ": add_document after finish");
  ZAYA_CHECK(n > 0, path_, ": empty document ", n_docs(), " (documents must hold at least one token)");
  for (size_t i = 0; i < n; ++i)
    ZAYA_CHECK(ids[i] >= 0 && uint32_t(ids[i]) < vocab_, path_, ": document ", n_docs(), ": token id ", ids[i],
               " at position ", i, " is outside [0, vocab size ", vocab_, ")");
  for (size_t i = 0; i < n; ++i) {
    if (buf_.size() + 4 > buf_.capacity()) flush_buffer();
    uint8_t b[4];
    st32(b, uint32_t(ids[i]));
    buf_.insert(buf_.end(), b, b + width_);
  }
  offsets_.push_back(offsets_.back() + n);
}

uint64_t ShardWriter::finish() {
  ZAYA_CHECK(!finished_, path_, ": finish called twice");
  flush_buffer();
  const uint64_t tok_bytes = n_tokens() * width_;
  std::vector<uint8_t> chunk(size_t(std::min<uint64_t>(kIoChunk, std::max<uint64_t>(tok_bytes, 1))));
  // Pass 1: payload checksum (offsets, then the spilled tokens).
  Xxh64 h;
  h.update(offsets_.data(), offsets_.size() * 8);
  for (uint64_t off = 0; off < tok_bytes;) {
    size_t n = size_t(std::min<uint64_t>(chunk.size(), tok_bytes - off));
    pread_all(spill_fd_, chunk.data(), n, off, spill_path_);
    h.update(chunk.data(), n);
    off += n;
  }
  const uint64_t payload = h.digest();
  // Pass 2: header, offsets, tokens into the atomic file.
  uint8_t header[kShardHeaderBytes];
  make_header(header, width_, vocab_, n_tokens(), n_docs(), payload);
  AtomicFile f(path_);
  f.write(header, sizeof header);
  f.write(offsets_.data(), offsets_.size() * 8);
  for (uint64_t off = 0; off < tok_bytes;) {
    size_t n = size_t(std::min<uint64_t>(chunk.size(), tok_bytes - off));
    pread_all(spill_fd_, chunk.data(), n, off, spill_path_);
    f.write(chunk.data(), n);
    off += n;
  }
  f.commit();
  finished_ = true;
  ::close(spill_fd_);
  spill_fd_ = -1;
  ::unlink(spill_path_.c_str());
  return payload;
}

// ---------------------------------------------------------------------------------------------------
// Manifest

const char* split_name(Split s) { return s == Split::Train ? "train" : "val"; }

namespace {

bool get_u64(const json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = uint64_t(j.get<int64_t>());
    return true;
  }
  return false;
}

uint64_t need_u64(const json& obj, const char* key, const std::string& where) {
  uint64_t v = 0;
  ZAYA_CHECK(obj.contains(key) && get_u64(obj[key], &v), where, ": field \"", key,
             "\" must be a non-negative integer");
  return v;
}

bool parse_hex64(const std::string& s, uint64_t* out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | uint64_t(d);
  }
  *out = v;
  return true;
}

SplitInfo read_split(const json& j, const std::string& path, const char* name) {
  const std::string where = path + ": " + name;
  SplitInfo s;
  if (!j.contains(name)) return s;  // an absent split is empty
  const json& o = j[name];
  ZAYA_CHECK(o.is_object(), where, ": must be an object");
  s.documents = need_u64(o, "documents", where);
  s.tokens = need_u64(o, "tokens", where);
  ZAYA_CHECK(o.contains("shards") && o["shards"].is_array(), where, ": field \"shards\" must be an array");
  uint64_t docs = 0, toks = 0;
  for (size_t i = 0; i < o["shards"].size(); ++i) {
    const json& e = o["shards"][i];
    const std::string w = where + ".shards[" + std::to_string(i) + "]";
    ZAYA_CHECK(e.is_object(), w, ": must be an object");
    ShardEntry se;
    ZAYA_CHECK(e.contains("file") && e["file"].is_string() && !e["file"].get<std::string>().empty(), w,
               ": field \"file\" must be a non-empty string");
    se.file = e["file"].get<std::string>();
    se.documents = need_u64(e, "documents", w);
    se.tokens = need_u64(e, "tokens", w);
    ZAYA_CHECK(e.contains("xxh64") && e["xxh64"].is_string() && parse_hex64(e["xxh64"].get<std::string>(), &se.xxh64),
               w, ": field \"xxh64\" must be 16 hex digits");
    ZAYA_CHECK(se.documents > 0 && se.tokens >= se.documents, w, ": ", se.documents, " documents and ", se.tokens,
               " tokens is not a valid shard");
    docs += se.documents;
    toks += se.tokens;
    s.shards.push_back(std::move(se));
  }
  ZAYA_CHECK(docs == s.documents && toks == s.tokens, where, ": the shards hold ", docs, " documents and ", toks,
             " tokens, the manifest says ", s.documents, " and ", s.tokens);
  return s;
}

}  // namespace

DatasetManifest read_manifest(const std::string& path) {
  DatasetManifest m;
  m.path = path;
  auto slash = path.find_last_of('/');
  m.dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string text = read_file(path);
  try {
    m.json = json::parse(text);
  } catch (const json::exception& e) {
    throw_error(path, ": invalid JSON: ", e.what());
  }
  const json& j = m.json;
  ZAYA_CHECK(j.is_object(), path, ": a dataset manifest must be a JSON object");
  ZAYA_CHECK(j.value("format", json()) == "zaya-dataset", path,
             ": field \"format\" must be \"zaya-dataset\" (not a dataset manifest written by `zaya data`)");
  uint64_t version = need_u64(j, "version", path);
  ZAYA_CHECK(version == 1, path, ": field \"version\": ", version, " is not supported (this build reads 1)");
  if (j.contains("name") && j["name"].is_string()) m.name = j["name"].get<std::string>();
  uint64_t vocab = need_u64(j, "vocab_size", path);
  ZAYA_CHECK(vocab >= 1 && vocab <= uint64_t(std::numeric_limits<int32_t>::max()), path, ": field \"vocab_size\": ",
             vocab, " is outside [1, 2^31 - 1]");
  m.vocab_size = uint32_t(vocab);
  for (auto [key, dst] : {std::pair{"eos_id", &m.eos_id}, std::pair{"bos_id", &m.bos_id}}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    ZAYA_CHECK(j[key].is_number_integer() && j[key].get<int64_t>() >= -1 && j[key].get<int64_t>() < int64_t(vocab),
               path, ": field \"", key, "\" must be an integer in [-1, vocab_size)");
    *dst = j[key].get<int64_t>();
  }
  if (j.contains("tokenizer_xxh64")) {
    uint64_t h;
    ZAYA_CHECK(j["tokenizer_xxh64"].is_string() && parse_hex64(j["tokenizer_xxh64"].get<std::string>(), &h), path,
               ": field \"tokenizer_xxh64\" must be 16 hex digits");
    m.tokenizer_xxh64 = hex64(h);
  }
  m.train = read_split(j, path, "train");
  m.val = read_split(j, path, "val");
  return m;
}

// ---------------------------------------------------------------------------------------------------
// DatasetWriter

DatasetWriter::DatasetWriter(std::string dir, std::string name, uint32_t vocab_size, uint64_t shard_tokens)
    : dir_(std::move(dir)), name_(std::move(name)), vocab_(vocab_size), shard_tokens_(shard_tokens) {
  ZAYA_CHECK(!name_.empty() && name_.find('/') == std::string::npos, "dataset name '", name_,
             "' must be non-empty and contain no '/'");
  ZAYA_CHECK(shard_tokens_ >= 1, "shard size must be at least 1 token");
}

DatasetWriter::~DatasetWriter() {
  if (finished_) return;
  for (Part* p : {&train_, &val_}) {
    p->open.reset();
    for (const std::string& s : p->parts) ::unlink(s.c_str());
  }
}

void DatasetWriter::add(Split split, const int32_t* ids, size_t n) {
  ZAYA_CHECK(!finished_, dir_, ": DatasetWriter::add after finish");
  Part& p = part(split);
  if (!p.open) {
    if (!dir_made_) {
      std::error_code ec;
      std::filesystem::create_directories(dir_, ec);
      ZAYA_CHECK(!ec, dir_, ": cannot create the output directory: ", ec.message());
      dir_made_ = true;
    }
    char idx[32];
    std::snprintf(idx, sizeof idx, "%05zu", p.info.shards.size());
    std::string file = name_ + "-" + split_name(split) + "-" + idx + ".bin";
    p.open = std::make_unique<ShardWriter>(path_join(dir_, file + ".part"), vocab_);
    p.info.shards.push_back({file, 0, 0, 0});
  }
  p.open->add_document(ids, n);
  if (p.counts.empty()) p.counts.assign(size_t(vocab_), 0);
  for (size_t i = 0; i < n; ++i) ++p.counts[size_t(ids[i])];
  p.info.documents += 1;
  p.info.tokens += n;
  ShardEntry& e = p.info.shards.back();
  e.documents = p.open->n_docs();
  e.tokens = p.open->n_tokens();
  if (p.open->n_tokens() >= shard_tokens_) close(split);
}

void DatasetWriter::close(Split s) {
  Part& p = part(s);
  if (!p.open) return;
  p.info.shards.back().xxh64 = p.open->finish();
  p.parts.push_back(path_join(dir_, p.info.shards.back().file + ".part"));
  p.open.reset();
}

std::string DatasetWriter::finish(const json& extra) {
  ZAYA_CHECK(!finished_, dir_, ": DatasetWriter::finish called twice");
  close(Split::Train);
  close(Split::Val);
  ZAYA_CHECK(train_.info.documents > 0, "no training documents (", val_.info.documents,
             " went to validation); nothing written to ", dir_);
  json j = extra.is_object() ? extra : json::object();
  j["format"] = "zaya-dataset";
  j["version"] = 1;
  j["name"] = name_;
  j["vocab_size"] = vocab_;
  j["shard_tokens"] = shard_tokens_;
  for (Split s : {Split::Train, Split::Val}) {
    const SplitInfo& si = part(s).info;
    json shards = json::array();
    for (const ShardEntry& e : si.shards)
      shards.push_back({{"file", e.file}, {"documents", e.documents}, {"tokens", e.tokens}, {"xxh64", hex64(e.xxh64)}});
    j[split_name(s)] = {{"documents", si.documents}, {"tokens", si.tokens}, {"shards", shards}};
    // Entropy of the token frequencies (nats/token, the unit of the training loss): the loss of the best
    // model that ignores context, a baseline a trained model must beat.
    double H = 0;
    for (uint64_t c : part(s).counts)
      if (c) H -= double(c) / double(si.tokens) * std::log(double(c) / double(si.tokens));
    j[split_name(s)]["unigram_entropy_nats"] = H;
  }
  // Shards to their final names, then the manifest (the commit point of the dataset).
  for (Part* p : {&train_, &val_}) {
    for (size_t i = 0; i < p->parts.size(); ++i) {
      std::string final_path = path_join(dir_, p->info.shards[i].file);
      if (::rename(p->parts[i].c_str(), final_path.c_str()) != 0)
        throw_error(final_path, ": rename failed: ", std::strerror(errno));
    }
  }
  finished_ = true;
  std::string manifest = path_join(dir_, name_ + ".json");
  fsync_parent_dir(manifest);
  write_file_atomic(manifest, j.dump(2) + "\n");
  return manifest;
}

}  // namespace zaya
