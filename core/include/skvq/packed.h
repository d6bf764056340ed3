#pragma once
// Packed storage of quantized K/V tokens (skvq-method.md sections 2-3, our storage format).
//
// One token of one tensor (K or V) of one layer is stored as
//   [ codes of all C channels in reordered order, one tight little-endian bit stream ]
//   [ per group g: scale byte(s), zero byte(s) ]
// Code i of the stream occupies bits [i*b, i*b + b) (b = 2, 3, 4 or 8; LSB first within a
// byte). Ternary ("1.5 bits", qmax 2) packs 5 codes per byte in base 3: byte k holds
// sum_{i<5} code[5k+i] * 3^i (at most 242). Scale and zero are one FP8 E4M3 byte each with fp8,
// else two little-endian float16 bytes each; sym (sym_quant.h) stores only the scale, two
// little-endian float16 bytes, and the zero-point is -offset * scale. A format with qmax 0 is "raw": the token is C
// float32 values in original channel order (an unquantized tensor).
// Plain C++, no LibTorch: the CUDA kernels (cuda/) use exactly the same layout.
#include <cstdint>
#include <memory>
#include <vector>

#include "skvq/fake_quant.h"

namespace skvq {

/// FP8 E4M3 (OCP "fn": bias 7, no infinities, max 448) bit pattern of `x`, rounded to nearest
/// even and saturated at +-448 (same rounding as round_to_fp8_e4m3). NaN -> 0x7F.
uint8_t fp8_e4m3_bits(float x);
/// Value of an FP8 E4M3 byte (exact). 0x7F/0xFF decode to NaN.
float fp8_e4m3_value(uint8_t bits);
/// IEEE float16 bit pattern of `x`, rounded to nearest even (same rounding as round_to_fp16).
uint16_t fp16_bits(float x);
/// Value of a float16 bit pattern (exact).
float fp16_value(uint16_t bits);

/// Bytes needed for `n` codes with largest code `qmax` (3, 7, 15, 255: ceil(n*bits/8);
/// 2 = ternary: ceil(n/5)). Throws ConfigError for another qmax.
int64_t packed_code_bytes(int64_t n, int32_t qmax);
/// Bits one code uses for qmax (2, 3, 4, 8), 0 for ternary. Throws ConfigError otherwise.
int code_bits_for_qmax(int32_t qmax);
/// Packs n codes (each in [0, qmax]) into packed_code_bytes(n, qmax) bytes at `out` (the bytes
/// are overwritten; padding bits are zero). Throws ConfigError for an unsupported qmax.
void pack_codes(const uint8_t* codes, int64_t n, int32_t qmax, uint8_t* out);
/// Inverse of pack_codes: codes [first, first + n) of the stream into codes[0..n).
void unpack_codes(const uint8_t* packed, int64_t first, int64_t n, int32_t qmax, uint8_t* codes);

/// The packed format of one tensor (K or V) of one layer: its group layout and quantizer.
struct PackedFormat {
  GroupLayout layout;      ///< perm / offsets / smooth of section 3 (identity for RTN)
  GroupQuantParams params; ///< qmax (0 = raw float32), clip, fp8
  bool raw() const { return params.qmax == 0; }
  int64_t channels() const { return layout.channels(); }
  /// Bytes of the code stream of one token (0 for raw).
  int64_t code_bytes() const;
  /// Bytes of the scale+zero pairs of one token: n_groups * (2 with fp8 or sym, 4 otherwise).
  int64_t param_bytes() const;
  /// Bytes of one packed token: code_bytes + param_bytes (raw: 4*C).
  int64_t token_bytes() const;
  /// Scale and zero of group g of a packed token (decoded FP8/float16 values; sym: the float16
  /// scale and the implied zero -sym_code_offset(qmax) * scale).
  void group_params(const uint8_t* token, int64_t g, float* scale, float* zero) const;
};

/// Quantizes one token x[C] (float32, original channel order) with quantize_group per group of
/// `f.layout` (permute, optional smooth multiply) and writes f.token_bytes() bytes at `out`.
/// With f.params.hadamard_dim > 0 (had) the codes are those of H x, H the orthonormal
/// Walsh-Hadamard transform of each block of hadamard_dim channels (one KV head).
/// The codes and scale/zero are exactly those fake_quant_rows_cpu uses.
void pack_token(const PackedFormat& f, const float* x, uint8_t* out);
/// Dequantizes one packed token into x[C] (float32, original channel order):
/// x[perm[j]] = (code_j * scale_g + zero_g) [/ smooth[perm[j]]] (then H per block with
/// hadamard_dim: back from the rotated basis), bit-identical to fake_quant_rows_cpu on the same
/// input.
void unpack_token(const PackedFormat& f, const uint8_t* token, float* x);

/// Token storage that grows in fixed-size blocks (no copying when it grows). Each block holds
/// `block_tokens` tokens of `token_bytes` bytes. Not thread-safe for writes.
class TokenBlockStore {
 public:
  TokenBlockStore(int64_t token_bytes, int64_t block_tokens);
  /// Pointer to a new token slot at the end (allocates a block when the last one is full).
  uint8_t* push();
  /// Token i (0 <= i < size()).
  uint8_t* token(int64_t i) { return blocks_[i / block_tokens_].get() + (i % block_tokens_) * token_bytes_; }
  const uint8_t* token(int64_t i) const {
    return blocks_[i / block_tokens_].get() + (i % block_tokens_) * token_bytes_;
  }
  int64_t size() const { return size_; }
  int64_t token_bytes() const { return token_bytes_; }
  int64_t block_tokens() const { return block_tokens_; }
  /// Bytes allocated (whole blocks).
  int64_t allocated_bytes() const { return static_cast<int64_t>(blocks_.size()) * block_tokens_ * token_bytes_; }
  /// Bytes used by the stored tokens: size() * token_bytes().
  int64_t used_bytes() const { return size_ * token_bytes_; }
  /// Frees every block; size() becomes 0.
  void clear();

 private:
  int64_t token_bytes_, block_tokens_, size_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
};

}  // namespace skvq
