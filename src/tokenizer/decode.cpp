// Decoders (ids -> text) and the streaming detokenizer.
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// "<0xXX>": 6 bytes, and the two characters in between parse as a base-16 u8 (Rust's
// u8::from_str_radix, which also accepts a leading '+').
bool parse_byte_token(std::string_view t, uint8_t* byte) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return false;
  const int hi = hex_value(t[3]);
  const int lo = hex_value(t[4]);
  if (t[3] == '+' && lo >= 0) {
    *byte = uint8_t(lo);
    return true;
  }
  if (hi < 0 || lo < 0) return false;
  *byte = uint8_t(hi * 16 + lo);
  return true;
}

void Decoder::decode_chain(std::vector<std::string>& tokens, size_t limit) const {
  switch (kind) {
    case Kind::Sequence:
      for (const Decoder& d : children) d.decode_chain(tokens, limit);
      return;
    case Kind::Replace: {
      size_t total = 0;
      for (std::string& t : tokens) {
        replace_all(t, pattern, content);
        total += t.size();
      }
      if (total > limit) throw_too_large("decoder");
      return;
    }
    case Kind::Fuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      tokens.assign(1, std::move(all));
      return;
    }
    case Kind::ByteFallback: {
      std::vector<std::string> out;
      out.reserve(tokens.size());
      std::string bytes;
      auto flush = [&] {
        if (bytes.empty()) return;
        if (is_valid_utf8(bytes)) {
          out.push_back(bytes);
        } else {
          for (size_t k = 0; k < bytes.size(); ++k) out.emplace_back(kReplacementChar);
        }
        bytes.clear();
      };
      for (std::string& t : tokens) {
        uint8_t b = 0;
        if (parse_byte_token(t, &b)) {
          bytes += char(b);
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens = std::move(out);
      return;
    }
    case Kind::Strip:
      for (std::string& t : tokens) {
        std::vector<std::pair<size_t, uint32_t>> chars;  // (byte offset, code point)
        for (size_t i = 0; i < t.size();) {
          size_t len = 1;
          chars.emplace_back(i, next_cp(t, i, &len));
          i += len;
        }
        size_t start_cut = 0;
        while (start_cut < strip_start && start_cut < chars.size() && chars[start_cut].second == strip_char) {
          ++start_cut;
        }
        size_t stop_cut = chars.size();
        for (size_t k = 0; k < strip_stop && stop_cut > start_cut && chars[stop_cut - 1].second == strip_char; ++k) {
          --stop_cut;
        }
        const size_t a = start_cut < chars.size() ? chars[start_cut].first : t.size();
        const size_t b = stop_cut < chars.size() ? chars[stop_cut].first : t.size();
        t = t.substr(a, b - a);
      }
      return;
    case Kind::ByteLevel: {
      std::string bytes;
      for (const std::string& t : tokens) {
        const size_t mark = bytes.size();
        bool mapped = true;
        for (size_t i = 0; i < t.size();) {
          size_t len = 1;
          const int b = byte_level_byte(next_cp(t, i, &len));
          if (b < 0) {
            mapped = false;
            break;
          }
          bytes += char(b);
          i += len;
        }
        if (!mapped) {
          bytes.resize(mark);
          bytes += t;
        }
      }
      tokens.assign(1, utf8_lossy(bytes));
      return;
    }
  }
}

}  // namespace zaya::tok

namespace zaya {

namespace {
constexpr size_t kMaxPendingIds = 64;  // bound on held-back ids (pathological id streams)

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && std::string_view(s).substr(s.size() - 3) == tok::kReplacementChar;
}
}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

// The window algorithm of the Python library's DecodeStream: decode the context ids plus the
// pending ones and emit what follows the context's text, unless the result ends in U+FFFD (an
// incomplete UTF-8 sequence or byte-fallback group that later ids may complete).
std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  const bool force = ids_.size() - prefix_index_ > kMaxPendingIds;
  std::string text = tokenizer_.decode(ids_, skip_special_);
  if (!force && (text.size() <= prefix_.size() || ends_with_replacement(text))) return {};
  std::string out;
  if (text.size() >= prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0) {
    out = text.substr(prefix_.size());
  } else {
    // Only for id streams that are not valid text (e.g. a byte token that turns an already
    // emitted byte-fallback character invalid): emit what lies past the old context.
    out = text.substr(std::min(text.size(), prefix_.size()));
  }
  // The ids just emitted become the context for the next ones.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(ids_, skip_special_);
  prefix_index_ = ids_.size();
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  if (ids_.size() > prefix_index_) {
    std::string text = tokenizer_.decode(ids_, skip_special_);
    if (text.size() >= prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0) {
      out = text.substr(prefix_.size());
    } else {
      out = text.substr(std::min(text.size(), prefix_.size()));
    }
  }
  ids_.clear();
  prefix_index_ = 0;
  prefix_.clear();
  return out;
}

}  // namespace zaya
