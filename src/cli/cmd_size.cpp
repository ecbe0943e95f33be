// zaya size: model sizing from config.json alone — parameters, FLOPs per token (forward, backward),
// attention cost and KV cache of CCA/CCGQA side by side with MHA, GQA and MLA at the same width (the
// formulas of the CCA paper's complexity table, zaya1-system.md §4.2), memory per rank for a parallel
// layout (weights, gradients, optimizer state, activations with and without recomputation) and a
// predicted step time from a measured GEMM throughput (and, with --busbw, the gradient reduce-scatter
// + parameter all-gather of distributed Muon / ZeRO-1).
//
//   zaya size --config configs/zaya1-base.json --seq-len 4096 --world 8 --ep 1 --zero 1 [--recompute]
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "core/error.h"
#include "core/fileutil.h"
#include "model/config.h"
#include "model/count.h"
#include "model/weights.h"
#include "train/optim.h"

namespace zaya::cli {

namespace {

struct SizeArgs {
  std::string config, backend, format = "text";
  int64_t seq_len = 4096, batch = 0;  // batch: global sequences per step (0: one sequence per rank)
  int world = 1, ep = 1, zero = 0;
  bool recompute = false;
  double gemm_flops = 0, busbw = 0;  // 0: measure GEMM on the backend; busbw GB/s (0: no comm estimate)
};

double gib(double b) { return b / double(1 << 30); }

double measure_gemm(const std::string& backend) {
  auto be = open_backend(backend.empty() ? default_backend_name() : backend, 0);
  const int64_t n = 1024;
  std::mt19937_64 g(3);
  std::normal_distribution<float> d;
  std::vector<float> A(size_t(n * n)), B(size_t(n * n)), C(size_t(n * n));
  for (auto& x : A) x = d(g);
  for (auto& x : B) x = d(g);
  Mat W{B.data(), DType::F32, n, n};
  be->linear_forward(C.data(), n, A.data(), n, W, nullptr, n);
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    be->linear_forward(C.data(), n, A.data(), n, W, nullptr, n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * n * n * n / best;
}

void run_size(const SizeArgs& a) {
  const std::string p = file_exists(path_join(a.config, "config.json")) ? path_join(a.config, "config.json") : a.config;
  ModelConfig c = load_config(p);
  ZAYA_CHECK(a.world % a.ep == 0, "size: --ep ", a.ep, " must divide --world ", a.world);
  ZAYA_CHECK(c.n_experts % a.ep == 0, "size: --ep ", a.ep, " must divide the ", c.n_experts, " experts");
  const ParamCount pc = count_params(c);
  const double H = double(c.hidden), V = double(c.vocab_size), S = double(a.seq_len), d = c.head_dim;
  const double qd = c.nq * d, kd = c.nk * d, C = c.conv_channels();
  const double I = double(c.expert_inter), Dr = c.router_hidden, Sl = c.n_slots();
  // Per token: matmul FLOPs = 2 · (active params + LM head); attention = QKᵀ and PV over the keys a
  // query sees (causal mean S/2 in training, S at decode; a window caps it); convs counted in active.
  double att_train = 0, att_decode = 0;
  for (auto& ps : c.pairs) {
    const double keys = ps.window > 0 ? std::min<double>(ps.window, S) : S;
    att_train += 4 * qd * (ps.window > 0 && ps.window < S ? keys : S / 2);
    att_decode += 4 * qd * keys;
  }
  const double mm = 2 * (double(pc.active) + V * H);
  const double fwd = mm + att_train, bwd = 2 * fwd;

  // Attention variants at the same width E = H (per layer; G = query heads per KV head; MLA with the
  // compressions of this model's q / kv latents and RoPE dims E_r = rotated dims × heads).
  const double C1 = H / qd, C2 = H / kd, G = double(c.nq) / c.nk, Er = double(c.pairs[0].rot_dim) * c.nq;
  const double conv_p = C * c.cca_time0 + C * d * c.cca_time1, conv_f = 2 * conv_p;
  struct Variant {
    const char* name;
    double params, kv, fwd_flops, decode_flops;  // per layer; kv = cached values per token; flops per token
  };
  std::vector<Variant> vs = {
      {"MHA", 4 * H * H, 2 * H, 8 * H * H + 4 * H * S / 2, 8 * H * H + 4 * H * S},
      {"GQA", 2 * H * H + 2 * H * H / G, 2 * H / G, (1 + 1 / G) * 4 * H * H + 4 * H * S / 2,
       (1 + 1 / G) * 4 * H * H + 4 * H * S},
      {"MLA", H * H + 3 * H * H / C2 + 2 * H * H / C1, H / C2 + Er,
       2 * H * H + 4 * H * H / C1 + 6 * H * H / C2 + 4 * H * S / 2, 2 * H * H + 4 * H * H / C1 + 6 * H * H / C2 + 4 * H * S},
      {"CCGQA (this model)", 2 * H * H / C1 + 2 * H * H / C2 + conv_p, 2 * H / C2,
       (1 / C1 + 1 / C2) * 4 * H * H + 4 * H * S / 2 / C1 + conv_f, (1 / C1 + 1 / C2) * 4 * H * H + 4 * H * S / C1 + conv_f}};

  // Memory per rank. Parameters of experts are split over the EP group; Muon momentum lives on one owner
  // per matrix (÷ data-parallel ranks of its group), AdamW moments ÷ ranks with ZeRO-1.
  ModelParams dummy;
  double expert_p = 0, dense_p = 0, muon_p = 0, adam_p = 0;
  for (auto& t : tensor_table(c, dummy)) {
    if (!t.trainable) continue;
    const double n = double(t.numel());
    const bool expert = t.ex != nullptr;
    (expert ? expert_p : dense_p) += n;
    ParamRef r{t.native, nullptr, nullptr, t.shape};
    (plan_param(r).kind == OptKind::Muon ? muon_p : adam_p) += n;
  }
  const double dp = a.world, edp = double(a.world) / a.ep;
  const double local_p = dense_p + expert_p / a.ep;
  const double w_bytes = 4 * local_p, g_bytes = 4 * local_p;
  const double muon_local = (muon_p - expert_p) / dp + expert_p / a.ep / edp;  // momentum, owner only
  const double adam_local = a.zero ? adam_p / dp : adam_p;
  const double opt_bytes = 4 * muon_local + 8 * adam_local;
  const double seqs = a.batch > 0 ? double(a.batch) / a.world : 1.0, T = seqs * S;
  const double pair_acts = /* attention */ 3 * H + 3 * C + 2 * kd + 2 * qd + 2 * c.nq +
                           /* MoE (expert rows ≈ every token) */ 4 * H + 6 * Dr + Sl + 4 + 3 * I;
  const double model_acts = (c.n_pairs + 1) * H + 2 * H + V;  // residual per pair, emb, final norm, logits
  const double act_full = 4 * T * (c.n_pairs * pair_acts + model_acts);
  const double act_rec = 4 * T * (c.n_pairs * (H + Dr + Sl + 2) + pair_acts + model_acts);
  const double gemm = a.gemm_flops > 0 ? a.gemm_flops : measure_gemm(a.backend);
  const double tokens_step = T;  // per rank
  const double t_compute = tokens_step * (fwd + bwd + (a.recompute ? fwd : 0)) / gemm;
  const double comm_bytes = 2 * 4 * (dense_p + expert_p / a.ep) * (dp - 1) / dp;
  const double t_comm = a.busbw > 0 && a.world > 1 ? comm_bytes / (a.busbw * 1e9) : 0;

  nlohmann::json j = {
      {"config", p},
      {"parameters", {{"total", pc.total}, {"non_embedding", pc.total - pc.embedding}, {"embedding", pc.embedding},
                      {"active_non_embedding", pc.active}, {"muon", muon_p}, {"adamw", adam_p}}},
      {"flops_per_token", {{"forward", fwd}, {"backward", bwd}, {"train", fwd + bwd}, {"matmul_forward", mm},
                           {"attention_forward", att_train}, {"decode", mm + att_decode}}},
      {"kv_cache_bytes_per_token", {{"bf16", pc.kv_bytes_per_token_bf16}, {"f32", pc.kv_bytes_per_token_f32}}},
      {"memory_per_rank_bytes", {{"weights_fp32", w_bytes}, {"gradients_fp32", g_bytes}, {"optimizer", opt_bytes},
                                 {"activations", act_full}, {"activations_recompute", act_rec},
                                 {"total", w_bytes + g_bytes + opt_bytes + (a.recompute ? act_rec : act_full)}}},
      {"step", {{"tokens_per_rank", tokens_step}, {"gemm_flops_per_s", gemm}, {"compute_s", t_compute},
                {"comm_s", t_comm}, {"predicted_s", t_compute + t_comm}}}};
  j["attention"] = nlohmann::json::array();
  for (auto& v : vs)
    j["attention"].push_back({{"variant", v.name}, {"params_per_layer", v.params}, {"kv_values_per_token_layer", v.kv},
                              {"train_flops_per_token_layer", v.fwd_flops}, {"decode_flops_per_token_layer", v.decode_flops}});
  if (a.format == "json") {
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("%s\n\n", c.summary().c_str());
  std::printf("parameters        %.3f B total (%.3f B non-embedding + %.3f B embedding), %.1f M active non-embedding "
              "per token; Muon %.3f B, AdamW %.3f B\n",
              pc.total / 1e9, (pc.total - pc.embedding) / 1e9, pc.embedding / 1e9, pc.active / 1e6, muon_p / 1e9,
              adam_p / 1e9);
  std::printf("FLOPs per token   forward %.3f G (matmuls %.3f G incl. LM head, attention %.3f G at S = %lld, causal), "
              "backward %.3f G, training %.3f G; decode at S: %.3f G\n",
              fwd / 1e9, mm / 1e9, att_train / 1e9, (long long)a.seq_len, bwd / 1e9, (fwd + bwd) / 1e9,
              (mm + att_decode) / 1e9);
  std::printf("KV cache          %lld bytes/token bf16 (%.1f KiB; %.2f GiB for one sequence of %lld), %lld fp32\n\n",
              (long long)pc.kv_bytes_per_token_bf16, pc.kv_bytes_per_token_bf16 / 1024.0,
              gib(double(pc.kv_bytes_per_token_bf16) * S), (long long)a.seq_len, (long long)pc.kv_bytes_per_token_f32);
  std::printf("attention per layer at width %lld, S = %lld (G = %.0f, C1 = %.0f, C2 = %.0f):\n", (long long)c.hidden,
              (long long)a.seq_len, G, C1, C2);
  std::printf("  %-20s %12s %14s %16s %16s\n", "variant", "params (M)", "KV values/tok", "train MFLOP/tok",
              "decode MFLOP/tok");
  for (auto& v : vs)
    std::printf("  %-20s %12.2f %14.0f %16.2f %16.2f\n", v.name, v.params / 1e6, v.kv, v.fwd_flops / 1e6,
                v.decode_flops / 1e6);
  std::printf("\nmemory per rank (world %d, ep %d, zero %d; %.0f tokens per rank per micro-batch):\n", a.world, a.ep,
              a.zero, T);
  std::printf("  weights fp32 %.2f GiB, gradients fp32 %.2f GiB, optimizer %.2f GiB (Muon momentum %.2f GiB on "
              "owners, AdamW %.2f GiB)\n",
              gib(w_bytes), gib(g_bytes), gib(opt_bytes), gib(4 * muon_local), gib(8 * adam_local));
  std::printf("  activations %.2f GiB without recomputation, %.2f GiB with; total %.2f GiB%s\n", gib(act_full),
              gib(act_rec), gib(w_bytes + g_bytes + opt_bytes + (a.recompute ? act_rec : act_full)),
              a.recompute ? " (recompute)" : "");
  std::printf("\npredicted step: %.3f s compute at %.1f GFLOP/s GEMM%s", t_compute, gemm / 1e9,
              a.gemm_flops > 0 ? " (given)" : " (measured here, 1024^3)");
  if (t_comm > 0) std::printf(" + %.3f s reduce-scatter/all-gather at %.1f GB/s busbw", t_comm, a.busbw);
  std::printf(" = %.3f s per micro-batch per rank\n", t_compute + t_comm);
}

}  // namespace

void register_size(CLI::App& app) {
  auto a = std::make_shared<SizeArgs>();
  auto* c = app.add_subcommand("size", "Size a model: parameters, FLOPs, attention/KV vs MHA/GQA/MLA, memory per rank");
  c->add_option("--config", a->config, "Model config.json (or directory)")->required();
  c->add_option("--seq-len", a->seq_len, "Sequence length S")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  c->add_option("--batch", a->batch, "Global batch in sequences (default: one per rank)");
  c->add_option("--world", a->world, "Ranks")->check(CLI::Range(1, 1 << 20));
  c->add_option("--ep", a->ep, "Expert-parallel degree")->check(CLI::Range(1, 4096));
  c->add_option("--zero", a->zero, "0 | 1 (AdamW state sharded)")->check(CLI::Range(0, 1));
  c->add_flag("--recompute", a->recompute, "Activation recomputation (memory and the extra forward)");
  c->add_option("--gemm-flops", a->gemm_flops, "GEMM FLOP/s for the step estimate (default: measured here)");
  c->add_option("--busbw", a->busbw, "Collective bus bandwidth, GB/s, for the communication estimate");
  c->add_option("--format", a->format, "text | json")->check(CLI::IsMember({"text", "json"}));
  add_backend_option(c, a->backend);
  c->callback([a] { run_size(*a); });
}

}  // namespace zaya::cli
