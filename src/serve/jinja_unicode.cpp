// UTF-8 helpers and Python's Unicode str predicates and case mappings (serve/jinja_unicode.h),
// from the tables that tools/reference/make_jinja_unicode.py writes.
#include "serve/jinja_unicode.h"

#include <algorithm>
#include <iterator>

#include "serve/jinja_unicode_data.h"

namespace zaya::jinja::uni {

uint32_t next_cp(std::string_view s, size_t i, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char b = p[i];
  *len = 1;
  if (b < 0x80) return b;
  size_t width;
  uint32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    width = 2, cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    width = 3, cp = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    width = 4, cp = b & 0x07;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0xFFFD;
  }
  if (i + width > n) return 0xFFFD;
  for (size_t k = 1; k < width; ++k) {
    const unsigned char c = p[i + k];
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return 0xFFFD;
    cp = (cp << 6) | (c & 0x3F);
  }
  *len = width;
  return cp;
}

void append_cp(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len) out.push_back(next_cp(s, i, &len));
  return out;
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_cp(out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

size_t count_cps(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0, len; i < s.size(); i += len, ++n) next_cp(s, i, &len);
  return n;
}

namespace {

uint16_t flags_of(uint32_t cp) {
  const FlagRange* begin = std::begin(kFlagRanges);
  const FlagRange* end = std::end(kFlagRanges);
  const FlagRange* it =
      std::upper_bound(begin, end, cp, [](uint32_t c, const FlagRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->flags : 0;
}

template <size_t NR, size_t NS>
void append_mapped(std::string& out, uint32_t cp, const CaseRun (&runs)[NR], const CaseSpecial (&special)[NS]) {
  if constexpr (NS > 0) {
    for (const CaseSpecial& sp : special) {
      if (sp.cp == cp) {
        out += sp.utf8;
        return;
      }
    }
  }
  const CaseRun* it = std::upper_bound(std::begin(runs), std::end(runs), cp,
                                       [](uint32_t c, const CaseRun& r) { return c < r.first; });
  if (it != std::begin(runs)) {
    --it;
    if (cp <= it->last && (cp - it->first) % it->stride == 0) {
      append_cp(out, uint32_t(int64_t(cp) + it->delta));
      return;
    }
  }
  append_cp(out, cp);
}

}  // namespace

bool is_space(uint32_t cp) { return flags_of(cp) & 1; }
bool is_printable(uint32_t cp) { return !(flags_of(cp) & 2); }
bool is_alpha(uint32_t cp) { return flags_of(cp) & 4; }
bool is_decimal(uint32_t cp) { return flags_of(cp) & 8; }
bool is_digit(uint32_t cp) { return flags_of(cp) & 16; }
bool is_numeric(uint32_t cp) { return flags_of(cp) & 32; }
bool is_cased(uint32_t cp) { return flags_of(cp) & 64; }
bool is_upper(uint32_t cp) { return flags_of(cp) & 128; }
bool is_lower(uint32_t cp) {
  // Lowercase: cased, not upper, and unchanged by lower() (titlecase letters are neither).
  if (!is_cased(cp) || is_upper(cp)) return false;
  std::string l;
  append_lower(l, cp);
  std::string self;
  append_cp(self, cp);
  return l == self;
}
bool is_word(uint32_t cp) { return cp == '_' || (flags_of(cp) & (4 | 32)); }
bool is_id_start(uint32_t cp) { return cp == '_' || (flags_of(cp) & 256); }
bool is_id_continue(uint32_t cp) { return flags_of(cp) & 512; }

void append_upper(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'a' && cp <= 'z' ? char(cp - 32) : char(cp));
    return;
  }
  append_mapped(out, cp, kUpperRuns, kUpperSpecial);
}
void append_lower(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? char(cp + 32) : char(cp));
    return;
  }
  append_mapped(out, cp, kLowerRuns, kLowerSpecial);
}
void append_title(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'a' && cp <= 'z' ? char(cp - 32) : char(cp));
    return;
  }
  append_mapped(out, cp, kTitleRuns, kTitleSpecial);
}

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len) append_upper(out, next_cp(s, i, &len));
  return out;
}
std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0, len; i < s.size(); i += len) append_lower(out, next_cp(s, i, &len));
  return out;
}

}  // namespace zaya::jinja::uni
