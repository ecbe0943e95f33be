// Added-token matching: the library's AddedVocabulary::find_matches.
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

void AddedTrie::add(std::string_view pattern, int32_t id) {
  if (pattern.empty()) return;
  uint32_t node = 0;
  for (unsigned char b : pattern) {
    const uint64_t key = (uint64_t(node) << 8) | b;
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const uint32_t child = uint32_t(node_id_.size());
      node_id_.push_back(-1);
      edges_.emplace(key, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  if (node_id_[node] < 0) node_id_[node] = id;  // the first pattern with this content wins
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

size_t AddedTrie::longest_at(std::string_view text, size_t pos, int32_t* id) const {
  size_t best = 0;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find((uint64_t(node) << 8) | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (node_id_[node] >= 0) {
      best = i + 1 - pos;
      *id = node_id_[node];
    }
  }
  return best;
}

namespace {

bool is_word_char(uint32_t cp) { return (char_class(cp) & kClassWord) != 0; }
bool is_space_char(uint32_t cp) { return (char_class(cp) & kClassSpace) != 0; }

}  // namespace

void AddedVocab::find_matches(std::string_view s, const AddedTrie& trie, std::vector<Span>& out) const {
  out.clear();
  if (s.empty()) return;
  size_t start_offset = 0;  // end of the previous emitted match (after rstrip)
  size_t pos = 0;           // where the pattern search resumes (end of the previous raw match)
  while (pos < s.size() && !trie.empty()) {
    if (!trie.may_start(static_cast<unsigned char>(s[pos]))) {
      ++pos;
      continue;
    }
    int32_t id = -1;
    const size_t len = trie.longest_at(s, pos, &id);
    if (len == 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + len;
    pos = stop;
    auto it = map_r.find(id);
    const AddedToken* token = it == map_r.end() ? nullptr : &it->second;
    if (token && token->single_word) {
      size_t l = 0;
      const bool start_space = start == 0 || !is_word_char(prev_cp(s, start, &l));
      const bool stop_space = stop == s.size() || !is_word_char(next_cp(s, stop, &l));
      if (!start_space || !stop_space) continue;  // not a single word: discarded
    }
    if (token && token->lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        size_t l = 0;
        const uint32_t cp = prev_cp(s, new_start, &l);
        if (!is_space_char(cp)) break;
        new_start -= l;
      }
      start = std::max(new_start, start_offset);
    }
    if (token && token->rstrip) {
      while (stop < s.size()) {
        size_t l = 0;
        const uint32_t cp = next_cp(s, stop, &l);
        if (!is_space_char(cp)) break;
        stop += l;
      }
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace zaya::tok
