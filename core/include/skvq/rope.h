#pragma once
// Rotary position embedding (RoPE), Hugging Face rotate-half convention.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "skvq/model_config.h"

namespace skvq {

/// The head_dim/2 RoPE inverse frequencies of a model, float32 as Hugging Face computes them:
/// theta^(-2i/head_dim), divided by rope_scaling_factor for linear scaling, by the llama3 rule
/// (transformers' _compute_llama3_parameters: wavelengths beyond original/low_freq_factor divided
/// by factor, below original/high_freq_factor kept, smooth in between) for llama3, and by GGUF's
/// rope_freqs factors when present. The one source of RoPE angles for the forward pass and caches.
std::vector<float> rope_inv_freq(const ModelConfig& c);

/// cos and sin of position * inv_freq[i] (float32 angle, as HF), one row of head_dim floats per
/// position with both halves equal (rotate-half pairs i and i + head_dim/2 share an angle). One
/// table per distinct frequency vector in the process (shared()), grown on demand and shared by
/// the forward pass and the caches; thread-safe.
class RopeTable {
 public:
  explicit RopeTable(std::vector<float> inv_freq);
  /// The process-wide table for these inverse frequencies (created on first use).
  static std::shared_ptr<const RopeTable> shared(const std::vector<float>& inv_freq);
  /// cos, sin: [n, head_dim] float32 on `device` with n >= end; row t is position t. The tensors
  /// stay valid (and unchanged) when a later call grows the table.
  std::pair<at::Tensor, at::Tensor> rows(int64_t end, const at::Device& device) const;

 private:
  std::vector<float> inv_freq_;
  mutable std::mutex mu_;
  mutable at::Tensor cos_, sin_;          // CPU
  mutable at::Tensor dev_cos_, dev_sin_;  // the last non-CPU device's copy
};

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
  std::shared_ptr<const RopeTable> table_;
};

}  // namespace skvq
