// Half-precision checkpoints: a bf16 (or f16) checkpoint must give the same logits as an fp32
// checkpoint holding the same rounded values — the weights stay half precision in memory and the
// kernels widen them exactly. Covers the decode (few rows) and prefill (many rows) matmul paths,
// and sharded writing.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fileutil.h"
#include "model/model.h"
#include "test_util.h"

namespace zaya {
namespace {

std::string tmpdir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("zaya_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// Rewrites every tensor of src as `dt` into dir_half and as fp32 (rounded through `dt`) into dir_f32.
void write_rounded(const std::string& src, DType dt, const std::string& dir_half, const std::string& dir_f32) {
  Checkpoint ck(src);
  std::vector<std::vector<uint16_t>> half;
  std::vector<std::vector<float>> full;
  SafeTensorsWriter wh, wf;
  for (auto& [name, t] : ck.tensors()) {
    std::vector<float> v(size_t(t.numel()));
    std::vector<uint8_t> raw(t.data, t.data + t.nbytes);
    convert_to_f32(t.dtype, raw.data(), v.data(), v.size());
    if (name.find("balancing_biases") != std::string::npos) {  // fp32 buffer in real checkpoints
      full.push_back(v);
      wh.add(name, DType::F32, t.shape, full.back().data());
      wf.add(name, DType::F32, t.shape, full.back().data());
      continue;
    }
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      h[i] = dt == DType::BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
      v[i] = dt == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
    }
    half.push_back(std::move(h));
    full.push_back(std::move(v));
    wh.add(name, dt, t.shape, half.back().data());
    wf.add(name, DType::F32, t.shape, full.back().data());
  }
  wh.write_dir(dir_half, 200000);  // small shards: exercises the index path
  wf.write_dir(dir_f32);
  std::string cfg = read_file(src + "/config.json");
  write_file_atomic(dir_half + "/config.json", cfg);
  write_file_atomic(dir_f32 + "/config.json", cfg);
}

std::vector<float> run(const Model& m, const std::vector<int32_t>& ids, int64_t chunk) {
  SeqState st = m.new_state();
  Workspace ws;
  std::vector<float> out;
  const int64_t V = m.config().vocab_size;
  for (size_t off = 0; off < ids.size(); off += size_t(chunk)) {
    int64_t n = std::min<int64_t>(chunk, int64_t(ids.size() - off));
    std::vector<float> lg(size_t(n * V));
    SeqChunk c{&st, ids.data() + off, n};
    ForwardOptions fo;
    fo.all_logits = true;
    m.forward(std::span<const SeqChunk>(&c, 1), lg.data(), ws, fo);
    out.insert(out.end(), lg.begin(), lg.end());
  }
  return out;
}

TEST(ModelDtypes, HalfPrecisionCheckpointsEqualRoundedFp32) {
  for (DType dt : {DType::BF16, DType::F16}) {
    for (std::string cfg : {"g4", "g2swa"}) {
      std::string base = test::src_path("tests/data/golden/" + cfg + "/native");
      std::string dh = tmpdir(cfg + "_half"), df = tmpdir(cfg + "_f32");
      write_rounded(base, dt, dh, df);
      ASSERT_TRUE(file_exists(dh + "/model.safetensors.index.json"));
      LoadOptions lo;
      lo.quiet = true;
      auto mh = Model::load(dh, reference_backend(), lo), mf = Model::load(df, reference_backend(), lo);
      EXPECT_EQ(mh->params().pairs[0].attn.q.m.dtype, dt) << "half weights must stay half in memory";
      std::vector<int32_t> ids;
      for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % int(mh->config().vocab_size));
      for (int64_t chunk : {int64_t(40), int64_t(1), int64_t(12)}) {
        auto a = run(*mh, ids, chunk), b = run(*mf, ids, chunk);
        EXPECT_LT(test::rel_err(a, b), 2e-6) << dtype_name(dt) << " " << cfg << " chunk " << chunk;
      }
      std::filesystem::remove_all(dh);
      std::filesystem::remove_all(df);
    }
  }
}

}  // namespace
}  // namespace zaya
