// Training data pipeline: token shards (format, validation), the DataLoader (packing, shuffling,
// mixture, resumable state, validation pass) and the `zaya data` command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fileutil.h"
#include "data/loader.h"
#include "data/shard.h"
#include "tokenizer/tokenizer.h"
#include "test_util.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Docs = std::vector<std::vector<int32_t>>;

constexpr int32_t kEos = 2;

// Documents with ids in [lo, lo + span), never kEos; lengths 1..max_len; all distinct.
Docs synth_docs(int n, int32_t lo, int32_t span, int max_len, uint32_t salt = 0) {
  Docs docs;
  for (int i = 0; i < n; ++i) {
    int len = 1 + int((uint32_t(i) * 2654435761u + salt) % uint32_t(max_len));
    std::vector<int32_t> d(static_cast<size_t>(len));
    d[0] = lo + i % span;  // with the length this keeps documents distinct in practice
    for (int j = 1; j < len; ++j) d[size_t(j)] = lo + int32_t((uint32_t(i) * 7919u + uint32_t(j) * 31u + salt) % uint32_t(span));
    docs.push_back(std::move(d));
  }
  return docs;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no zaya::Error thrown";
  return "";
}

class Data : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("zaya_data_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A dataset through the writer API; is_val(i) picks the split of document i.
  std::string make_dataset(const std::string& name, const Docs& docs, uint32_t vocab = 1000,
                           uint64_t shard_tokens = 500, const std::function<bool(size_t)>& is_val = nullptr) {
    DatasetWriter w(dir_ + "/" + name, name, vocab, shard_tokens);
    for (size_t i = 0; i < docs.size(); ++i) w.add(is_val && is_val(i) ? Split::Val : Split::Train, docs[i]);
    return w.finish({{"eos_id", kEos}, {"tokenizer_xxh64", "0123456789abcdef"}});
  }
  std::string dir_;
};

// ------------------------------------------------------------------------------------------------
// Shards

TEST_F(Data, ShardRoundTripBothWidths) {
  for (uint32_t vocab : {1000u, 65536u, 70000u}) {
    Docs docs = synth_docs(40, 3, int32_t(vocab - 3), 50);
    docs.push_back({int32_t(vocab - 1)});  // the largest id
    std::string path = dir_ + "/s" + std::to_string(vocab) + ".bin";
    ShardWriter w(path, vocab);
    uint64_t total = 0;
    for (auto& d : docs) {
      w.add_document(d);
      total += d.size();
    }
    EXPECT_FALSE(file_exists(path));  // nothing at the final name before finish()
    uint64_t h = w.finish();
    EXPECT_FALSE(file_exists(path + ".tokens.tmp"));
    ShardFile f(path);
    const uint32_t width = vocab <= 65536 ? 2 : 4;
    EXPECT_EQ(f.view().token_width, width);
    EXPECT_EQ(f.view().vocab_size, vocab);
    EXPECT_EQ(f.view().payload_xxh64, h);
    EXPECT_EQ(f.n_docs(), docs.size());
    EXPECT_EQ(f.n_tokens(), total);
    EXPECT_EQ(fs::file_size(path), kShardHeaderBytes + 8 * (docs.size() + 1) + width * total);
    for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(f.document(i), docs[i]) << i;
  }
  ShardWriter w(dir_ + "/x.bin", 100);
  EXPECT_NE(expect_error([&] { w.add_document(std::vector<int32_t>{}); }).find("empty document"), std::string::npos);
  EXPECT_NE(expect_error([&] { w.add_document(std::vector<int32_t>{5, 100}); }).find("token id 100"), std::string::npos);
  EXPECT_NE(expect_error([&] { w.add_document(std::vector<int32_t>{-1}); }).find("token id -1"), std::string::npos);
}

TEST_F(Data, MalformedShardsNameFileAndField) {
  Docs docs = synth_docs(30, 3, 900, 40);  // ids < 903: flipping bit 0 stays < vocab 1000
  const std::string good = dir_ + "/good.bin";
  ShardWriter w(good, 1000);
  for (auto& d : docs) w.add_document(d);
  w.finish();
  const std::string img = read_file(good);
  const size_t off0 = kShardHeaderBytes, tok0 = off0 + 8 * (docs.size() + 1);

  auto check = [&](const std::string& name, const std::function<void(std::string&)>& damage,
                   const std::string& needle) {
    std::string s = img;
    damage(s);
    const std::string path = dir_ + "/" + name + ".bin";
    write_file_atomic(path, s);
    std::string msg = expect_error([&] { ShardFile f(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << name << ": " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << name << ": " << msg;
  };
  auto put64 = [](std::string& s, size_t at, uint64_t v) { std::memcpy(&s[at], &v, 8); };
  auto put32 = [](std::string& s, size_t at, uint32_t v) { std::memcpy(&s[at], &v, 4); };
  check("empty", [](std::string& s) { s.clear(); }, "truncated");
  check("short_header", [](std::string& s) { s.resize(30); }, "truncated");
  check("truncated", [](std::string& s) { s.pop_back(); }, "truncated");
  check("truncated_offsets", [&](std::string& s) { s.resize(off0 + 16); }, "truncated");
  check("trailing", [](std::string& s) { s += "xx"; }, "trailing bytes");
  check("magic", [](std::string& s) { s[0] = 'X'; }, "magic");
  check("version", [&](std::string& s) { put32(s, 8, 2); }, "format version: 2");
  check("header_checksum", [&](std::string& s) { s[24] ^= 1; }, "header checksum");
  check("payload_flip", [&](std::string& s) { s[tok0 + 2 * 17] ^= 1; }, "payload checksum mismatch");
  check("offsets_order", [&](std::string& s) {
    uint64_t a, b;
    std::memcpy(&a, &s[off0 + 8 * 17], 8);
    std::memcpy(&b, &s[off0 + 8 * 18], 8);
    put64(s, off0 + 8 * 17, b);
    put64(s, off0 + 8 * 18, a);
  }, "document offsets not increasing at index 18");
  check("offsets_first", [&](std::string& s) { put64(s, off0, 1); }, "offset 0 is 1");
  check("offsets_range", [&](std::string& s) { put64(s, off0 + 8 * docs.size() - 8, 1u << 30); }, "out of range");
  check("id_too_big", [&](std::string& s) {
    uint16_t v = 1000;
    std::memcpy(&s[tok0 + 2 * 5], &v, 2);
  }, "token id 1000 at position 5");
  // With the header checksum off (as the fuzzer parses), the deeper checks still see bad widths.
  {
    std::string s = img;
    put32(s, 12, 4);
    std::string msg = expect_error([&] {
      shard_parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "w.bin", true, false);
    });
    EXPECT_NE(msg.find("w.bin: token width: 4 bytes"), std::string::npos) << msg;
  }
  ShardFile ok(good);  // the original still opens
  EXPECT_EQ(ok.n_docs(), docs.size());
}

// ------------------------------------------------------------------------------------------------
// Loader

// The stream of one dataset, rebuilt from B*L windows, checking the window/target relation.
struct Collected {
  std::vector<int32_t> stream;         // inputs of consecutive sequences, concatenated
  std::vector<DocInfo> infos;
};

Collected collect(DataLoader& dl, int64_t batches, int64_t B, int64_t L) {
  Collected c;
  std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
  std::vector<DocInfo> info(static_cast<size_t>(B));
  int32_t prev_last_target = -1;
  for (int64_t k = 0; k < batches; ++k) {
    dl.next_batch(B, L, ids.data(), tg.data(), info.data());
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* in = ids.data() + b * L;
      const int32_t* t = tg.data() + b * L;
      for (int64_t p = 0; p + 1 < L; ++p) EXPECT_EQ(t[p], in[p + 1]);
      if (!c.stream.empty()) {
        EXPECT_EQ(prev_last_target, in[0]);  // windows overlap by one token
      }
      prev_last_target = t[L - 1];
      c.stream.insert(c.stream.end(), in, in + L);
      c.infos.push_back(info[size_t(b)]);
    }
  }
  return c;
}

// Splits a stream on EOS into documents (the last, unterminated piece is dropped).
Docs split_docs(const std::vector<int32_t>& s) {
  Docs out;
  std::vector<int32_t> cur;
  for (int32_t t : s) {
    if (t == kEos) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(t);
    }
  }
  return out;
}

Docs sorted(Docs d) {
  std::sort(d.begin(), d.end());
  return d;
}

TEST_F(Data, EveryTokenOncePerEpochWithDocInfo) {
  Docs docs = synth_docs(150, 3, 990, 120);
  std::string m = make_dataset("one", docs);
  uint64_t epoch_len = 0;
  for (auto& d : docs) epoch_len += d.size() + 1;
  DataLoader dl({{m, 1.0}}, LoaderOptions{.seed = 7});
  EXPECT_EQ(dl.eos_id(), kEos);
  const int64_t B = 3, L = 64;
  const int64_t batches = int64_t(2 * epoch_len / (B * L)) + 2;  // a bit more than two epochs
  Collected c = collect(dl, batches, B, L);
  ASSERT_GE(c.stream.size(), 2 * epoch_len);
  std::vector<int32_t> e0(c.stream.begin(), c.stream.begin() + int64_t(epoch_len));
  std::vector<int32_t> e1(c.stream.begin() + int64_t(epoch_len), c.stream.begin() + int64_t(2 * epoch_len));
  ASSERT_EQ(e0.back(), kEos);
  ASSERT_EQ(e1.back(), kEos);
  Docs d0 = split_docs(e0), d1 = split_docs(e1);
  EXPECT_EQ(sorted(d0), sorted(docs));  // every document exactly once per epoch, each followed by EOS
  EXPECT_EQ(sorted(d1), sorted(docs));
  EXPECT_NE(d0, d1);     // a new order each epoch
  EXPECT_NE(d0, docs);   // shuffled
  EXPECT_EQ(dl.epoch(0), 2u);

  // DocInfo: starts = 0 plus every position that follows an EOS in the stream.
  for (size_t k = 0; k < c.infos.size(); ++k) {
    const DocInfo& inf = c.infos[k];
    const size_t s = k * size_t(L);
    std::vector<int32_t> want{0};
    for (int64_t p = 1; p < L; ++p)
      if (c.stream[s + size_t(p) - 1] == kEos) want.push_back(int32_t(p));
    EXPECT_EQ(inf.starts, want) << "sequence " << k;
    const bool starts_doc = s == 0 || c.stream[s - 1] == kEos;
    EXPECT_EQ(inf.first_is_continuation, !starts_doc) << "sequence " << k;
    EXPECT_EQ(inf.dataset, 0);
    EXPECT_EQ(inf.n_valid, L);
  }
}

TEST_F(Data, LongDocumentsSplitAcrossSequencesAndMaskOption) {
  Docs docs = synth_docs(5, 3, 990, 1);  // five 1-token documents...
  docs.push_back(std::vector<int32_t>(300, 7));  // ...and one much longer than a sequence
  std::string m = make_dataset("long", docs, 1000, 100000);
  DataLoader dl({{m, 1.0}}, LoaderOptions{.seed = 1, .mask_eos_targets = true});
  const int64_t L = 16, B = 40;
  std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
  std::vector<DocInfo> info(static_cast<size_t>(B));
  dl.next_batch(B, L, ids.data(), tg.data(), info.data());
  int continued = 0;
  for (int64_t b = 0; b < B; ++b) {
    continued += info[size_t(b)].first_is_continuation;
    for (int64_t p = 0; p < L; ++p) {
      const size_t i = size_t(b * L + p);
      if (ids[i] == kEos) {
        EXPECT_EQ(tg[i], -1);
      } else if (p + 1 < L) {
        EXPECT_EQ(tg[i], ids[i + 1]);
      }
    }
  }
  EXPECT_GE(continued, 300 / int(L) - 1);
}

TEST_F(Data, DeterministicAndSeedDependent) {
  Docs docs = synth_docs(200, 3, 990, 60);
  std::string m = make_dataset("det", docs);
  auto run = [&](uint64_t seed) {
    DataLoader dl({{m, 1.0}}, LoaderOptions{.seed = seed});
    return collect(dl, 20, 4, 32).stream;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST_F(Data, MixtureFollowsWeights) {
  std::string a = make_dataset("a", synth_docs(100, 3, 400, 30));
  std::string b = make_dataset("b", synth_docs(100, 500, 400, 30, 11));
  DataLoader dl({{a, 3.0}, {b, 1.0}}, LoaderOptions{.seed = 3});
  const int64_t B = 50, L = 8, batches = 80;
  std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
  std::vector<DocInfo> info(static_cast<size_t>(B));
  int64_t from_a = 0, total = 0;
  for (int64_t k = 0; k < batches; ++k) {
    dl.next_batch(B, L, ids.data(), tg.data(), info.data());
    for (int64_t s = 0; s < B; ++s) {
      const int d = info[size_t(s)].dataset;
      ASSERT_TRUE(d == 0 || d == 1);
      for (int64_t p = 0; p < L; ++p) {  // the tokens come from the dataset DocInfo names
        const int32_t t = ids[size_t(s * L + p)];
        if (t != kEos) {
          EXPECT_EQ(t < 500 ? 0 : 1, d);
        }
      }
      from_a += d == 0;
      ++total;
    }
  }
  EXPECT_NEAR(double(from_a) / double(total), 0.75, 0.03);
  dl.set_weights({0.0, 2.0});  // a curriculum phase that uses only b
  for (int k = 0; k < 5; ++k) {
    dl.next_batch(B, L, ids.data(), tg.data(), info.data());
    for (auto& i : info) EXPECT_EQ(i.dataset, 1);
  }
  EXPECT_THROW(dl.set_weights({0.0, 0.0}), Error);
  EXPECT_THROW(dl.set_weights({1.0}), Error);
  EXPECT_THROW(dl.set_weights({1.0, -1.0}), Error);
}

TEST_F(Data, SaveLoadStateGivesIdenticalBatches) {
  std::string a = make_dataset("a", synth_docs(60, 3, 400, 50));
  std::string b = make_dataset("b", synth_docs(40, 500, 400, 50, 5));
  const int64_t B = 4, L = 32;
  DataLoader dl({{a, 1.0}, {b, 1.0}}, LoaderOptions{.seed = 9});
  std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
  std::vector<DocInfo> info(static_cast<size_t>(B));
  for (int k = 0; k < 7; ++k) dl.next_batch(B, L, ids.data(), tg.data(), info.data());
  dl.set_weights({2.0, 0.5});
  for (int k = 0; k < 5; ++k) dl.next_batch(B, L, ids.data(), tg.data(), info.data());
  const std::string state = dl.save_state();
  // A long continuation (crosses epoch boundaries of both datasets).
  auto record = [&](DataLoader& x) {
    std::vector<int32_t> out;
    std::vector<int32_t> starts;
    for (int k = 0; k < 60; ++k) {
      x.next_batch(B, L, ids.data(), tg.data(), info.data());
      out.insert(out.end(), ids.begin(), ids.end());
      out.insert(out.end(), tg.begin(), tg.end());
      for (auto& i : info) {
        starts.insert(starts.end(), i.starts.begin(), i.starts.end());
        starts.push_back(-int32_t(i.first_is_continuation) - 2 - i.dataset * 10);
      }
    }
    out.insert(out.end(), starts.begin(), starts.end());
    return out;
  };
  std::vector<int32_t> want = record(dl);
  DataLoader resumed({{a, 1.0}, {b, 1.0}}, LoaderOptions{.seed = 12345});  // seed comes from the state
  resumed.load_state(state, "ckpt/loader.json");
  EXPECT_EQ(resumed.weights(), (std::vector<double>{2.0, 0.5}));
  EXPECT_EQ(record(resumed), want);
  EXPECT_EQ(resumed.save_state(), dl.save_state());

  // Bad states name what they came from; a rejected state changes nothing.
  std::string before = resumed.save_state();
  EXPECT_NE(expect_error([&] { resumed.load_state("not json", "ckpt/loader.json"); }).find("ckpt/loader.json"),
            std::string::npos);
  json j = json::parse(state);
  j["datasets"][0]["pos"] = 1000000;
  EXPECT_NE(expect_error([&] { resumed.load_state(j.dump(), "s1"); }).find("s1: datasets[0]"), std::string::npos);
  DataLoader other({{b, 1.0}, {a, 1.0}}, LoaderOptions{});
  EXPECT_NE(expect_error([&] { other.load_state(state, "s2"); }).find("other training data"), std::string::npos);
  EXPECT_EQ(resumed.save_state(), before);
}

TEST_F(Data, ValidationPassFixedOrderAndResettable) {
  Docs docs = synth_docs(120, 3, 990, 40);
  auto is_val = [](size_t i) { return i % 5 == 2; };
  std::string m = make_dataset("v", docs, 1000, 300, is_val);
  Docs want_val, want_train;
  for (size_t i = 0; i < docs.size(); ++i) (is_val(i) ? want_val : want_train).push_back(docs[i]);
  DataLoader dl({{m, 1.0}}, LoaderOptions{.seed = 1});
  EXPECT_EQ(dl.manifest(0).val.documents, want_val.size());
  const int64_t B = 3, L = 20;
  auto pass = [&] {
    std::vector<int32_t> stream, all;
    std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
    std::vector<DocInfo> info(static_cast<size_t>(B));
    int64_t n_seq = 0;
    for (;;) {
      int64_t got = dl.next_val_batch(0, B, L, ids.data(), tg.data(), info.data());
      all.insert(all.end(), ids.begin(), ids.end());
      all.insert(all.end(), tg.begin(), tg.end());
      for (int64_t s = 0; s < B; ++s) {
        const DocInfo& inf = info[size_t(s)];
        if (s >= got) {
          EXPECT_EQ(inf.dataset, -1);
          EXPECT_EQ(inf.n_valid, 0);
          for (int64_t p = 0; p < L; ++p) EXPECT_EQ(tg[size_t(s * L + p)], -1);
          continue;
        }
        EXPECT_EQ(inf.dataset, 0);
        for (int64_t p = inf.n_valid; p < L; ++p) EXPECT_EQ(tg[size_t(s * L + p)], -1);
        stream.insert(stream.begin() + int64_t(stream.size()), ids.begin() + s * L, ids.begin() + s * L + inf.n_valid);
        ++n_seq;
      }
      if (got < B) break;
    }
    EXPECT_GT(n_seq, 0);
    return std::make_pair(stream, all);
  };
  auto [s1, all1] = pass();
  // The validation documents in file order, each once, each followed by EOS.
  EXPECT_EQ(split_docs(s1), want_val);
  EXPECT_EQ(s1.back(), kEos);
  // Disjoint from the training stream.
  Collected tr = collect(dl, 10, 4, 50);
  std::set<std::vector<int32_t>> train_docs;
  for (auto& d : split_docs(tr.stream)) train_docs.insert(d);
  for (auto& d : want_val) EXPECT_EQ(train_docs.count(d), 0u);
  // Once over, it stays over until reset; the rerun is identical (training in between changes nothing).
  std::vector<int32_t> ids(size_t(B * L)), tg(size_t(B * L));
  EXPECT_EQ(dl.next_val_batch(0, B, L, ids.data(), tg.data(), nullptr), 0);
  dl.reset_val();
  auto [s2, all2] = pass();
  EXPECT_EQ(all2, all1);
}

TEST_F(Data, LoaderRejectsMismatchedShardsAndManifests) {
  std::string m = make_dataset("x", synth_docs(30, 3, 990, 40));
  // A shard swapped for one from another run.
  std::string shard = dir_ + "/x/x-train-00000.bin";
  {
    ShardWriter w(dir_ + "/other.bin", 1000);
    w.add_document(std::vector<int32_t>{5, 6, 7});
    w.finish();
  }
  std::string saved = read_file(shard);
  fs::copy_file(dir_ + "/other.bin", shard, fs::copy_options::overwrite_existing);
  std::string msg = expect_error([&] { DataLoader dl({{m, 1.0}}, LoaderOptions{}); });
  EXPECT_NE(msg.find(shard), std::string::npos) << msg;
  write_file_atomic(shard, saved);
  // Flipped byte: checksum error naming the shard.
  std::string bad = saved;
  bad[bad.size() - 1] ^= 1;
  write_file_atomic(shard, bad);
  msg = expect_error([&] { DataLoader dl({{m, 1.0}}, LoaderOptions{}); });
  EXPECT_NE(msg.find(shard + ": payload checksum"), std::string::npos) << msg;
  write_file_atomic(shard, saved);
  // Manifest problems name the manifest.
  json j = json::parse(read_file(m));
  j["train"]["documents"] = 31;
  write_file_atomic(dir_ + "/bad.json", j.dump());
  msg = expect_error([&] { DataLoader dl({{dir_ + "/bad.json", 1.0}}, LoaderOptions{}); });
  EXPECT_NE(msg.find("bad.json: train"), std::string::npos) << msg;
  // EOS outside the vocabulary; all-zero weights.
  EXPECT_THROW(DataLoader({{m, 1.0}}, LoaderOptions{.eos_id = 1000}), Error);
  EXPECT_THROW(DataLoader({{m, 0.0}}, LoaderOptions{}), Error);
  DataLoader ok({{m, 1.0}}, LoaderOptions{});
  EXPECT_EQ(ok.manifest(0).train.documents, 30u);
}

// ------------------------------------------------------------------------------------------------
// zaya data

using Result = test::RunResult;
using test::run_zaya;


std::map<std::string, std::string> dir_contents(const std::string& d) {
  std::map<std::string, std::string> out;
  if (!fs::exists(d)) return out;
  for (auto& e : fs::directory_iterator(d)) out[e.path().filename().string()] = read_file(e.path().string());
  return out;
}

class DataCli : public Data {
 protected:
  std::string tok_path() const { return test::src_path("tests/data/tokenizer/bytelevel/tokenizer.json"); }
  std::string text(int i) const {
    return "Document number " + std::to_string(i) + " talks about item " + std::to_string(i * 37 % 101) +
           (i % 3 ? " and then some more words, repeated. " : "!\nShort.") + std::string(size_t(i % 7), 'x');
  }
};

TEST_F(DataCli, HappyPathSplitsDeterministically) {
  const int N = 300;
  std::string jsonl;
  for (int i = 0; i < N; ++i) {
    jsonl += json({{"text", text(i)}}).dump() + "\n";
    if (i == 10) jsonl += "\n";                   // blank lines are skipped
    if (i == 20) jsonl += "{\"text\": \"  \"}\n";  // as are whitespace-only documents
  }
  write_file_atomic(dir_ + "/in.jsonl", jsonl);
  write_file_atomic(dir_ + "/para.txt", "first paragraph\nline two\n\n\n  \nsecond paragraph\n\nthird");
  const std::string common = "data --tokenizer " + tok_path() + " --input " + dir_ + "/in.jsonl --input " + dir_ +
                             "/para.txt --split-blank-lines --val-fraction 0.2 --shard-tokens 3000 --name c";
  Result r = run_zaya(common + " --seed 5 --out " + dir_ + "/out1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + dir_ + "/out1/c.json"), std::string::npos) << r.out;

  DatasetManifest m = read_manifest(dir_ + "/out1/c.json");
  EXPECT_EQ(m.name, "c");
  Tokenizer tok = Tokenizer::from_file(tok_path());
  EXPECT_EQ(m.vocab_size, uint32_t(tok.vocab_size()));
  EXPECT_EQ(m.eos_id, tok.eos_id());
  EXPECT_EQ(m.tokenizer_xxh64, hex64(xxh64_file(tok_path())));
  EXPECT_EQ(m.json["skipped_documents"], 1);
  EXPECT_EQ(m.train.documents + m.val.documents, uint64_t(N + 3));
  EXPECT_GT(m.train.shards.size(), 1u);
  EXPECT_GT(m.val.documents, uint64_t(N / 10));
  EXPECT_LT(m.val.documents, uint64_t(N * 3 / 10));

  // Every document tokenized without special tokens, in exactly one split.
  std::multiset<std::vector<int32_t>> want, got_train, got_val;
  for (int i = 0; i < N; ++i) want.insert(tok.encode(text(i), false));
  for (const char* p : {"first paragraph\nline two", "second paragraph", "third"}) want.insert(tok.encode(p, false));
  for (auto [split, dst] : {std::pair{&m.train, &got_train}, std::pair{&m.val, &got_val}})
    for (auto& e : split->shards) {
      ShardFile f(dir_ + "/out1/" + e.file);
      for (uint64_t d = 0; d < f.n_docs(); ++d) dst->insert(f.document(d));
    }
  std::multiset<std::vector<int32_t>> all = got_train;
  all.insert(got_val.begin(), got_val.end());
  EXPECT_EQ(all, want);
  for (auto& d : got_val) EXPECT_EQ(got_train.count(d), 0u);

  // Same output with one thread (and in another directory); another seed splits differently.
  r = run_zaya(common + " --seed 5 --threads 1 --out " + dir_ + "/out2");
  ASSERT_EQ(r.code, 0) << r.out;
  auto c1 = dir_contents(dir_ + "/out1"), c2 = dir_contents(dir_ + "/out2");
  ASSERT_EQ(c1.size(), c2.size());
  for (auto& [name, bytes] : c1) EXPECT_TRUE(c2.count(name) && c2[name] == bytes) << name;
  r = run_zaya(common + " --seed 6 --out " + dir_ + "/out3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(dir_contents(dir_ + "/out3")["c-val-00000.bin"], c1["c-val-00000.bin"]);

  // The loader reads it, EOS from the manifest.
  DataLoader dl({{dir_ + "/out1/c.json", 1.0}}, LoaderOptions{.seed = 1});
  EXPECT_EQ(dl.eos_id(), tok.eos_id());
  Collected c = collect(dl, 2, 2, 64);
  EXPECT_EQ(c.stream.size(), 256u);
}

TEST_F(DataCli, EmptyCorpusFailsAndWritesNothing) {
  write_file_atomic(dir_ + "/empty.jsonl", "\n\n{\"text\": \"\"}\n{\"text\": \" \\n \"}\n");
  write_file_atomic(dir_ + "/empty.txt", "");
  for (const char* in : {"empty.jsonl", "empty.txt"}) {
    Result r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/" + in + " --out " + dir_ + "/o");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("error: empty corpus"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir_ + "/o")) << in;
  }
  // Over existing good data: nothing changes, no leftovers.
  write_file_atomic(dir_ + "/good.jsonl", json({{"text", "some text"}}).dump() + "\n" +
                                              json({{"text", "more text"}}).dump() + "\n");
  Result r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/good.jsonl --val-fraction 0 --out " +
                      dir_ + "/o");
  ASSERT_EQ(r.code, 0) << r.out;
  auto before = dir_contents(dir_ + "/o");
  EXPECT_EQ(before.size(), 2u);  // data-train-00000.bin, data.json
  r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/empty.jsonl --out " + dir_ + "/o");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(dir_contents(dir_ + "/o"), before);
}

TEST_F(DataCli, BadJsonlLineNamesFileAndLine) {
  // Enough good documents first that shards are already being written when the bad line comes.
  std::string jsonl;
  for (int i = 0; i < 5000; ++i) jsonl += json({{"text", text(i)}}).dump() + "\n";
  write_file_atomic(dir_ + "/ok.jsonl", jsonl);
  write_file_atomic(dir_ + "/bad.jsonl", jsonl + "{\"text\": \"fine\"}\n{\"text\": 12}\n");
  write_file_atomic(dir_ + "/broken.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"\n");
  for (auto [file, where] : {std::pair{"bad.jsonl", ":5002: expected an object with a string field"},
                             std::pair{"broken.jsonl", ":2: invalid JSON"}}) {
    Result r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/ok.jsonl --input " + dir_ + "/" +
                        file + " --shard-tokens 1000 --out " + dir_ + "/o");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("error: " + dir_ + "/" + file + where), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
    EXPECT_TRUE(dir_contents(dir_ + "/o").empty()) << file;  // no shards, no .part or .tmp leftovers
  }
  Result r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/x.csv --out " + dir_ + "/o");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("x.csv: unsupported input type"), std::string::npos) << r.out;
  r = run_zaya("data --tokenizer " + tok_path() + " --input " + dir_ + "/ok.jsonl --val-fraction 1.5 --out " + dir_ +
               "/o");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--val-fraction"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace zaya

namespace zaya {
namespace {

TEST(DatasetManifest, RecordsTheUnigramEntropyOfEachSplit) {
  auto dir = std::filesystem::temp_directory_path() / ("zaya_entropy_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  DatasetWriter w(dir.string(), "e", 16, 1000);
  w.add(Split::Train, std::vector<int32_t>{3, 3, 5, 5});  // two tokens, equally often
  w.add(Split::Val, std::vector<int32_t>{7, 7, 7});        // one token
  w.finish(nlohmann::json::object());
  auto m = nlohmann::json::parse(read_file((dir / "e.json").string()));
  EXPECT_NEAR(m["train"]["unigram_entropy_nats"].get<double>(), std::log(2.0), 1e-12);
  EXPECT_EQ(m["val"]["unigram_entropy_nats"].get<double>(), 0.0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zaya
