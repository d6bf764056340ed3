#pragma once
// The packed KV cache: real low-bit storage of the quantized middle region (skvq-method.md
// section 1) in the format of packed.h, with a decode attention that dequantizes on the fly.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skvq/calibration.h"
#include "skvq/kv_cache.h"
#include "skvq/kv_regions.h"
#include "skvq/model_config.h"
#include "skvq/packed.h"
#include "skvq/quant_config.h"
#include "skvq/rope.h"

namespace skvq {

namespace packed_detail {
struct TokenPlan;  // kernels/packed_decode.h: a layout's channel map for the token-at-a-time kernel
}

/// KV cache with the same regions as FakeQuantKVCache (SKVQ / RTN configurations):
///   [ sink S: float32 ][ middle: packed codes + scale/zero, blocks of block_tokens ][ window W: float32 ]
/// A token that leaves the window is quantized and packed (pre_rope keys: before RoPE; RoPE is
/// applied when they are dequantized for attention). A tensor whose bits are 16 is kept as raw
/// float32 in the middle. had: middle tokens are packed after a Walsh-Hadamard rotation of each
/// KV head (decode attention rotates the query and the middle's output instead of the keys).
/// KIVI and had with pre_rope are not supported (ConfigError). CPU only.
class PackedKVCache : public KVCache {
 public:
  /// batch: sequences (B). block_tokens: tokens per storage block of the middle region.
  /// Throws ConfigError for KIVI, had with pre_rope, or when the layouts do not match the
  /// model's K/V channels.
  PackedKVCache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                int64_t batch, bool full_prefill = false, int64_t block_tokens = 256);

  /// As KVCache::append; returns dequantized keys (after RoPE) and values for all cached tokens,
  /// [B, T_total, C] float32. With full_prefill the tokens of this call come back exact.
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k_pre_rope,
                                           const at::Tensor& k_post_rope, const at::Tensor& v,
                                           const RotaryEmbedding& rope) override;
  /// Appends like append() but returns nothing (no dequantized copy of the cache): the path to
  /// use with decode_attention. Same shapes and errors as append().
  void append_tokens(int64_t layer, const at::Tensor& k_pre_rope, const at::Tensor& k_post_rope,
                     const at::Tensor& v) override;
  /// True: decode steps can use append_tokens + decode_attention.
  bool has_decode_attention() const override { return true; }
  int64_t length(int64_t layer) const override;
  int64_t length() const override;
  void clear() override;
  /// Same as accounted_bytes() (the storage-format accounting of memory.h).
  int64_t stored_bytes() const override { return accounted_bytes(); }

  /// Bytes really allocated: float32 sink and window buffers (plus pre-RoPE window keys when
  /// pre_rope) and whole middle blocks, all layers, K and V.
  int64_t allocated_bytes() const;
  /// Bytes used by packed middle tokens: tokens * token_bytes, all layers, K and V.
  int64_t packed_bytes() const;
  /// The memory accounting: sink + window tokens at float16 (2 bytes per element, K and V) plus
  /// packed_bytes(), except that a raw (16-bit, unquantized) middle tensor counts 2 bytes per
  /// element as memory.h does. Equals kv_cache_bytes(model, config, length) * batch up to the
  /// byte rounding of each token's codes (ternary: ceil(C / 5) bytes vs 1.6 bits per code).
  int64_t accounted_bytes() const;

  /// Tokens of `layer` in the middle (packed) region.
  int64_t packed_tokens(int64_t layer) const;
  /// Dequantized tokens [begin, end) of `layer`: (keys after RoPE, values), [B, end-begin, C]
  /// float32; sink and window tokens are returned as stored. Throws Error on a bad range.
  std::pair<at::Tensor, at::Tensor> dequantize(int64_t layer, int64_t begin, int64_t end) const;

  /// Attention of one query token per sequence over every cached token of `layer`:
  /// q [B, H, head_dim] float32 (after RoPE, H = num_attention_heads, grouped-query heads
  /// share KV head h / (H / KVH)) -> softmax(q.k / sqrt(head_dim)) v, [B, H, head_dim] float32.
  /// Middle tokens are dequantized on the fly group by group (never materialized); with
  /// full_prefill and window 0 the token of the last one-token append_tokens call is read
  /// exactly, as append() would return it. The work is split along the sequence (per sequence:
  /// one item for the sink + window tokens, one per 256 middle tokens; threads over the items
  /// with at::parallel_for); an item reads each packed token once for all heads and leaves
  /// per-head partial softmax sums that a log-sum-exp combine merges (as the CUDA kernel).
  /// AVX-512 or AVX2+FMA 2-bit kernels when the CPU has them; with AVX-512, layouts the fused
  /// 2-bit kernels do not cover (pre-RoPE keys, calibrated reordered groups, 3/4/8-bit,
  /// ternary) are read a whole token at a time (kernels/packed_decode_tokens.cpp;
  /// SKVQ_PACKED_DECODE=tokens|groups forces a kernel). Throws Error when the layer is empty or
  /// q has the wrong shape.
  at::Tensor decode_attention(int64_t layer, const at::Tensor& q) const override;

  const PackedFormat& key_format(int64_t layer) const { return kfmt_[layer]; }
  const PackedFormat& value_format(int64_t layer) const { return vfmt_[layer]; }
  const QuantConfig& config() const { return config_; }

 private:
  struct Seq {  // one sequence of one layer
    std::vector<float> sink_k, sink_v;           // [n_sink, C] (keys after RoPE)
    std::vector<float> win_k, win_kpre, win_v;   // ring [W, C]; slot = position % W
    std::unique_ptr<TokenBlockStore> mid_k, mid_v;
    // full_prefill with window 0: exact K (after RoPE) and V of the last token appended by a
    // one-token call, which decode_attention reads instead of its packed copy.
    std::vector<float> last_k, last_v;  // [C]
    int64_t last_pos = -1;
  };
  struct Layer {
    std::vector<Seq> seqs;  // [B]
    int64_t length = 0;
  };
  void push_token(int64_t layer, Seq& s, int64_t pos, const float* kpre, const float* kpost,
                  const float* v);
  // had: a quantized tensor's middle tokens are stored as H x per KV head (hadamard.h).
  void ensure_rope(int64_t positions) const;
  void token_kv(int64_t layer, const Seq& s, int64_t pos, float* k, float* v) const;
  void rope_rotate(float* k_heads, int64_t pos) const;  // in place, all KV heads of one token
  void build_token_plans();  // ktplan_/vtplan_ from kfmt_/vfmt_ (kernels/packed_attention.cpp)
 public:
  /// Per KV head: the groups of a tensor's layout that hold any of the head's channels and,
  /// for each position of those groups (concatenated), the head dim it holds or -1.
  struct HeadPlan {
    std::vector<int64_t> groups;   ///< touched group indices, rising
    std::vector<int32_t> dim;      ///< [sum of touched group sizes]: head dim d or -1
    std::vector<int64_t> channel;  ///< [same]: original channel
  };
 private:
  std::vector<std::vector<HeadPlan>> kplan_, vplan_;  // [layer][kv head]
  // [layer]: built once from kfmt_/vfmt_ layouts (they point into them), read by decode_attention.
  std::vector<std::shared_ptr<const packed_detail::TokenPlan>> ktplan_, vtplan_;

  ModelConfig model_;
  QuantConfig config_;
  KVRegions regions_;  // sink / middle / window of config_
  int64_t batch_, block_tokens_, C_;
  bool full_prefill_;
  std::vector<PackedFormat> kfmt_, vfmt_;
  std::vector<Layer> layers_;
  mutable std::shared_ptr<const RopeTable> rope_table_;  // the shared cos/sin table (rope.h)
  mutable at::Tensor rope_cos_, rope_sin_;         // [>= positions, head_dim] rows of it, CPU
};

/// Reference decode attention over dense K/V of one sequence, the float32 / float16-storage
/// baselines of `skvq bench`: q [H, D] float32; k, v [T, KVH*D] float32 or float16 (kHalf);
/// returns [H, D] float32. AVX2 (+F16C) when available, threads across heads.
at::Tensor dense_decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  int64_t kv_heads);

/// True when this build has CUDA kernels and a usable device; otherwise false with `reason`
/// ("build without CUDA", or the CUDA error of cudaGetDeviceCount).
bool packed_cuda_available(std::string* reason);

/// CUDA quantize-and-pack (same bytes as pack_token per row): x [rows, C] float32 on a GPU ->
/// [rows, f.token_bytes()] uint8 on the same GPU. Throws Error without CUDA.
at::Tensor pack_tokens_cuda(const at::Tensor& x, const PackedFormat& f);
/// CUDA dequantize: packed [rows, token_bytes] uint8 on a GPU -> [rows, C] float32 (same values
/// as unpack_token). Throws Error without CUDA.
at::Tensor unpack_tokens_cuda(const at::Tensor& packed, const PackedFormat& f);
/// CUDA fused decode attention: q [B, H, D] float32, k_packed/v_packed [B, T, token_bytes]
/// uint8 (keys after RoPE), dense_k/dense_v [B, Td, C] float32 (may be undefined) -> [B, H, D].
/// split_tokens: tokens per sequence split. Throws Error without CUDA.
at::Tensor decode_attention_packed_cuda(const at::Tensor& q, const at::Tensor& k_packed,
                                        const at::Tensor& v_packed, const at::Tensor& dense_k,
                                        const at::Tensor& dense_v, const PackedFormat& kf,
                                        const PackedFormat& vf, int64_t kv_heads,
                                        int64_t split_tokens = 512);

}  // namespace skvq
