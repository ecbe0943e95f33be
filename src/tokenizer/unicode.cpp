// UTF-8 helpers and Unicode character classes for the tokenizer.
#include <algorithm>
#include <iterator>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode_data.h"

namespace zaya::tok {

namespace {

uint8_t lookup_class(uint32_t cp) {
  const UnicodeRange* begin = std::begin(kUnicodeRanges);
  const UnicodeRange* end = std::end(kUnicodeRanges);
  const UnicodeRange* it =
      std::upper_bound(begin, end, cp, [](uint32_t c, const UnicodeRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->flags : 0;
}

struct BmpTable {
  std::array<uint8_t, 0x10000> flags{};
  BmpTable() {
    for (const UnicodeRange& r : kUnicodeRanges) {
      if (r.first >= 0x10000) break;
      for (uint32_t c = r.first; c <= r.last && c < 0x10000; ++c) flags[c] = r.flags;
    }
  }
};

// Length of the UTF-8 sequence at s[i] if valid, else 0 (the rules of RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
size_t valid_sequence_length(std::string_view s, size_t i, size_t* consumed_if_invalid) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char b = p[i];
  size_t width;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    width = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    width = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    width = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    *consumed_if_invalid = 1;
    return 0;
  }
  size_t j = i + 1;
  if (j >= n || p[j] < lo || p[j] > hi) {
    *consumed_if_invalid = 1;
    return 0;
  }
  ++j;
  for (size_t k = 2; k < width; ++k, ++j) {
    if (j >= n || p[j] < 0x80 || p[j] > 0xBF) {
      *consumed_if_invalid = j - i;
      return 0;
    }
  }
  return width;
}

}  // namespace

uint8_t char_class(uint32_t cp) {
  static const BmpTable table;
  if (cp < 0x10000) return table.flags[cp];
  return lookup_class(cp);
}

uint32_t next_cp(std::string_view s, size_t i, size_t* len) {
  size_t bad = 1;
  const size_t w = valid_sequence_length(s, i, &bad);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  switch (w) {
    case 1:
      *len = 1;
      return p[0];
    case 2:
      *len = 2;
      return (uint32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
      *len = 3;
      return (uint32_t(p[0] & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    case 4:
      *len = 4;
      return (uint32_t(p[0] & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) |
             (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    default:
      *len = 1;
      return 0xFFFD;
  }
}

uint32_t prev_cp(std::string_view s, size_t i, size_t* len) {
  size_t start = i - 1;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (start > 0 && i - start < 4 && (p[start] & 0xC0) == 0x80) --start;
  size_t l = 0;
  uint32_t cp = next_cp(s, start, &l);
  if (start + l != i) {  // not a well-formed character ending at i
    *len = 1;
    return 0xFFFD;
  }
  *len = l;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 1;
    const size_t w = valid_sequence_length(s, i, &bad);
    if (w == 0) return false;
    i += w;
  }
  return true;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    size_t bad = 1;
    const size_t w = valid_sequence_length(s, i, &bad);
    if (w) {
      out.append(s.data() + i, w);
      i += w;
    } else {
      out += kReplacementChar;
      i += bad;
    }
  }
  return out;
}

}  // namespace zaya::tok
