// Normalizers, pre-tokenizers, the GPT-2 split regex and the byte-level alphabet.
#include <algorithm>
#include <utility>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

// Replaces every non-overlapping occurrence of `pattern` (non-empty), left to right.
void replace_all(std::string& s, std::string_view pattern, std::string_view content) {
  if (pattern.empty()) return;
  size_t pos = s.find(pattern);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t last = 0;
  while (pos != std::string::npos) {
    out.append(s, last, pos - last);
    out.append(content);
    last = pos + pattern.size();
    pos = s.find(pattern, last);
  }
  out.append(s, last, std::string::npos);
  s = std::move(out);
}

namespace {


struct Match {
  size_t start, end;
  bool is_match;
};

// The library's NormalizedString::split: pieces of s according to `behavior`.
void split_pieces(std::string_view s, std::vector<Match>& matches, SplitBehavior behavior,
                  std::vector<std::string>& out) {
  std::vector<Match> pieces;  // is_match == true means "remove"
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const Match& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::Removed:
      pieces = matches;
      break;
    case SplitBehavior::Contiguous: {
      bool previous = false;
      for (const Match& m : matches) {
        if (m.is_match == previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous = false;
      for (const Match& m : matches) {
        if (m.is_match && !previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous = false;
      for (size_t k = matches.size(); k-- > 0;) {
        const Match& m = matches[k];
        if (m.is_match && !previous && !pieces.empty()) {
          pieces.back().start = m.start;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const Match& p : pieces) {
    if (!p.is_match && p.end > p.start) out.emplace_back(s.substr(p.start, p.end - p.start));
  }
}

// Matches of a pattern as (start, end, true), with the gaps as (start, end, false).
void find_matches(std::string_view s, const PreTokenizer& pt, std::vector<Match>& out) {
  out.clear();
  if (s.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  if (pt.gpt2_regex) {
    std::vector<std::pair<size_t, size_t>> spans;
    gpt2_split(s, spans);
    for (const auto& [a, b] : spans) out.push_back({a, b, true});
  } else {
    size_t prev = 0;
    size_t pos = s.find(pt.pattern);
    while (pos != std::string_view::npos) {
      if (pos != prev) out.push_back({prev, pos, false});
      out.push_back({pos, pos + pt.pattern.size(), true});
      prev = pos + pt.pattern.size();
      pos = s.find(pt.pattern, prev);
    }
    if (prev != s.size()) out.push_back({prev, s.size(), false});
  }
  if (pt.invert) {
    for (Match& m : out) m.is_match = !m.is_match;
  }
}

struct ByteLevelTables {
  std::array<std::string, 256> chars;
  std::array<int16_t, 512> bytes;  // code point (< 512) -> byte, or -1
  ByteLevelTables() {
    bytes.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
      append_utf8(chars[b], cp);
      bytes[cp] = int16_t(b);
    }
  }
};

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables;
  return tables;
}

}  // namespace

const std::array<std::string, 256>& byte_level_chars() { return byte_level_tables().chars; }

int byte_level_byte(uint32_t cp) { return cp < 512 ? byte_level_tables().bytes[cp] : -1; }

void throw_too_large(const char* stage) {
  throw_error("tokenizer: the ", stage, " expands the text more than 64-fold; refusing to continue");
}

void Normalizer::apply(std::string& s, size_t limit) const {
  switch (kind) {
    case Kind::Replace:
      replace_all(s, pattern, content);
      break;
    case Kind::Prepend:
      if (!s.empty()) s.insert(0, content);
      break;
    case Kind::Sequence:
      for (const Normalizer& n : children) n.apply(s, limit);
      break;
  }
  if (s.size() > limit) throw_too_large("normalizer");
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// as Oniguruma runs it (leftmost-first alternation, greedy with backtracking).
void gpt2_split(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) {
  out.clear();
  thread_local std::vector<uint32_t> cps;
  thread_local std::vector<uint8_t> cls;
  thread_local std::vector<size_t> offs;
  cps.clear();
  cls.clear();
  offs.clear();
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = next_cp(s, i, &len);
    cps.push_back(cp);
    cls.push_back(char_class(cp));
    offs.push_back(i);
    i += len;
  }
  offs.push_back(s.size());
  const size_t n = cps.size();
  auto is_l = [&](size_t k) { return (cls[k] & kClassL) != 0; };
  auto is_n = [&](size_t k) { return (cls[k] & kClassN) != 0; };
  auto is_s = [&](size_t k) { return (cls[k] & kClassSpace) != 0; };
  auto is_other = [&](size_t k) { return (cls[k] & (kClassL | kClassN | kClassSpace)) == 0; };
  auto run = [&](size_t k, auto&& pred) {
    while (k < n && pred(k)) ++k;
    return k;
  };
  size_t i = 0;
  while (i < n) {
    const uint32_t c = cps[i];
    size_t end = 0;
    if (c == '\'' && i + 1 < n) {
      const uint32_t c1 = cps[i + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        end = i + 2;
      } else if (i + 2 < n) {
        const uint32_t c2 = cps[i + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) end = i + 3;
      }
    }
    if (!end) {
      const bool space = c == ' ' && i + 1 < n;
      if (space && is_l(i + 1)) {
        end = run(i + 1, is_l);
      } else if (is_l(i)) {
        end = run(i, is_l);
      } else if (space && is_n(i + 1)) {
        end = run(i + 1, is_n);
      } else if (is_n(i)) {
        end = run(i, is_n);
      } else if (space && is_other(i + 1)) {
        end = run(i + 1, is_other);
      } else if (is_other(i)) {
        end = run(i, is_other);
      } else {  // whitespace
        const size_t j = run(i, is_s);
        if (j == n) {
          end = j;  // \s+(?!\S) at the end of the text
        } else if (j - i >= 2) {
          end = j - 1;  // \s+(?!\S) backtracks one character
        } else {
          end = j;  // \s+
        }
      }
    }
    out.emplace_back(offs[i], offs[end]);
    i = end;
  }
}

void PreTokenizer::apply(std::vector<std::string>& words, size_t limit) const {
  switch (kind) {
    case Kind::Sequence:
      for (const PreTokenizer& p : children) p.apply(words, limit);
      return;
    case Kind::Split: {
      std::vector<std::string> out;
      std::vector<Match> matches;
      for (const std::string& w : words) {
        find_matches(w, *this, matches);
        split_pieces(w, matches, behavior, out);
      }
      words = std::move(out);
      return;
    }
    case Kind::ByteLevel: {
      std::vector<std::string> out;
      std::vector<std::pair<size_t, size_t>> spans;
      std::string buf;
      for (const std::string& w : words) {
        std::string_view text = w;
        if (add_prefix_space && (w.empty() || w[0] != ' ')) {
          buf.assign(1, ' ');
          buf += w;
          text = buf;
        }
        if (use_regex) {
          gpt2_split(text, spans);
          for (const auto& [a, b] : spans) {
            if (b > a) out.emplace_back(text.substr(a, b - a));
          }
        } else if (!text.empty()) {
          out.emplace_back(text);
        }
      }
      // Every word (including ones produced by earlier pre-tokenizers) is mapped to the
      // byte-level alphabet, as the library's PreTokenizedString::normalize does.
      const auto& chars = byte_level_chars();
      size_t total = 0;
      for (const std::string& w : out) total += w.size();
      if (2 * total > limit) throw_too_large("pre_tokenizer");
      for (std::string& w : out) {
        std::string mapped;
        mapped.reserve(w.size() * 2);
        for (unsigned char b : w) mapped += chars[b];
        w = std::move(mapped);
      }
      words = std::move(out);
      return;
    }
  }
}

}  // namespace zaya::tok
