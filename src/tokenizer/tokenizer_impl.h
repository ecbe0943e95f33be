// Internals of the tokenizer (see tokenizer.h). Not part of the public API.
// Each stage mirrors the corresponding stage of the Python `tokenizers` library:
//   unicode.cpp      UTF-8 helpers and character classes (tables in unicode_data.h)
//   added_vocab.cpp  added-token matching
//   pretokenize.cpp  normalizers, pre-tokenizers, the GPT-2 regex, the byte-level alphabet
//   bpe.cpp          the BPE model
//   decode.cpp       decoders, post-processors, StreamDecoder
//   load.cpp         tokenizer.json parsing
//   tokenizer.cpp    the encode/decode pipeline and the public API
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace zaya::tok {

// Replaces every non-overlapping occurrence of `pattern` (no-op if empty), left to right.
void replace_all(std::string& s, std::string_view pattern, std::string_view content);

// ---------------------------------------------------------------- unicode.cpp
enum : uint8_t {
  kClassL = 1,      // \p{L}
  kClassN = 2,      // \p{N}
  kClassSpace = 4,  // \s (White_Space)
  kClassWord = 8,   // Rust-regex \w
};
uint8_t char_class(uint32_t cp);
// Decodes the code point at s[i]. Never reads past s; an invalid or truncated sequence yields
// U+FFFD with *len = 1.
uint32_t next_cp(std::string_view s, size_t i, size_t* len);
// The code point that ends right before byte i (i > 0), with its length.
uint32_t prev_cp(std::string_view s, size_t i, size_t* len);
void append_utf8(std::string& out, uint32_t cp);
bool is_valid_utf8(std::string_view s);
// Like Rust's String::from_utf8_lossy and Python's bytes.decode("utf-8", "replace"):
// each maximal invalid subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view s);
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Heterogeneous-lookup hash for unordered containers keyed by std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

// ------------------------------------------------------------ pretokenize.cpp
struct Normalizer {
  enum class Kind { Replace, Prepend, Sequence };
  Kind kind = Kind::Sequence;
  std::string pattern;  // Replace: the literal to replace
  std::string content;  // Replace: replacement; Prepend: the prefix
  std::vector<Normalizer> children;
  // Throws zaya::Error when the text grows beyond `limit` bytes (pathological files only).
  void apply(std::string& s, size_t limit) const;
};

// Bound on intermediate text sizes: normalizers, pre-tokenizers and decoders may not grow a text
// of n bytes beyond this (real tokenizers grow it at most a few times).
inline size_t growth_limit(size_t n) { return 64 * n + (size_t{1} << 20); }
[[noreturn]] void throw_too_large(const char* stage);

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizer {
  enum class Kind { Split, ByteLevel, Sequence };
  Kind kind = Kind::Sequence;
  // Split
  std::string pattern;     // literal (when !gpt2_regex)
  bool gpt2_regex = false;  // pattern is the GPT-2 regex
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  // ByteLevel
  bool add_prefix_space = false;
  bool use_regex = true;
  std::vector<PreTokenizer> children;
  // Replaces `words` by the pre-tokenized words (empty words dropped).
  void apply(std::vector<std::string>& words, size_t limit) const;
};

// Byte ranges [first, second) of the GPT-2 regex matches; they partition s.
void gpt2_split(std::string_view s, std::vector<std::pair<size_t, size_t>>& out);
// Byte-level alphabet: UTF-8 of the code point standing for each byte, and the inverse
// (-1 for code points that stand for no byte).
const std::array<std::string, 256>& byte_level_chars();
int byte_level_byte(uint32_t cp);

// ------------------------------------------------------------ added_vocab.cpp
struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  // What id_to_token/decode give for it: the content, normalized when `normalized` is set
  // (as the library does).
  std::string text;
};

// Byte trie answering "longest pattern starting here" (aho-corasick LeftmostLongest semantics
// when scanned left to right).
class AddedTrie {
 public:
  void add(std::string_view pattern, int32_t id);
  bool empty() const { return node_id_.size() <= 1; }
  size_t longest_at(std::string_view text, size_t pos, int32_t* id) const;
  bool may_start(unsigned char b) const { return first_byte_[b]; }

 private:
  std::vector<int32_t> node_id_{-1};  // node 0 is the root
  std::unordered_map<uint64_t, uint32_t> edges_;  // (node << 8 | byte) -> child
  std::array<bool, 256> first_byte_{};
};

struct Span {
  size_t start, stop;
  int32_t id;  // -1: not an added token
};

struct AddedVocab {
  StringMap<int32_t> map;                         // content -> id
  std::unordered_map<int32_t, AddedToken> map_r;  // id -> token
  StringSet special;                              // contents of special tokens
  AddedTrie raw_trie;                             // normalized == false
  AddedTrie norm_trie;                            // normalized == true (normalized contents)
  // Splits s into added-token spans and the text between them (the library's find_matches).
  void find_matches(std::string_view s, const AddedTrie& trie, std::vector<Span>& out) const;
};

// -------------------------------------------------------------------- bpe.cpp
// (left id, right id) -> (rank, merged id), open addressing.
class MergeMap {
 public:
  struct Entry {
    uint64_t key;
    uint32_t rank;
    int32_t new_id;
  };
  void reserve(size_t n);
  void insert_or_assign(int32_t a, int32_t b, uint32_t rank, int32_t new_id);
  const Entry* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = make_key(a, b);
    for (size_t i = hash(key);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  }
  size_t hash(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

struct BpeModel {
  std::string what;  // file name, for messages
  StringMap<int32_t> vocab;
  // id -> token (pointing at vocab's keys): a vector when the ids are dense, else a map.
  std::vector<const std::string*> vocab_r;
  std::unordered_map<int32_t, const std::string*> vocab_r_sparse;
  int32_t max_id = -1;
  MergeMap merges;
  std::optional<std::string> unk_token;
  std::optional<std::string> prefix;  // continuing_subword_prefix
  std::optional<std::string> suffix;  // end_of_word_suffix
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  std::array<int32_t, 256> byte_ids{};  // "<0xXX>" ids, -1 if absent

  // Appends the ids of one pre-tokenized word. Throws zaya::Error when an unknown character
  // needs an unk_token that is not in the vocabulary.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;
  const std::string* id_to_token(int32_t id) const {
    if (id >= 0 && size_t(id) < vocab_r.size()) return vocab_r[id];
    if (vocab_r_sparse.empty()) return nullptr;
    auto it = vocab_r_sparse.find(id);
    return it == vocab_r_sparse.end() ? nullptr : it->second;
  }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  static constexpr size_t kMaxCachedWord = 256;
  static constexpr size_t kCacheCapacity = 100000;
  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<int32_t>> cache_;
};

// ----------------------------------------------------------------- decode.cpp
struct Decoder {
  enum class Kind { Replace, ByteFallback, Fuse, Strip, ByteLevel, Sequence };
  Kind kind = Kind::Sequence;
  std::string pattern, content;  // Replace
  uint32_t strip_char = ' ';     // Strip
  size_t strip_start = 0, strip_stop = 0;
  std::vector<Decoder> children;
  void decode_chain(std::vector<std::string>& tokens, size_t limit) const;
};
// The ByteFallback decoder's test for "<0xXX>" tokens.
bool parse_byte_token(std::string_view token, uint8_t* byte);

struct PostProcessor {  // for a single sequence: prefix + ids + suffix
  std::vector<int32_t> prefix, suffix;
};

// -------------------------------------------------------------- tokenizer.cpp
struct TokenizerImpl {
  std::string what;  // file name, for messages
  std::optional<Normalizer> normalizer;
  std::optional<PreTokenizer> pre_tokenizer;
  BpeModel model;
  AddedVocab added;
  std::optional<PostProcessor> post_processor;
  std::optional<Decoder> decoder;
  int32_t vocab_size = 0;
  int32_t bos = -1, eos = -1, pad = -1;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
  const std::string* id_to_token(int32_t id) const;
  int32_t token_to_id(std::string_view token) const;

 private:
  void encode_segment(std::string_view segment, std::vector<int32_t>& ids) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>& ids) const;
};

// load.cpp: parses tokenizer.json text; throws zaya::Error naming `what` and the field.
std::shared_ptr<TokenizerImpl> load_tokenizer_json(const std::string& json, const std::string& what);

}  // namespace zaya::tok
