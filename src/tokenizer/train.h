// Byte-level BPE training (GPT-2 style): the tokenizer.json it writes is loaded by zaya's Tokenizer
// and by the Python `tokenizers` library, which then encode every text identically.
//
// Pipeline (the same one the trained tokenizer runs at encode time):
//   1. Occurrences of the special tokens are cut out of each document (leftmost-longest, as the
//      added-vocabulary matcher does); invalid UTF-8 is repaired to U+FFFD like the encoder does.
//   2. The rest is split by the GPT-2 regex (ByteLevel pre-tokenizer, add_prefix_space=false,
//      use_regex=true) and the words are counted.
//   3. BPE on the word counts: every word starts as its bytes; repeatedly the most frequent adjacent
//      pair of tokens (counted over all words, weighted by word count) is merged into a new token,
//      until the vocabulary has vocab_size tokens or no pair occurs min_frequency times.
//
// Ids: the special tokens 0..k-1 (in the given order), then the 256 byte tokens in byte order (as
// their byte-level characters, "Ġ" for a space...), then the merged tokens in the order they were
// made. A merge whose result already is a token (e.g. "ab"+"c" after "a"+"bc") reuses its id.
//
// Tie-break (deterministic): among pairs with the same count, the pair with the smaller left id
// wins, then the one with the smaller right id. Since ids follow byte order and then creation
// order, this prefers pairs of older tokens. The output depends only on the input text and the
// configuration (not on the thread count, batching or the order words are met).
//
// Pair counts are maintained incrementally: each pair keeps its count and the list of words it
// occurs in; a merge rewrites only those words and updates the counts of the pairs next to the
// merged positions. The most frequent pair comes from a max-heap whose stale entries are skipped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zaya {

struct BpeTrainConfig {
  int vocab_size = 8192;  // total, special tokens and the 256 byte tokens included
  int min_frequency = 2;  // a pair must occur at least this often to be merged (0 acts as 1)
  std::vector<std::string> special_tokens = {"<pad>", "<eos>", "<bos>", "<unk>"};
  bool add_bos = true;  // post_processor: TemplateProcessing prepending <bos> (else ByteLevel)
  int threads = 0;      // word counting threads; 0: the OpenMP default
  bool progress = false;  // progress bars on stderr while counting and merging
  // Long documents are counted in pieces of about this many bytes, cut only where the
  // pre-tokenization cannot change (after a "\n" with non-space characters on both sides).
  size_t chunk_bytes = size_t{4} << 20;
};

// A merge made by the trainer: the two tokens (byte-level strings) and the pair's count over the
// corpus when it was chosen.
struct BpeMerge {
  std::string left, right;
  int64_t count = 0;
};

struct BpeTrainResult {
  std::string json;  // the tokenizer.json text
  std::vector<BpeMerge> merges;
  int32_t vocab_size = 0;  // tokens in the vocabulary (special tokens included)
  uint64_t documents = 0, bytes = 0;  // input documents and their bytes
  uint64_t words = 0, unique_words = 0;  // pre-tokenized words, total and distinct
  double count_seconds = 0, merge_seconds = 0;
};

// Streaming trainer: feed documents or files (word counts are all that is kept), then train().
class BpeTrainer {
 public:
  // Throws zaya::Error when the configuration is unusable (vocab_size below the special tokens +
  // 256, duplicate/empty/non-UTF-8 special tokens, add_bos without a "<bos>" special token).
  explicit BpeTrainer(BpeTrainConfig config);
  ~BpeTrainer();
  BpeTrainer(const BpeTrainer&) = delete;
  BpeTrainer& operator=(const BpeTrainer&) = delete;

  void add_document(std::string_view text);
  void add_documents(const std::vector<std::string>& texts);  // counted in parallel
  // Files: `.jsonl` (or any file when force_jsonl) holds one {"text": ...} object per line (blank
  // lines skipped; a bad line throws zaya::Error naming file:line); any other file is one document,
  // read in pieces. Shows a progress bar over the total size when config.progress is set.
  void add_files(const std::vector<std::string>& paths, bool force_jsonl = false);

  uint64_t documents() const;
  uint64_t bytes() const;

  // Runs the merges and returns the tokenizer.json. Throws zaya::Error when the input held no
  // text (no word to learn from). The trainer is left empty afterwards.
  BpeTrainResult train();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// One-call forms. texts: documents in memory; paths: files as in BpeTrainer::add_files.
std::string train_bpe_bytelevel(const std::vector<std::string>& texts, const BpeTrainConfig& config);
std::string train_bpe_bytelevel_files(const std::vector<std::string>& paths, const BpeTrainConfig& config,
                                      bool force_jsonl = false);

namespace bpe_detail {
// The largest p in (0, text.size()) where text may be cut into text[0, p) and text[p, ...) without
// changing how the GPT-2 regex splits it: text[p-1] is '\n' and the characters before and after
// it are not white space. Only cuts with p > from are considered. 0 if there is none.
size_t last_safe_cut(std::string_view text, size_t from = 0);
}  // namespace bpe_detail

}  // namespace zaya
