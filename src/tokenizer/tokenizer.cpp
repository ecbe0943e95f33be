// The encode/decode pipeline and the public Tokenizer API.
#include "core/error.h"
#include "core/fileutil.h"
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

// Pre-tokenizes one piece of normalized text and runs the model on each word.
void TokenizerImpl::encode_normalized(std::string_view text, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  if (!pre_tokenizer) {
    model.tokenize(text, ids);
    return;
  }
  std::vector<std::string> words{std::string(text)};
  pre_tokenizer->apply(words, growth_limit(text.size()));
  for (const std::string& w : words) model.tokenize(w, ids);
}

// A segment of raw text between added tokens: normalize it, extract the normalized added
// tokens, then pre-tokenize and tokenize the rest.
void TokenizerImpl::encode_segment(std::string_view segment, std::vector<int32_t>& ids) const {
  std::string text(segment);
  if (normalizer) normalizer->apply(text, growth_limit(segment.size()));
  if (text.empty()) return;
  if (added.norm_trie.empty()) {
    encode_normalized(text, ids);
    return;
  }
  std::vector<Span> spans;
  added.find_matches(text, added.norm_trie, spans);
  for (const Span& s : spans) {
    if (s.stop <= s.start) continue;
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_normalized(std::string_view(text).substr(s.start, s.stop - s.start), ids);
    }
  }
}

std::vector<int32_t> TokenizerImpl::encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = utf8_lossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  if (add_special_tokens && post_processor) ids = post_processor->prefix;
  if (added.raw_trie.empty()) {
    encode_segment(text, ids);
  } else {
    std::vector<Span> spans;
    added.find_matches(text, added.raw_trie, spans);
    for (const Span& s : spans) {
      if (s.stop <= s.start) continue;
      if (s.id >= 0) {
        ids.push_back(s.id);
      } else {
        encode_segment(text.substr(s.start, s.stop - s.start), ids);
      }
    }
  }
  if (add_special_tokens && post_processor) {
    ids.insert(ids.end(), post_processor->suffix.begin(), post_processor->suffix.end());
  }
  return ids;
}

const std::string* TokenizerImpl::id_to_token(int32_t id) const {
  auto it = added.map_r.find(id);
  if (it != added.map_r.end()) return &it->second.text;
  return model.id_to_token(id);
}

int32_t TokenizerImpl::token_to_id(std::string_view token) const {
  auto it = added.map.find(token);
  if (it != added.map.end()) return it->second;
  auto mv = model.vocab.find(token);
  return mv == model.vocab.end() ? -1 : mv->second;
}

std::string TokenizerImpl::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  size_t total = 0;
  for (int32_t id : ids) {
    const std::string* t = id_to_token(id);
    if (!t) continue;  // unknown ids are dropped, as in the library
    if (skip_special_tokens && added.special.count(*t)) continue;
    tokens.push_back(*t);
    total += t->size();
  }
  std::string out;
  if (decoder) {
    decoder->decode_chain(tokens, growth_limit(total));
    for (const std::string& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
  }
  return out;
}

}  // namespace zaya::tok

namespace zaya {

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json_path) {
  return from_json_string(read_file(tokenizer_json_path), tokenizer_json_path);
}

Tokenizer Tokenizer::from_json_string(const std::string& json, const std::string& what) {
  return Tokenizer(tok::load_tokenizer_json(json, what));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, add_special_tokens);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

int32_t Tokenizer::token_to_id(std::string_view token) const { return impl_->token_to_id(token); }

std::string Tokenizer::id_to_token(int32_t id) const {
  const std::string* t = impl_->id_to_token(id);
  return t ? *t : std::string();
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added.map_r.find(id);
  return it != impl_->added.map_r.end() && impl_->added.special.count(it->second.content) > 0;
}

}  // namespace zaya
