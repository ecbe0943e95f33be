// Element types of tensors in checkpoints and in memory, and scalar conversions.
// bf16 is the upper half of an IEEE fp32; f16 is IEEE half. Conversion to bf16 rounds to nearest even.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace zaya {

enum class DType : uint8_t { F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...
// Parses a safetensors dtype string; returns false for an unknown one.
bool dtype_from_name(std::string_view s, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                      // round to nearest even
  return uint16_t(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `t` at `src` to fp32 (F32, BF16, F16, F64, integer types).
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace zaya
