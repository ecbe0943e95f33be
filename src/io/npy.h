// NumPy .npy files (format version 1.0): float32 / int32 C-order arrays, written atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zaya {
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
// Reads a little-endian float32 C-order .npy (for tests and tools); throws zaya::Error naming the file.
std::vector<float> read_npy_f32(const std::string& path, std::vector<int64_t>* shape);
}  // namespace zaya
