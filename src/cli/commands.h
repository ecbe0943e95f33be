// Subcommands of the `zaya` program; each file cmd_<name>.cpp registers one.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "model/model.h"

namespace zaya::cli {
void register_generate(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_logits(CLI::App& app);
void register_mkckpt(CLI::App& app);
void register_info(CLI::App& app);
void register_bench(CLI::App& app);
void register_data(CLI::App& app);
void register_train(CLI::App& app);
void register_tokenizer(CLI::App& app);
void register_plot(CLI::App& app);

void set_threads(int n);  // 0: leave the default (all cores)
// Load options from the common --skip-mode value ("", "zero", "passthrough").
LoadOptions load_options(const std::string& skip_mode, bool quiet = false);
}  // namespace zaya::cli
