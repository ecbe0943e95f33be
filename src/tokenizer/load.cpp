// tokenizer.json parsing. Every failure is a zaya::Error naming the file and the field.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"

namespace zaya::tok {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxId = (int64_t{1} << 24) - 1;  // ids above this are rejected
constexpr int kMaxDepth = 64;                       // nesting of Sequence components
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const char* json_type(const json& j) { return j.type_name(); }

class Loader {
 public:
  explicit Loader(const std::string& what) : what_(what) {}

  [[noreturn]] void fail(const std::string& field, const std::string& message) const {
    if (field.empty()) throw_error(what_, ": ", message);
    throw_error(what_, ": ", field, " ", message);
  }

  static std::string at(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string at(const std::string& path, size_t index) {
    return path + "[" + std::to_string(index) + "]";
  }

  // The member, or nullptr when absent or null.
  static const json* member(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const json& object_member(const json& obj, const char* key, const std::string& path) const {
    const json* m = member(obj, key);
    if (!m) fail(at(path, key), "is missing");
    if (!m->is_object()) fail(at(path, key), std::string("must be an object, not ") + json_type(*m));
    return *m;
  }
  const json& array_member(const json& obj, const char* key, const std::string& path) const {
    const json* m = member(obj, key);
    if (!m) fail(at(path, key), "is missing");
    if (!m->is_array()) fail(at(path, key), std::string("must be an array, not ") + json_type(*m));
    return *m;
  }
  std::string string_value(const json& j, const std::string& field) const {
    if (!j.is_string()) fail(field, std::string("must be a string, not ") + json_type(j));
    return j.get<std::string>();
  }
  std::string string_member(const json& obj, const char* key, const std::string& path) const {
    const json* m = member(obj, key);
    if (!m) fail(at(path, key), "is missing");
    return string_value(*m, at(path, key));
  }
  std::optional<std::string> optional_string(const json& obj, const char* key, const std::string& path) const {
    const json* m = member(obj, key);
    if (!m) return std::nullopt;
    return string_value(*m, at(path, key));
  }
  bool bool_member(const json& obj, const char* key, const std::string& path, bool fallback) const {
    const json* m = member(obj, key);
    if (!m) return fallback;
    if (!m->is_boolean()) fail(at(path, key), std::string("must be a boolean, not ") + json_type(*m));
    return m->get<bool>();
  }
  int64_t int_value(const json& j, const std::string& field, int64_t lo, int64_t hi) const {
    if (!j.is_number_integer()) fail(field, std::string("must be an integer, not ") + json_type(j));
    if (j.is_number_unsigned() ? j.get<uint64_t>() > uint64_t(hi) : j.get<int64_t>() > hi) {
      fail(field, "must be at most " + std::to_string(hi));
    }
    const int64_t v = j.is_number_unsigned() ? int64_t(j.get<uint64_t>()) : j.get<int64_t>();
    if (v < lo) fail(field, "must be at least " + std::to_string(lo));
    return v;
  }
  std::string type_member(const json& obj, const std::string& path) const {
    if (!obj.is_object()) fail(path, std::string("must be an object, not ") + json_type(obj));
    return string_member(obj, "type", path);
  }
  [[noreturn]] void unsupported_type(const std::string& path, const std::string& type) const {
    fail(at(path, "type"), "'" + type + "' is not supported");
  }
  void check_depth(int depth, const std::string& path) const {
    if (depth > kMaxDepth) fail(path, "is nested too deeply");
  }

  // {"String": "..."} (non-empty) or {"Regex": "..."}; returns the string, sets *is_regex.
  std::string pattern_member(const json& obj, const std::string& path, bool* is_regex) const {
    const json& p = object_member(obj, "pattern", path);
    const std::string field = at(path, "pattern");
    if (p.size() != 1) fail(field, "must have exactly one of \"String\" or \"Regex\"");
    if (const json* s = member(p, "String")) {
      *is_regex = false;
      std::string v = string_value(*s, at(field, "String"));
      if (v.empty()) fail(at(field, "String"), "must not be empty");
      return v;
    }
    if (const json* r = member(p, "Regex")) {
      *is_regex = true;
      return string_value(*r, at(field, "Regex"));
    }
    fail(field, "must have exactly one of \"String\" or \"Regex\"");
  }

  Normalizer normalizer(const json& j, const std::string& path, int depth) const {
    check_depth(depth, path);
    const std::string type = type_member(j, path);
    Normalizer n;
    if (type == "Replace") {
      bool regex = false;
      n.kind = Normalizer::Kind::Replace;
      n.pattern = pattern_member(j, path, &regex);
      if (regex) fail(at(path, "pattern.Regex"), "is not supported (only String patterns)");
      n.content = string_member(j, "content", path);
    } else if (type == "Prepend") {
      n.kind = Normalizer::Kind::Prepend;
      n.content = string_member(j, "prepend", path);
    } else if (type == "Sequence") {
      const json& list = array_member(j, "normalizers", path);
      for (size_t i = 0; i < list.size(); ++i) {
        n.children.push_back(normalizer(list[i], at(at(path, "normalizers"), i), depth + 1));
      }
    } else {
      unsupported_type(path, type);
    }
    return n;
  }

  PreTokenizer pre_tokenizer(const json& j, const std::string& path, int depth) const {
    check_depth(depth, path);
    const std::string type = type_member(j, path);
    PreTokenizer p;
    if (type == "Split") {
      p.kind = PreTokenizer::Kind::Split;
      bool regex = false;
      p.pattern = pattern_member(j, path, &regex);
      if (regex) {
        if (p.pattern != kGpt2Regex) {
          fail(at(path, "pattern.Regex"), "'" + p.pattern + "' is not supported (only the GPT-2 regex)");
        }
        p.gpt2_regex = true;
      }
      const std::string behavior = string_member(j, "behavior", path);
      if (behavior == "Removed") {
        p.behavior = SplitBehavior::Removed;
      } else if (behavior == "Isolated") {
        p.behavior = SplitBehavior::Isolated;
      } else if (behavior == "MergedWithPrevious") {
        p.behavior = SplitBehavior::MergedWithPrevious;
      } else if (behavior == "MergedWithNext") {
        p.behavior = SplitBehavior::MergedWithNext;
      } else if (behavior == "Contiguous") {
        p.behavior = SplitBehavior::Contiguous;
      } else {
        fail(at(path, "behavior"), "'" + behavior + "' is not a known split behavior");
      }
      p.invert = bool_member(j, "invert", path, false);
    } else if (type == "ByteLevel") {
      p.kind = PreTokenizer::Kind::ByteLevel;
      p.add_prefix_space = bool_member(j, "add_prefix_space", path, true);
      p.use_regex = bool_member(j, "use_regex", path, true);
      bool_member(j, "trim_offsets", path, true);  // offsets only
    } else if (type == "Sequence") {
      const json& list = array_member(j, "pretokenizers", path);
      for (size_t i = 0; i < list.size(); ++i) {
        p.children.push_back(pre_tokenizer(list[i], at(at(path, "pretokenizers"), i), depth + 1));
      }
    } else {
      unsupported_type(path, type);
    }
    return p;
  }

  Decoder decoder(const json& j, const std::string& path, int depth) const {
    check_depth(depth, path);
    const std::string type = type_member(j, path);
    Decoder d;
    if (type == "Replace") {
      bool regex = false;
      d.kind = Decoder::Kind::Replace;
      d.pattern = pattern_member(j, path, &regex);
      if (regex) fail(at(path, "pattern.Regex"), "is not supported (only String patterns)");
      d.content = string_member(j, "content", path);
    } else if (type == "ByteFallback") {
      d.kind = Decoder::Kind::ByteFallback;
    } else if (type == "Fuse") {
      d.kind = Decoder::Kind::Fuse;
    } else if (type == "Strip") {
      d.kind = Decoder::Kind::Strip;
      const std::string content = string_member(j, "content", path);
      size_t len = 0;
      d.strip_char = content.empty() ? 0 : next_cp(content, 0, &len);
      if (content.empty() || len != content.size()) fail(at(path, "content"), "must be one character");
      const json* start = member(j, "start");
      const json* stop = member(j, "stop");
      d.strip_start = start ? size_t(int_value(*start, at(path, "start"), 0, kMaxId)) : 0;
      d.strip_stop = stop ? size_t(int_value(*stop, at(path, "stop"), 0, kMaxId)) : 0;
    } else if (type == "ByteLevel") {
      d.kind = Decoder::Kind::ByteLevel;
    } else if (type == "Sequence") {
      const json& list = array_member(j, "decoders", path);
      for (size_t i = 0; i < list.size(); ++i) {
        d.children.push_back(decoder(list[i], at(at(path, "decoders"), i), depth + 1));
      }
    } else {
      unsupported_type(path, type);
    }
    return d;
  }

  // ["<s>", 0] as used by BertProcessing / RobertaProcessing.
  int32_t token_pair_id(const json& j, const char* key, const std::string& path) const {
    const json* m = member(j, key);
    const std::string field = at(path, key);
    if (!m) fail(field, "is missing");
    if (!m->is_array() || m->size() != 2) fail(field, "must be a [token, id] pair");
    string_value((*m)[0], at(field, 0));
    return int32_t(int_value((*m)[1], at(field, 1), 0, kMaxId));
  }

  void post_processor(const json& j, const std::string& path, int depth, PostProcessor& out) const {
    check_depth(depth, path);
    const std::string type = type_member(j, path);
    if (type == "TemplateProcessing") {
      const json& single = array_member(j, "single", path);
      const json* specials = member(j, "special_tokens");
      if (specials && !specials->is_object()) fail(at(path, "special_tokens"), "must be an object");
      std::vector<int32_t> prefix, suffix;
      int sequences = 0;
      for (size_t i = 0; i < single.size(); ++i) {
        const std::string field = at(at(path, "single"), i);
        const json& piece = single[i];
        if (!piece.is_object() || piece.size() != 1) fail(field, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        if (const json* seq = member(piece, "Sequence")) {
          if (!seq->is_object()) fail(at(field, "Sequence"), "must be an object");
          const std::string id = string_member(*seq, "id", at(field, "Sequence"));
          if (id != "A") fail(at(field, "Sequence.id"), "'" + id + "' is not supported in a single-sequence template");
          ++sequences;
        } else if (const json* sp = member(piece, "SpecialToken")) {
          if (!sp->is_object()) fail(at(field, "SpecialToken"), "must be an object");
          const std::string id = string_member(*sp, "id", at(field, "SpecialToken"));
          const json* entry = specials ? member(*specials, id.c_str()) : nullptr;
          if (!entry) fail(at(path, "special_tokens"), "has no entry for '" + id + "'");
          const std::string efield = at(at(path, "special_tokens"), id);
          if (!entry->is_object()) fail(efield, "must be an object");
          const json& ids = array_member(*entry, "ids", efield);
          for (size_t k = 0; k < ids.size(); ++k) {
            (sequences ? suffix : prefix).push_back(int32_t(int_value(ids[k], at(at(efield, "ids"), k), 0, kMaxId)));
          }
        } else {
          fail(field, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        }
      }
      if (sequences != 1) fail(at(path, "single"), "must contain the sequence $A exactly once");
      out.prefix.insert(out.prefix.begin(), prefix.begin(), prefix.end());
      out.suffix.insert(out.suffix.end(), suffix.begin(), suffix.end());
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      const int32_t cls = token_pair_id(j, "cls", path);
      const int32_t sep = token_pair_id(j, "sep", path);
      out.prefix.insert(out.prefix.begin(), cls);
      out.suffix.push_back(sep);
    } else if (type == "ByteLevel") {
      // offsets only
    } else if (type == "Sequence") {
      const json& list = array_member(j, "processors", path);
      for (size_t i = 0; i < list.size(); ++i) {
        post_processor(list[i], at(at(path, "processors"), i), depth + 1, out);
      }
    } else {
      unsupported_type(path, type);
    }
  }

  void model(const json& root, BpeModel& m) const {
    const json& j = object_member(root, "model", "");
    const std::string path = "model";
    if (const json* t = member(j, "type")) {
      const std::string type = string_value(*t, "model.type");
      if (type != "BPE") fail("model.type", "'" + type + "' is not supported (only BPE)");
    } else if (!member(j, "merges")) {
      fail("model.type", "is missing");
    }
    if (const json* dropout = member(j, "dropout")) {
      if (!dropout->is_number()) fail("model.dropout", "must be a number or null");
      if (dropout->get<double>() != 0.0) fail("model.dropout", "is not supported (BPE dropout is random)");
    }
    m.what = what_;
    m.unk_token = optional_string(j, "unk_token", path);
    m.prefix = optional_string(j, "continuing_subword_prefix", path);
    m.suffix = optional_string(j, "end_of_word_suffix", path);
    m.fuse_unk = bool_member(j, "fuse_unk", path, false);
    m.byte_fallback = bool_member(j, "byte_fallback", path, false);
    m.ignore_merges = bool_member(j, "ignore_merges", path, false);

    const json& vocab = object_member(j, "vocab", path);
    int64_t max_id = -1;
    m.vocab.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const int64_t id = int_value(it.value(), "model.vocab['" + it.key() + "']", 0, kMaxId);
      m.vocab[it.key()] = int32_t(id);
      max_id = std::max(max_id, id);
    }
    m.max_id = int32_t(max_id);
    if (max_id < 2 * int64_t(m.vocab.size()) + 1024) {
      m.vocab_r.assign(size_t(max_id + 1), nullptr);
      for (const auto& [token, id] : m.vocab) m.vocab_r[id] = &token;
    } else {
      for (const auto& [token, id] : m.vocab) m.vocab_r_sparse[id] = &token;
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = m.vocab.find(std::string_view(name));
      m.byte_ids[b] = it == m.vocab.end() ? -1 : it->second;
    }

    const json& merges = array_member(j, "merges", path);
    const size_t prefix_len = m.prefix ? m.prefix->size() : 0;
    m.merges.reserve(merges.size());
    uint32_t rank = 0;
    std::string joined;
    for (size_t i = 0; i < merges.size(); ++i) {
      const json& e = merges[i];
      const std::string field = at("model.merges", i);
      std::string_view a, b;
      std::string line;
      if (e.is_string()) {
        line = e.get<std::string>();
        if (line.rfind("#version", 0) == 0) continue;
        const size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
          fail(field, "'" + line + "' must be two tokens separated by one space");
        }
        a = std::string_view(line).substr(0, space);
        b = std::string_view(line).substr(space + 1);
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        a = e[0].get_ref<const std::string&>();
        b = e[1].get_ref<const std::string&>();
      } else {
        fail(field, "must be a [left, right] pair of strings or a \"left right\" string");
      }
      auto ia = m.vocab.find(a);
      if (ia == m.vocab.end()) fail(field, "token '" + std::string(a) + "' is not in model.vocab");
      auto ib = m.vocab.find(b);
      if (ib == m.vocab.end()) fail(field, "token '" + std::string(b) + "' is not in model.vocab");
      if (b.size() < prefix_len) fail(field, "token '" + std::string(b) + "' is shorter than continuing_subword_prefix");
      joined.assign(a);
      joined.append(b.substr(prefix_len));
      auto ij = m.vocab.find(joined);
      if (ij == m.vocab.end()) fail(field, "merged token '" + joined + "' is not in model.vocab");
      m.merges.insert_or_assign(ia->second, ib->second, rank++, ij->second);
    }
  }

  void added_tokens(const json& root, TokenizerImpl& t) const {
    const json* list = member(root, "added_tokens");
    if (!list) return;
    if (!list->is_array()) fail("added_tokens", std::string("must be an array, not ") + json_type(*list));
    std::vector<AddedToken> tokens;
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string field = at("added_tokens", i);
      const json& e = (*list)[i];
      if (!e.is_object()) fail(field, "must be an object");
      AddedToken a;
      a.content = string_member(e, "content", field);
      if (const json* id = member(e, "id")) int_value(*id, at(field, "id"), 0, int64_t(UINT32_MAX));
      a.single_word = bool_member(e, "single_word", field, false);
      a.lstrip = bool_member(e, "lstrip", field, false);
      a.rstrip = bool_member(e, "rstrip", field, false);
      a.normalized = bool_member(e, "normalized", field, true);
      a.special = bool_member(e, "special", field, false);
      tokens.push_back(std::move(a));
    }
    // The library ignores the ids written in the file: a token keeps its model id when its
    // content is in the model vocabulary, otherwise it gets the next id after
    // max(model vocabulary size, largest added id). Mirrors AddedVocabulary::add_tokens.
    AddedVocab& av = t.added;
    std::vector<const AddedToken*> special_list, added_list;
    for (const AddedToken& a : tokens) {
      if (a.special && !a.content.empty() && av.special.insert(a.content).second) special_list.push_back(&a);
    }
    const int64_t model_size = int64_t(t.model.vocab.size());
    int64_t max_added = -1;
    auto same = [](const AddedToken& x, const AddedToken& y) {
      return x.content == y.content && x.single_word == y.single_word && x.lstrip == y.lstrip &&
             x.rstrip == y.rstrip && x.normalized == y.normalized && x.special == y.special;
    };
    for (const AddedToken& a : tokens) {
      if (a.content.empty()) continue;
      int64_t id;
      if (auto it = av.map.find(a.content); it != av.map.end()) {
        id = it->second;
        auto r = av.map_r.find(int32_t(id));
        if (r != av.map_r.end() && same(r->second, a)) continue;  // exact duplicate
      } else if (auto mv = t.model.vocab.find(a.content); mv != t.model.vocab.end()) {
        id = mv->second;
      } else if (max_added < 0) {
        id = model_size;
      } else {
        id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
      }
      if (id > kMaxId) fail("added_tokens", "has too many tokens");
      av.map[a.content] = int32_t(id);
      max_added = std::max(max_added, id);
      av.map_r[int32_t(id)] = a;
      if (!av.special.count(a.content)) added_list.push_back(&a);
    }
    for (auto& [id, token] : av.map_r) {
      token.text = token.content;
      if (token.normalized && t.normalizer) t.normalizer->apply(token.text, growth_limit(token.text.size()));
    }
    for (const auto* list_part : {&special_list, &added_list}) {
      for (const AddedToken* a : *list_part) {
        const int32_t id = av.map.at(a->content);
        if (a->normalized) {
          std::string content = a->content;
          if (t.normalizer) t.normalizer->apply(content, growth_limit(content.size()));
          av.norm_trie.add(content, id);
        } else {
          av.raw_trie.add(a->content, id);
        }
      }
    }
  }

 private:
  const std::string& what_;
};

}  // namespace

std::shared_ptr<TokenizerImpl> load_tokenizer_json(const std::string& text, const std::string& what) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw_error(what, ": invalid JSON: ", e.what());
  }
  const Loader L(what);
  if (!root.is_object()) L.fail("", "the top level must be a JSON object");
  auto t = std::make_shared<TokenizerImpl>();
  t->what = what;
  try {
    if (const json* n = Loader::member(root, "normalizer")) t->normalizer = L.normalizer(*n, "normalizer", 0);
    if (const json* p = Loader::member(root, "pre_tokenizer")) t->pre_tokenizer = L.pre_tokenizer(*p, "pre_tokenizer", 0);
    L.model(root, t->model);
    if (const json* p = Loader::member(root, "post_processor")) {
      t->post_processor.emplace();
      L.post_processor(*p, "post_processor", 0, *t->post_processor);
    }
    if (const json* d = Loader::member(root, "decoder")) t->decoder = L.decoder(*d, "decoder", 0);
    L.added_tokens(root, *t);
  } catch (const json::exception& e) {  // defensive: the checks above should catch everything
    throw_error(what, ": malformed tokenizer.json: ", e.what());
  }

  if (t->post_processor) {
    // The library would emit such ids; an engine would index its embedding out of range.
    for (const auto* list : {&t->post_processor->prefix, &t->post_processor->suffix}) {
      for (int32_t id : *list) {
        if (!t->id_to_token(id)) throw_error(what, ": post_processor adds id ", id, ", which is not in the vocabulary");
      }
    }
  }
  int64_t max_id = t->model.max_id;
  for (const auto& [id, token] : t->added.map_r) max_id = std::max<int64_t>(max_id, id);
  t->vocab_size = int32_t(max_id + 1);
  auto first_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      const int32_t id = t->token_to_id(n);
      if (id >= 0) return id;
    }
    return int32_t(-1);
  };
  t->bos = first_of({"<bos>", "<s>", "<|begin_of_text|>", "<|endoftext|>"});
  t->eos = first_of({"<eos>", "</s>", "<|end_of_text|>", "<|endoftext|>"});
  t->pad = first_of({"<pad>", "[PAD]", "<|pad|>"});
  return t;
}

}  // namespace zaya::tok
