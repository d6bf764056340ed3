#pragma once
// CUDA kernels over the packed token format of core/include/skvq/packed.h (same bytes):
// quantize-and-pack, dequantize, and fused decode attention over packed K/V split along the
// sequence with a log-sum-exp combine. Plain CUDA runtime API, no LibTorch.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace skvq::cuda {

/// Device view of one tensor's packed format (all pointers are device memory).
struct PackedFormatDev {
  int64_t channels = 0;             ///< C
  int64_t n_groups = 0;
  const int64_t* perm = nullptr;    ///< [C] reordered position -> original channel
  const int64_t* inv_perm = nullptr;///< [C] original channel -> reordered position
  const int64_t* offsets = nullptr; ///< [n_groups + 1]
  const int32_t* group_of = nullptr;///< [C] reordered position -> group
  const float* smooth = nullptr;    ///< [C] per original channel, or nullptr
  int32_t qmax = 3;                 ///< 2 (ternary), 3, 7, 15, 255
  float clip = 1.0f;
  bool fp8 = false;
  int64_t code_bytes = 0;           ///< skvq::PackedFormat::code_bytes()
  int64_t token_bytes = 0;          ///< skvq::PackedFormat::token_bytes()
};

/// Quantizes rows x_dev [rows, C] float32 (original channel order) and writes rows packed
/// tokens out_dev [rows, f.token_bytes] uint8, byte-identical to skvq::pack_token.
/// Throws std::runtime_error on a launch error (C up to 48K channels: codes live in shared memory).
void quantize_pack_cuda(const float* x_dev, int64_t rows, const PackedFormatDev& f, uint8_t* out_dev,
                        cudaStream_t stream);

/// Dequantizes rows packed tokens [rows, f.token_bytes] into out_dev [rows, C] float32 (original
/// channel order), bit-identical to skvq::unpack_token. Throws std::runtime_error on a launch error.
void dequant_packed_cuda(const uint8_t* packed_dev, int64_t rows, const PackedFormatDev& f,
                         float* out_dev, cudaStream_t stream);

/// Arguments of the fused decode attention (one query token per sequence).
struct DecodeAttentionDev {
  int64_t batch = 1, heads = 1, kv_heads = 1, head_dim = 128;
  const float* q = nullptr;          ///< [B, H, D] float32
  const uint8_t* k_packed = nullptr; ///< [B, T_packed, k.token_bytes] (keys after RoPE)
  const uint8_t* v_packed = nullptr; ///< [B, T_packed, v.token_bytes]
  int64_t t_packed = 0;
  const float* k_dense = nullptr;    ///< [B, T_dense, C] float32 full-precision tokens (sink +
  const float* v_dense = nullptr;    ///< window, keys after RoPE), or nullptr when T_dense == 0
  int64_t t_dense = 0;
  float softmax_scale = 0.0f;        ///< usually 1/sqrt(D)
  int64_t split_tokens = 512;        ///< tokens per split (one CUDA block per (b, h, split))
  float* out = nullptr;              ///< [B, H, D] float32
  float* workspace = nullptr;        ///< decode_attention_workspace_floats(...) floats
};

/// Floats of workspace the fused decode attention needs.
int64_t decode_attention_workspace_floats(const DecodeAttentionDev& a);

/// softmax(q.K^T * scale) V over the packed tokens and the dense tokens, per (b, h) with
/// grouped-query heads (kv head = h / (H / KVH)); K/V dequantized on the fly; the sequence is cut
/// into splits whose partial (max, sum, acc) are merged by a log-sum-exp combine kernel.
/// Requires head_dim a multiple of 32 and <= 1024. Throws std::runtime_error on a launch error.
void decode_attention_packed_cuda(const DecodeAttentionDev& a, const PackedFormatDev& kf,
                                  const PackedFormatDev& vf, cudaStream_t stream);

}  // namespace skvq::cuda
