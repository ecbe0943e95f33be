// Byte-level BPE training (src/tokenizer/train.h, `zaya tokenizer train`): the trained tokenizer.json
// round-trips the test corpus through zaya's Tokenizer, the Python `tokenizers` library encodes it
// identically (tools/reference/check_trained_tokenizer.py), training is deterministic, the merges
// equal a naive reference BPE, and the command line reports bad input cleanly.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "core/fileutil.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "test_util.h"
#include "tokenizer/train.h"

namespace zaya {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kCorpus = ZAYA_SOURCE_DIR "/tests/data/tokenizer/corpus.jsonl";
const std::string kCheckScript = ZAYA_SOURCE_DIR "/tools/reference/check_trained_tokenizer.py";

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs = [] {
    std::vector<std::string> out;
    std::istringstream in(read_file(kCorpus));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      out.push_back(json::parse(line).at("text").get<std::string>());
    }
    return out;
  }();
  return docs;
}

BpeTrainConfig corpus_config() {
  BpeTrainConfig cfg;
  cfg.vocab_size = 4096;
  return cfg;
}

// The tokenizer trained on the corpus file (vocabulary 4096), shared by the tests.
const BpeTrainResult& trained() {
  static const BpeTrainResult r = [] {
    BpeTrainer t(corpus_config());
    t.add_files({kCorpus});
    return t.train();
  }();
  return r;
}

class TokenizerTrainFiles : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("zaya_toktrain_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

// ---------------------------------------------------------------------------------- (a) round trip

TEST(TokenizerTrain, CorpusRoundTripsThroughZaya) {
  const BpeTrainResult& r = trained();
  EXPECT_EQ(r.vocab_size, 4096);
  EXPECT_GE(r.merges.size(), size_t(4096 - 4 - 256));  // more if a merge re-made an existing token
  EXPECT_EQ(r.documents, corpus().size());
  Tokenizer tok = Tokenizer::from_json_string(r.json, "trained tokenizer.json");
  EXPECT_EQ(tok.vocab_size(), 4096);
  EXPECT_EQ(tok.token_to_id("<pad>"), 0);
  EXPECT_EQ(tok.token_to_id("<eos>"), 1);
  EXPECT_EQ(tok.token_to_id("<bos>"), 2);
  EXPECT_EQ(tok.token_to_id("<unk>"), 3);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_TRUE(tok.is_special(3));
  EXPECT_EQ(tok.id_to_token(4 + ' '), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(tok.id_to_token(4 + 'A'), "A");
  size_t tokens = 0, bytes = 0;
  for (size_t i = 0; i < corpus().size(); ++i) {
    const std::string& doc = corpus()[i];
    const std::vector<int32_t> ids = tok.encode(doc, false);
    ASSERT_EQ(tok.decode(ids), doc) << "document " << i;
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 4096);
    const std::vector<int32_t> with_bos = tok.encode(doc, true);
    ASSERT_EQ(with_bos.size(), ids.size() + 1);
    ASSERT_EQ(with_bos[0], 2);
    tokens += ids.size();
    bytes += doc.size();
  }
  // A 4096-token BPE compresses this corpus well below a token per byte.
  EXPECT_LT(double(tokens), 0.5 * double(bytes)) << tokens << " tokens for " << bytes << " bytes";
  // Any byte string is encodable (all 256 bytes are tokens), and unseen text round-trips.
  const std::string odd = std::string("\x00\x01\xff\xfe", 4) + "zqxj \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC";
  EXPECT_EQ(tok.decode(tok.encode(odd.substr(4), false)), odd.substr(4));
  EXPECT_FALSE(tok.encode(odd, false).empty());
}

// ------------------------------------------------------------------ (b) the Python library agrees

TEST_F(TokenizerTrainFiles, PythonTokenizersEncodesIdentically) {
  if (std::system("python3 -c 'import tokenizers' >/dev/null 2>&1") != 0) {
    FAIL() << "python3 with the `tokenizers` module is required to check the trained tokenizer.json against the "
              "reference library: pip install tokenizers";
  }
  const std::string tok_path = path("tokenizer.json");
  write_file_atomic(tok_path, trained().json);
  Tokenizer tok = Tokenizer::from_file(tok_path);
  std::string lines;
  for (const std::string& doc : corpus()) {
    lines += json{{"ids", tok.encode(doc, false)}, {"ids_special", tok.encode(doc, true)}}.dump() + "\n";
  }
  const std::string ids_path = path("zaya.ids.jsonl");
  write_file_atomic(ids_path, lines);
  const std::string log = path("check.log");
  const std::string cmd = "python3 " + kCheckScript + " " + tok_path + " " + kCorpus + " " + ids_path + " > " + log + " 2>&1";
  const int st = std::system(cmd.c_str());
  const std::string out = file_exists(log) ? read_file(log) : "";
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd << "\n" << out;
  EXPECT_NE(out.find("ok: " + std::to_string(corpus().size()) + " documents"), std::string::npos) << out;
}

// ------------------------------------------------------------------------------- (c) determinism

TEST_F(TokenizerTrainFiles, TrainingIsDeterministic) {
  // The same file again, single-threaded.
  BpeTrainConfig one = corpus_config();
  one.threads = 1;
  EXPECT_EQ(train_bpe_bytelevel_files({kCorpus}, one), trained().json);
  // The documents from memory, two threads.
  BpeTrainConfig two = corpus_config();
  two.threads = 2;
  EXPECT_EQ(train_bpe_bytelevel(corpus(), two), trained().json);
}

TEST_F(TokenizerTrainFiles, LongDocumentsCountedInPiecesGiveTheSameResult) {
  // The whole corpus as one text: counted whole, in 4 KB pieces from memory, and streamed from a
  // .txt file in 4 KB blocks.
  std::string all;
  for (const std::string& d : corpus()) all += d + "\n";
  BpeTrainConfig whole = corpus_config();
  whole.vocab_size = 1024;
  whole.chunk_bytes = size_t{1} << 30;
  const std::string expected = train_bpe_bytelevel({all}, whole);
  BpeTrainConfig pieces = whole;
  pieces.chunk_bytes = 4096;
  EXPECT_EQ(train_bpe_bytelevel({all}, pieces), expected);
  write_file_atomic(path("all.txt"), all);
  EXPECT_EQ(train_bpe_bytelevel_files({path("all.txt")}, pieces), expected);
}

TEST(TokenizerTrain, SafeCutsDoNotChangeThePreTokenization) {
  std::string all;
  for (const std::string& d : corpus()) all += d + "\n";
  std::vector<std::pair<size_t, size_t>> whole, left, right;
  tok::gpt2_split(all, whole);
  std::set<size_t> boundaries;
  for (const auto& [a, b] : whole) boundaries.insert(a);
  size_t cuts = 0;
  for (size_t window = 64; window < all.size(); window += 997) {
    const size_t p = bpe_detail::last_safe_cut(std::string_view(all).substr(0, window));
    if (p == 0) continue;
    ASSERT_LT(p, window);
    ASSERT_EQ(all[p - 1], '\n');
    ASSERT_TRUE(boundaries.count(p)) << "cut at " << p << " is inside a pre-tokenized word";
    ++cuts;
  }
  EXPECT_GT(cuts, 1000u);
  // Both sides split exactly as the whole does around a cut.
  const size_t p = bpe_detail::last_safe_cut(std::string_view(all).substr(0, all.size() / 2));
  ASSERT_GT(p, 0u);
  tok::gpt2_split(std::string_view(all).substr(0, p), left);
  tok::gpt2_split(std::string_view(all).substr(p), right);
  std::vector<std::pair<size_t, size_t>> joined = left;
  for (const auto& [a, b] : right) joined.emplace_back(a + p, b + p);
  EXPECT_EQ(joined, whole);
  // No cut next to white space or without a newline.
  EXPECT_EQ(bpe_detail::last_safe_cut("abcdefghijklmnop"), 0u);
  EXPECT_EQ(bpe_detail::last_safe_cut("abc \nxyzuvw"), 0u);
  EXPECT_EQ(bpe_detail::last_safe_cut("abc\n xyzuvw"), 0u);
  EXPECT_EQ(bpe_detail::last_safe_cut("abc\n\nxyzuvw"), 0u);
  EXPECT_EQ(bpe_detail::last_safe_cut("abc\nxyzuvw"), 4u);
  EXPECT_EQ(bpe_detail::last_safe_cut("abc\xE3\x80\x80\nxyzuvw"), 0u);  // U+3000 is white space
  EXPECT_EQ(bpe_detail::last_safe_cut("abc\nx\xE3\x80\x80\nyzuvw"), 4u);
}

// --------------------------------------------------------------------------------- (d) the merges

// Naive BPE on the same words: every step recounts all pairs from scratch.
std::vector<BpeMerge> reference_merges(const std::vector<std::string>& docs, const std::vector<std::string>& specials,
                                       size_t steps) {
  std::map<std::string, int64_t> words;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const std::string& doc : docs) {
    std::vector<std::string_view> segments;
    std::string_view rest = doc;
    while (true) {  // cut out the special tokens (none is a prefix of another)
      size_t best = std::string_view::npos, len = 0;
      for (const std::string& s : specials) {
        const size_t at = rest.find(s);
        if (at < best) best = at, len = s.size();
      }
      if (best == std::string_view::npos) break;
      segments.push_back(rest.substr(0, best));
      rest.remove_prefix(best + len);
    }
    segments.push_back(rest);
    for (std::string_view seg : segments) {
      tok::gpt2_split(seg, spans);
      for (const auto& [a, b] : spans) ++words[std::string(seg.substr(a, b - a))];
    }
  }
  std::vector<std::string> vocab(specials);
  for (int b = 0; b < 256; ++b) vocab.push_back(tok::byte_level_chars()[size_t(b)]);
  std::vector<std::pair<std::vector<int32_t>, int64_t>> w;
  for (const auto& [s, n] : words) {
    std::vector<int32_t> v;
    for (unsigned char c : s) v.push_back(int32_t(specials.size()) + c);
    w.emplace_back(v, n);
  }
  std::vector<BpeMerge> out;
  for (size_t step = 0; step < steps; ++step) {
    std::map<std::pair<int32_t, int32_t>, int64_t> counts;  // ordered by (left id, right id)
    for (const auto& [v, n] : w)
      for (size_t i = 0; i + 1 < v.size(); ++i) counts[{v[i], v[i + 1]}] += n;
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_n = 0;
    for (const auto& [p, n] : counts)
      if (n > best_n) best = p, best_n = n;  // strict: the first (smallest ids) of equal counts wins
    if (best_n < 2) break;
    const int32_t c = int32_t(vocab.size());
    vocab.push_back(vocab[size_t(best.first)] + vocab[size_t(best.second)]);
    out.push_back({vocab[size_t(best.first)], vocab[size_t(best.second)], best_n});
    for (auto& [v, n] : w) {
      std::vector<int32_t> nv;
      for (size_t i = 0; i < v.size();) {
        if (i + 1 < v.size() && v[i] == best.first && v[i + 1] == best.second) {
          nv.push_back(c);
          i += 2;
        } else {
          nv.push_back(v[i++]);
        }
      }
      v = std::move(nv);
    }
  }
  return out;
}

TEST(TokenizerTrain, FirstMergesEqualNaiveReferenceBpe) {
  const auto& merges = trained().merges;
  const auto ref = reference_merges(corpus(), corpus_config().special_tokens, 40);
  ASSERT_EQ(ref.size(), 40u);
  ASSERT_GE(merges.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(merges[i].left, ref[i].left) << "merge " << i;
    EXPECT_EQ(merges[i].right, ref[i].right) << "merge " << i;
    EXPECT_EQ(merges[i].count, ref[i].count) << "merge " << i;
  }
  // The chosen pair's count never increases (new pairs are at most as frequent as the merge that
  // made them) and never falls below min_frequency.
  for (size_t i = 1; i < merges.size(); ++i) {
    ASSERT_LE(merges[i].count, merges[i - 1].count) << "merge " << i;
  }
  EXPECT_GE(merges.back().count, 2);
  // The very first merge of English-heavy text joins a space with a letter or two letters.
  EXPECT_GT(merges[0].count, 5000);
}

TEST(TokenizerTrain, TieBreakPrefersSmallerIds) {
  BpeTrainConfig cfg;
  cfg.special_tokens = {};
  cfg.add_bos = false;
  cfg.vocab_size = 300;
  // aa:4, then (aa,a):2 and (a,b):2 tie: "a" (id 97) is older than "aa" (id 256), so a+b wins.
  BpeTrainer t(cfg);
  t.add_document("aaabdaaabac");
  BpeTrainResult r = t.train();
  ASSERT_EQ(r.merges.size(), 3u);
  EXPECT_EQ(r.merges[0].left + "|" + r.merges[0].right, "a|a");
  EXPECT_EQ(r.merges[0].count, 4);
  EXPECT_EQ(r.merges[1].left + "|" + r.merges[1].right, "a|b");
  EXPECT_EQ(r.merges[2].left + "|" + r.merges[2].right, "aa|ab");
  EXPECT_EQ(r.merges[2].count, 2);
  EXPECT_EQ(r.vocab_size, 259);  // then every pair occurs once (< min_frequency 2)

  // All pairs once, min_frequency 1: byte order decides ("Ġ" is byte 0x20, before "a" and "b").
  cfg.min_frequency = 1;
  BpeTrainer t2(cfg);
  t2.add_documents({"ba", " ab"});
  r = t2.train();
  ASSERT_EQ(r.merges.size(), 3u);
  EXPECT_EQ(r.merges[0].left + "|" + r.merges[0].right, "\xC4\xA0|a");
  EXPECT_EQ(r.merges[1].left + "|" + r.merges[1].right, "b|a");
  EXPECT_EQ(r.merges[2].left + "|" + r.merges[2].right, "\xC4\xA0" "a|b");
  Tokenizer tok = Tokenizer::from_json_string(r.json, "tiny");
  EXPECT_EQ(tok.encode(" ab", true), (std::vector<int32_t>{258}));  // no <bos>: ByteLevel post-processor
  EXPECT_EQ(tok.encode("bab", true), (std::vector<int32_t>{257, 'b'}));
}

TEST(TokenizerTrain, SpecialTokenTextIsNotLearned) {
  BpeTrainConfig cfg;
  cfg.vocab_size = 270;
  cfg.special_tokens = {"<bos>", "[[x]]"};
  BpeTrainer t(cfg);
  for (int i = 0; i < 50; ++i) t.add_document("[[x]][[x]]<bos>");
  EXPECT_THROW(t.train(), Error);  // nothing but special tokens: no words
  BpeTrainer t2(cfg);
  for (int i = 0; i < 50; ++i) t2.add_document("[[x]]qq[[x]]");
  const BpeTrainResult r = t2.train();
  ASSERT_EQ(r.merges.size(), 1u);
  EXPECT_EQ(r.merges[0].left + r.merges[0].right, "qq");
  EXPECT_EQ(r.merges[0].count, 50);
  Tokenizer tok = Tokenizer::from_json_string(r.json, "specials");
  EXPECT_EQ(tok.encode("[[x]]qq", true), (std::vector<int32_t>{0, 1, 258}));
}

TEST(TokenizerTrain, BadConfigurationsThrow) {
  BpeTrainConfig cfg;
  cfg.vocab_size = 259;  // 4 specials + 256 bytes = 260
  EXPECT_THROW(BpeTrainer{cfg}, Error);
  cfg.vocab_size = 260;
  EXPECT_NO_THROW(BpeTrainer{cfg});
  cfg.special_tokens = {"<pad>", "<pad>", "<bos>"};
  EXPECT_THROW(BpeTrainer{cfg}, Error);
  cfg.special_tokens = {"<pad>", ""};
  EXPECT_THROW(BpeTrainer{cfg}, Error);
  cfg.special_tokens = {"<pad>"};  // add_bos without <bos>
  EXPECT_THROW(BpeTrainer{cfg}, Error);
  cfg.add_bos = false;
  BpeTrainer empty(cfg);
  empty.add_documents({"", ""});
  try {
    empty.train();
    ADD_FAILURE() << "training on empty documents did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------- (e) the CLI

using Result = test::RunResult;
using test::expect_clean_error;
using test::run_zaya;



TEST_F(TokenizerTrainFiles, CliTrainsAndWritesTokenizerJson) {
  const std::string out = path("tok.json");
  Result r = run_zaya("tokenizer train --input " + kCorpus + " --vocab-size 1000 --out " + out + " --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  EXPECT_FALSE(file_exists(out + ".tmp"));
  Tokenizer tok = Tokenizer::from_file(out);
  EXPECT_EQ(tok.vocab_size(), 1000);
  const std::vector<int32_t> ids = tok.encode("Hello, world!", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], tok.bos_id());
  EXPECT_EQ(tok.decode(ids, true), "Hello, world!");
  // The library call with the same settings writes the same file.
  BpeTrainConfig cfg;
  cfg.vocab_size = 1000;
  EXPECT_EQ(read_file(out), train_bpe_bytelevel_files({kCorpus}, cfg));

  // Several inputs (a .txt and a .jsonl read as JSONL by --jsonl), own special tokens, no BOS.
  write_file_atomic(path("a.txt"), "the cat sat on the mat\nthe cat sat\n");
  write_file_atomic(path("b.data"), "{\"text\": \"the mat\"}\n\n{\"text\": \"<|endoftext|>the cat\"}\n");
  const std::string out2 = path("tok2.json");
  r = run_zaya("tokenizer train --input " + path("a.txt") + " " + path("b.data") + " --jsonl --vocab-size 300 " +
               "--min-frequency 1 --special '<|endoftext|>' --no-bos --out " + out2);
  // --jsonl makes a.txt invalid JSONL: its first line is not JSON.
  expect_clean_error(r, {path("a.txt") + ":1"});
  EXPECT_FALSE(file_exists(out2));
  r = run_zaya("tokenizer train -i " + path("a.txt") + " -i " + path("b.data") + " --vocab-size 300 " +
               "--min-frequency 1 --special '<|endoftext|>' --no-bos --out " + out2 + " -q");
  ASSERT_EQ(r.code, 0) << r.out;
  Tokenizer tok2 = Tokenizer::from_file(out2);
  EXPECT_EQ(tok2.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok2.id_to_token(1 + '!'), "!");  // the bytes follow the one special token
  EXPECT_EQ(tok2.encode("the cat", true), tok2.encode("the cat", false));  // no <bos> added
  EXPECT_LE(tok2.encode(" the cat", false).size(), 2u);
}

TEST_F(TokenizerTrainFiles, CliEmptyInputFailsAndWritesNothing) {
  const std::string out = path("tok.json");
  write_file_atomic(path("empty.txt"), "");
  expect_clean_error(run_zaya("tokenizer train --input " + path("empty.txt") + " --vocab-size 1000 --out " + out),
                     {"empty"});
  EXPECT_FALSE(file_exists(out));
  write_file_atomic(path("blank.jsonl"), "\n  \n\n");
  expect_clean_error(run_zaya("tokenizer train --input " + path("blank.jsonl") + " --vocab-size 1000 --out " + out),
                     {"empty"});
  EXPECT_FALSE(file_exists(out));
  expect_clean_error(run_zaya("tokenizer train --input " + kCorpus + " --vocab-size 100 --out " + out),
                     {"--vocab-size 100", "260"});
  EXPECT_FALSE(file_exists(out));
  expect_clean_error(run_zaya("tokenizer train --input " + path("missing.jsonl") + " --vocab-size 1000 --out " + out),
                     {"missing.jsonl", "cannot open"});
  expect_clean_error(run_zaya("tokenizer train --input " + kCorpus + " --vocab-size 1000 --special '<s>' --out " + out),
                     {"<bos>", "--no-bos"});
  EXPECT_FALSE(file_exists(out));
}

TEST_F(TokenizerTrainFiles, CliBadJsonlLineNamesFileAndLine) {
  const std::string out = path("tok.json");
  write_file_atomic(path("bad.jsonl"), "{\"text\": \"fine\"}\n\n{\"text\": \"broken\n");
  expect_clean_error(run_zaya("tokenizer train --input " + path("bad.jsonl") + " --vocab-size 1000 --out " + out),
                     {path("bad.jsonl") + ":3", "invalid JSON"});
  write_file_atomic(path("bad2.jsonl"), "{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n");
  expect_clean_error(run_zaya("tokenizer train --input " + path("bad2.jsonl") + " --vocab-size 1000 --out " + out),
                     {path("bad2.jsonl") + ":2", "\"text\""});
  EXPECT_FALSE(file_exists(out));
}

TEST(TokenizerTrain, CliHelp) {
  Result r = run_zaya("tokenizer train --help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* s : {"--input", "--jsonl", "--vocab-size", "--out", "--min-frequency", "--special", "--no-bos"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " missing in:\n" << r.out;
  }
  r = run_zaya("tokenizer --help");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("train"), std::string::npos) << r.out;
  r = run_zaya("tokenizer train --input x.jsonl --out y.json");  // --vocab-size is required
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("vocab-size"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace zaya
