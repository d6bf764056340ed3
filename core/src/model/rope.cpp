// Rotary position embedding, rotate-half convention (as Hugging Face Llama).
#include "skvq/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace skvq {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double theta, double scaling_factor)
    : head_dim_(head_dim), theta_(theta), scaling_(scaling_factor > 0 ? scaling_factor : 1.0) {}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t pos0) const {
  const int64_t T = x.size(1), half = head_dim_ / 2;
  // Angles in float32 like llama2.c and HF: inv_freq_i = theta^(-2i/d), angle = (pos/scale)*inv_freq.
  std::vector<float> cos_v(T * head_dim_), sin_v(T * head_dim_);
  for (int64_t t = 0; t < T; ++t) {
    const float pos = static_cast<float>(static_cast<double>(pos0 + t) / scaling_);
    for (int64_t i = 0; i < half; ++i) {
      const float inv_freq = 1.0f / std::pow(static_cast<float>(theta_), static_cast<float>(2 * i) / static_cast<float>(head_dim_));
      const float angle = pos * inv_freq;
      const float c = std::cos(angle), s = std::sin(angle);
      cos_v[t * head_dim_ + i] = cos_v[t * head_dim_ + i + half] = c;
      sin_v[t * head_dim_ + i] = sin_v[t * head_dim_ + i + half] = s;
    }
  }
  auto opts = at::TensorOptions().dtype(at::kFloat);
  auto cos = at::from_blob(cos_v.data(), {1, T, 1, head_dim_}, opts).to(x.device(), x.scalar_type());
  auto sin = at::from_blob(sin_v.data(), {1, T, 1, head_dim_}, opts).to(x.device(), x.scalar_type());
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

at::Tensor RotaryEmbedding::apply_flat(const at::Tensor& x, int64_t pos0, int64_t heads) const {
  const int64_t B = x.size(0), T = x.size(1);
  return apply(x.view({B, T, heads, head_dim_}), pos0).reshape({B, T, heads * head_dim_});
}

}  // namespace skvq
