#pragma once
// Rotary position embedding (RoPE), Hugging Face rotate-half convention.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace skvq {

/// RoPE with inverse frequencies theta^(-2i/head_dim), i < head_dim/2, pairing channel i with
/// i + head_dim/2. Linear scaling divides positions by `scaling_factor`.
class RotaryEmbedding {
 public:
  RotaryEmbedding(int64_t head_dim, double theta, double scaling_factor = 1.0);
  /// x: [B, T, H, head_dim] float; token t sits at position pos0 + t. Returns a new tensor.
  at::Tensor apply(const at::Tensor& x, int64_t pos0) const;
  /// Same for a packed channel vector [B, T, H*head_dim].
  at::Tensor apply_flat(const at::Tensor& x, int64_t pos0, int64_t heads) const;
  int64_t head_dim() const { return head_dim_; }

 private:
  int64_t head_dim_;
  double theta_, scaling_;
};

}  // namespace skvq
