// zaya bench comm: microbenchmarks of every collective of the communicator (dist/comm.h), as
// nccl-tests does: message sizes doubling from --min-bytes to --max-bytes, fewer iterations for large
// messages, time per call (the slowest rank's mean), algorithm bandwidth algbw = bytes / time and bus
// bandwidth busbw = algbw · factor with nccl-tests' factors (all-reduce 2(n−1)/n; reduce-scatter,
// all-gather, all-to-all (n−1)/n; broadcast 1), so numbers compare with hardware link speeds.
// `bytes` is the whole buffer (nccl-tests' size): all-gather's output, reduce-scatter's input,
// all-to-all's send buffer.
//
//   mpirun -np 4 zaya bench comm [--max-bytes 268435456] [--format json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "dist/comm.h"

namespace zaya::cli {

namespace {

struct CommArgs {
  int64_t min_bytes = 8, max_bytes = int64_t(256) << 20;
  std::vector<std::string> ops = {"all-reduce", "reduce-scatter", "all-gather", "broadcast", "all-to-all"};
  std::string format = "table";
  int warmup = 1;
  double budget = 1.0;  // seconds of timed calls per point (at least 3 calls)
};

double bus_factor(const std::string& op, int n) {
  if (op == "all-reduce") return 2.0 * (n - 1) / n;
  if (op == "broadcast") return 1.0;
  return double(n - 1) / n;
}

void run_comm(const CommArgs& a) {
  auto comm = make_world_comm();
  Comm& c = *comm;
  const int n = c.size();
  const bool lead = c.rank() == 0;
  ZAYA_CHECK(a.min_bytes >= 4 && a.min_bytes <= a.max_bytes, "bench comm: need 4 <= --min-bytes <= --max-bytes");
  const int64_t max_count = (a.max_bytes / 4 + n - 1) / n * n;
  std::vector<float> send(size_t(max_count), 1.0f), recv(size_t(max_count), 0.0f);
  nlohmann::json out = nlohmann::json::array();
  if (lead && a.format == "table") {
    std::printf("# zaya bench comm: %d ranks (%s); time = slowest rank's mean per call\n", n, c.kind().c_str());
    std::printf("%-15s %12s %10s %12s %10s %10s\n", "op", "bytes", "iters", "time_us", "algbw_GB/s", "busbw_GB/s");
  }
  for (const std::string& op : a.ops) {
    for (int64_t bytes = a.min_bytes; bytes <= a.max_bytes; bytes *= 2) {
      // Elements: a multiple of n (every rank's piece equal), at least n.
      const int64_t count = std::max<int64_t>(n, (bytes / 4) / n * n), piece = count / n;
      std::vector<int64_t> pieces(size_t(n), piece);
      auto call = [&] {
        if (op == "all-reduce") c.all_reduce(send.data(), count, CommType::F32, "bench all-reduce");
        else if (op == "reduce-scatter")
          c.reduce_scatter(send.data(), recv.data(), pieces, CommType::F32, "bench reduce-scatter");
        else if (op == "all-gather") c.all_gather(send.data(), recv.data(), pieces, CommType::F32, "bench all-gather");
        else if (op == "broadcast") c.broadcast(send.data(), count, CommType::F32, 0, "bench broadcast");
        else if (op == "all-to-all")
          c.all_to_all(send.data(), pieces, recv.data(), pieces, CommType::F32, "bench all-to-all");
        else throw_error("bench comm: unknown op '", op, "'");
      };
      for (int w = 0; w < a.warmup; ++w) call();
      // Iterations: from one timed call, enough to fill the budget (the same on every rank).
      c.barrier("bench barrier");
      auto t0 = std::chrono::steady_clock::now();
      call();
      double one[1] = {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
      c.sum(std::span<double>(one, 1), "bench timing");
      const int iters = int(std::clamp(a.budget / std::max(one[0] / n, 1e-7), 3.0, 1000.0));
      c.barrier("bench barrier");
      t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) call();
      const double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
      std::vector<double> all(size_t(n), 0.0);
      all[size_t(c.rank())] = mine;
      c.sum(all, "bench timing");
      const double t = *std::max_element(all.begin(), all.end());
      const double real_bytes = double(count) * 4, algbw = real_bytes / t / 1e9, busbw = algbw * bus_factor(op, n);
      if (lead && a.format == "table")
        std::printf("%-15s %12.0f %10d %12.2f %10.3f %10.3f\n", op.c_str(), real_bytes, iters, t * 1e6, algbw, busbw);
      out.push_back({{"op", op}, {"bytes", int64_t(real_bytes)}, {"time_us", t * 1e6}, {"algbw", algbw},
                     {"busbw", busbw}, {"ranks", n}, {"iters", iters}});
      std::fflush(stdout);
    }
  }
  if (lead && a.format == "json") std::printf("%s\n", out.dump(1).c_str());
}

}  // namespace

void register_bench_comm(CLI::App* bench) {
  auto a = std::make_shared<CommArgs>();
  auto* c = bench->add_subcommand("comm", "Collective microbenchmarks (run under mpirun): time, algbw, busbw");
  c->add_option("--min-bytes", a->min_bytes, "Smallest message (bytes)")->capture_default_str();
  c->add_option("--max-bytes", a->max_bytes, "Largest message (bytes), doubling from --min-bytes")->capture_default_str();
  c->add_option("--ops", a->ops, "Collectives: all-reduce,reduce-scatter,all-gather,broadcast,all-to-all")
      ->delimiter(',')
      ->check(CLI::IsMember({"all-reduce", "reduce-scatter", "all-gather", "broadcast", "all-to-all"}));
  c->add_option("--format", a->format, "table | json (a list of {op, bytes, time_us, algbw, busbw})")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->add_option("--budget", a->budget, "Seconds of timed calls per point")->check(CLI::Range(0.001, 600.0));
  c->add_option("--warmup", a->warmup, "Untimed calls per point")->check(CLI::Range(0, 100));
  c->callback([a] { run_comm(*a); });
}

}  // namespace zaya::cli
