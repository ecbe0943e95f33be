#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // same limit as the reference implementation
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// JSON text of a value for error messages, shortened so a hostile header cannot flood the log.
std::string short_dump(const json& j) {
  std::string s;
  try {
    s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    return "<unprintable>";
  }
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Quotes a name for error messages; long or odd names are shortened.
std::string q(const std::string& name) {
  std::string s = name.size() > 200 ? name.substr(0, 197) + "..." : name;
  return "'" + s + "'";
}

// A non-negative JSON integer that fits in uint64_t; false for anything else (floats, negatives, ...).
bool get_u64(const json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    *out = uint64_t(v);
    return true;
  }
  return false;
}

// Parses JSON text, rejecting duplicate keys in any object and nesting deeper than `max_depth`
// (the deepest container of a valid header is the shape array at depth 2).
json parse_json_strict(const char* begin, const char* end, const std::string& what, int max_depth) {
  std::vector<std::set<std::string>> keys;  // keys seen in each open object
  std::string top_key;                      // the current top-level key, for messages
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > max_depth)
          throw_error(what, ": header JSON is nested too deeply", top_key.empty() ? "" : " in entry ",
                      top_key.empty() ? std::string() : q(top_key));
        keys.emplace_back();  // arrays get an (unused) set too, so pops stay balanced
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (depth == 1) top_key = k;
        if (!keys.empty() && !keys.back().insert(k).second) {
          if (depth == 1) throw_error(what, ": duplicate key ", q(k), " in header");
          throw_error(what, ": duplicate key ", q(k), " in entry ", q(top_key));
        }
        break;
      }
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, cb);
  } catch (const json::exception& e) {
    throw_error(what, ": invalid JSON: ", e.what());
  }
}

struct Span {
  uint64_t begin, end;
  size_t index;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// TensorInfo

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow when parsed or added
  return n;
}

std::string TensorInfo::shape_str() const { return shape_to_string(shape); }

// ---------------------------------------------------------------------------------------------
// Parsing

ParsedHeader safetensors_parse(const uint8_t* data, size_t size, const std::string& what) {
  if (size < 8) throw_error(what, ": file is too small for a safetensors header (", size, " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian u64
  if (n > kMaxHeaderBytes)
    throw_error(what, ": header length ", n, " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  if (n > size - 8)
    throw_error(what, ": header length ", n, " is larger than the rest of the file (", size - 8, " bytes)");
  const uint64_t data_size = size - 8 - n;
  const uint8_t* data_start = data + 8 + n;

  const char* hb = reinterpret_cast<const char*>(data + 8);
  json h = parse_json_strict(hb, hb + n, what, 2);
  if (!h.is_object()) throw_error(what, ": header is not a JSON object");

  ParsedHeader out;
  std::vector<Span> spans;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) throw_error(what, ": __metadata__ is not a JSON object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string())
          throw_error(what, ": __metadata__ value for key ", q(m.key()), " is not a string (",
                      short_dump(m.value()), ")");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string pre = what + ": tensor " + q(name) + ": ";
    if (!e.is_object()) throw_error(pre, "entry is not a JSON object");

    TensorInfo t;
    t.name = name;
    t.file = what;

    auto d = e.find("dtype");
    if (d == e.end() || !d->is_string()) throw_error(pre, "missing or non-string \"dtype\"");
    if (!dtype_from_name(d->get_ref<const std::string&>(), &t.dtype))
      throw_error(pre, "unknown dtype ", q(d->get<std::string>()));

    auto s = e.find("shape");
    if (s == e.end() || !s->is_array())
      throw_error(pre, "missing \"shape\" or not an array");
    uint64_t numel = 1;
    for (const json& dim : *s) {
      uint64_t v;
      if (!get_u64(dim, &v) || v > uint64_t(std::numeric_limits<int64_t>::max()))
        throw_error(pre, "shape ", short_dump(*s), " is not an array of non-negative integers");
      if (__builtin_mul_overflow(numel, v, &numel) || numel > uint64_t(std::numeric_limits<int64_t>::max()))
        throw_error(pre, "shape ", short_dump(*s), " has too many elements (overflows int64)");
      t.shape.push_back(int64_t(v));
    }
    uint64_t need;
    if (__builtin_mul_overflow(numel, uint64_t(dtype_size(t.dtype)), &need))
      throw_error(pre, "shape ", t.shape_str(), " of dtype ", dtype_name(t.dtype), " overflows the byte size");

    auto o = e.find("data_offsets");
    uint64_t b = 0, en = 0;
    if (o == e.end() || !o->is_array() || o->size() != 2 || !get_u64((*o)[0], &b) || !get_u64((*o)[1], &en))
      throw_error(pre, "data_offsets must be [begin, end] with non-negative integers, got ",
                  o == e.end() ? std::string("nothing") : short_dump(*o));
    if (b > en) throw_error(pre, "data_offsets [", b, ", ", en, "] have begin > end");
    if (en > data_size)
      throw_error(pre, "data_offsets [", b, ", ", en, "] out of range (data section is ", data_size, " bytes)");
    if (en - b != need)
      throw_error(pre, "data_offsets [", b, ", ", en, "] hold ", en - b, " bytes, but dtype ", dtype_name(t.dtype),
                  " and shape ", t.shape_str(), " need ", need, " bytes");
    t.data = data_start + b;
    t.nbytes = size_t(need);
    spans.push_back({b, en, out.tensors.size()});
    out.tensors.push_back(std::move(t));
  }

  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  for (size_t i = 1; i < spans.size(); ++i) {
    const Span& p = spans[i - 1];
    const Span& c = spans[i];
    if (c.begin < p.end)
      throw_error(what, ": tensors ", q(out.tensors[p.index].name), " (data_offsets [", p.begin, ", ", p.end,
                  "]) and ", q(out.tensors[c.index].name), " (data_offsets [", c.begin, ", ", c.end, "]) overlap");
  }
  std::vector<TensorInfo> sorted;
  sorted.reserve(spans.size());
  for (const Span& sp : spans) sorted.push_back(std::move(out.tensors[sp.index]));
  out.tensors = std::move(sorted);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SafeTensorsFile

SafeTensorsFile::SafeTensorsFile(const std::string& path) : path_(path) {
  map_ = std::make_unique<MappedFile>(path);
  if (map_->size() == 0) throw_error(path, ": file is empty");
  header_ = safetensors_parse(map_->data(), map_->size(), path);
}

SafeTensorsFile::~SafeTensorsFile() = default;

// ---------------------------------------------------------------------------------------------
// Checkpoint

namespace {

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Checkpoint::Checkpoint(const std::string& path) {
  auto add_file = [&](std::unique_ptr<SafeTensorsFile> f) {
    for (const TensorInfo& t : f->tensors()) {
      auto [it, inserted] = by_name_.emplace(t.name, t);
      if (!inserted)
        throw_error(what_, ": tensor ", q(t.name), " is present in both ", it->second.file, " and ", t.file);
    }
    files_.push_back(std::move(f));
  };

  if (!is_directory(path)) {
    if (!file_exists(path)) throw_error(path, ": no such file or directory");
    dir_ = parent_dir(path);
    what_ = path;
    add_file(std::make_unique<SafeTensorsFile>(path));
    return;
  }
  dir_ = path;
  what_ = path;

  const std::string index_path = path_join(path, kIndexName);
  if (!file_exists(index_path)) {
    const std::string single = path_join(path, kSingleName);
    if (!file_exists(single)) throw_error(path, ": no ", kSingleName, " or ", kIndexName);
    add_file(std::make_unique<SafeTensorsFile>(single));
    return;
  }

  const std::string text = read_file(index_path);
  json idx;
  try {
    idx = json::parse(text);
  } catch (const json::exception& e) {
    throw_error(index_path, ": invalid JSON: ", e.what());
  }
  if (!idx.is_object()) throw_error(index_path, ": not a JSON object");
  auto wm = idx.find("weight_map");
  if (wm == idx.end() || !wm->is_object()) throw_error(index_path, ": \"weight_map\" is missing or not an object");

  // Shard files in order of first appearance, each validated and opened once.
  std::vector<std::string> shard_names;
  std::map<std::string, size_t> shard_of_name;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      throw_error(index_path, ": weight_map entry for tensor ", q(it.key()), " is not a string");
    const std::string& fn = it.value().get_ref<const std::string&>();
    if (shard_of_name.count(fn)) continue;
    if (fn.empty() || fn.find('/') != std::string::npos || fn.find("..") != std::string::npos ||
        fn.find('\0') != std::string::npos)
      throw_error(index_path, ": weight_map entry for tensor ", q(it.key()), " names an invalid file ", q(fn),
                  " (must be a plain file name in the same directory)");
    shard_of_name[fn] = shard_names.size();
    shard_names.push_back(fn);
  }
  std::vector<const SafeTensorsFile*> shards;
  for (const std::string& fn : shard_names) {
    const std::string p = path_join(path, fn);
    if (!file_exists(p)) throw_error(index_path, ": shard file ", q(fn), " does not exist");
    auto f = std::make_unique<SafeTensorsFile>(p);
    shards.push_back(f.get());
    add_file(std::move(f));
  }
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string& fn = it.value().get_ref<const std::string&>();
    const SafeTensorsFile* f = shards[shard_of_name.at(fn)];
    auto t = by_name_.find(it.key());
    if (t == by_name_.end() || t->second.file != f->path())
      throw_error(index_path, ": tensor ", q(it.key()), " is mapped to ", q(fn), ", but ", f->path(),
                  " does not contain it");
  }
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

const TensorInfo& Checkpoint::require(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo* t = find(name);
  if (!t) throw_error(what_, ": tensor ", q(name), " is missing");
  if (t->shape != shape)
    throw_error(t->file, ": tensor ", q(name), " has shape ", t->shape_str(), ", expected ", shape_to_string(shape));
  return *t;
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

size_t entry_bytes(DType dtype, const std::vector<int64_t>& shape) {
  size_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, size_t(d), &n)) return SIZE_MAX;
  }
  return n;
}

}  // namespace

void SafeTensorsWriter::check_new(const std::string& name, DType dtype, const std::vector<int64_t>& shape) const {
  ZAYA_CHECK(!name.empty(), "SafeTensorsWriter: empty tensor name");
  ZAYA_CHECK(name != "__metadata__", "SafeTensorsWriter: '__metadata__' is not a valid tensor name");
  for (const Entry& e : entries_) ZAYA_CHECK(e.name != name, "SafeTensorsWriter: tensor ", q(name), " added twice");
  for (int64_t d : shape) ZAYA_CHECK(d >= 0, "SafeTensorsWriter: tensor ", q(name), " has negative shape ", shape_to_string(shape));
  size_t n = entry_bytes(dtype, shape);
  int64_t numel = 1;
  bool numel_ok = true;
  for (int64_t d : shape) numel_ok = numel_ok && !__builtin_mul_overflow(numel, d, &numel);
  ZAYA_CHECK(n != SIZE_MAX && numel_ok, "SafeTensorsWriter: tensor ", q(name), " shape ", shape_to_string(shape),
             " is too large");
}

void SafeTensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data) {
  check_new(name, dtype, shape);
  ZAYA_CHECK(data != nullptr || entry_bytes(dtype, shape) == 0, "SafeTensorsWriter: tensor ", q(name), " has no data");
  entries_.push_back({name, dtype, std::move(shape), data, nullptr});
}

void SafeTensorsWriter::add_generated(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                      Generator gen) {
  ZAYA_CHECK(gen != nullptr, "SafeTensorsWriter: tensor ", q(name), " has no generator");
  check_new(name, dtype, shape);
  entries_.push_back({name, dtype, std::move(shape), nullptr, std::move(gen)});
}

void SafeTensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

namespace {

// Writes one safetensors file holding entries [first, last) of `entries`; returns the data size.
template <typename Entry>
uint64_t write_one(const std::string& path, const Entry* first, const Entry* last,
                   const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  uint64_t off = 0;
  for (const Entry* e = first; e != last; ++e) {
    uint64_t n = entry_bytes(e->dtype, e->shape);
    nlohmann::ordered_json t = nlohmann::ordered_json::object();
    t["dtype"] = dtype_name(e->dtype);
    t["shape"] = e->shape;
    t["data_offsets"] = {off, off + n};
    h[e->name] = std::move(t);
    off += n;
  }
  std::string header;
  try {
    header = h.dump();
  } catch (const nlohmann::json::exception& ex) {
    throw_error(path, ": cannot encode header (tensor names and metadata must be UTF-8): ", ex.what());
  }
  header.append((8 - header.size() % 8) % 8, ' ');  // data section starts at a multiple of 8
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));

  AtomicFile f(path);
  f.write(len, 8);
  f.write(header.data(), header.size());
  std::vector<uint8_t> chunk;
  for (const Entry* e = first; e != last; ++e) {
    uint64_t nbytes = entry_bytes(e->dtype, e->shape);
    if (!e->gen) {
      f.write(e->data, nbytes);
      continue;
    }
    const size_t esz = dtype_size(e->dtype), per = (size_t(64) << 20) / esz;  // 64 MiB chunks
    const size_t numel = size_t(nbytes / esz);
    for (size_t i = 0; i < numel; i += per) {
      size_t n = std::min(per, numel - i);
      chunk.resize(n * esz);
      e->gen(i, n, chunk.data());
      f.write(chunk.data(), n * esz);
    }
  }
  f.commit();
  return off;
}

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i, n);
  return buf;
}

}  // namespace

void SafeTensorsWriter::write(const std::string& path) const {
  write_one(path, entries_.data(), entries_.data() + entries_.size(), metadata_);
}

void SafeTensorsWriter::write_dir(const std::string& dir, size_t max_shard_bytes) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_error(dir, ": cannot create directory: ", ec.message());

  uint64_t total = 0;
  for (const Entry& e : entries_) total += entry_bytes(e.dtype, e.shape);  // each checked in add()
  const std::string index_path = path_join(dir, kIndexName);
  if (total <= max_shard_bytes) {
    write_one(path_join(dir, kSingleName), entries_.data(), entries_.data() + entries_.size(), metadata_);
    // A stale index from an earlier sharded write would take precedence over the new file.
    if (file_exists(index_path)) {
      if (::unlink(index_path.c_str()) != 0) throw_error(index_path, ": cannot remove stale index: ", std::strerror(errno));
      fsync_parent_dir(index_path);
    }
    return;
  }

  // Greedy split in insertion order: start a new shard when the next tensor would not fit
  // (a tensor larger than max_shard_bytes gets a shard of its own).
  std::vector<size_t> starts;
  uint64_t cur = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    uint64_t n = entry_bytes(entries_[i].dtype, entries_[i].shape);
    if (starts.empty() || (cur > 0 && cur + n > max_shard_bytes)) {
      starts.push_back(i);
      cur = 0;
    }
    cur += n;
  }
  starts.push_back(entries_.size());
  const size_t nshards = starts.size() - 1;

  std::map<std::string, std::string> weight_map;  // sorted by tensor name, like the Python tools
  for (size_t s = 0; s < nshards; ++s) {
    const std::string fn = shard_name(s + 1, nshards);
    write_one(path_join(dir, fn), entries_.data() + starts[s], entries_.data() + starts[s + 1], metadata_);
    for (size_t i = starts[s]; i < starts[s + 1]; ++i) weight_map[entries_[i].name] = fn;
  }
  nlohmann::ordered_json idx = nlohmann::ordered_json::object();
  idx["metadata"] = {{"total_size", total}};
  idx["weight_map"] = weight_map;
  std::string text;
  try {
    text = idx.dump(2) + "\n";
  } catch (const nlohmann::json::exception& ex) {
    throw_error(index_path, ": cannot encode index: ", ex.what());
  }
  write_file_atomic(index_path, text);
}

}  // namespace zaya
