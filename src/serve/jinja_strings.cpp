// Python str algorithms (serve/jinja_strings.h) on code points.
#include "serve/jinja_strings.h"

#include <algorithm>

#include "core/error.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja::pystr {

std::u32string u(std::string_view s) { return uni::decode(s); }
std::string s8(std::u32string_view s) { return uni::encode(s); }

std::string strip(const std::string& s, const std::string* chars, bool left, bool right) {
  const std::u32string x = u(s);
  const std::u32string set = chars ? u(*chars) : std::u32string();
  auto drop = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : uni::is_space(c); };
  size_t a = 0, b = x.size();
  if (left)
    while (a < b && drop(x[a])) ++a;
  if (right)
    while (b > a && drop(x[b - 1])) --b;
  return s8(std::u32string_view(x).substr(a, b - a));
}

std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw Error("empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      const size_t f = s.find(*sep, pos);
      if (f == std::string::npos) break;
      out.push_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.push_back(s.substr(pos));
    return out;
  }
  const std::u32string x = u(s);
  size_t i = 0;
  const size_t n = x.size();
  while (true) {
    while (i < n && uni::is_space(x[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
      out.push_back(s8(std::u32string_view(x).substr(i)));
      break;
    }
    size_t j = i;
    while (j < n && !uni::is_space(x[j])) ++j;
    out.push_back(s8(std::u32string_view(x).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(const std::string& s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw Error("empty separator");
    size_t end = s.size();
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string::npos) break;
      out.push_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  const std::u32string x = u(s);
  size_t j = x.size();
  while (true) {
    while (j > 0 && uni::is_space(x[j - 1])) --j;
    if (j == 0) break;
    if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
      out.push_back(s8(std::u32string_view(x).substr(0, j)));
      break;
    }
    size_t i = j;
    while (i > 0 && !uni::is_space(x[i - 1])) --i;
    out.push_back(s8(std::u32string_view(x).substr(i, j - i)));
    j = i;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  const std::u32string x = u(s);
  std::vector<std::string> out;
  auto is_break = [](char32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
           c == 0x2028 || c == 0x2029;
  };
  size_t i = 0;
  while (i < x.size()) {
    size_t j = i;
    while (j < x.size() && !is_break(x[j])) ++j;
    size_t eol = j;
    if (j < x.size()) {
      eol = (x[j] == '\r' && j + 1 < x.size() && x[j + 1] == '\n') ? j + 2 : j + 1;
    }
    out.push_back(s8(std::u32string_view(x).substr(i, (keepends ? eol : j) - i)));
    i = eol;
  }
  return out;
}

std::string replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {
    // Python inserts `repl` before every code point and at the end, `count` times at most.
    int64_t done = 0;
    size_t i = 0;
    while (i <= s.size()) {
      if (done < count) {
        out += repl;
        ++done;
      }
      if (i == s.size()) break;
      size_t len;
      uni::next_cp(s, i, &len);
      out.append(s, i, len);
      i += len;
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (done < count) {
    const size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += repl;
    pos = f + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::string title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t cp = uni::next_cp(s, i, &len);
    if (prev_cased)
      uni::append_lower(out, cp);
    else
      uni::append_title(out, cp);
    prev_cased = uni::is_cased(cp);
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out;
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t cp = uni::next_cp(s, i, &len);
    if (i == 0)
      uni::append_title(out, cp);
    else
      uni::append_lower(out, cp);
  }
  return out;
}

std::string swapcase(const std::string& s) {
  std::string out;
  for (size_t i = 0, len; i < s.size(); i += len) {
    const uint32_t cp = uni::next_cp(s, i, &len);
    if (uni::is_upper(cp))
      uni::append_lower(out, cp);
    else if (uni::is_lower(cp))
      uni::append_upper(out, cp);
    else
      uni::append_cp(out, cp);
  }
  return out;
}

namespace {
std::string fill_str(uint32_t fill, int64_t n) {
  std::string out;
  for (int64_t k = 0; k < n; ++k) uni::append_cp(out, fill);
  return out;
}
}  // namespace

std::string center(const std::string& s, int64_t width, uint32_t fill) {
  const int64_t n = int64_t(uni::count_cps(s));
  if (width <= n) return s;
  const int64_t marg = width - n;
  const int64_t left = marg / 2 + (marg & width & 1);
  return fill_str(fill, left) + s + fill_str(fill, marg - left);
}

std::string ljust(const std::string& s, int64_t width, uint32_t fill) {
  const int64_t n = int64_t(uni::count_cps(s));
  return width <= n ? s : s + fill_str(fill, width - n);
}

std::string rjust(const std::string& s, int64_t width, uint32_t fill) {
  const int64_t n = int64_t(uni::count_cps(s));
  return width <= n ? s : fill_str(fill, width - n) + s;
}

}  // namespace zaya::jinja::pystr
