#pragma once
// Dequantization of GGUF tensor data (ggml block formats) to float32, in plain C++ (no LibTorch).
//
// A GGUF tensor of type T with n elements is n / block_size(T) blocks of type_size(T) bytes,
// stored back to back, little-endian. "fp16" below is IEEE binary16, "bf16" the top half of
// an IEEE binary32. Block layouts are documented with each decoder in gguf_quants.cpp and
// summarized here:
//   F32   1 elem,    4 B   F16  1 elem, 2 B   BF16 1 elem, 2 B   F64 1 elem, 8 B
//   Q4_0  32 elem,  18 B   fp16 d | 16 B nibbles                          x = d * (q - 8)
//   Q4_1  32 elem,  20 B   fp16 d | fp16 m | 16 B nibbles                 x = d * q + m
//   Q5_0  32 elem,  22 B   fp16 d | u32 high bits | 16 B nibbles          x = d * (q - 16)
//   Q5_1  32 elem,  24 B   fp16 d | fp16 m | u32 high bits | 16 B nibbles x = d * q + m
//   Q8_0  32 elem,  34 B   fp16 d | 32 x int8                             x = d * q
//   Q2_K 256 elem,  84 B   16 B 4+4-bit scales/mins | 64 B 2-bit q | fp16 d | fp16 dmin
//   Q3_K 256 elem, 110 B   32 B high-bit mask | 64 B 2-bit q | 12 B 6-bit scales | fp16 d
//   Q4_K 256 elem, 144 B   fp16 d | fp16 dmin | 12 B 6-bit scales/mins | 128 B nibbles
//   Q5_K 256 elem, 176 B   fp16 d | fp16 dmin | 12 B scales/mins | 32 B high bits | 128 B nibbles
//   Q6_K 256 elem, 210 B   128 B low nibbles | 64 B 2-bit highs | 16 x int8 scales | fp16 d
//   Q8_K 256 elem, 292 B   f32 d | 256 x int8 | 16 x int16 block sums (unused here)
#include <cstdint>

namespace skvq::gguf {

/// ggml type ids as stored in GGUF tensor infos.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

/// Static facts about one ggml type.
struct TypeInfo {
  const char* name;     ///< ggml's name of the type, e.g. "Q4_K"
  int64_t block_size;   ///< elements per block
  int64_t type_size;    ///< bytes per block
  bool dequantizable;   ///< whether dequantize() supports it
};

/// Name, elements per block and bytes per block of a ggml type id, or nullptr when the id is
/// unknown. Known types that dequantize() cannot decode (IQ*, TQ*, Q8_1, MXFP4, integer
/// types, ...) are listed with dequantizable = false.
const TypeInfo* type_info(uint32_t type);

/// Bytes that `n_elements` of `type` occupy. Throws std::invalid_argument for an unknown type,
/// a negative n, or an n that is not a multiple of the block size.
int64_t row_bytes(uint32_t type, int64_t n_elements);

/// Dequantizes n elements (a multiple of the block size) from `src` (n / block_size blocks,
/// little-endian) into float32 `dst`. Throws std::invalid_argument for an unknown or
/// unsupported type or a bad n. Supported: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1,
/// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
void dequantize(uint32_t type, const uint8_t* src, float* dst, int64_t n);

/// IEEE binary16 -> binary32, exact: zeros, subnormals, normals, +-inf, NaN (payload kept).
float fp16_to_float(uint16_t h);

/// bfloat16 -> binary32 (exact: the 16 bits become the top half of the float).
float bf16_to_float(uint16_t h);

}  // namespace skvq::gguf
