// zaya data: tokenize a text corpus into binary token shards (train + validation) and a manifest.
//
//   zaya data --tokenizer tokenizer.json --input a.jsonl --input b.txt --out data/ [--name NAME]
//             [--val-fraction 0.01] [--shard-tokens 100000000] [--seed S] [--split-blank-lines]
//
// Inputs: .jsonl (one {"text": ...} object per line; blank lines skipped) or .txt (the whole file is
// one document, or with --split-blank-lines each block of lines between blank lines is one).
// Documents are tokenized without special tokens (the loader adds the EOS separators); empty and
// whitespace-only documents are skipped. Document i (counting the non-empty documents in input order)
// goes to validation iff xxh64(i, seed) / 2^64 < val-fraction, so the split does not depend on thread
// count or shard size. Writes DIR/NAME-train-00000.bin ..., DIR/NAME-val-00000.bin ... and, last,
// DIR/NAME.json; a failed run leaves existing files there untouched.
#include <sys/stat.h>
#include <xxhash.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/jsonl.h"
#include "core/fileutil.h"
#include "core/progress.h"
#include "data/shard.h"
#include "tokenizer/tokenizer.h"

namespace zaya::cli {

namespace {
struct DataArgs {
  std::string tokenizer, out, name = "data";
  std::vector<std::string> inputs;
  double val_fraction = 0.01;
  uint64_t shard_tokens = 100'000'000;
  uint64_t seed = 0;
  bool split_blank_lines = false;
  int threads = 0;
};

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

bool goes_to_val(uint64_t index, uint64_t seed, double fraction) {
  if (fraction <= 0) return false;
  const uint64_t h = XXH64(&index, sizeof index, seed);
  return double(h >> 11) * 0x1.0p-53 < fraction;
}

class Builder {
 public:
  Builder(const DataArgs& a, const Tokenizer& tok, double total_bytes)
      : a_(a), tok_(tok), writer_(a.out, a.name, uint32_t(tok.vocab_size()), a.shard_tokens),
        prog_("tokenizing", total_bytes, "MB", 1e6) {}

  // A document's text; `bytes` of input were consumed to produce it.
  void add(std::string text, size_t bytes) {
    consumed_ += double(bytes);
    if (blank(text)) {
      ++skipped_;
      return;
    }
    batch_bytes_ += text.size();
    batch_.push_back(std::move(text));
    if (batch_.size() >= 4096 || batch_bytes_ >= (size_t(16) << 20)) flush();
  }
  void consumed(size_t bytes) { consumed_ += double(bytes); }

  void flush() {
    std::vector<std::vector<int32_t>> ids(batch_.size());
    std::vector<std::exception_ptr> errs(batch_.size());
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t i = 0; i < int64_t(batch_.size()); ++i) {
      try {
        ids[size_t(i)] = tok_.encode(batch_[size_t(i)], /*add_special_tokens=*/false);
      } catch (...) {
        errs[size_t(i)] = std::current_exception();
      }
    }
    for (auto& e : errs)
      if (e) std::rethrow_exception(e);
    for (auto& v : ids) {  // in input order: the output does not depend on the thread count
      const uint64_t index = index_++;
      if (v.empty()) {
        ++skipped_;
        continue;
      }
      writer_.add(goes_to_val(index, a_.seed, a_.val_fraction) ? Split::Val : Split::Train, v);
    }
    batch_.clear();
    batch_bytes_ = 0;
    prog_.update(consumed_);
  }

  void finish(const nlohmann::json& extra) {
    flush();
    prog_.finish();
    const SplitInfo& tr = writer_.info(Split::Train);
    const SplitInfo& va = writer_.info(Split::Val);
    ZAYA_CHECK(index_ > 0, "empty corpus: no documents in ", a_.inputs.size(), " input file(s) (", skipped_,
               " empty or whitespace-only skipped); nothing written to ", a_.out);
    ZAYA_CHECK(tr.tokens + va.tokens > 0, "empty corpus: the ", index_,
               " document(s) produced no tokens; nothing written to ", a_.out);
    nlohmann::json ex = extra;
    ex["skipped_documents"] = skipped_;
    std::string manifest = writer_.finish(ex);
    std::printf("wrote %s: train %llu documents, %llu tokens in %zu shard(s); val %llu documents, %llu tokens in "
                "%zu shard(s); %llu empty document(s) skipped\n",
                manifest.c_str(), (unsigned long long)tr.documents, (unsigned long long)tr.tokens, tr.shards.size(),
                (unsigned long long)va.documents, (unsigned long long)va.tokens, va.shards.size(),
                (unsigned long long)skipped_);
  }

 private:
  const DataArgs& a_;
  const Tokenizer& tok_;
  DatasetWriter writer_;
  Progress prog_;
  std::vector<std::string> batch_;
  size_t batch_bytes_ = 0;
  double consumed_ = 0;
  uint64_t index_ = 0, skipped_ = 0;
};

void read_jsonl(const std::string& path, Builder& b) {
  std::ifstream in(path, std::ios::binary);
  ZAYA_CHECK(in.good(), path, ": cannot open");
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (blank(line)) {
      b.consumed(line.size() + 1);
      continue;
    }
    b.add(jsonl_text(line, path, lineno), line.size() + 1);
  }
  ZAYA_CHECK(!in.bad(), path, ": read error");
}

void read_txt(const std::string& path, bool split_blank_lines, Builder& b) {
  if (!split_blank_lines) {
    std::string text = read_file(path);
    size_t n = text.size();
    b.add(std::move(text), n);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ZAYA_CHECK(in.good(), path, ": cannot open");
  std::string line, para;
  size_t para_bytes = 0;
  while (std::getline(in, line)) {
    para_bytes += line.size() + 1;
    if (blank(line)) {
      if (!para.empty()) b.add(std::move(para), para_bytes);
      else b.consumed(para_bytes);
      para.clear();
      para_bytes = 0;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!para.empty()) para += '\n';
    para += line;
  }
  ZAYA_CHECK(!in.bad(), path, ": read error");
  if (!para.empty()) b.add(std::move(para), para_bytes);
}

void run(const DataArgs& a) {
  set_threads(a.threads);
  ZAYA_CHECK(a.val_fraction >= 0 && a.val_fraction < 1, "--val-fraction ", a.val_fraction, " must be in [0, 1)");
  ZAYA_CHECK(a.shard_tokens >= 1, "--shard-tokens must be at least 1");
  double total_bytes = 0;
  for (const std::string& in : a.inputs) {
    ZAYA_CHECK(ends_with(in, ".jsonl") || ends_with(in, ".txt"), in,
               ": unsupported input type (expected a .jsonl or .txt file)");
    struct stat st;
    ZAYA_CHECK(::stat(in.c_str(), &st) == 0 && S_ISREG(st.st_mode), in, ": cannot open (no such file)");
    total_bytes += double(st.st_size);
  }
  Tokenizer tok = Tokenizer::from_file(a.tokenizer);
  ZAYA_CHECK(tok.vocab_size() > 0, a.tokenizer, ": empty vocabulary");
  Builder b(a, tok, total_bytes);
  for (const std::string& in : a.inputs) {
    if (ends_with(in, ".jsonl"))
      read_jsonl(in, b);
    else
      read_txt(in, a.split_blank_lines, b);
  }
  nlohmann::json extra = {{"tokenizer", a.tokenizer},
                          {"tokenizer_xxh64", hex64(xxh64_file(a.tokenizer))},
                          {"eos_id", tok.eos_id()},
                          {"bos_id", tok.bos_id()},
                          {"seed", a.seed},
                          {"val_fraction", a.val_fraction},
                          {"split_blank_lines", a.split_blank_lines},
                          {"inputs", a.inputs}};
  b.finish(extra);
}
}  // namespace

void register_data(CLI::App& app) {
  auto a = std::make_shared<DataArgs>();
  auto* c = app.add_subcommand("data", "Tokenize a text corpus into binary token shards (train + validation)");
  c->add_option("--tokenizer", a->tokenizer, "Path of a tokenizer.json")->required();
  c->add_option("--input,-i", a->inputs, "Input file(s): .jsonl ({\"text\": ...} per line) or .txt")->required();
  c->add_option("--out,-o", a->out, "Output directory")->required();
  c->add_option("--name", a->name, "Dataset name: files NAME-train-00000.bin ..., NAME.json (default: data)");
  c->add_option("--val-fraction", a->val_fraction, "Fraction of documents held out for validation (default 0.01)");
  c->add_option("--shard-tokens", a->shard_tokens, "Tokens per shard; documents are not split (default 100000000)");
  c->add_option("--seed", a->seed, "Seed of the train/validation split (default 0)");
  c->add_flag("--split-blank-lines", a->split_blank_lines,
              "In .txt inputs, each block of lines between blank lines is a document (default: the whole file)");
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  c->callback([a] { run(*a); });
}

}  // namespace zaya::cli
