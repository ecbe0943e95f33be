// ModelConfig: the shape and behaviour switches of a ZAYA1 model, read from a Hugging Face
// config.json in either layout (spec §1):
//   - native upstream layout (transformers `models/zaya`): `num_hidden_layers` pairs, `layer_types`,
//     per-type `rope_parameters`, stacked experts;
//   - legacy list layout of ZAYA1-base (Zyphra fork, schema A): `zaya_layers` of 2P alternating
//     attention/MoE layers with per-layer lists; `num_hidden_layers` is vestigial and ignored;
//   - legacy scalar layout of ZAYA1-8B-legacy (Zyphra fork branch `zaya1`, schema B): the same 2P layers and
//     tensor names as schema A, described by scalars; `num_hidden_layers` = 2P layers.
// All load into this one structure (schemas A and B as CheckpointLayout::Legacy). Dimension letters: H hidden, P pairs, nq/nk latent query/key
// heads, d head dim, C = (nq+nk)·d conv channels, E experts, I expert intermediate, Dr router width.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace zaya {
class Comm;

enum class CheckpointLayout { Native, Legacy };

// What the MoE outputs for a token whose top-1 slot is the skip ("mixture of depths") slot:
// Zero = upstream transformers / current Zyphra vLLM; PassThrough = Zyphra fork: w·y (spec §4.3).
enum class SkipMode { Zero, PassThrough };

struct PairSpec {
  int window = 0;              // 0: full causal attention; W > 0: query t sees keys t-W < j <= t
  double rope_theta = 10000;   // RoPE base of this pair's attention
  int rot_dim = 0;             // rotated dims per head (head_dim · partial_rotary_factor), even
};

struct ModelConfig {
  CheckpointLayout layout = CheckpointLayout::Native;
  int64_t vocab_size = 0;
  int64_t hidden = 0;        // H
  int n_pairs = 0;           // P (attention + MoE pairs)
  int nq = 0, nk = 0;        // latent query / key-value heads
  int head_dim = 0;          // d
  int n_experts = 0;         // E (routed experts; the skip slot is extra)
  int64_t expert_inter = 0;  // I (SwiGLU intermediate; fc1 has 2I rows)
  int router_hidden = 0;     // Dr
  int cca_time0 = 2, cca_time1 = 2;  // kernel sizes of the two causal convolutions
  bool use_skip_slot = true;  // router has E+1 outputs (zaya_use_mod)
  bool use_eda = true;        // depth-wise router state carry (zaya_use_eda)
  bool clamp_temp = false;    // legacy: key temperature = exp(clip(temp, 1e-7, 2))
  bool tie_embeddings = true;
  double norm_eps = 1e-5;         // layer and final RMSNorm
  double router_norm_eps = 1e-5;  // router RMSNorm (spec §4.6: configurable)
  SkipMode skip_mode = SkipMode::Zero;
  std::vector<PairSpec> pairs;
  int64_t max_position_embeddings = 0;
  int32_t bos_id = 2, pad_id = 0;
  std::vector<int32_t> eos_ids;
  std::string source;  // path of the config.json, for messages
  // Expert parallelism (training only, never in config.json; docs/parallel.md): this process holds and
  // computes experts [expert_first, expert_first + local_experts()) of every MoE layer; tokens reach
  // them through all-to-all over `ep` (dist/comm.h). expert_count 0 / ep null: all experts, no dispatch.
  int expert_first = 0, expert_count = 0;
  class Comm* ep = nullptr;
  int local_experts() const { return expert_count > 0 ? expert_count : n_experts; }

  int conv_channels() const { return (nq + nk) * head_dim; }        // C
  int conv_state_len() const { return cca_time0 - 1 + cca_time1 - 1; }  // K raw u columns kept
  int n_slots() const { return n_experts + (use_skip_slot ? 1 : 0); }
  int value_half() const { return nk * head_dim / 2; }
  // Throws zaya::Error naming the field if a value is impossible.
  void validate() const;
  std::string summary() const;  // one-paragraph human description
};

// Parses config.json text (layout auto-detected). `what` names the file in errors.
ModelConfig parse_config(const std::string& json_text, const std::string& what);
ModelConfig load_config(const std::string& config_json_path);

// Writes the native upstream config.json for `cfg` (used by the checkpoint writer tools).
std::string native_config_json(const ModelConfig& cfg);

}  // namespace zaya
