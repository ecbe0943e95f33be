// zaya tokenizer train: learn a GPT-2 style byte-level BPE tokenizer from text and write its
// tokenizer.json (loadable by zaya and by the Python `tokenizers` library, which encode alike).
//
//   zaya tokenizer train --input a.jsonl --input b.txt --vocab-size 32000 --out tokenizer.json
//                        [--jsonl] [--min-frequency 2] [--special <pad> <eos> <bos> <unk>] [--no-bos]
//
// Inputs: .jsonl (one {"text": ...} object per line; blank lines skipped), or any other file as one
// document; --jsonl reads every input as JSONL. The file is written atomically, only on success.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/train.h"

namespace zaya::cli {

namespace {
struct TrainArgs {
  std::vector<std::string> inputs, specials;
  std::string out;
  bool jsonl = false, no_bos = false, quiet = false;
  int vocab_size = 0, min_frequency = 2, threads = 0;
};

void run_train(const TrainArgs& a, bool specials_given) {
  set_threads(a.threads);
  BpeTrainConfig cfg;
  cfg.vocab_size = a.vocab_size;
  cfg.min_frequency = a.min_frequency;
  if (specials_given) cfg.special_tokens = a.specials;
  cfg.add_bos = !a.no_bos;
  cfg.threads = a.threads;
  cfg.progress = !a.quiet;
  const int64_t needed = int64_t(cfg.special_tokens.size()) + 256;
  ZAYA_CHECK(cfg.vocab_size >= needed, "--vocab-size ", cfg.vocab_size, " is too small: the ",
             cfg.special_tokens.size(), " special token(s) and the 256 byte tokens alone need ", needed,
             "; nothing written");
  if (cfg.add_bos) {
    bool has_bos = false;
    for (const std::string& t : cfg.special_tokens) has_bos |= t == "<bos>";
    ZAYA_CHECK(has_bos, "the template prepends <bos>, which is not among --special; add it or give --no-bos");
  }
  BpeTrainer trainer(cfg);
  trainer.add_files(a.inputs, a.jsonl);
  BpeTrainResult r;
  try {
    r = trainer.train();
  } catch (const Error& e) {
    throw_error(e.what(), " (inputs: ", a.inputs.size(), " file(s)); nothing written to ", a.out);
  }
  // Self-check before writing: zaya must load what it is about to write.
  Tokenizer::from_json_string(r.json, a.out);
  write_file_atomic(a.out, r.json);
  const size_t k = cfg.special_tokens.size();
  std::printf("wrote %s: %d tokens (%zu special + 256 bytes + %zu merges) from %llu document(s), %.2f MB, "
              "%llu words (%llu distinct); counting %.2fs, merging %.2fs\n",
              a.out.c_str(), r.vocab_size, k, r.merges.size(), (unsigned long long)r.documents,
              double(r.bytes) / 1e6, (unsigned long long)r.words, (unsigned long long)r.unique_words,
              r.count_seconds, r.merge_seconds);
  if (r.vocab_size < cfg.vocab_size) {
    std::printf("note: the vocabulary stopped at %d of %d tokens: no remaining pair occurs %d time(s) or more\n",
                r.vocab_size, cfg.vocab_size, std::max(1, cfg.min_frequency));
  }
}
}  // namespace

void register_tokenizer(CLI::App& app) {
  auto* t = app.add_subcommand("tokenizer", "Tokenizer tools: train a byte-level BPE tokenizer");
  t->require_subcommand(1);
  auto a = std::make_shared<TrainArgs>();
  auto* c = t->add_subcommand(
      "train",
      "Train a GPT-2 style byte-level BPE tokenizer (special tokens first, then the 256 bytes, then the merges) and "
      "write its tokenizer.json");
  c->add_option("--input,-i", a->inputs,
                "Input files: .jsonl (one {\"text\": ...} per line) or any other file (the whole file is one document)")
      ->required()
      ->expected(1, -1);
  c->add_flag("--jsonl", a->jsonl, "Read every input as JSONL, whatever its extension");
  c->add_option("--vocab-size", a->vocab_size, "Vocabulary size, special tokens and the 256 byte tokens included")
      ->required();
  c->add_option("--out,-o", a->out, "Where to write tokenizer.json")->required();
  c->add_option("--min-frequency", a->min_frequency, "Merge only pairs occurring at least this often")
      ->capture_default_str();
  auto* sp = c->add_option("--special", a->specials,
                           "Special tokens, ids 0.. in this order (default: <pad> <eos> <bos> <unk>)")
                 ->expected(1, -1);
  c->add_flag("--no-bos", a->no_bos, "Do not prepend <bos> when encoding with special tokens");
  c->add_option("--threads", a->threads, "Threads for word counting (default: all cores)");
  c->add_flag("--quiet,-q", a->quiet, "No progress bars");
  c->callback([a, sp] { run_train(*a, sp->count() > 0); });
}

}  // namespace zaya::cli
