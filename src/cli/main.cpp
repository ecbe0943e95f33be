// zaya — command-line front end. Errors from input end as "error: <message>" and exit code 1.
#include <omp.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

namespace zaya::cli {
void set_threads(int n) {
  if (n <= 0) return;
  omp_set_num_threads(n);
}
CLI::Option* add_backend_option(CLI::App* c, std::string& backend) {
  std::string names;
  for (auto& b : backend_names()) names += (names.empty() ? "" : " | ") + b;
  return c->add_option("--backend", backend,
                       "Compute backend: " + names + " (default " + default_backend_name() + ", see docs/benchmarks.md)")
      ->check(CLI::IsMember(backend_names()));
}
std::unique_ptr<Backend> open_backend(const std::string& name, int threads) {
  set_threads(threads);
  auto be = make_backend(name);
  be->set_threads(threads);
  return be;
}
LoadOptions load_options(const std::string& skip_mode, bool quiet) {
  LoadOptions lo;
  lo.quiet = quiet;
  if (skip_mode == "zero") lo.skip_mode = SkipMode::Zero;
  if (skip_mode == "passthrough") lo.skip_mode = SkipMode::PassThrough;
  return lo;
}
}  // namespace zaya::cli

int main(int argc, char** argv) {
  CLI::App app{"zaya: run and train ZAYA1-architecture language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "zaya 0.1.0");
  zaya::cli::register_generate(app);
  zaya::cli::register_tokenize(app);
  zaya::cli::register_logits(app);
  zaya::cli::register_mkckpt(app);
  zaya::cli::register_info(app);
  zaya::cli::register_bench(app);
  zaya::cli::register_data(app);
  zaya::cli::register_train(app);
  zaya::cli::register_tokenizer(app);
  zaya::cli::register_plot(app);
  zaya::cli::register_grad(app);
  zaya::cli::register_supervise(app);
  zaya::cli::register_ckpt(app);
  zaya::cli::register_size(app);
  zaya::cli::register_serve(app);
  zaya::cli::register_rsa(app);
  zaya::cli::register_eval(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zaya::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
