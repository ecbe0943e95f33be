// The BPE model: characters (or byte-fallback / unk tokens) merged by rank, lowest first.
#include <algorithm>
#include <functional>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

void MergeMap::reserve(size_t n) {
  size_t cap = 16;
  int bits = 4;
  while (cap < n * 2) {
    cap <<= 1;
    ++bits;
  }
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(cap, Entry{kEmpty, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  size_ = 0;
  for (const Entry& e : old) {
    if (e.key != kEmpty) insert_or_assign(int32_t(e.key >> 32), int32_t(uint32_t(e.key)), e.rank, e.new_id);
  }
}

void MergeMap::insert_or_assign(int32_t a, int32_t b, uint32_t rank, int32_t new_id) {
  if ((size_ + 1) * 2 > slots_.size()) reserve(size_ + 1);
  const uint64_t key = make_key(a, b);
  for (size_t i = hash(key);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.key == key) {  // a later duplicate merge overrides the earlier one
      e.rank = rank;
      e.new_id = new_id;
      return;
    }
    if (e.key == kEmpty) {
      e = Entry{key, rank, new_id};
      ++size_;
      return;
    }
  }
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // 0: merged away
};

struct QueuedMerge {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
  bool operator>(const QueuedMerge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

void add_symbol(std::vector<Symbol>& syms, int32_t id, uint32_t len) {
  const int32_t index = int32_t(syms.size());
  if (index > 0) syms.back().next = index;
  syms.push_back(Symbol{id, index - 1, -1, len});
}

}  // namespace

void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  thread_local std::vector<Symbol> syms;
  syms.clear();
  int32_t unk_id = -1;  // pending unk token (-1: none) and the bytes it covers
  uint32_t unk_len = 0;
  std::string piece;
  size_t i = 0;
  while (i < w.size()) {
    size_t len = 1;
    next_cp(w, i, &len);
    const bool is_first = i == 0;
    const bool is_last = i + len >= w.size();
    std::string_view s = w.substr(i, len);
    if ((prefix && !is_first) || (suffix && is_last)) {
      piece.clear();
      if (prefix && !is_first) piece += *prefix;
      piece += s;
      if (suffix && is_last) piece += *suffix;
      s = piece;
    }
    i += len;
    auto it = vocab.find(s);
    if (it != vocab.end()) {
      if (unk_id >= 0) {
        add_symbol(syms, unk_id, unk_len);
        unk_id = -1;
      }
      add_symbol(syms, it->second, uint32_t(len));
      continue;
    }
    if (byte_fallback) {
      bool all = true;
      for (unsigned char b : s) all = all && byte_ids[b] >= 0;
      if (all) {
        for (unsigned char b : s) add_symbol(syms, byte_ids[b], 1);
        continue;
      }
    }
    if (unk_token) {
      auto u = vocab.find(*unk_token);
      if (unk_id >= 0 && fuse_unk) {
        unk_len += uint32_t(len);
      } else {
        if (unk_id >= 0) add_symbol(syms, unk_id, unk_len);
        if (u == vocab.end()) {
          throw_error(what, ": model.unk_token '", *unk_token, "' is not in the model vocabulary");
        }
        unk_id = u->second;
        unk_len = uint32_t(len);
      }
    }
  }
  if (unk_id >= 0) add_symbol(syms, unk_id, unk_len);

  // Min-heap on (rank, position): the library's BinaryHeap order.
  thread_local std::vector<QueuedMerge> queue;
  queue.clear();
  const std::greater<> after;
  auto push = [&](const QueuedMerge& m) {
    queue.push_back(m);
    std::push_heap(queue.begin(), queue.end(), after);
  };
  for (size_t k = 0; k + 1 < syms.size(); ++k) {
    if (const MergeMap::Entry* m = merges.find(syms[k].id, syms[k + 1].id)) {
      push(QueuedMerge{m->rank, uint32_t(k), m->new_id});
    }
  }
  const int32_t n = int32_t(syms.size());
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), after);
    const QueuedMerge top = queue.back();
    queue.pop_back();
    Symbol& cur = syms[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const int32_t next_pos = cur.next;
    const Symbol right = syms[next_pos];
    const MergeMap::Entry* m = merges.find(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    syms[next_pos].len = 0;
    if (right.next > -1 && right.next < n) syms[right.next].prev = int32_t(top.pos);
    if (cur.prev >= 0) {
      if (const MergeMap::Entry* pm = merges.find(syms[cur.prev].id, cur.id)) {
        push(QueuedMerge{pm->rank, uint32_t(cur.prev), pm->new_id});
      }
    }
    if (cur.next >= 0 && cur.next < n) {
      if (const MergeMap::Entry* nm = merges.find(cur.id, syms[cur.next].id)) {
        push(QueuedMerge{nm->rank, top.pos, nm->new_id});
      }
    }
  }
  for (const Symbol& s : syms) {
    if (s.len != 0) out.push_back(s.id);
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges) {
    auto it = vocab.find(word);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) {
      cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + before, out.end()));
    }
  }
}

}  // namespace zaya::tok
