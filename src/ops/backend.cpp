// Backend selection and the device buffer. Each backend registers here (one line per backend).
#include "ops/backend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "ops/cpu/cpu_backend.h"
#include "ops/cpu/gemm.h"

namespace zaya {

std::vector<std::string> backend_names() { return {"cpu-f32", "cpu-bf16"}; }

// cpu-f32 is the default: on CPUs without AMX the bf16 backend computes its GEMMs with the same fp32
// FMA units (and only rounds their inputs), so it is not faster; with AMX tiles its GEMMs run on
// oneDNN's bf16 kernels (docs/benchmarks.md, "Choosing the default backend").
std::string default_backend_name() { return ops::cpu::cpu_features().amx_bf16 ? "cpu-bf16" : "cpu-f32"; }

std::unique_ptr<Backend> make_backend(const std::string& name) {
  const std::string n = name.empty() ? default_backend_name() : name;
  if (n == "cpu-f32") return std::make_unique<ops::cpu::CpuBackend>(Precision::F32);
  if (n == "cpu-bf16") return std::make_unique<ops::cpu::CpuBackend>(Precision::BF16);
  std::string all;
  for (auto& b : backend_names()) all += (all.empty() ? "" : ", ") + b;
  throw_error("unknown backend '", n, "' (choose one of: ", all, ")");
}

Backend& reference_backend() {
  static ops::cpu::CpuBackend be(Precision::F32);
  return be;
}

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void OpProfile::add(const char* name, double seconds) {
  for (auto& [n, e] : ops)
    if (n == name) {
      e.seconds += seconds;
      ++e.calls;
      return;
    }
  ops.push_back({name, {seconds, 1}});
}

std::string OpProfile::report() const {
  auto sorted = ops;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  for (auto& [n, e] : sorted) total += e.seconds;
  std::string out = "op profile (wall time inside each op):\n";
  char line[160];
  for (auto& [n, e] : sorted) {
    std::snprintf(line, sizeof line, "  %-26s %9.3f s %6.1f %% %9lld calls\n", n.c_str(), e.seconds,
                  total > 0 ? 100 * e.seconds / total : 0.0, (long long)e.calls);
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-26s %9.3f s\n", "total", total);
  return out + line;
}

OpScope::OpScope(Backend& be, const char* name) : name_(name) {
  if (!be.profile().enabled) return;
  be_ = &be;
  t0_ = now_s();
}

OpScope::~OpScope() {
  if (be_) be_->profile().add(name_, now_s() - t0_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    be_ = o.be_;
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::resize(size_t bytes) {
  ZAYA_CHECK(be_, "DeviceBuffer: no backend bound");
  if (bytes == bytes_) return;
  void* np = bytes ? be_->alloc(bytes) : nullptr;
  if (p_ && np) be_->copy(np, p_, std::min(bytes, bytes_));
  if (p_) be_->free(p_);
  p_ = np;
  bytes_ = bytes;
}

void DeviceBuffer::reset() {
  if (p_ && be_) be_->free(p_);
  p_ = nullptr;
  bytes_ = 0;
}

}  // namespace zaya
