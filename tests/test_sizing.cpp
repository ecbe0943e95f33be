// zaya size against zaya info and the published figures (ZAYA1-base: 8.3B total non-embedding, ~760M
// active; the CCA paper's attention parameter and KV counts at width 2048), zaya bench comm's output
// and bus factors (1 process and, when mpirun is present, 2 ranks), zaya bench gemm, zaya plot --comm.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "core/fileutil.h"
#include "test_util.h"

namespace zaya {
namespace {

using json = nlohmann::json;

json run_json(const std::string& args) {
  auto r = test::run_zaya(args + " 2>/dev/null");
  EXPECT_EQ(r.code, 0) << r.out;
  try {
    return json::parse(r.out);
  } catch (...) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return json();
  }
}

TEST(Size, AgreesWithInfoAndThePaper) {
  for (const char* cfg : {"configs/zaya1-base.json", "configs/zaya1-8b.json"}) {
    const std::string c = test::src_path(cfg);
    json s = run_json("size --config " + c + " --seq-len 16384 --world 8 --zero 1 --gemm-flops 1e12 --format json");
    auto info = test::run_zaya("info " + c);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(info.out, m, std::regex("parameters: (\\d+) total, (\\d+) embedding, (\\d+) "
                                                          "non-embedding, (\\d+) active")))
        << info.out;
    EXPECT_EQ(s["parameters"]["total"].get<int64_t>(), std::stoll(m[1]));
    EXPECT_EQ(s["parameters"]["non_embedding"].get<int64_t>(), std::stoll(m[3]));
    EXPECT_EQ(s["parameters"]["active_non_embedding"].get<int64_t>(), std::stoll(m[4]));
    EXPECT_NE(info.out.find(std::to_string(s["kv_cache_bytes_per_token"]["bf16"].get<int64_t>()) + " bytes with cpu-bf16"),
              std::string::npos);
    const double muon = s["parameters"]["muon"], adam = s["parameters"]["adamw"];
    EXPECT_EQ(int64_t(muon + adam), s["parameters"]["total"].get<int64_t>());
    // Forward FLOPs: at least 2 × (active + LM head); training = 3 × forward.
    const double fwd = s["flops_per_token"]["forward"], train = s["flops_per_token"]["train"];
    EXPECT_NEAR(train, 3 * fwd, 1e-6 * train);
  }
  json s = run_json("size --config " + test::src_path("configs/zaya1-base.json") +
                    " --seq-len 16384 --gemm-flops 1e12 --format json");
  EXPECT_NEAR(s["parameters"]["non_embedding"].get<double>(), 8.3e9, 0.05e9);   // "8.3B total"
  EXPECT_NEAR(s["parameters"]["active_non_embedding"].get<double>(), 760e6, 20e6);  // "~760M active"
  std::map<std::string, json> att;
  for (auto& v : s["attention"]) att[v["variant"]] = v;
  EXPECT_NEAR(att["MHA"]["params_per_layer"].get<double>(), 16.8e6, 0.05e6);  // paper Fig. 2, E = 2048
  EXPECT_NEAR(att["GQA"]["params_per_layer"].get<double>(), 10.5e6, 0.05e6);
  EXPECT_NEAR(att["CCGQA (this model)"]["params_per_layer"].get<double>(), 5.75e6, 0.3e6);
  // KV elements at S = 16384: MHA 67.1M, CCGQA-2x/8x 8.4M (per layer).
  EXPECT_NEAR(att["MHA"]["kv_values_per_token_layer"].get<double>() * 16384, 67.1e6, 0.1e6);
  EXPECT_NEAR(att["CCGQA (this model)"]["kv_values_per_token_layer"].get<double>() * 16384, 8.4e6, 0.1e6);
  // Memory: ZeRO-1 divides AdamW state, recomputation shrinks activations.
  json z0 = run_json("size --config " + test::src_path("configs/zaya1-base.json") + " --world 8 --gemm-flops 1e12 --format json");
  json z1 = run_json("size --config " + test::src_path("configs/zaya1-base.json") + " --world 8 --zero 1 --gemm-flops 1e12 --format json");
  EXPECT_LT(z1["memory_per_rank_bytes"]["optimizer"].get<double>(), z0["memory_per_rank_bytes"]["optimizer"].get<double>());
  EXPECT_LT(z0["memory_per_rank_bytes"]["activations_recompute"].get<double>(),
            z0["memory_per_rank_bytes"]["activations"].get<double>());
  EXPECT_GT(z0["step"]["predicted_s"].get<double>(), 0);
  auto bad = test::run_zaya("size --config " + test::src_path("configs/zaya1-base.json") + " --world 6 --ep 4");
  test::expect_clean_error(bad, {"--ep 4", "--world 6"});
}

void check_comm(const json& j, int ranks) {
  ASSERT_TRUE(j.is_array());
  std::set<std::string> ops;
  for (auto& r : j) {
    ops.insert(r["op"]);
    const double alg = r["algbw"], bus = r["busbw"], t = r["time_us"];
    EXPECT_GT(t, 0);
    EXPECT_NEAR(alg, double(r["bytes"]) / (t * 1e-6) / 1e9, 1e-6 * alg + 1e-12);
    const double f = r["op"] == "all-reduce" ? 2.0 * (ranks - 1) / ranks : r["op"] == "broadcast" ? 1.0
                                                                                                 : double(ranks - 1) / ranks;
    EXPECT_NEAR(bus, alg * f, 1e-9 + 1e-9 * alg) << r.dump();
  }
  EXPECT_EQ(ops.size(), 5u);
}

TEST(BenchComm, OneProcessAndTwoRanks) {
  check_comm(run_json("bench comm --max-bytes 4096 --budget 0.001 --format json"), 1);
  if (std::system("command -v mpirun > /dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed";
  std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
                    "OMPI_MCA_btl_vader_single_copy_mechanism=none "
                    "mpirun -np 2 " + std::string(ZAYA_BINARY) +
                    " bench comm --max-bytes 65536 --budget 0.002 --format json 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  json j = json::parse(out);
  check_comm(j, 2);
  EXPECT_EQ(j.size(), 5u * 14);  // 8 B ... 64 KiB doubling, five collectives
  const std::string f = testing::TempDir() + "/comm.json", svg = testing::TempDir() + "/comm.svg";
  write_file_atomic(f, out);
  EXPECT_EQ(test::run_zaya("plot --comm " + f + " --out " + svg).code, 0);
  EXPECT_NE(read_file(svg).find("all-to-all"), std::string::npos);
}

TEST(BenchGemm, SweepsTheModelShapes) {
  json j = run_json("bench gemm --config " + test::src_path("configs/zaya1-tiny.json") +
                    " --min-rows 128 --max-rows 256 --format json");
  std::set<std::string> shapes;
  for (auto& r : j) {
    shapes.insert(r["shape"]);
    EXPECT_GT(r["flops_per_s"].get<double>(), 1e8);
  }
  for (const char* s : {"attn.qk_proj", "attn.o_proj", "expert.gate_up", "expert.down", "lm_head", "router.down_proj"})
    EXPECT_TRUE(shapes.count(s)) << s;
}

}  // namespace
}  // namespace zaya
