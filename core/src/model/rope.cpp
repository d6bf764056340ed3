// Rotary position embedding, rotate-half convention (as Hugging Face Llama).
#include "skvq/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace skvq {

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  const double factor = c.rope_scaling_factor > 0 ? c.rope_scaling_factor : 1.0;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    float f = 1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
    if (c.rope_type == "llama3") {
      const double old_ctx = static_cast<double>(c.rope_original_max_position_embeddings);
      const double low_wavelen = old_ctx / c.rope_low_freq_factor, high_wavelen = old_ctx / c.rope_high_freq_factor;
      const double wavelen = 2 * M_PI / f;
      if (wavelen > low_wavelen) {
        f = static_cast<float>(f / factor);
      } else if (wavelen >= high_wavelen) {
        const double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
        f = static_cast<float>((1 - smooth) * f / factor + smooth * f);
      }
    } else if (factor != 1.0) {  // linear
      f = static_cast<float>(f / factor);
    }
    if (static_cast<int64_t>(c.rope_freq_factors.size()) == half) f /= c.rope_freq_factors[i];
    inv[i] = f;
  }
  return inv;
}

namespace {
ModelConfig plain_rope(int64_t head_dim, double theta, double scaling_factor) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.rope_theta = theta;
  c.rope_scaling_factor = scaling_factor;
  c.rope_type = scaling_factor != 1.0 ? "linear" : "default";
  return c;
}
}  // namespace

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double theta, double scaling_factor)
    : RotaryEmbedding(plain_rope(head_dim, theta, scaling_factor)) {}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& c) : head_dim_(c.head_dim), inv_freq_(rope_inv_freq(c)) {}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t pos0) const {
  const int64_t T = x.size(1), half = head_dim_ / 2;
  // Angles in float32 like llama2.c and HF: angle = pos * inv_freq.
  std::vector<float> cos_v(T * head_dim_), sin_v(T * head_dim_);
  for (int64_t t = 0; t < T; ++t) {
    const float pos = static_cast<float>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq_[i];
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
