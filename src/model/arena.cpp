#include "model/arena.h"

#include "io/safetensors.h"

namespace zaya {

void ActArena::allocate(Backend& be) {
  size_t off = 0;
  for (auto& s : slots_) {
    s.offset = off;
    off += (size_t(s.n) * s.elem + 63) / 64 * 64;
  }
  buf_.reset();
  buf_.bind(be);
  buf_.resize(std::max<size_t>(off, 64));
  for (auto& s : slots_) s.bind(static_cast<uint8_t*>(buf_.data()) + s.offset);
}

void ActArena::clear() { slots_.clear(); }

const void* ActArena::find(const std::string& name) const {
  for (auto& s : slots_)
    if (s.name == name) return static_cast<const uint8_t*>(buf_.data()) + s.offset;
  return nullptr;
}

void ActArena::dump(const std::string& path, Backend& be) const {
  SafeTensorsWriter w;
  std::vector<std::vector<float>> host;
  for (auto& s : slots_) {
    if (!s.is_float || s.n == 0) continue;
    host.emplace_back(size_t(s.n));
    be.download(host.back().data(), static_cast<const uint8_t*>(buf_.data()) + s.offset, size_t(s.n) * 4);
    w.add(s.name, DType::F32, {s.n}, host.back().data());
  }
  w.write(path);
}

}  // namespace zaya
