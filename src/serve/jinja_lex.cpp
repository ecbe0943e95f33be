// Lexer of zaya's Jinja interpreter: jinja2's lexer (jinja2/lexer.py) with the environment
// transformers uses: trim_blocks (the first newline after a block or comment tag is removed),
// lstrip_blocks (spaces and tabs before a block or comment tag at the start of a line are removed),
// `{%-`/`-%}` (all whitespace before/after is removed), `{%+`/`+%}` (lstrip/trim disabled), and
// keep_trailing_newline=False (one newline at the end of the template is dropped). Newlines are
// normalised to "\n" as jinja2 does.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "serve/jinja_ast.h"
#include "serve/jinja_unicode.h"

namespace zaya::jinja {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || is_digit(c); }

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    try {
      scan();
    } catch (const SyntaxError& e) {
      Token err;
      err.type = Tok::Error;
      err.text = e.message;
      err.line = e.line;
      err.col = e.col;
      toks_.push_back(std::move(err));
      return std::move(toks_);
    }
    Token eof;
    eof.type = Tok::Eof;
    locate(s_.size(), &eof.line, &eof.col);
    toks_.push_back(eof);
    return std::move(toks_);
  }

 private:
  void scan() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      // Root state: template data up to the next {{, {% or {#.
      size_t p = pos;
      char kind = 0;  // '{', '%', '#'
      for (; p + 1 < s_.size(); ++p) {
        if (s_[p] == '{' && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) {
          kind = s_[p + 1];
          break;
        }
      }
      if (!kind) {
        emit_data(pos, s_.substr(pos));
        break;
      }
      const char sign = (p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+')) ? s_[p + 2] : 0;
      std::string text = s_.substr(pos, p - pos);
      if (sign == '-') {
        text = rstrip_py(text);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: whitespace between the line start and the tag goes.
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text, l_pos)) text.resize(l_pos);
      }
      emit_data(pos, text);
      size_t after = p + 2 + (sign ? 1 : 0);
      if (kind == '%') {
        size_t raw_end;
        if (match_raw_begin(after, &raw_end)) {
          pos = lex_raw(raw_end, &line_starting);
          continue;
        }
      }
      if (kind == '#') {
        pos = skip_comment(after, &line_starting);
        continue;
      }
      push(kind == '{' ? Tok::VarBegin : Tok::BlockBegin, p, kind == '{' ? "{{" : "{%");
      pos = lex_tag(after, kind == '{', &line_starting);
    }
  }

  std::string s_;
  std::vector<Token> toks_;
  size_t loc_pos_ = 0;
  int loc_line_ = 1;
  size_t loc_line_start_ = 0;

  // Positions are located in increasing order, so the scan is linear overall.
  void locate(size_t pos, int* line, int* col) {
    if (pos < loc_pos_) loc_pos_ = 0, loc_line_ = 1, loc_line_start_ = 0;
    for (; loc_pos_ < pos && loc_pos_ < s_.size(); ++loc_pos_)
      if (s_[loc_pos_] == '\n') ++loc_line_, loc_line_start_ = loc_pos_ + 1;
    *line = loc_line_;
    *col = int(pos - loc_line_start_) + 1;
  }
  // jinja2's "at N" positions count characters, not bytes.
  std::string at_pos(size_t pos) const { return std::to_string(uni::count_cps(std::string_view(s_).substr(0, pos))); }
  [[noreturn]] void fail(size_t pos, std::string msg) {
    SyntaxError e;
    e.message = std::move(msg);
    locate(pos, &e.line, &e.col);
    throw e;
  }
  Token& push(Tok t, size_t pos, std::string text) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    locate(pos, &tok.line, &tok.col);
    toks_.push_back(std::move(tok));
    return toks_.back();
  }
  void emit_data(size_t pos, std::string text) {
    if (!text.empty()) push(Tok::Data, pos, std::move(text));
  }

  // Length of the name character at i (jinja2's name_re: \w and the identifier characters), or 0.
  size_t name_char_len(size_t i) const {
    if (i >= s_.size()) return 0;
    const char c = s_[i];
    if (static_cast<unsigned char>(c) < 0x80) return is_name_char(c) ? 1 : 0;
    size_t len;
    const uint32_t cp = uni::next_cp(s_, i, &len);
    return (uni::is_word(cp) || uni::is_id_continue(cp)) ? len : 0;
  }
  static size_t space_len(const std::string& s, size_t i) {
    size_t len;
    const uint32_t cp = uni::next_cp(s, i, &len);
    return uni::is_space(cp) ? len : 0;
  }
  static bool all_space(const std::string& s, size_t from) {
    for (size_t i = from; i < s.size();) {
      const size_t n = space_len(s, i);
      if (!n) return false;
      i += n;
    }
    return true;
  }
  static std::string rstrip_py(const std::string& s) {
    size_t end = 0;
    for (size_t i = 0; i < s.size();) {
      const size_t n = space_len(s, i);
      size_t len;
      uni::next_cp(s, i, &len);
      i += len;
      if (!n) end = i;
    }
    return s.substr(0, end);
  }
  size_t skip_space(size_t i) const {
    while (i < s_.size()) {
      const size_t n = space_len(s_, i);
      if (!n) break;
      i += n;
    }
    return i;
  }
  bool at(size_t i, const char* lit) const { return s_.compare(i, std::strlen(lit), lit) == 0; }

  // {% raw %} / {%- raw -%}: `after` is just past "{%" and its sign.
  bool match_raw_begin(size_t after, size_t* end) const {
    size_t i = skip_space(after);
    if (!at(i, "raw") || (i + 3 < s_.size() && is_name_char(s_[i + 3]))) return false;
    i = skip_space(i + 3);
    if (at(i, "-%}")) {
      *end = skip_space(i + 3);
      return true;
    }
    if (at(i, "%}")) {
      *end = i + 2;
      return true;
    }
    return false;
  }

  size_t lex_raw(size_t pos, bool* line_starting) {
    for (size_t p = s_.find("{%", pos); p != std::string::npos; p = s_.find("{%", p + 1)) {
      const char sign = (p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+')) ? s_[p + 2] : 0;
      size_t i = skip_space(p + 2 + (sign ? 1 : 0));
      if (!at(i, "endraw")) continue;
      i = skip_space(i + 6);
      size_t end;
      if (at(i, "+%}")) {
        end = i + 3;
      } else if (at(i, "-%}")) {
        end = skip_space(i + 3);
      } else if (at(i, "%}")) {
        end = i + 2 + (at(i + 2, "\n") ? 1 : 0);
      } else {
        continue;
      }
      std::string text = s_.substr(pos, p - pos);
      if (sign == '-') {
        text = rstrip_py(text);
      } else if (sign != '+') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || *line_starting) && l_pos < text.size() && all_space(text, l_pos)) text.resize(l_pos);
      }
      emit_data(pos, text);
      *line_starting = end > 0 && s_[end - 1] == '\n';
      return end;
    }
    fail(pos, "Missing end of raw directive");
  }

  size_t skip_comment(size_t pos, bool* line_starting) {
    const size_t r = s_.find("#}", pos);
    if (r == std::string::npos) fail(pos, "Missing end of comment tag");
    size_t end = r + 2;
    const char sign = (r > pos && (s_[r - 1] == '-' || s_[r - 1] == '+')) ? s_[r - 1] : 0;
    if (sign == '-')
      end = skip_space(end);
    else if (!sign && at(end, "\n"))
      end += 1;
    *line_starting = s_[end - 1] == '\n';
    return end;
  }

  // Inside {{ ... }} or {% ... %}: returns the position after the closing tag.
  size_t lex_tag(size_t pos, bool variable, bool* line_starting) {
    std::string balance;  // expected closing brackets
    while (pos < s_.size()) {
      if (balance.empty()) {
        if (variable) {
          if (at(pos, "-}}")) return close(Tok::VarEnd, pos, skip_space(pos + 3), line_starting);
          if (at(pos, "}}")) return close(Tok::VarEnd, pos, pos + 2, line_starting);
        } else {
          if (at(pos, "+%}")) return close(Tok::BlockEnd, pos, pos + 3, line_starting);
          if (at(pos, "-%}")) return close(Tok::BlockEnd, pos, skip_space(pos + 3), line_starting);
          if (at(pos, "%}")) return close(Tok::BlockEnd, pos, pos + 2 + (at(pos + 2, "\n") ? 1 : 0), line_starting);
        }
      }
      if (const size_t n = space_len(s_, pos)) {
        pos += n;
        continue;
      }
      const char c = s_[pos];
      size_t end;
      if (is_digit(c) && (end = match_float(pos))) {
        std::string digits;
        for (size_t k = pos; k < end; ++k)
          if (s_[k] != '_') digits.push_back(s_[k]);
        push(Tok::Float, pos, s_.substr(pos, end - pos)).fval = std::strtod(digits.c_str(), nullptr);
        pos = end;
      } else if (is_digit(c)) {
        pos = lex_integer(pos);
      } else if (name_char_len(pos)) {
        end = pos;
        bool valid = true;
        while (const size_t n = name_char_len(end)) {
          size_t len;
          const uint32_t cp = uni::next_cp(s_, end, &len);
          valid = valid && (end == pos ? uni::is_id_start(cp) : uni::is_id_continue(cp));
          end += n;
        }
        if (!valid) fail(pos, "Invalid character in identifier");
        push(Tok::Name, pos, s_.substr(pos, end - pos));
        pos = end;
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        pos = lex_operator(pos, balance);
      }
    }
    return pos;  // end of input inside a tag: the parser reports it
  }

  size_t close(Tok t, size_t at_pos, size_t end, bool* line_starting) {
    push(t, at_pos, t == Tok::VarEnd ? "}}" : "%}");
    *line_starting = end > 0 && s_[end - 1] == '\n';
    return end;
  }

  // jinja2's float_re: digits with optional '_' separators, then a fraction and/or an exponent.
  size_t digits_from(size_t i) const {
    if (i >= s_.size() || !is_digit(s_[i])) return 0;
    size_t j = i;
    while (j < s_.size() && is_digit(s_[j])) {
      ++j;
      if (j + 1 < s_.size() && s_[j] == '_' && is_digit(s_[j + 1])) ++j;
    }
    return j;
  }
  size_t match_float(size_t pos) const {
    if (pos > 0 && s_[pos - 1] == '.') return 0;
    size_t i = digits_from(pos);
    size_t frac = 0;
    if (i < s_.size() && s_[i] == '.') frac = digits_from(i + 1);
    const size_t mant_end = frac ? frac : i;
    if (mant_end < s_.size() && (s_[mant_end] == 'e' || s_[mant_end] == 'E')) {
      size_t j = mant_end + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (const size_t e = digits_from(j)) return e;
    }
    return frac;
  }

  size_t lex_integer(size_t pos) {
    int base = 10;
    size_t i = pos, start = pos;
    auto is_base_digit = [&](char ch) {
      if (base == 2) return ch == '0' || ch == '1';
      if (base == 8) return ch >= '0' && ch <= '7';
      if (base == 16) return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
      return is_digit(ch);
    };
    if (s_[i] == '0' && i + 1 < s_.size() && strchr("bBoOxX", s_[i + 1])) {
      const char p = char(s_[i + 1] | 0x20);
      base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      size_t j = i + 2;
      if (j < s_.size() && s_[j] == '_') ++j;
      if (j < s_.size() && is_base_digit(s_[j])) {
        i = j;
        start = j;
      } else {
        base = 10;  // "0" followed by a name
      }
    }
    std::string digits;
    if (base == 10 && s_[i] == '0') {
      // 0(_?0)*
      digits = "0";
      ++i;
      while (i < s_.size() && (s_[i] == '0' || (s_[i] == '_' && i + 1 < s_.size() && s_[i + 1] == '0'))) ++i;
    } else {
      while (i < s_.size() && is_base_digit(s_[i])) {
        digits.push_back(s_[i++]);
        if (i + 1 < s_.size() && s_[i] == '_' && is_base_digit(s_[i + 1])) ++i;
      }
    }
    errno = 0;
    const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || v > uint64_t(INT64_MAX)) fail(pos, "integer literal too large for this interpreter (64-bit)");
    (void)start;
    push(Tok::Integer, pos, s_.substr(pos, i - pos)).ival = int64_t(v);
    return i;
  }

  size_t lex_string(size_t pos) {
    const char q = s_[pos];
    size_t i = pos + 1;
    std::string raw;
    while (true) {
      if (i >= s_.size()) fail(pos, std::string("unexpected char ") + (q == '"' ? "'\"'" : "\"'\"") + " at " + at_pos(pos));
      if (s_[i] == '\\' && i + 1 < s_.size()) {
        raw.push_back(s_[i]);
        raw.push_back(s_[i + 1]);
        i += 2;
        continue;
      }
      if (s_[i] == q) break;
      raw.push_back(s_[i++]);
    }
    push(Tok::String, pos, unescape(raw, pos));
    return i + 1;
  }

  // Python's "unicode-escape" decoding, which jinja2 applies to string literals.
  std::string unescape(const std::string& r, size_t pos) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      if (r[i] != '\\' || i + 1 >= r.size()) {
        out.push_back(r[i]);
        continue;
      }
      const char c = r[++i];
      auto hex = [&](int n, const char* what) {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (i + 1 >= r.size() || !std::isxdigit(static_cast<unsigned char>(r[i + 1]))) fail(pos, std::string("truncated ") + what + " escape");
          const char h = r[++i];
          v = v * 16 + uint32_t(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        return v;
      };
      switch (c) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': uni::append_cp(out, hex(2, "\\xXX")); break;
        case 'u': uni::append_cp(out, hex(4, "\\uXXXX")); break;
        case 'U': {
          const uint32_t v = hex(8, "\\UXXXXXXXX");
          if (v > 0x10FFFF) fail(pos, "illegal Unicode character");
          uni::append_cp(out, v);
          break;
        }
        case 'N': fail(pos, "\\N{...} escapes are not supported by this interpreter");
        default:
          if (c >= '0' && c <= '7') {
            uint32_t v = uint32_t(c - '0');
            for (int k = 0; k < 2 && i + 1 < r.size() && r[i + 1] >= '0' && r[i + 1] <= '7'; ++k) v = v * 8 + uint32_t(r[++i] - '0');
            uni::append_cp(out, v);
          } else {
            out.push_back('\\');
            out.push_back(c);
          }
      }
    }
    return out;
  }

  size_t lex_operator(size_t pos, std::string& balance) {
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo)
      if (at(pos, op)) {
        push(Tok::Op, pos, op);
        return pos + 2;
      }
    const char c = s_[pos];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) {
      std::string shown = str_repr(std::string_view(s_).substr(pos, 1));
      size_t len;
      uni::next_cp(s_, pos, &len);
      if (len > 1) shown = str_repr(std::string_view(s_).substr(pos, len));
      fail(pos, "unexpected char " + shown + " at " + at_pos(pos));
    }
    if (c == '{' || c == '(' || c == '[') {
      balance.push_back(c == '{' ? '}' : c == '(' ? ')' : ']');
    } else if (c == '}' || c == ')' || c == ']') {
      if (balance.empty()) fail(pos, std::string("unexpected '") + c + "'");
      const char want = balance.back();
      balance.pop_back();
      if (want != c) fail(pos, std::string("unexpected '") + c + "', expected '" + want + "'");
    }
    push(Tok::Op, pos, std::string(1, c));
    return pos + 1;
  }
};

std::string normalize_newlines(const std::string& src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

}  // namespace

std::vector<Token> lex(const std::string& source) { return Lexer(normalize_newlines(source)).run(); }

}  // namespace zaya::jinja
