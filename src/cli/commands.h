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
void register_grad(CLI::App& app);
void register_supervise(CLI::App& app);
void register_ckpt(CLI::App& app);
void register_size(CLI::App& app);
void register_serve(CLI::App& app);  // cmd_serve.cpp
void register_rsa(CLI::App& app);    // cmd_rsa.cpp
void register_eval(CLI::App& app);   // cmd_eval.cpp
void register_bench_comm(CLI::App* bench);  // zaya bench comm
void register_bench_gemm(CLI::App* bench);  // zaya bench gemm

void set_threads(int n);  // 0: leave the default (all cores)
// Load options from the common --skip-mode value ("", "zero", "passthrough").
LoadOptions load_options(const std::string& skip_mode, bool quiet = false);
// The --backend option of every command that runs the model (cpu-f32 | cpu-bf16; default: measured).
CLI::Option* add_backend_option(CLI::App* c, std::string& backend);
std::unique_ptr<Backend> open_backend(const std::string& name, int threads);
// "2,9259,236888" → ids (--ids of logits and grad); errors name the bad entry.
std::vector<int32_t> parse_ids(const std::string& s);
}  // namespace zaya::cli
