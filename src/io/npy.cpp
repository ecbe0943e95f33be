#include "io/npy.h"

#include <cstring>

#include "core/error.h"
#include "core/fileutil.h"

namespace zaya {

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  std::string dims;
  size_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) dims += " ";
    n *= size_t(shape[i]);
  }
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  uint16_t hl = uint16_t(header.size());
  out.append(reinterpret_cast<const char*>(&hl), 2);
  out += header;
  out.append(reinterpret_cast<const char*>(data), n * sizeof(float));
  write_file_atomic(path, out);
}

std::vector<float> read_npy_f32(const std::string& path, std::vector<int64_t>* shape) {
  std::string s = read_file(path);
  if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0) throw_error(path, ": not a .npy file");
  size_t hl = uint8_t(s[8]) | (size_t(uint8_t(s[9])) << 8), off = 10;
  if (s[6] != 1) {
    if (s.size() < 12) throw_error(path, ": truncated header");
    hl = uint8_t(s[8]) | (size_t(uint8_t(s[9])) << 8) | (size_t(uint8_t(s[10])) << 16) | (size_t(uint8_t(s[11])) << 24);
    off = 12;
  }
  if (off + hl > s.size()) throw_error(path, ": truncated header");
  std::string h = s.substr(off, hl);
  if (h.find("'<f4'") == std::string::npos) throw_error(path, ": only little-endian float32 is supported");
  if (h.find("'fortran_order': False") == std::string::npos) throw_error(path, ": Fortran order is not supported");
  auto a = h.find('('), b = h.find(')');
  if (a == std::string::npos || b == std::string::npos || b < a) throw_error(path, ": bad shape in header");
  shape->clear();
  size_t n = 1;
  std::string dims = h.substr(a + 1, b - a - 1);
  size_t p = 0;
  while (p < dims.size()) {
    while (p < dims.size() && (dims[p] == ' ' || dims[p] == ',')) ++p;
    if (p >= dims.size()) break;
    size_t q = p;
    while (q < dims.size() && dims[q] >= '0' && dims[q] <= '9') ++q;
    if (q == p) throw_error(path, ": bad shape in header");
    int64_t v = std::stoll(dims.substr(p, q - p));
    shape->push_back(v);
    n *= size_t(v);
    p = q;
  }
  size_t data_off = off + hl;
  if (s.size() - data_off != n * 4) throw_error(path, ": data size does not match the shape");
  std::vector<float> out(n);
  std::memcpy(out.data(), s.data() + data_off, n * 4);
  return out;
}

}  // namespace zaya
