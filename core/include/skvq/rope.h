#pragma once
// Rotary position embedding (RoPE), Hugging Face rotate-half convention.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "skvq/model_config.h"

namespace skvq {

/// The head_dim/2 RoPE inverse frequencies of a model, float32 as Hugging Face computes them:
/// theta^(-2i/head_dim), divided by rope_scaling_factor for linear scaling, by the llama3 rule
/// (transformers' _compute_llama3_parameters: wavelengths beyond original/low_freq_factor divided
/// by factor, below original/high_freq_factor kept, smooth in between) for llama3, and by GGUF's
/// rope_freqs factors when present. The one source of RoPE angles for the forward pass and caches.
std::vector<float> rope_inv_freq(const ModelConfig& c);

/// RoPE pairing channel i with i + head_dim/2 (rotate-half); angle = position * inv_freq[i].
class RotaryEmbedding {
 public:
  /// Plain RoPE with linear scaling `scaling_factor` (tests, llama2.c models).
  RotaryEmbedding(int64_t head_dim, double theta, double scaling_factor = 1.0);
  /// The model's RoPE (rope_inv_freq).
  explicit RotaryEmbedding(const ModelConfig& c);
  /// x: [B, T, H, head_dim] float; token t sits at position pos0 + t. Returns a new tensor.
  at::Tensor apply(const at::Tensor& x, int64_t pos0) const;
  /// Same for a packed channel vector [B, T, H*head_dim].
  at::Tensor apply_flat(const at::Tensor& x, int64_t pos0, int64_t heads) const;
  int64_t head_dim() const { return head_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

 private:
  int64_t head_dim_;
  std::vector<float> inv_freq_;
};

}  // namespace skvq
