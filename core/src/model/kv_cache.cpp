// KVCache::attend: the forward pass's one entry into a cache (kv_cache.h).
#include "skvq/kv_cache.h"

#include <ATen/ATen.h>

namespace skvq {

at::Tensor KVCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k_pre_rope,
                           const at::Tensor& k_post_rope, const at::Tensor& v, const RotaryEmbedding& rope,
                           const DenseAttention& dense, bool dense_only) {
  if (q.size(1) == 1 && has_decode_attention() && !dense_only) {
    // A decode step on a cache with its own attention (packed storage): append the token and
    // attend over the cache in place, without a dequantized copy of it.
    append_tokens(layer, k_pre_rope, k_post_rope, v);
    const int64_t B = q.size(0), H = q.size(2), hd = q.size(3);
    return decode_attention(layer, q.view({B, H, hd})).to(q.device(), q.scalar_type()).view({B, 1, H * hd});
  }
  auto [K, V] = append(layer, k_pre_rope, k_post_rope, v, rope);
  return dense(q, K, V, key_span(layer));
}

}  // namespace skvq
