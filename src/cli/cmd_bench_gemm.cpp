// zaya bench gemm: the model's GEMM shapes (CCA projections, router down-projection, one expert's
// SwiGLU projections, the LM head) at 1k–64k rows on the chosen backend: FLOP/s per shape and rows, to
// see where throughput saturates (the sizing rules of zaya1-system.md §3: batch enough tokens per
// expert GEMM). y[T, out] = x[T, in] · W[out, in]ᵀ, fp32 master weights (cpu-bf16 multiplies in bf16).
// A point whose call would take longer than --max-seconds is skipped (the row sweep of that shape stops).
//
//   zaya bench gemm --config configs/zaya1-base.json [--backend cpu-bf16] [--format json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "model/config.h"

namespace zaya::cli {

namespace {

struct GemmArgs {
  std::string config = "configs/zaya1-base.json", backend, format = "table";
  int64_t min_rows = 1024, max_rows = 65536;
  double max_seconds = 2.0;
  int threads = 0;
};

struct Shape {
  std::string name;
  int64_t out, in;
};

void run_gemm(const GemmArgs& a) {
  ModelConfig mc = load_config(a.config);
  auto be = open_backend(a.backend.empty() ? default_backend_name() : a.backend, a.threads);
  const int64_t H = mc.hidden, d = mc.head_dim;
  std::vector<Shape> shapes = {{"attn.qk_proj", (mc.nq + mc.nk) * d, H},
                               {"attn.v_proj (cur+delayed)", 2 * mc.value_half(), H},
                               {"attn.o_proj", H, mc.nq * d},
                               {"router.down_proj", mc.router_hidden, H},
                               {"expert.gate_up", 2 * mc.expert_inter, H},
                               {"expert.down", H, mc.expert_inter},
                               {"lm_head", mc.vocab_size, H}};
  nlohmann::json out = nlohmann::json::array();
  if (a.format == "table") {
    std::printf("# zaya bench gemm: %s on %s\n", a.config.c_str(), be->describe().c_str());
    std::printf("%-28s %8s %8s %8s %10s %10s\n", "shape", "rows", "out", "in", "ms", "GFLOP/s");
  }
  std::mt19937_64 g(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Shape& s : shapes) {
    std::vector<float> W(size_t(s.out * s.in));
    for (auto& x : W) x = nd(g) * 0.02f;
    Mat Wm{W.data(), DType::F32, s.out, s.in};
    double prev = 0;
    for (int64_t T = a.min_rows; T <= a.max_rows; T *= 2) {
      const double flops = 2.0 * double(T) * double(s.out) * double(s.in);
      if (prev > 0 && prev * 2.2 > a.max_seconds) {  // the next point would exceed the budget
        if (a.format == "table") std::printf("%-28s %8lld  (skipped: over --max-seconds)\n", s.name.c_str(), (long long)T);
        break;
      }
      if (double(T) * double(s.out + s.in) * 4 > 6e9) break;  // > 6 GB of activations
      std::vector<float> x(size_t(T * s.in)), y(size_t(T * s.out));
      for (auto& v : x) v = nd(g);
      be->linear_forward(y.data(), s.out, x.data(), s.in, Wm, nullptr, T);  // warm-up
      double best = 1e30;
      const int reps = 3;
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        be->linear_forward(y.data(), s.out, x.data(), s.in, Wm, nullptr, T);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (best * reps > a.max_seconds * 2) break;
      }
      prev = best;
      if (a.format == "table")
        std::printf("%-28s %8lld %8lld %8lld %10.2f %10.1f\n", s.name.c_str(), (long long)T, (long long)s.out,
                    (long long)s.in, best * 1e3, flops / best / 1e9);
      std::fflush(stdout);
      out.push_back({{"shape", s.name}, {"rows", T}, {"out", s.out}, {"in", s.in}, {"seconds", best},
                     {"flops_per_s", flops / best}});
    }
  }
  if (a.format == "json") std::printf("%s\n", out.dump(1).c_str());
}

}  // namespace

void register_bench_gemm(CLI::App* bench) {
  auto a = std::make_shared<GemmArgs>();
  auto* c = bench->add_subcommand("gemm", "GEMM sweep over the model's shapes at 1k-64k rows (where throughput saturates)");
  c->add_option("--config", a->config, "Model config.json (shapes)")->check(CLI::ExistingFile)->capture_default_str();
  c->add_option("--min-rows", a->min_rows, "Fewest rows (tokens)")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  c->add_option("--max-rows", a->max_rows, "Most rows (tokens), doubling")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  c->add_option("--max-seconds", a->max_seconds, "Skip points whose call would take longer")->capture_default_str();
  c->add_option("--format", a->format, "table | json")->check(CLI::IsMember({"table", "json"}));
  c->add_option("--threads", a->threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  add_backend_option(c, a->backend);
  c->callback([a] { run_gemm(*a); });
}

}  // namespace zaya::cli
