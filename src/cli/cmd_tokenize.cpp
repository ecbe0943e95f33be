// zaya tokenize: text -> ids as JSON (one list, or one {"ids": [...]} line per JSONL input line).
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/jsonl.h"
#include "core/fileutil.h"
#include "tokenizer/tokenizer.h"

namespace zaya::cli {

namespace {
struct TokenizeArgs {
  std::string model, tokenizer, text, jsonl;
  bool no_special = false;
};

std::string ids_json(const std::vector<int32_t>& ids) { return nlohmann::json(ids).dump(); }

void run(const TokenizeArgs& a) {
  ZAYA_CHECK(!a.model.empty() || !a.tokenizer.empty(), "give --model DIR or --tokenizer FILE");
  std::string path = a.tokenizer.empty() ? path_join(a.model, "tokenizer.json") : a.tokenizer;
  Tokenizer tok = Tokenizer::from_file(path);
  if (!a.jsonl.empty()) {
    std::ifstream in(a.jsonl);
    ZAYA_CHECK(in.good(), a.jsonl, ": cannot open");
    std::string line;
    int64_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::printf("{\"ids\": %s}\n", ids_json(tok.encode(jsonl_text(line, a.jsonl, lineno), !a.no_special)).c_str());
    }
    return;
  }
  std::printf("%s\n", ids_json(tok.encode(a.text, !a.no_special)).c_str());
}
}  // namespace

void register_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* c = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON list");
  c->add_option("--model,-m", a->model, "Model directory holding tokenizer.json");
  c->add_option("--tokenizer", a->tokenizer, "Path of a tokenizer.json");
  auto* t = c->add_option("--text", a->text, "Text to tokenize");
  auto* j = c->add_option("--jsonl", a->jsonl, "JSONL file of {\"text\": ...} lines; prints {\"ids\": [...]} per line");
  t->excludes(j);
  c->add_flag("--no-special", a->no_special, "Do not add special tokens (e.g. <bos>)");
  c->callback([a, t, j] {
    ZAYA_CHECK(t->count() + j->count() == 1, "give exactly one of --text or --jsonl");
    run(*a);
  });
}

}  // namespace zaya::cli
