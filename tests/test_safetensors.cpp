// Tests of src/io/safetensors: writer/reader round trips, sharded checkpoints, files written by the
// Python `safetensors` library (tests/data/safetensors/, made by
// tools/reference/make_safetensors_fixtures.py), and rejection of malformed or hostile files.
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fileutil.h"

namespace fs = std::filesystem;
using namespace zaya;

namespace {

const std::string kDataDir = std::string(ZAYA_SOURCE_DIR) + "/tests/data/safetensors";

struct TmpDir {
  std::string path;
  TmpDir() {
    char tmpl[] = "/tmp/zaya_st_XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TmpDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::vector<uint8_t> bytes_of(const std::string& path) {
  std::string s = read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

void put_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f.write(content.data(), std::streamsize(content.size()));
  ASSERT_TRUE(bool(f)) << path;
}

// A safetensors image: 8-byte little-endian length, header text, data.
std::string image(const std::string& header, const std::string& data = "", uint64_t len_override = ~0ull) {
  uint64_t n = len_override == ~0ull ? header.size() : len_override;
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(uint8_t(n >> (8 * i)));
  return s + header + data;
}

// Runs f, expecting a zaya::Error whose message contains every string in `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts, const std::string& ctx = "") {
  try {
    f();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << ctx << ": message \"" << msg
                                                                          << "\" lacks \"" << p << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << ctx << ": expected zaya::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << ctx << ": expected zaya::Error, nothing thrown";
}

void expect_error_exact(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), expected);
    return;
  }
  ADD_FAILURE() << "expected zaya::Error \"" << expected << "\"";
}

template <typename T>
T load(const TensorInfo& t, size_t i) {
  T v;
  EXPECT_LE((i + 1) * sizeof(T), t.nbytes);
  std::memcpy(&v, t.data + i * sizeof(T), sizeof(T));  // the data need not be aligned
  return v;
}

const TensorInfo& get(const std::vector<TensorInfo>& ts, const std::string& name) {
  for (const auto& t : ts)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

uint64_t header_len(const std::vector<uint8_t>& b) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[size_t(i)];
  return n;
}

// Test tensors with their backing storage.
struct Sample {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

std::vector<Sample> samples() {
  std::vector<Sample> s;
  auto add = [&](std::string name, DType dt, std::vector<int64_t> shape) {
    size_t n = dtype_size(dt);
    for (auto d : shape) n *= size_t(d);
    std::vector<uint8_t> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 37 + name.size() * 11 + 1);
    s.push_back({std::move(name), dt, std::move(shape), std::move(b)});
  };
  add("model.embed.weight", DType::BF16, {5, 3});
  add("f32.matrix", DType::F32, {2, 3, 4});
  add("scalar", DType::F32, {});
  add("empty", DType::F16, {0, 7});
  add("empty2", DType::I64, {3, 0, 2});
  add("f64", DType::F64, {3});
  add("i64", DType::I64, {2});
  add("i32", DType::I32, {1, 1, 3});
  add("i16", DType::I16, {5});
  add("i8", DType::I8, {7});
  add("u8", DType::U8, {9});
  add("bool", DType::BOOL, {2, 2});
  return s;
}

void add_all(SafeTensorsWriter& w, const std::vector<Sample>& s) {
  for (const auto& x : s) w.add(x.name, x.dtype, x.shape, x.bytes.empty() ? nullptr : x.bytes.data());
}

void expect_same(const TensorInfo& t, const Sample& x) {
  EXPECT_EQ(t.name, x.name);
  EXPECT_EQ(t.dtype, x.dtype) << x.name;
  EXPECT_EQ(t.shape, x.shape) << x.name;
  ASSERT_EQ(t.nbytes, x.bytes.size()) << x.name;
  if (t.nbytes) {
    EXPECT_EQ(std::memcmp(t.data, x.bytes.data(), t.nbytes), 0) << x.name;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(SafeTensors, TensorInfoHelpers) {
  TensorInfo t;
  t.shape = {4, 16};
  EXPECT_EQ(t.numel(), 64);
  EXPECT_EQ(t.shape_str(), "[4, 16]");
  t.shape = {};
  EXPECT_EQ(t.numel(), 1);
  EXPECT_EQ(t.shape_str(), "[]");
  t.shape = {3, 0};
  EXPECT_EQ(t.numel(), 0);
}

TEST(SafeTensors, RoundTripSingleFile) {
  TmpDir d;
  auto s = samples();
  SafeTensorsWriter w;
  add_all(w, s);
  w.set_metadata("format", "pt");
  w.set_metadata("note", "zaya test \xc3\xa9");
  const std::string path = d / "x.safetensors";
  w.write(path);
  EXPECT_FALSE(file_exists(path + ".tmp"));

  auto b = bytes_of(path);
  EXPECT_EQ((8 + header_len(b)) % 8, 0u) << "data section must start at a multiple of 8";

  SafeTensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  ASSERT_EQ(f.tensors().size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    expect_same(f.tensors()[i], s[i]);  // insertion order == data order
    EXPECT_EQ(f.tensors()[i].file, path);
    if (i > 0) {
      EXPECT_EQ(f.tensors()[i].data, f.tensors()[i - 1].data + f.tensors()[i - 1].nbytes) << "contiguous";
    }
  }
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "zaya test \xc3\xa9");

  // The same image parses from memory, and the header keeps insertion order.
  ParsedHeader h = safetensors_parse(b.data(), b.size(), "mem");
  ASSERT_EQ(h.tensors.size(), s.size());
  EXPECT_EQ(h.tensors[0].file, "mem");
  auto j = nlohmann::ordered_json::parse(std::string(b.begin() + 8, b.begin() + 8 + long(header_len(b))));
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  ASSERT_EQ(keys.size(), s.size() + 1);
  EXPECT_EQ(keys[0], "__metadata__");
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(keys[i + 1], s[i].name);
}

TEST(SafeTensors, EmptyWriterAndNoMetadata) {
  TmpDir d;
  SafeTensorsWriter w;
  w.write(d / "e.safetensors");
  SafeTensorsFile f(d / "e.safetensors");
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_EQ(bytes_of(d / "e.safetensors").size(), 16u);  // "{}" padded to 8 bytes
}

TEST(SafeTensors, CheckpointSingleFileAndDir) {
  TmpDir d;
  auto s = samples();
  SafeTensorsWriter w;
  add_all(w, s);
  w.write_dir(d.path);
  EXPECT_TRUE(file_exists(d / "model.safetensors"));
  EXPECT_FALSE(file_exists(d / "model.safetensors.index.json"));

  for (const std::string& p : {d.path, d / "model.safetensors"}) {
    Checkpoint c(p);
    EXPECT_EQ(c.dir(), d.path);
    ASSERT_EQ(c.tensors().size(), s.size());
    for (const auto& x : s) {
      const TensorInfo* t = c.find(x.name);
      ASSERT_NE(t, nullptr) << x.name;
      expect_same(*t, x);
      EXPECT_EQ(&c.require(x.name, x.shape), t);
    }
    EXPECT_EQ(c.find("nope"), nullptr);
  }
}

TEST(SafeTensors, ShardedRoundTrip) {
  TmpDir d;
  auto s = samples();
  size_t total = 0;
  for (auto& x : s) total += x.bytes.size();
  SafeTensorsWriter w;
  add_all(w, s);
  w.set_metadata("format", "pt");
  // 40-byte shards: model.embed.weight (30 B), f32.matrix (96 B, alone, over the limit), ...
  w.write_dir(d.path, 40);

  auto idx = nlohmann::json::parse(read_file(d / "model.safetensors.index.json"));
  EXPECT_EQ(idx["metadata"]["total_size"].get<size_t>(), total);
  const auto& wm = idx["weight_map"];
  ASSERT_EQ(wm.size(), s.size());
  std::set<std::string> shard_files;
  for (auto it = wm.begin(); it != wm.end(); ++it) shard_files.insert(it.value().get<std::string>());
  const size_t n = shard_files.size();
  ASSERT_GE(n, 3u);
  char name[64];
  for (size_t i = 1; i <= n; ++i) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i, n);
    EXPECT_TRUE(shard_files.count(name)) << name;
    EXPECT_TRUE(file_exists(d / name)) << name;
    SafeTensorsFile f(d / name);
    size_t bytes = 0;
    for (auto& t : f.tensors()) bytes += t.nbytes;
    EXPECT_TRUE(bytes <= 40 || f.tensors().size() == 1) << name << " holds " << bytes << " bytes";
    EXPECT_EQ(f.metadata().at("format"), "pt");
  }
  EXPECT_EQ(wm["f32.matrix"], wm["f32.matrix"]);
  EXPECT_NE(wm["model.embed.weight"], wm["f32.matrix"]);

  Checkpoint c(d.path);
  ASSERT_EQ(c.tensors().size(), s.size());
  for (const auto& x : s) {
    const TensorInfo& t = c.require(x.name, x.shape);
    expect_same(t, x);
    EXPECT_EQ(t.file, d / wm[x.name].get<std::string>());
  }

  // Rewriting the same directory unsharded removes the stale index, so the new file is used.
  SafeTensorsWriter w2;
  float one = 1.0f;
  w2.add("only", DType::F32, {}, &one);
  w2.write_dir(d.path);
  EXPECT_FALSE(file_exists(d / "model.safetensors.index.json"));
  Checkpoint c2(d.path);
  ASSERT_EQ(c2.tensors().size(), 1u);
  EXPECT_EQ(load<float>(c2.require("only", {}), 0), 1.0f);
}

TEST(SafeTensors, WriteDirCreatesDirectory) {
  TmpDir d;
  SafeTensorsWriter w;
  int32_t v[2] = {1, 2};
  w.add("v", DType::I32, {2}, v);
  w.write_dir(d / "a/b");
  Checkpoint c(d / "a/b");
  EXPECT_EQ(load<int32_t>(c.require("v", {2}), 1), 2);
}

// ---------------------------------------------------------------------------------------------
// Interoperability with the Python `safetensors` library

TEST(SafeTensors, ReadsPythonBasic) {
  SafeTensorsFile f(kDataDir + "/python_basic.safetensors");
  EXPECT_EQ(f.metadata().size(), 1u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto& ts = f.tensors();
  ASSERT_EQ(ts.size(), 13u);
  for (size_t i = 1; i < ts.size(); ++i) EXPECT_LE(ts[i - 1].data + ts[i - 1].nbytes, ts[i].data);

  const auto& f32 = get(ts, "f32");
  EXPECT_EQ(f32.dtype, DType::F32);
  EXPECT_EQ(f32.shape, (std::vector<int64_t>{2, 3}));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(load<float>(f32, i), float(i) * 0.5f - 1.0f);

  const auto& bf = get(ts, "bf16");
  EXPECT_EQ(bf.dtype, DType::BF16);
  const float bfv[] = {1.0f, -2.5f, 3.140625f, 0.0078125f};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(bf16_to_f32(load<uint16_t>(bf, i)), bfv[i]);

  const auto& h = get(ts, "f16");
  EXPECT_EQ(h.dtype, DType::F16);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 2}));
  const float hv[] = {0.5f, -1.0f, 2048.0f, -0.25f};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(f16_to_f32(load<uint16_t>(h, i)), hv[i]);

  const auto& d = get(ts, "f64");
  EXPECT_EQ(d.dtype, DType::F64);
  EXPECT_EQ(load<double>(d, 0), 1.5);
  EXPECT_EQ(load<double>(d, 1), -2.25);
  EXPECT_EQ(load<double>(d, 2), 1e300);

  const auto& i64 = get(ts, "i64");
  EXPECT_EQ(i64.dtype, DType::I64);
  EXPECT_EQ(load<int64_t>(i64, 0), -(int64_t(1) << 40));
  EXPECT_EQ(load<int64_t>(i64, 1), int64_t(1) << 62);

  const auto& i32 = get(ts, "i32");
  EXPECT_EQ(i32.dtype, DType::I32);
  EXPECT_EQ(load<int32_t>(i32, 0), -7);
  EXPECT_EQ(load<int32_t>(i32, 1), 0);
  EXPECT_EQ(load<int32_t>(i32, 2), 2147483647);

  const auto& i16 = get(ts, "i16");
  EXPECT_EQ(i16.dtype, DType::I16);
  EXPECT_EQ(load<int16_t>(i16, 0), -32768);
  EXPECT_EQ(load<int16_t>(i16, 1), 123);

  const auto& i8 = get(ts, "i8");
  EXPECT_EQ(i8.dtype, DType::I8);
  EXPECT_EQ(load<int8_t>(i8, 0), -128);
  EXPECT_EQ(load<int8_t>(i8, 2), 127);

  const auto& u8 = get(ts, "u8");
  EXPECT_EQ(u8.dtype, DType::U8);
  EXPECT_EQ(std::vector<uint8_t>(u8.data, u8.data + u8.nbytes), (std::vector<uint8_t>{0, 1, 254, 255}));

  const auto& b = get(ts, "bool");
  EXPECT_EQ(b.dtype, DType::BOOL);
  EXPECT_EQ(std::vector<uint8_t>(b.data, b.data + b.nbytes), (std::vector<uint8_t>{1, 0, 1}));

  const auto& sc = get(ts, "scalar");
  EXPECT_TRUE(sc.shape.empty());
  EXPECT_EQ(sc.nbytes, 4u);
  EXPECT_EQ(load<float>(sc, 0), 42.0f);

  const auto& e = get(ts, "empty");
  EXPECT_EQ(e.shape, (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(e.nbytes, 0u);
  EXPECT_EQ(e.numel(), 0);

  Checkpoint c(kDataDir + "/python_basic.safetensors");
  const auto& w = c.require("model.layers.0.w", {3, 2});
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(bf16_to_f32(load<uint16_t>(w, i)), float(i + 1));
}

TEST(SafeTensors, ReadsPythonNoMetadata) {
  SafeTensorsFile f(kDataDir + "/python_nometa.safetensors");
  EXPECT_TRUE(f.metadata().empty());
  ASSERT_EQ(f.tensors().size(), 3u);
  const auto& u = get(f.tensors(), "emb.w\xc3\xb6rter");
  EXPECT_EQ(u.dtype, DType::U8);
  EXPECT_EQ(std::vector<uint8_t>(u.data, u.data + 3), (std::vector<uint8_t>{7, 8, 9}));
  EXPECT_EQ(get(f.tensors(), "flag").data[0], 0);
  EXPECT_EQ(int8_t(get(f.tensors(), "z").data[0]), -1);
}

// Writing the tensors of each Python fixture in the same order gives the identical bytes, so Python
// reads what we write (tools/reference/make_safetensors_fixtures.py --verify checks this directly).
TEST(SafeTensors, WriterMatchesPythonBytes) {
  for (const char* name : {"python_basic.safetensors", "python_nometa.safetensors"}) {
    SafeTensorsFile ref(kDataDir + "/" + name);
    SafeTensorsWriter w;
    for (const auto& t : ref.tensors()) w.add(t.name, t.dtype, t.shape, t.data);
    for (const auto& [k, v] : ref.metadata()) w.set_metadata(k, v);
    TmpDir d;
    w.write(d / name);
    EXPECT_EQ(bytes_of(d / name), bytes_of(kDataDir + "/" + name)) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// Robustness

// Every strict prefix of a valid file must be rejected with zaya::Error (its last tensor ends at the
// end of the file); a parse that succeeds must only return in-bounds tensors.
TEST(SafeTensors, TruncatedPrefixes) {
  for (const char* name : {"python_basic.safetensors", "python_nometa.safetensors"}) {
    auto full = bytes_of(kDataDir + "/" + name);
    for (size_t len = 0; len <= full.size(); ++len) {
      std::unique_ptr<uint8_t[]> buf(new uint8_t[len + 1]);  // exact size for ASan (+1 for len 0)
      std::memcpy(buf.get(), full.data(), len);
      try {
        ParsedHeader h = safetensors_parse(buf.get(), len, name);
        EXPECT_EQ(len, full.size()) << name << ": prefix of " << len << " bytes parsed";
        for (const auto& t : h.tensors) {
          EXPECT_GE(t.data, buf.get());
          EXPECT_LE(t.data + t.nbytes, buf.get() + len);
        }
      } catch (const Error& e) {
        EXPECT_LT(len, full.size()) << e.what();
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      }
    }
  }
}

TEST(SafeTensors, MalformedFiles) {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string d16(16, '\x01');
  struct Case {
    const char* label;
    std::string bytes;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"too small", std::string("\x02\0\0\0", 4), {"too small"}},
      {"header length > file", image(R"({"a":1})", "", 1000), {"header length 1000", "larger than the rest"}},
      {"header length huge", image("{}", "", uint64_t(1) << 63), {"exceeds the limit"}},
      {"header length empty", image(""), {"invalid JSON"}},
      {"malformed JSON", image(R"({"w": {"dtype": )"), {"invalid JSON"}},
      {"trailing garbage", image(R"({} x)"), {"invalid JSON"}},
      {"invalid UTF-8", image("{\"w\xff\": 1}"), {"invalid JSON"}},
      {"non-object header", image("[1, 2]"), {"header is not a JSON object"}},
      {"string header", image(R"("abc")"), {"header is not a JSON object"}},
      {"entry not object", image(R"({"w": 5})"), {"tensor 'w'", "not a JSON object"}},
      {"missing dtype", image(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", d16), {"tensor 'w'", "dtype"}},
      {"numeric dtype", image(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", d16), {"tensor 'w'", "dtype"}},
      {"unknown dtype", image(R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "unknown dtype 'Q7'"}},
      {"missing shape", image(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", d16), {"tensor 'w'", "shape"}},
      {"shape not array", image(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape"}},
      {"negative shape", image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape [-2]", "non-negative integers"}},
      {"float shape", image(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape", "non-negative integers"}},
      {"huge shape", image(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape"}},
      {"huger shape", image(R"({"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape"}},
      {"shape overflow", image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "overflows int64"}},
      {"byte size overflow", image(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "overflows"}},
      {"string in shape", image(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", d16),
       {"tensor 'w'", "shape"}},
      {"offsets out of range",
       image(R"({"model.layers.0.x":{"dtype":"F32","shape":[10],"data_offsets":[10,50]}})", d16),
       {"tensor 'model.layers.0.x'", "data_offsets [10, 50] out of range (data section is 16 bytes)"}},
      {"offsets missing", image(R"({"w":{"dtype":"F32","shape":[2]}})", d16), {"tensor 'w'", "data_offsets"}},
      {"offsets arity", image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", d16),
       {"tensor 'w'", "data_offsets"}},
      {"offsets negative", image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", d16),
       {"tensor 'w'", "data_offsets"}},
      {"offsets float", image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}})", d16),
       {"tensor 'w'", "data_offsets"}},
      {"begin > end", image(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", d16),
       {"tensor 'w'", "data_offsets [8, 4]", "begin > end"}},
      {"huge end", image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})", d16),
       {"tensor 'w'", "out of range"}},
      {"size mismatch", image(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", d16),
       {"tensor 'w'", "data_offsets [0, 12]", "need 16 bytes"}},
      {"overlap", image(R"({"a":)" + ok_entry + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", d16),
       {"'a'", "'b'", "overlap"}},
      {"overlap same range", image(R"({"a":)" + ok_entry + R"(,"b":)" + ok_entry + "}", d16),
       {"'a'", "'b'", "overlap"}},
      {"duplicate tensor", image(R"({"w":)" + ok_entry + R"(,"w":)" + ok_entry + "}", d16),
       {"duplicate key 'w'"}},
      {"duplicate field", image(R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", d16),
       {"duplicate key 'dtype'", "'w'"}},
      {"deep nesting", image(R"({"w":{"shape":[[[[1]]]]}})"), {"nested too deeply", "'w'"}},
      {"metadata not object", image(R"({"__metadata__":["a"]})"), {"__metadata__", "not a JSON object"}},
      {"metadata non-string", image(R"({"__metadata__":{"format":"pt","n":1}})"), {"__metadata__", "'n'", "not a string"}},
      {"metadata null", image(R"({"__metadata__":{"k":null}})"), {"__metadata__", "'k'"}},
  };
  TmpDir d;
  const std::string path = d / "bad.safetensors";
  for (const auto& c : cases) {
    const auto* p = reinterpret_cast<const uint8_t*>(c.bytes.data());
    std::vector<std::string> mem_expect = c.expect;
    mem_expect.push_back("bad.safetensors: ");
    expect_error([&] { safetensors_parse(p, c.bytes.size(), "bad.safetensors"); }, mem_expect, c.label);
    put_file(path, c.bytes);
    std::vector<std::string> file_expect = c.expect;
    file_expect.push_back(path + ": ");
    expect_error([&] { SafeTensorsFile f(path); }, file_expect, c.label);
  }

  // The message format for offsets out of range, exactly.
  std::string img = image(R"({"model.layers.0.x":{"dtype":"F32","shape":[10],"data_offsets":[10,50]}})", d16);
  expect_error_exact(
      [&] { safetensors_parse(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "model.safetensors"); },
      "model.safetensors: tensor 'model.layers.0.x': data_offsets [10, 50] out of range (data section is 16 bytes)");
}

TEST(SafeTensors, AcceptsGapsAndUnsortedOffsets) {
  // Not what writers produce, but valid: tensors listed out of data order, with unused bytes between.
  std::string img = image(
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[10,12]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
      std::string("\x01\x02........\x03\x04", 12));
  ParsedHeader h = safetensors_parse(reinterpret_cast<const uint8_t*>(img.data()), img.size(), "m");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "a");  // sorted by data offset
  EXPECT_EQ(h.tensors[1].name, "b");
  EXPECT_EQ(h.tensors[1].data[1], 4);
}

TEST(SafeTensors, UnopenableFiles) {
  TmpDir d;
  put_file(d / "empty.safetensors", "");
  expect_error([&] { SafeTensorsFile f(d / "empty.safetensors"); }, {d / "empty.safetensors", "empty"});
  expect_error([&] { SafeTensorsFile f(d / "missing.safetensors"); }, {d / "missing.safetensors", "cannot open"});
  expect_error([&] { SafeTensorsFile f(d.path); }, {d.path, "not a regular file"});
}

// ---------------------------------------------------------------------------------------------
// Checkpoint errors

namespace {

// Writes <dir>/<file> holding F32 tensors of shape [2] with the given names.
void write_shard(const std::string& dir, const std::string& file, const std::vector<std::string>& names) {
  static const float v[2] = {1.0f, 2.0f};
  SafeTensorsWriter w;
  for (const auto& n : names) w.add(n, DType::F32, {2}, v);
  w.write(dir + "/" + file);
}

}  // namespace

TEST(SafeTensors, CheckpointErrors) {
  {
    TmpDir d;
    expect_error_exact([&] { Checkpoint c(d.path); },
                       d.path + ": no model.safetensors or model.safetensors.index.json");
    expect_error([&] { Checkpoint c(d / "nothing"); }, {d / "nothing"});
  }
  struct IndexCase {
    const char* label;
    std::string index;
    std::vector<std::string> expect;
  };
  const std::vector<IndexCase> cases = {
      {"not JSON", "{weight_map", {"invalid JSON"}},
      {"not an object", "[]", {"not a JSON object"}},
      {"no weight_map", R"({"metadata": {}})", {"weight_map"}},
      {"weight_map not object", R"({"weight_map": ["a.safetensors"]})", {"weight_map"}},
      {"weight_map non-string", R"({"weight_map": {"a": 1}})", {"weight_map", "'a'", "not a string"}},
      {"missing file", R"({"weight_map": {"a": "s1.safetensors", "x": "gone.safetensors"}})",
       {"'gone.safetensors'", "does not exist"}},
      {"path traversal", R"({"weight_map": {"a": "../s1.safetensors"}})", {"'a'", "invalid file", "'../s1.safetensors'"}},
      {"subdirectory", R"({"weight_map": {"a": "sub/s1.safetensors"}})", {"'a'", "invalid file"}},
      {"absolute path", R"({"weight_map": {"a": "/etc/passwd"}})", {"'a'", "invalid file"}},
      {"empty file name", R"({"weight_map": {"a": ""}})", {"'a'", "invalid file"}},
      {"tensor not in its file", R"({"weight_map": {"a": "s1.safetensors", "c": "s1.safetensors"}})",
       {"tensor 'c'", "'s1.safetensors'", "s1.safetensors does not contain it"}},
      {"tensor in another file",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}})",
       {"tensor 'b'", "'s1.safetensors'", "s1.safetensors does not contain it"}},
      {"tensor in two shards", R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "d": "s3.safetensors"}})",
       {"tensor 'b'", "present in both", "s2.safetensors", "s3.safetensors"}},
      {"bad shard", R"({"weight_map": {"a": "s1.safetensors", "z": "junk.safetensors"}})",
       {"junk.safetensors", "header length"}},
  };
  for (const auto& c : cases) {
    TmpDir d;
    write_shard(d.path, "s1.safetensors", {"a"});
    write_shard(d.path, "s2.safetensors", {"b", "c"});
    write_shard(d.path, "s3.safetensors", {"b", "d"});
    put_file(d / "junk.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x00junk", 12));
    fs::create_directories(d / "sub");
    write_shard(d / "sub", "s1.safetensors", {"a"});
    put_file(d / "model.safetensors.index.json", c.index);
    auto expect = c.expect;
    expect.push_back(d.path);
    expect_error([&] { Checkpoint ck(d.path); }, expect, c.label);
  }

  // A valid sharded index: unlisted-but-present tensors are loaded too; require() messages.
  TmpDir d;
  write_shard(d.path, "s1.safetensors", {"a"});
  write_shard(d.path, "s2.safetensors", {"b", "c"});
  put_file(d / "model.safetensors.index.json",
           R"({"metadata": {"total_size": 24}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  Checkpoint ck(d.path);
  EXPECT_EQ(ck.tensors().size(), 3u);
  EXPECT_EQ(ck.require("b", {2}).file, d / "s2.safetensors");
  expect_error_exact([&] { ck.require("nope", {2}); }, d.path + ": tensor 'nope' is missing");
  expect_error_exact([&] { ck.require("a", {3, 2}); },
                     d / "s1.safetensors" + ": tensor 'a' has shape [2], expected [3, 2]");
  expect_error_exact([&] { ck.require("c", {}); }, d / "s2.safetensors" + ": tensor 'c' has shape [2], expected []");

  // A single-file checkpoint names the file in "missing" errors.
  Checkpoint one(d / "s1.safetensors");
  EXPECT_EQ(one.dir(), d.path);
  expect_error_exact([&] { one.require("b", {2}); }, d / "s1.safetensors" + ": tensor 'b' is missing");
}

TEST(SafeTensors, WriterErrors) {
  float v[4] = {};
  {
    SafeTensorsWriter w;
    w.add("a", DType::F32, {4}, v);
    expect_error([&] { w.add("a", DType::F32, {4}, v); }, {"'a'", "twice"});
    expect_error([&] { w.add("n", DType::F32, {-1}, v); }, {"'n'", "negative"});
    expect_error([&] { w.add("__metadata__", DType::F32, {4}, v); }, {"__metadata__"});
    expect_error([&] { w.add("", DType::F32, {4}, v); }, {"empty"});
    expect_error([&] { w.add("big", DType::F64, {int64_t(1) << 62, 4}, v); }, {"'big'", "too large"});
    expect_error([&] { w.add("null", DType::F32, {4}, nullptr); }, {"'null'", "no data"});
    w.add("zero", DType::F32, {0}, nullptr);
    TmpDir d;
    expect_error([&] { w.write(d / "no/such/dir/x.safetensors"); }, {d / "no/such/dir/x.safetensors.tmp"});
  }
  {
    SafeTensorsWriter w;
    w.add("bad\xff", DType::F32, {4}, v);
    TmpDir d;
    expect_error([&] { w.write(d / "x.safetensors"); }, {d / "x.safetensors", "UTF-8"});
    EXPECT_FALSE(file_exists(d / "x.safetensors.tmp"));
    EXPECT_FALSE(file_exists(d / "x.safetensors"));
  }
}
