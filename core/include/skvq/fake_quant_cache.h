#pragma once
// The fake-quantization KV cache (skvq-method.md sections 1-4): the checking path of every
// method, and the only path of the methods without a packed codec.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "skvq/calibration.h"
#include "skvq/kv_cache.h"
#include "skvq/kv_regions.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"

namespace skvq {

/// Fake-quantization cache: keeps float32 K/V, replacing each token's values by their
/// quantize-dequantize result once the token leaves the full-precision regions:
///   [ sink S ][ quantized ][ window W ]
/// SKVQ/RTN: per token, groups from KVLayouts, clip, fp8 scale/zero; pre_rope keys are
/// quantized before RoPE and rotated afterwards. KIVI: keys per channel in complete groups of g
/// tokens outside the residual W, values per token. With full_prefill the attention of the
/// call that appended the tokens reads them exactly; otherwise it reads the quantized values.
/// Eviction (k0-v0, eviction.h): the middle is dropped instead, so the buffers hold at most
/// sink + window tokens between calls and attention reads them through key_span().
class FakeQuantKVCache : public KVCache {
 public:
  /// batch: sequences in the batch (B). Throws ConfigError when layouts do not match the model.
  FakeQuantKVCache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                   int64_t batch, bool full_prefill);
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k_pre_rope,
                                           const at::Tensor& k_post_rope, const at::Tensor& v,
                                           const RotaryEmbedding& rope) override;
  KeySpan key_span(int64_t layer) const override;
  int64_t length(int64_t layer) const override;
  int64_t length() const override;
  void clear() override;
  int64_t stored_bytes() const override;
  const QuantConfig& config() const { return config_; }

 private:
  struct Layer {
    at::Tensor k_pre, k_post, v;     // [B, capacity, C] float buffers (capacity doubles)
    int64_t used = 0;                // tokens stored
    int64_t evicted = 0;             // tokens dropped between sink and window (eviction)
    int64_t k_done = 0, v_done = 0;  // tokens [0, done) are final (sink kept, rest quantized)
  };
  void quantize_pending(int64_t layer, const RotaryEmbedding& rope);
  ModelConfig model_;
  QuantConfig config_;
  KVRegions regions_;  // sink / middle / window of config_
  KVLayouts layouts_;
  int64_t batch_;
  bool full_prefill_;
  std::vector<Layer> layers_;
};

}  // namespace skvq
