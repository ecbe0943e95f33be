// Byte-level BPE training; see train.h for the algorithm, the id layout and the tie-break.
#include "tokenizer/train.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/jsonl.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "tokenizer/tokenizer_impl.h"

namespace zaya {

namespace bpe_detail {

size_t last_safe_cut(std::string_view text, size_t from) {
  // The '\n' sits at q = p - 1 >= 1 (a character before it) and a complete character must be
  // visible at p, hence p + 4 <= size, i.e. q <= size - 5.
  if (text.size() < 6) return 0;
  const size_t lo = std::max<size_t>(from, 1);
  size_t hi = text.size() - 5;
  while (hi >= lo) {
    const void* hit = memrchr(text.data() + lo, '\n', hi - lo + 1);  // text[lo, hi]
    if (!hit) return 0;
    const size_t q = size_t(static_cast<const char*>(hit) - text.data());
    size_t len = 0;
    const uint32_t before = tok::prev_cp(text, q, &len);
    const uint32_t after = tok::next_cp(text, q + 1, &len);
    if (!(tok::char_class(before) & tok::kClassSpace) && !(tok::char_class(after) & tok::kClassSpace)) return q + 1;
    if (q == lo) return 0;
    hi = q - 1;
  }
  return 0;
}

}  // namespace bpe_detail

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

using WordCounts = tok::StringMap<int64_t>;

// Cuts text into pieces of about `chunk` bytes at safe points (see last_safe_cut).
void cut_pieces(std::string_view text, size_t chunk, bool allow_cuts, std::vector<std::string_view>& out) {
  chunk = std::max<size_t>(chunk, 64);
  while (allow_cuts && text.size() > chunk) {
    size_t p = 0;
    for (size_t window = chunk, from = 0; window < text.size(); window *= 2) {
      p = bpe_detail::last_safe_cut(text.substr(0, window), from);
      if (p) break;
      from = window - 8;  // [0, window - 8) holds no cut, whatever follows it
    }
    if (!p) break;
    out.push_back(text.substr(0, p));
    text.remove_prefix(p);
  }
  if (!text.empty()) out.push_back(text);
}

// What the encoder does to a piece of raw text before the BPE model: repair UTF-8, cut out the
// special tokens, split the rest with the GPT-2 regex. Counts the words (raw bytes).
void count_piece(std::string_view piece, const tok::AddedTrie* specials, WordCounts& counts, uint64_t& nwords) {
  std::string repaired;
  if (!tok::is_valid_utf8(piece)) {
    repaired = tok::utf8_lossy(piece);
    piece = repaired;
  }
  thread_local std::vector<std::pair<size_t, size_t>> spans;
  auto count_segment = [&](std::string_view seg) {
    if (seg.empty()) return;
    tok::gpt2_split(seg, spans);
    for (const auto& [a, b] : spans) {
      if (b <= a) continue;
      const std::string_view w = seg.substr(a, b - a);
      auto it = counts.find(w);
      if (it == counts.end()) {
        counts.emplace(std::string(w), 1);
      } else {
        ++it->second;
      }
      ++nwords;
    }
  };
  if (!specials) {
    count_segment(piece);
    return;
  }
  size_t start = 0, pos = 0;
  while (pos < piece.size()) {
    if (!specials->may_start(static_cast<unsigned char>(piece[pos]))) {
      ++pos;
      continue;
    }
    int32_t id = -1;
    const size_t len = specials->longest_at(piece, pos, &id);
    if (len == 0) {
      ++pos;
      continue;
    }
    count_segment(piece.substr(start, pos - start));
    pos += len;
    start = pos;
  }
  count_segment(piece.substr(start));
}

std::string quote(const std::string& s) { return nlohmann::json(s).dump(); }

struct HeapEntry {
  int64_t count;
  int32_t a, b;
  // Max-heap order: higher count first, then smaller left id, then smaller right id.
  bool operator<(const HeapEntry& o) const {
    if (count != o.count) return count < o.count;
    if (a != o.a) return a > o.a;
    return b > o.b;
  }
};

inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct PairInfo {
  int64_t count = 0;
  std::vector<uint32_t> words;  // indices of words that contain (or once contained) the pair
};

}  // namespace

struct BpeTrainer::State {
  BpeTrainConfig cfg;
  tok::AddedTrie specials;
  bool has_specials = false;
  bool allow_cuts = true;  // false when a special token contains '\n' (it could span a cut)
  WordCounts words;
  uint64_t documents = 0, bytes = 0, nwords = 0;
  double count_seconds = 0;

  int threads() const { return cfg.threads > 0 ? cfg.threads : omp_get_max_threads(); }

  void count_views(const std::vector<std::string_view>& views) {
    if (views.empty()) return;
    const tok::AddedTrie* trie = has_specials ? &specials : nullptr;
    const int nt = int(std::min<size_t>(size_t(std::max(1, threads())), views.size()));
    if (nt <= 1) {
      for (std::string_view v : views) count_piece(v, trie, words, nwords);
      return;
    }
    std::vector<WordCounts> local(static_cast<size_t>(nt));
    std::vector<uint64_t> local_words(size_t(nt), 0);
    std::vector<std::exception_ptr> errors(static_cast<size_t>(nt));
#pragma omp parallel num_threads(nt)
    {
      const size_t t = size_t(omp_get_thread_num());
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < int64_t(views.size()); ++i) {
        if (errors[t]) continue;
        try {
          count_piece(views[size_t(i)], trie, local[t], local_words[t]);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      }
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    // Sums commute: the merged counts do not depend on which thread counted what.
    for (size_t t = 0; t < local.size(); ++t) {
      nwords += local_words[t];
      WordCounts& m = local[t];
      if (words.empty()) {
        words = std::move(m);
        continue;
      }
      for (auto it = m.begin(); it != m.end();) {
        auto node = m.extract(it++);
        auto r = words.insert(std::move(node));
        if (!r.inserted) r.position->second += r.node.mapped();
      }
    }
  }

  void count_texts(const std::vector<std::string>& texts) {
    std::vector<std::string_view> views;
    for (const std::string& t : texts) cut_pieces(t, cfg.chunk_bytes, allow_cuts, views);
    count_views(views);
  }

  size_t batch_limit() const { return std::max<size_t>(size_t{32} << 20, 2 * size_t(threads()) * cfg.chunk_bytes); }
};

BpeTrainer::BpeTrainer(BpeTrainConfig config) : s_(std::make_unique<State>()) {
  s_->cfg = std::move(config);
  const BpeTrainConfig& c = s_->cfg;
  ZAYA_CHECK(c.min_frequency >= 0, "BPE training: min_frequency ", c.min_frequency, " must be >= 0");
  tok::StringSet seen;
  for (size_t i = 0; i < c.special_tokens.size(); ++i) {
    const std::string& t = c.special_tokens[i];
    ZAYA_CHECK(!t.empty(), "BPE training: special token ", i, " is empty");
    ZAYA_CHECK(tok::is_valid_utf8(t), "BPE training: special token ", i, " is not valid UTF-8");
    ZAYA_CHECK(seen.insert(t).second, "BPE training: special token '", t, "' is given twice");
    s_->specials.add(t, int32_t(i));
    if (t.find('\n') != std::string::npos) s_->allow_cuts = false;
  }
  s_->has_specials = !c.special_tokens.empty();
  const int64_t needed = int64_t(c.special_tokens.size()) + 256;
  ZAYA_CHECK(c.vocab_size >= needed, "vocabulary size ", c.vocab_size, " is too small: the ", c.special_tokens.size(),
             " special token(s) and the 256 byte tokens alone need ", needed);
  ZAYA_CHECK(!c.add_bos || seen.count(std::string_view("<bos>")),
             "BPE training: add_bos needs \"<bos>\" among the special tokens (add it, or train without BOS)");
}

BpeTrainer::~BpeTrainer() = default;

uint64_t BpeTrainer::documents() const { return s_->documents; }
uint64_t BpeTrainer::bytes() const { return s_->bytes; }

void BpeTrainer::add_document(std::string_view text) {
  const auto t0 = Clock::now();
  std::vector<std::string_view> views;
  cut_pieces(text, s_->cfg.chunk_bytes, s_->allow_cuts, views);
  s_->count_views(views);
  ++s_->documents;
  s_->bytes += text.size();
  s_->count_seconds += seconds_since(t0);
}

void BpeTrainer::add_documents(const std::vector<std::string>& texts) {
  const auto t0 = Clock::now();
  s_->count_texts(texts);
  s_->documents += texts.size();
  for (const std::string& t : texts) s_->bytes += t.size();
  s_->count_seconds += seconds_since(t0);
}

void BpeTrainer::add_files(const std::vector<std::string>& paths, bool force_jsonl) {
  const auto t0 = Clock::now();
  State& s = *s_;
  double total = 0;
  for (const std::string& p : paths) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(p, ec);
    ZAYA_CHECK(!ec, p, ": cannot open (", ec.message(), ")");
    total += double(size);
  }
  std::unique_ptr<Progress> prog;
  if (s.cfg.progress) prog = std::make_unique<Progress>("counting words", total, "MB", 1e6);
  double done = 0;
  std::vector<std::string> batch;
  size_t batch_bytes = 0;
  auto flush = [&] {
    s.count_texts(batch);
    batch.clear();
    batch_bytes = 0;
    if (prog) prog->update(done);
  };
  auto push = [&](std::string text) {
    s.bytes += text.size();
    batch_bytes += text.size();
    batch.push_back(std::move(text));
    if (batch_bytes >= s.batch_limit() || batch.size() >= 65536) flush();
  };
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    ZAYA_CHECK(in.good(), path, ": cannot open");
    if (force_jsonl || ends_with(path, ".jsonl")) {
      std::string line;
      int64_t lineno = 0;
      while (std::getline(in, line)) {
        ++lineno;
        done += double(line.size() + 1);
        if (blank(line)) continue;
        ++s.documents;
        push(jsonl_text(line, path, lineno));
      }
      ZAYA_CHECK(!in.bad(), path, ": read error");
    } else {
      // One document, read in blocks; a block is handed on up to its last safe cut.
      ++s.documents;
      const size_t block = std::max<size_t>(s.cfg.chunk_bytes, 64);
      std::string buf;
      std::vector<char> chunk(block);
      size_t searched = 0;  // buf holds no cut at or below this
      while (in) {
        in.read(chunk.data(), std::streamsize(block));
        const size_t got = size_t(in.gcount());
        if (got == 0) break;
        done += double(got);
        buf.append(chunk.data(), got);
        if (buf.size() < block || !s.allow_cuts) continue;
        const size_t p = bpe_detail::last_safe_cut(buf, searched);
        if (p) {
          push(buf.substr(0, p));
          buf.erase(0, p);
        }
        searched = buf.size() >= 8 ? buf.size() - 8 : 0;
      }
      ZAYA_CHECK(!in.bad(), path, ": read error");
      if (!buf.empty()) push(std::move(buf));
    }
  }
  flush();
  if (prog) prog->finish();
  s.count_seconds += seconds_since(t0);
}

BpeTrainResult BpeTrainer::train() {
  State& s = *s_;
  const BpeTrainConfig& cfg = s.cfg;
  BpeTrainResult res;
  res.documents = s.documents;
  res.bytes = s.bytes;
  res.words = s.nwords;
  res.unique_words = s.words.size();
  res.count_seconds = s.count_seconds;
  ZAYA_CHECK(!s.words.empty(), "empty input: ", s.documents, " document(s) with ", s.bytes,
             " byte(s) hold no text to train on");
  const auto t0 = Clock::now();

  // Vocabulary: special tokens, the 256 byte tokens, then merged tokens.
  std::vector<std::string> id_to_tok;
  tok::StringMap<int32_t> tok_to_id;
  auto get_or_add = [&](const std::string& t) {
    auto it = tok_to_id.find(t);
    if (it != tok_to_id.end()) return it->second;
    const int32_t id = int32_t(id_to_tok.size());
    id_to_tok.push_back(t);
    tok_to_id.emplace(t, id);
    return id;
  };
  for (const std::string& t : cfg.special_tokens) get_or_add(t);
  std::array<int32_t, 256> byte_id{};
  const auto& chars = tok::byte_level_chars();
  for (int b = 0; b < 256; ++b) byte_id[size_t(b)] = get_or_add(chars[size_t(b)]);

  // Words in a fixed (byte-wise sorted) order, as symbol sequences; one-symbol words have no pairs.
  std::vector<std::pair<std::string, int64_t>> sorted;
  sorted.reserve(s.words.size());
  for (auto it = s.words.begin(); it != s.words.end();) {
    auto node = s.words.extract(it++);
    sorted.emplace_back(std::move(node.key()), node.mapped());
  }
  s.words = WordCounts();
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> syms;
  std::vector<int64_t> freq;
  for (auto& [w, n] : sorted) {
    if (w.size() < 2) continue;
    std::vector<int32_t> v(w.size());
    for (size_t i = 0; i < w.size(); ++i) v[i] = byte_id[static_cast<unsigned char>(w[i])];
    syms.push_back(std::move(v));
    freq.push_back(n);
  }
  sorted.clear();
  sorted.shrink_to_fit();

  // Initial pair counts and where each pair occurs.
  std::unordered_map<uint64_t, PairInfo> pairs;
  for (size_t w = 0; w < syms.size(); ++w) {
    const auto& v = syms[w];
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      PairInfo& p = pairs[pair_key(v[i], v[i + 1])];
      p.count += freq[w];
      if (p.words.empty() || p.words.back() != uint32_t(w)) p.words.push_back(uint32_t(w));
    }
  }
  std::vector<HeapEntry> heap_init;
  heap_init.reserve(pairs.size());
  for (const auto& [k, p] : pairs) heap_init.push_back({p.count, int32_t(k >> 32), int32_t(uint32_t(k))});
  std::priority_queue<HeapEntry> heap(std::less<HeapEntry>(), std::move(heap_init));

  const int64_t min_freq = std::max(1, cfg.min_frequency);
  const size_t target = size_t(cfg.vocab_size);
  std::unique_ptr<Progress> prog;
  if (cfg.progress) prog = std::make_unique<Progress>("merging", double(target - id_to_tok.size()), "merges");
  const size_t initial_vocab = id_to_tok.size();

  std::vector<uint64_t> touched;
  std::vector<int32_t> out;
  std::vector<uint8_t> old_mark, new_mark;
  auto delta = [&](int32_t x, int32_t y, int64_t d, uint32_t w) {
    const uint64_t k = pair_key(x, y);
    PairInfo& p = pairs[k];
    p.count += d;
    if (d > 0 && (p.words.empty() || p.words.back() != w)) p.words.push_back(w);
    touched.push_back(k);
  };

  while (id_to_tok.size() < target && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const uint64_t key = pair_key(top.a, top.b);
    auto it = pairs.find(key);
    if (it == pairs.end() || it->second.count != top.count) continue;  // stale entry
    if (top.count < min_freq) break;
    const int32_t a = top.a, b = top.b;
    res.merges.push_back({id_to_tok[size_t(a)], id_to_tok[size_t(b)], top.count});
    const int32_t c = get_or_add(id_to_tok[size_t(a)] + id_to_tok[size_t(b)]);
    std::vector<uint32_t> where = std::move(it->second.words);
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    touched.clear();
    for (uint32_t w : where) {
      std::vector<int32_t>& v = syms[w];
      const size_t n = v.size();
      out.clear();
      new_mark.clear();
      old_mark.assign(n, 0);
      bool any = false;
      for (size_t i = 0; i < n;) {
        if (i + 1 < n && v[i] == a && v[i + 1] == b) {
          old_mark[i] = old_mark[i + 1] = 1;
          out.push_back(c);
          new_mark.push_back(1);
          i += 2;
          any = true;
        } else {
          out.push_back(v[i]);
          new_mark.push_back(0);
          ++i;
        }
      }
      if (!any) continue;  // the pair left this word in an earlier merge
      // Pairs that touch a merged position change; all others stay as they are.
      const int64_t f = freq[w];
      for (size_t i = 0; i + 1 < n; ++i) {
        if (old_mark[i] | old_mark[i + 1]) delta(v[i], v[i + 1], -f, w);
      }
      for (size_t i = 0; i + 1 < out.size(); ++i) {
        if (new_mark[i] | new_mark[i + 1]) delta(out[i], out[i + 1], f, w);
      }
      v.assign(out.begin(), out.end());
    }
    pairs.erase(key);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) {
      auto p = pairs.find(k);
      if (p == pairs.end()) continue;
      if (p->second.count <= 0) {
        pairs.erase(p);
      } else {
        heap.push({p->second.count, int32_t(k >> 32), int32_t(uint32_t(k))});
      }
    }
    if (prog) prog->update(double(id_to_tok.size() - initial_vocab));
  }
  if (prog) prog->finish();
  res.vocab_size = int32_t(id_to_tok.size());

  // tokenizer.json, in the layout the Python library writes.
  std::string j;
  j.reserve(id_to_tok.size() * 24 + res.merges.size() * 24 + 4096);
  j += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
  for (size_t i = 0; i < cfg.special_tokens.size(); ++i) {
    const std::string& t = cfg.special_tokens[i];
    j += i ? ",\n    " : "\n    ";
    j += "{\"id\": " + std::to_string(tok_to_id.at(t)) + ", \"content\": " + quote(t) +
         ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}";
  }
  j += cfg.special_tokens.empty() ? "],\n" : "\n  ],\n";
  j += "  \"normalizer\": null,\n";
  j += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
       "\"use_regex\": true},\n";
  if (cfg.add_bos) {
    const std::string bos_id = std::to_string(tok_to_id.at("<bos>"));
    j += "  \"post_processor\": {\"type\": \"TemplateProcessing\", "
         "\"single\": [{\"SpecialToken\": {\"id\": \"<bos>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "
         "\"type_id\": 0}}], "
         "\"pair\": [{\"SpecialToken\": {\"id\": \"<bos>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", "
         "\"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<bos>\", \"type_id\": 1}}, {\"Sequence\": {\"id\": \"B\", "
         "\"type_id\": 1}}], "
         "\"special_tokens\": {\"<bos>\": {\"id\": \"<bos>\", \"ids\": [" +
         bos_id + "], \"tokens\": [\"<bos>\"]}}},\n";
  } else {
    j += "  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, "
         "\"use_regex\": true},\n";
  }
  j += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
       "\"use_regex\": true},\n";
  j += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
       "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
       "    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {";
  for (size_t i = 0; i < id_to_tok.size(); ++i) {
    j += i ? ",\n      " : "\n      ";
    j += quote(id_to_tok[i]) + ": " + std::to_string(i);
  }
  j += "\n    },\n    \"merges\": [";
  for (size_t i = 0; i < res.merges.size(); ++i) {
    j += i ? ",\n      [" : "\n      [";
    j += quote(res.merges[i].left) + ", " + quote(res.merges[i].right) + "]";
  }
  j += res.merges.empty() ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n";
  res.json = std::move(j);
  res.merge_seconds = seconds_since(t0);

  s.nwords = 0;
  s.documents = 0;
  s.bytes = 0;
  s.count_seconds = 0;
  return res;
}

std::string train_bpe_bytelevel(const std::vector<std::string>& texts, const BpeTrainConfig& config) {
  BpeTrainer t(config);
  t.add_documents(texts);
  return t.train().json;
}

std::string train_bpe_bytelevel_files(const std::vector<std::string>& paths, const BpeTrainConfig& config,
                                      bool force_jsonl) {
  BpeTrainer t(config);
  t.add_files(paths, force_jsonl);
  return t.train().json;
}

}  // namespace zaya
