// Tokenizer tests: ids identical to the Python `tokenizers` library on a ~1.3 MB corpus for the
// Gemma 3 tokenizer and a GPT-2 style byte-level tokenizer (plus variants of it), decode
// round trips, the streaming decoder, and malformed tokenizer.json files.
// Golden data: tools/reference/make_tokenizer_golden.py -> tests/data/tokenizer/.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/fileutil.h"
#include "tokenizer/tokenizer.h"

namespace {

using zaya::Tokenizer;
using json = nlohmann::json;

// $ZAYA_TOKENIZER_DATA points the test at another golden set (scripts/long-checks.sh makes a larger one).
const std::string kDataDir = std::getenv("ZAYA_TOKENIZER_DATA") ? std::getenv("ZAYA_TOKENIZER_DATA")
                                                                  : ZAYA_SOURCE_DIR "/tests/data/tokenizer";
const std::string kGemmaPath = ZAYA_SOURCE_DIR "/../shared/data/gemma3/tokenizer.json";
const std::string kByteLevelPath = kDataDir + "/bytelevel/tokenizer.json";

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs = [] {
    std::vector<std::string> out;
    std::istringstream in(zaya::read_file(kDataDir + "/corpus.jsonl"));
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line).at("text").get<std::string>());
    return out;
  }();
  return docs;
}

// b"ZAYAIDS1" then LEB128 varints: document count, then per document the count and the ids.
std::vector<std::vector<int32_t>> read_ids(const std::string& name) {
  const std::string data = zaya::read_file(kDataDir + "/" + name);
  if (data.compare(0, 8, "ZAYAIDS1") != 0) throw std::runtime_error(name + ": bad magic");
  size_t pos = 8;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= data.size() || shift > 35) throw std::runtime_error(name + ": truncated");
      const auto b = static_cast<unsigned char>(data[pos++]);
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  std::vector<std::vector<int32_t>> out(varint());
  for (auto& ids : out) {
    ids.resize(varint());
    for (auto& id : ids) id = int32_t(varint());
  }
  return out;
}

const Tokenizer& bytelevel() {
  static const Tokenizer t = Tokenizer::from_file(kByteLevelPath);
  return t;
}

const Tokenizer* gemma() {
  static const std::unique_ptr<Tokenizer> t =
      zaya::file_exists(kGemmaPath) ? std::make_unique<Tokenizer>(Tokenizer::from_file(kGemmaPath)) : nullptr;
  return t.get();
}

#define REQUIRE_GEMMA()                                                                   \
  if (!gemma()) GTEST_SKIP() << "Gemma 3 tokenizer not found at " << kGemmaPath          \
                             << " (the shared data folder is not present on this machine)"

std::string show_ids(const std::vector<int32_t>& ids, size_t at) {
  std::ostringstream os;
  const size_t lo = at >= 3 ? at - 3 : 0;
  os << "[" << lo << ":] ";
  for (size_t i = lo; i < ids.size() && i < at + 5; ++i) os << ids[i] << (i == at ? "* " : " ");
  return os.str();
}

// Compares encode(doc) with the golden ids for docs[0], docs[stride], ...; reports the first
// mismatching document and position.
void expect_matches_golden(const Tokenizer& tok, const std::string& ids_file, size_t stride) {
  const auto& docs = corpus();
  const auto expected = read_ids(ids_file);
  ASSERT_EQ(expected.size(), (docs.size() + stride - 1) / stride) << ids_file;
  size_t mismatches = 0, total = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const std::string& text = docs[k * stride];
    const std::vector<int32_t> got = tok.encode(text);
    total += got.size();
    if (got == expected[k]) continue;
    if (mismatches++ == 0) {
      size_t at = 0;
      while (at < got.size() && at < expected[k].size() && got[at] == expected[k][at]) ++at;
      ADD_FAILURE() << ids_file << ": first mismatch in document " << k * stride << " at id position " << at
                    << "\n  expected " << show_ids(expected[k], at) << "(" << expected[k].size() << " ids)"
                    << "\n  got      " << show_ids(got, at) << "(" << got.size() << " ids)"
                    << "\n  text: " << json(text.substr(0, 300)).dump();
    }
  }
  EXPECT_EQ(mismatches, 0u) << ids_file << ": documents that differ from the Python library";
  std::cout << "[ ids      ] " << ids_file << ": " << expected.size() << " documents, " << total << " ids\n";
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// decode(golden ids) must hash like the Python library's decode, with and without
// skip_special_tokens.
void expect_decode_matches_golden(const Tokenizer& tok, const std::string& name) {
  const auto ids = read_ids(name + ".ids");
  const std::string hashes = zaya::read_file(kDataDir + "/" + name + ".decode");
  ASSERT_EQ(hashes.size(), 8 + ids.size() * 16) << name << ".decode";
  ASSERT_EQ(hashes.compare(0, 8, "ZAYADEC1"), 0);
  size_t failures = 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    for (int skip = 0; skip < 2; ++skip) {
      uint64_t want = 0;
      for (int b = 7; b >= 0; --b) want = (want << 8) | static_cast<unsigned char>(hashes[8 + k * 16 + skip * 8 + b]);
      const std::string got = tok.decode(ids[k], skip != 0);
      if (fnv1a64(got) != want && failures++ == 0) {
        ADD_FAILURE() << name << ": decode differs from the Python library for document " << k
                      << (skip ? " (skip_special_tokens)" : "") << "\n  got: " << json(got).dump();
      }
    }
  }
  EXPECT_EQ(failures, 0u);
}

// decode(encode(x, add_special_tokens=false)) == x, except for documents containing `lossy`
// texts (which the decoder does not give back verbatim, in the Python library too).
void expect_round_trip(const Tokenizer& tok, const char* name, const std::vector<std::string>& lossy) {
  size_t checked = 0, failures = 0;
  for (size_t k = 0; k < corpus().size(); ++k) {
    const std::string& text = corpus()[k];
    bool skip = false;
    for (const std::string& l : lossy) skip = skip || text.find(l) != std::string::npos;
    if (skip) continue;
    ++checked;
    const std::string back = tok.decode(tok.encode(text, /*add_special_tokens=*/false));
    if (back != text && failures++ == 0) {
      ADD_FAILURE() << name << ": decode(encode(x)) != x for document " << k << "\n  text: " << json(text).dump()
                    << "\n  back: " << json(back).dump();
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(checked, corpus().size() / 2);
}

void expect_stream_equals_decode(const Tokenizer& tok, const char* name) {
  size_t failures = 0;
  for (size_t k = 0; k < corpus().size(); ++k) {
    const std::vector<int32_t> ids = tok.encode(corpus()[k]);
    for (bool skip : {false, true}) {
      zaya::StreamDecoder stream(tok, skip);
      std::string text;
      for (int32_t id : ids) text += stream.push(id);
      text += stream.flush();
      const std::string want = tok.decode(ids, skip);
      if (text != want && failures++ == 0) {
        ADD_FAILURE() << name << ": streamed text differs from decode() for document " << k
                      << (skip ? " (skip_special_tokens)" : "") << "\n  want: " << json(want).dump()
                      << "\n  got:  " << json(text).dump();
      }
    }
  }
  EXPECT_EQ(failures, 0u);
}

// ------------------------------------------------------------------- golden ids

TEST(Tokenizer, ByteLevelMatchesPython) { expect_matches_golden(bytelevel(), "bytelevel.ids", 1); }

TEST(Tokenizer, Gemma3MatchesPython) {
  REQUIRE_GEMMA();
  expect_matches_golden(*gemma(), "gemma3.ids", 1);
}

TEST(Tokenizer, ByteLevelVariantsMatchPython) {
  const json variants = json::parse(zaya::read_file(kDataDir + "/variants.json"));
  const std::string base_text = zaya::read_file(kByteLevelPath);
  ASSERT_FALSE(variants.empty());
  for (const json& v : variants) {
    json j = json::parse(base_text);
    for (auto it = v.at("patch").begin(); it != v.at("patch").end(); ++it) j[it.key()] = it.value();
    if (v.value("legacy_merges", false)) {
      json merges = json::array();
      for (const json& m : j["model"]["merges"]) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      j["model"]["merges"] = merges;
    }
    const std::string name = v.at("name");
    SCOPED_TRACE(name);
    const Tokenizer tok = Tokenizer::from_json_string(j.dump(), "variant " + name);
    expect_matches_golden(tok, "variant_" + name + ".ids", v.at("stride").get<size_t>());
  }
}

// ----------------------------------------------------------------------- decode

TEST(Tokenizer, ByteLevelDecodeMatchesPython) { expect_decode_matches_golden(bytelevel(), "bytelevel"); }

TEST(Tokenizer, Gemma3DecodeMatchesPython) {
  REQUIRE_GEMMA();
  expect_decode_matches_golden(*gemma(), "gemma3");
}

TEST(Tokenizer, ByteLevelRoundTrip) {
  // Lossy by design, in the Python library too: added tokens whose text is not in the
  // byte-level alphabet ("Ġworld" decodes to " world", "ünï" to invalid bytes), and the
  // lstrip/rstrip tokens <mask> and <rs>, which swallow the whitespace next to them.
  expect_round_trip(bytelevel(), "bytelevel", {"\xC4\xA0world", "\xC3\xBCn\xC3\xAF", "<mask>", "<rs>"});
}

TEST(Tokenizer, Gemma3RoundTrip) {
  REQUIRE_GEMMA();
  expect_round_trip(*gemma(), "gemma3", {"\xE2\x96\x81"});  // U+2581 decodes to ' '

  // With add_special_tokens the template adds <bos>, which skip_special_tokens drops again.
  const std::string text = "Hello world, this is  a test.\n\tTabs\n";
  EXPECT_EQ(gemma()->decode(gemma()->encode(text)), "<bos>" + text);
  EXPECT_EQ(gemma()->decode(gemma()->encode(text), /*skip_special_tokens=*/true), text);
}

TEST(Tokenizer, ByteLevelStreamDecoder) { expect_stream_equals_decode(bytelevel(), "bytelevel"); }

TEST(Tokenizer, Gemma3StreamDecoder) {
  REQUIRE_GEMMA();
  expect_stream_equals_decode(*gemma(), "gemma3");
  const Tokenizer& g = *gemma();
  // A character only reachable through byte fallback is held back until complete.
  const std::vector<int32_t> ids = g.encode("\xF3\xB0\x80\x80 x", false);  // U+F0000 (private use)
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(g.id_to_token(ids[0]), "<0xF3>");
  zaya::StreamDecoder stream(g);
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  std::string text;
  for (size_t i = 2; i < ids.size(); ++i) text += stream.push(ids[i]);
  text += stream.flush();
  EXPECT_EQ(text, "\xF3\xB0\x80\x80 x");
}

TEST(Tokenizer, StreamDecoderSurvivesArbitraryIds) {
  std::mt19937 rng(7);
  std::vector<const Tokenizer*> toks{&bytelevel()};
  if (gemma()) toks.push_back(gemma());
  for (const Tokenizer* tok : toks) {
    for (int round = 0; round < 200; ++round) {
      zaya::StreamDecoder stream(*tok);
      std::vector<int32_t> ids;
      std::string text;
      for (int i = 0; i < 50; ++i) {
        // Mostly byte tokens and small ids (for Gemma 3 ids 3..258 hold the <0xXX> tokens), some junk.
        const int32_t id = rng() % 4 == 0 ? int32_t(rng() % uint32_t(tok->vocab_size() + 10)) - 5 : int32_t(rng() % 300);
        ids.push_back(id);
        text += stream.push(id);
      }
      text += stream.flush();
      EXPECT_FALSE(text.empty() && !tok->decode(ids).empty());
    }
  }
}

// -------------------------------------------------------------------------- API

TEST(Tokenizer, Gemma3Vocabulary) {
  REQUIRE_GEMMA();
  const Tokenizer& g = *gemma();
  EXPECT_EQ(g.vocab_size(), 262145);  // 262144 model tokens + <image_soft_token>
  EXPECT_EQ(g.bos_id(), 2);
  EXPECT_EQ(g.eos_id(), 1);
  EXPECT_EQ(g.pad_id(), 0);
  EXPECT_EQ(g.token_to_id("<start_of_turn>"), 105);
  EXPECT_EQ(g.token_to_id("<image_soft_token>"), 262144);
  EXPECT_EQ(g.token_to_id("no such token here"), -1);
  EXPECT_EQ(g.id_to_token(2), "<bos>");
  EXPECT_EQ(g.id_to_token(-1), "");
  EXPECT_EQ(g.id_to_token(1 << 30), "");
  EXPECT_TRUE(g.is_special(2));
  EXPECT_TRUE(g.is_special(106));
  EXPECT_FALSE(g.is_special(107));  // "\n" is an added token but not special
  EXPECT_FALSE(g.is_special(1000));
  EXPECT_EQ(g.encode("").size(), 1u);  // just <bos>
  EXPECT_TRUE(g.encode("", false).empty());
  EXPECT_EQ(g.decode({2, 105, 1000000, -7, 106}, true), "");
}

TEST(Tokenizer, ByteLevelVocabulary) {
  const Tokenizer& t = bytelevel();
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.pad_id(), 3);
  EXPECT_TRUE(t.is_special(t.token_to_id("<mask>")));
  EXPECT_FALSE(t.is_special(t.token_to_id("[WORD]")));
  EXPECT_GT(t.vocab_size(), 4000);
  EXPECT_EQ(t.decode(t.encode("a<|endoftext|>b"), true), "ab");
}

TEST(Tokenizer, InvalidUtf8IsRepairedLikePython) {
  std::vector<const Tokenizer*> toks{&bytelevel()};
  if (gemma()) toks.push_back(gemma());
  const std::string replacement = "\xEF\xBF\xBD";
  for (const Tokenizer* tok : toks) {
    // Python: b"...".decode("utf-8", "replace")
    EXPECT_EQ(tok->encode("a\xFF" "b"), tok->encode("a" + replacement + "b"));
    EXPECT_EQ(tok->encode("\xE2\x82 x"), tok->encode(replacement + " x"));       // truncated sequence
    EXPECT_EQ(tok->encode("\xED\xA0\x80"), tok->encode(replacement + replacement + replacement));  // surrogate
    EXPECT_EQ(tok->encode("\xC0\xAF<bos>\xF4"), tok->encode(replacement + replacement + "<bos>" + replacement));
    EXPECT_EQ(tok->decode(tok->encode(std::string("\x00\x01\x7F", 3), false)), std::string("\x00\x01\x7F", 3));
  }
}

// --------------------------------------------------------------- malformed files

std::string error_of(const std::string& json_text) {
  try {
    Tokenizer::from_json_string(json_text, "bad.json");
  } catch (const zaya::Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string minimal_json(const std::string& model, const std::string& extra = "") {
  return "{" + extra + "\"model\": " + model + "}";
}

const std::string kModel =
    R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})";

TEST(Tokenizer, MinimalTokenizerWorks) {
  const Tokenizer t = Tokenizer::from_json_string(minimal_json(kModel), "mini");
  EXPECT_EQ(t.encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t.encode("ba"), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(t.encode("xa"), (std::vector<int32_t>{0}));  // no unk token: unknown characters vanish
  EXPECT_EQ(t.decode({2, 1}), "ab b");                   // no decoder: tokens joined by spaces
  const Tokenizer legacy = Tokenizer::from_json_string(
      minimal_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["#version: 0.2", "a b"]})"), "mini");
  EXPECT_EQ(legacy.encode("ab"), (std::vector<int32_t>{2}));
}

TEST(Tokenizer, MalformedJsonThrowsNamedErrors) {
  struct Case {
    std::string json;
    std::string expect;  // substring of the message
  };
  const std::vector<Case> cases = {
      {"", "invalid JSON"},
      {"{\"model\": {\"type\": \"BPE\"", "invalid JSON"},
      {"[1, 2]", "top level"},
      {"{}", "model is missing"},
      {"{\"model\": 3}", "model must be an object"},
      {minimal_json(R"({"type": "Unigram", "vocab": []})"), "model.type 'Unigram' is not supported"},
      {minimal_json(R"({"type": "BPE", "merges": []})"), "model.vocab is missing"},
      {minimal_json(R"({"type": "BPE", "vocab": [], "merges": []})"), "model.vocab must be an object"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": "x"}, "merges": []})"), "model.vocab['a'] must be an integer"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": -1}, "merges": []})"), "at least 0"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 99999999999}, "merges": []})"), "at most"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0}})"), "model.merges is missing"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": {}})"), "model.merges must be an array"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "c"]]})"), "model.merges[0] token 'c' is not in model.vocab"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]})"), "merged token 'ab'"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b c"]})"), "model.merges[0]"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a"]]})"), "model.merges[0] must be"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1})"), "model.dropout"},
      {minimal_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [], "fuse_unk": "yes"})"), "model.fuse_unk must be a boolean"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Foo"},)"), "pre_tokenizer.type 'Foo' is not supported"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Whitespace"},)"), "pre_tokenizer.type 'Whitespace' is not supported"},
      {minimal_json(kModel, R"("pre_tokenizer": {"kind": "Split"},)"), "pre_tokenizer.type is missing"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Metaspace"}]},)"),
       "pre_tokenizer.pretokenizers[0].type 'Metaspace' is not supported"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"},)"),
       "pre_tokenizer.pattern.Regex"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"},)"),
       "pre_tokenizer.behavior 'Sideways'"},
      {minimal_json(kModel, R"("pre_tokenizer": {"type": "Split", "pattern": {"String": ""}, "behavior": "Isolated"},)"),
       "pre_tokenizer.pattern.String must not be empty"},
      {minimal_json(kModel, R"("normalizer": {"type": "NFKC"},)"), "normalizer.type 'NFKC' is not supported"},
      {minimal_json(kModel, R"("normalizer": {"type": "Replace", "pattern": {"String": " "}},)"), "normalizer.content is missing"},
      {minimal_json(kModel, R"("normalizer": "Replace",)"), "normalizer must be an object"},
      {minimal_json(kModel, R"("decoder": {"type": "WordPiece"},)"), "decoder.type 'WordPiece' is not supported"},
      {minimal_json(kModel, R"("decoder": {"type": "Sequence", "decoders": 5},)"), "decoder.decoders must be an array"},
      {minimal_json(kModel, R"("post_processor": {"type": "Foo"},)"), "post_processor.type 'Foo' is not supported"},
      {minimal_json(kModel, R"("post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}},)"),
       "post_processor.special_tokens has no entry for '<s>'"},
      {minimal_json(kModel, R"("post_processor": {"type": "BertProcessing", "sep": ["</s>", 64], "cls": ["<s>", 0]},)"),
       "post_processor adds id 64, which is not in the vocabulary"},
      {minimal_json(kModel, R"("added_tokens": {},)"), "added_tokens must be an array"},
      {minimal_json(kModel, R"("added_tokens": [{"id": 0}],)"), "added_tokens[0].content is missing"},
      {minimal_json(kModel, R"("added_tokens": [{"id": 0, "content": "x", "special": 1}],)"), "added_tokens[0].special must be a boolean"},
  };
  for (const Case& c : cases) {
    const std::string msg = error_of(c.json);
    EXPECT_NE(msg.find("bad.json"), std::string::npos) << c.json << "\n  message: " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.json << "\n  expected: " << c.expect << "\n  message: " << msg;
  }
  EXPECT_THROW(Tokenizer::from_file(kDataDir + "/does-not-exist.json"), zaya::Error);
}

TEST(Tokenizer, TruncatedAndCorruptedFilesThrowZayaError) {
  const std::string text = zaya::read_file(kByteLevelPath);
  std::mt19937 rng(11);
  int loaded = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bad = text;
    if (i < 100) {
      bad.resize(rng() % text.size());
    } else {
      for (int k = 0; k < 1 + int(rng() % 4); ++k) bad[rng() % bad.size()] = "{}[]\",:0a\\ \x80"[rng() % 13];
    }
    try {
      const Tokenizer t = Tokenizer::from_json_string(bad, "corrupt");
      ++loaded;  // a corruption inside a string can still be valid; it must then work
      t.decode(t.encode("Hello <mask> world [WORD]\n\xF0\x9F\x98\x80"));
    } catch (const zaya::Error& e) {
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos);
    }
  }
  EXPECT_LT(loaded, 250);
}

TEST(Tokenizer, UnknownUnkTokenFailsAtEncode) {
  const Tokenizer t = Tokenizer::from_json_string(
      minimal_json(R"({"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []})"), "unk.json");
  EXPECT_EQ(t.encode("aa"), (std::vector<int32_t>{0, 0}));
  EXPECT_THROW(t.encode("ab"), zaya::Error);
}

}  // namespace
