#pragma once
// The KV cache contract of the forward pass (skvq-method.md sections 1-4): what every cache
// (fake_quant_cache.h, packed_cache.h) implements.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "skvq/error.h"
#include "skvq/key_span.h"

namespace skvq {

class RotaryEmbedding;

/// Attention of queries over the keys/values a cache hands back, as the forward pass computes
/// it: q [B, T, H, head_dim] (RoPE applied, positions length(layer)..), K/V [B, Tk, C] (keys
/// after RoPE), `span` which keys each query reads -> [B, T, H * head_dim].
using DenseAttention = std::function<at::Tensor(const at::Tensor& q, const at::Tensor& K, const at::Tensor& V,
                                                const KeySpan& span)>;

/// What a KV cache does for the forward pass: take the new tokens' K/V of one layer and hand
/// back everything attention must read. Implementations: FakeQuantKVCache (fake_quant_cache.h) and the
/// packed cache (packed_cache.h); chosen by cache_factory.h.
class KVCache {
 public:
  virtual ~KVCache() = default;
  /// Appends T_new tokens of `layer`. k_pre_rope, k_post_rope, v: [B, T_new, C] float
  /// (C = num_key_value_heads * head_dim); the new tokens sit at positions length(layer)...
  /// Returns (keys after RoPE, values) for all cached tokens, [B, T_total, C] each, as
  /// attention must read them for the new queries.
  virtual std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k_pre_rope,
                                                   const at::Tensor& k_post_rope,
                                                   const at::Tensor& v,
                                                   const RotaryEmbedding& rope) = 0;
  /// Where the keys the last append(layer, ...) returned sit in the sequence and which of them
  /// each query reads (key_span.h). Default: plain causal, key index = position.
  virtual KeySpan key_span(int64_t /*layer*/) const { return {}; }
  /// Tokens seen by `layer` (the next token's position; evicted tokens count).
  virtual int64_t length(int64_t layer) const = 0;
  /// Tokens seen after the last complete forward (the last layer's length).
  virtual int64_t length() const = 0;
  /// Forgets every token.
  virtual void clear() = 0;

  /// The one call the forward pass makes per layer: appends this call's K/V (shapes as
  /// append()) and returns the attention output of q [B, T, H, head_dim] (after RoPE) over
  /// every cached token, [B, T, H * head_dim] on q's device and dtype. The cache picks the path:
  /// the default hands append()'s tensors and key_span() to `dense`; a cache with its own decode
  /// attention (has_decode_attention) attends one-token calls itself, over what it stores.
  /// `dense_only` (an observer wants the attention probabilities) always takes the dense path.
  virtual at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k_pre_rope,
                            const at::Tensor& k_post_rope, const at::Tensor& v, const RotaryEmbedding& rope,
                            const DenseAttention& dense, bool dense_only = false);
  /// Bytes the cache's stored K/V would occupy in its storage format (see memory.h accounting).
  virtual int64_t stored_bytes() const = 0;

  /// True when the cache computes one-token decode attention itself (append_tokens +
  /// decode_attention) without handing back a dequantized copy of everything it holds. The
  /// default attend() then uses that path for T_new == 1. Default: false.
  virtual bool has_decode_attention() const { return false; }
  /// Appends like append() (same shapes: [B, T_new, C] float, positions from length(layer))
  /// but returns nothing. Only for caches with has_decode_attention(); the default throws Error.
  virtual void append_tokens(int64_t /*layer*/, const at::Tensor& /*k_pre_rope*/,
                             const at::Tensor& /*k_post_rope*/, const at::Tensor& /*v*/) {
    throw Error("KVCache::append_tokens: this cache has no decode-attention path");
  }
  /// Attention of one query token per sequence over every cached token of `layer` (the token
  /// of this step already appended): q_after_rope [B, num_attention_heads, head_dim] float
  /// (RoPE applied) -> softmax(q.k / sqrt(head_dim)) v, [B, num_attention_heads, head_dim]
  /// float32 on the CPU; grouped-query heads share KV head h / (H / KVH). Only for caches with
  /// has_decode_attention(); the default throws Error.
  virtual at::Tensor decode_attention(int64_t /*layer*/, const at::Tensor& /*q_after_rope*/) const {
    throw Error("KVCache::decode_attention: this cache has no decode-attention path");
  }
};

}  // namespace skvq
