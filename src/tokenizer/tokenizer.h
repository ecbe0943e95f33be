// Hugging Face `tokenizer.json` tokenizer (BPE models), producing the same ids as the Python
// `tokenizers` library for the pipelines it supports:
//   added tokens   leftmost-longest matching on the raw text (normalized=false) and on the
//                  normalized text (normalized=true), honouring lstrip/rstrip/single_word
//   normalizer     Replace (String pattern), Prepend, Sequence, null
//   pre_tokenizer  Split (String pattern, or the GPT-2 regex), ByteLevel, Sequence, null
//   model          BPE (byte_fallback, fuse_unk, unk_token, continuing_subword_prefix,
//                  end_of_word_suffix, ignore_merges; merges as pairs or "a b" strings)
//   post_processor TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence, null
//   decoder        Replace, ByteFallback, Fuse, Strip, ByteLevel, Sequence, null
// Anything else fails at load time with a zaya::Error naming the file and the field.
// The `truncation` and `padding` sections are ignored (an inference engine manages lengths).
// Input text that is not valid UTF-8 is first repaired the way Python's
// bytes.decode("utf-8", "replace") does (each maximal invalid subpart becomes U+FFFD).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zaya {

namespace tok {
struct TokenizerImpl;
}

class Tokenizer {
 public:
  // Both throw zaya::Error naming the file (`what`) and the offending field.
  static Tokenizer from_file(const std::string& tokenizer_json_path);
  static Tokenizer from_json_string(const std::string& json, const std::string& what);

  // add_special_tokens applies the post_processor (e.g. prepends <bos> for Gemma 3).
  // Thread-safe (the word cache is internally locked).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Unknown ids are skipped, as in the Python library.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  int32_t token_to_id(std::string_view token) const;  // -1 if absent
  std::string id_to_token(int32_t id) const;          // "" if absent
  int32_t vocab_size() const;                         // max id + 1, added tokens included
  int32_t bos_id() const;  // "<bos>", "<s>", "<|begin_of_text|>", "<|endoftext|>"; -1 if none
  int32_t eos_id() const;  // "<eos>", "</s>", "<|end_of_text|>", "<|endoftext|>"; -1 if none
  int32_t pad_id() const;  // "<pad>", "[PAD]", "<|pad|>"; -1 if none
  bool is_special(int32_t id) const;  // an added token marked "special"

  const tok::TokenizerImpl& impl() const { return *impl_; }

 private:
  explicit Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const tok::TokenizerImpl> impl_;
};

// Streaming detokenizer for generation: push ids one at a time and get the text that became
// printable. Incomplete UTF-8 sequences and byte-fallback pieces are held back until complete
// (at most 64 ids), so that the concatenation of all push() results followed by flush() equals
// decode(all ids) whenever the ids spell valid text (anything encode() produces, and in practice
// what a model generates). Other id streams never fail; their text may differ from decode().
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string push(int32_t id);
  std::string flush();  // emits whatever is held back (invalid bytes as U+FFFD) and resets

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // context ids [0, prefix_index_) + pending ids
  size_t prefix_index_ = 0;
  std::string prefix_;  // decode(ids_[0, prefix_index_))
};

}  // namespace zaya
