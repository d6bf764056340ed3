#pragma once
// Group quantizers of skvq-method.md sections 2-4, as fake quantization (quantize, then
// dequantize at once). The CPU loops here are the reference the CUDA kernels are tested against.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace skvq {

/// Rounds a float to the nearest FP8 E4M3 value (round to nearest even, saturating at +-448,
/// subnormals down to 2^-9) and returns it as float. NaN stays NaN.
float round_to_fp8_e4m3(float x);
/// Rounds to the nearest IEEE float16 value (round to nearest even), returned as float.
float round_to_fp16(float x);

/// How the C channels of one token are cut into groups: a permutation and group boundaries
/// (section 3). Without reorder: identity permutation and equal groups of g.
struct GroupLayout {
  std::vector<int64_t> perm;     ///< [C]: perm[j] = original channel at reordered position j
  std::vector<int64_t> offsets;  ///< [n_groups + 1]: group boundaries in reordered positions
  std::vector<float> smooth;     ///< [C] per original channel, or empty: multiply before, divide after

  /// Equal groups of `group_size` consecutive channels; throws ConfigError if it does not divide C.
  static GroupLayout contiguous(int64_t channels, int64_t group_size);
  int64_t channels() const { return static_cast<int64_t>(perm.size()); }
  int64_t num_groups() const { return static_cast<int64_t>(offsets.size()) - 1; }
  /// Throws ConfigError unless perm is a permutation of 0..C-1 and offsets rise from 0 to C.
  void validate() const;
};

/// Parameters of the per-group asymmetric min-max quantizer (section 2).
struct GroupQuantParams {
  int32_t qmax = 3;          ///< 2^bits - 1; 2 for ternary
  float clip_ratio = 1.0f;   ///< lo = clip*min, hi = clip*max
  bool fp8 = false;          ///< round scale and zero to FP8 E4M3 (else float16)
  bool sym = false;          ///< symmetric scale-only groups (quantize_group_sym, sym_quant.h)
  /// > 0: each block of this many consecutive original channels (one KV head: head_dim) is
  /// rotated by the normalized Hadamard matrix H before grouping and rotated back after, so the
  /// result is H Q(H x) per head (option "had", hadamard.h). 0: no rotation.
  int64_t hadamard_dim = 0;
};

/// CPU reference: fake-quantizes `rows` token vectors of `channels` floats in place, each
/// per group of `layout`. x is row-major [rows, channels] float32. With p.hadamard_dim the
/// rotation wraps the whole per-token step (before the permutation and smoothing, after their
/// inverse); throws ConfigError unless it is a power of two dividing channels.
void fake_quant_rows_cpu(float* x, int64_t rows, int64_t channels, const GroupLayout& layout,
                         const GroupQuantParams& p);

/// Quantizes one group's values (already permuted/smoothed) to codes and returns the stored
/// scale and zero-point (after fp8/fp16 rounding). codes[i] in [0, qmax]. Section 2 exactly:
/// lo = clip*min, hi = clip*max, scale = max((hi-lo)/qmax, 1e-5), zero = lo,
/// q = clamp(round_half_even((x - zero)/scale), 0, qmax). A scale that rounds to 0 in FP8
/// gives codes 0 (x_hat = zero). With p.sym: quantize_group_sym (llama.cpp q4_0/q8_0) instead,
/// zero = -offset * scale.
void quantize_group(const float* x, int64_t n, const GroupQuantParams& p, uint8_t* codes,
                    float* scale, float* zero);

/// Fake-quantizes the last dimension of `x` (float32, shape [..., C]) per token and returns a
/// new tensor of the same shape. Runs the CUDA kernel when x is on a GPU and the build has
/// CUDA, the CPU reference otherwise (always for p.sym and p.hadamard_dim, copying through
/// host memory).
/// Throws ConfigError if C != layout.channels().
at::Tensor fake_quant_tokens(const at::Tensor& x, const GroupLayout& layout,
                             const GroupQuantParams& p);

/// KIVI keys: x is [B, T, C] float32; tokens [0, n_tokens) are quantized per channel in groups
/// of `token_group` consecutive tokens (n_tokens must be a multiple of token_group), min-max,
/// no clip, float16 scale/zero. Returns a new tensor; tokens from n_tokens on are copied as is.
at::Tensor fake_quant_channels_kivi(const at::Tensor& x, int64_t n_tokens, int64_t token_group,
                                   int32_t qmax);

}  // namespace skvq
