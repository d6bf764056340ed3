// Rotary position embedding, rotate-half convention (as Hugging Face Llama).
#include "skvq/rope.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>

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

RopeTable::RopeTable(std::vector<float> inv_freq) : inv_freq_(std::move(inv_freq)) {}

std::shared_ptr<const RopeTable> RopeTable::shared(const std::vector<float>& inv_freq) {
  static std::mutex mu;
  static std::map<std::vector<float>, std::weak_ptr<const RopeTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = tables[inv_freq];
  auto t = slot.lock();
  if (!t) {
    t = std::make_shared<const RopeTable>(inv_freq);
    slot = t;
  }
  return t;
}

std::pair<at::Tensor, at::Tensor> RopeTable::rows(int64_t end, const at::Device& device) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t half = static_cast<int64_t>(inv_freq_.size()), hd = 2 * half;
  const int64_t have = cos_.defined() ? cos_.size(0) : 0;
  if (end > have) {  // grow (doubling) into new tensors: rows handed out earlier stay valid
    const int64_t n = std::max<int64_t>({end, 2 * have, 64});
    auto c = at::empty({n, hd}, at::kFloat), s = at::empty({n, hd}, at::kFloat);
    if (have > 0) {
      c.narrow(0, 0, have).copy_(cos_);
      s.narrow(0, 0, have).copy_(sin_);
    }
    float* cd = c.data_ptr<float>();
    float* sd = s.data_ptr<float>();
    for (int64_t t = have; t < n; ++t) {
      const float pos = static_cast<float>(t);  // angles in float32 like llama2.c and HF
      for (int64_t i = 0; i < half; ++i) {
        const float angle = pos * inv_freq_[i];
        cd[t * hd + i] = cd[t * hd + i + half] = std::cos(angle);
        sd[t * hd + i] = sd[t * hd + i + half] = std::sin(angle);
      }
    }
    cos_ = c;
    sin_ = s;
  }
  if (device.is_cpu()) return {cos_, sin_};
  if (!dev_cos_.defined() || dev_cos_.device() != device || dev_cos_.size(0) < end) {
    dev_cos_ = cos_.to(device);
    dev_sin_ = sin_.to(device);
  }
  return {dev_cos_, dev_sin_};
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& c)
    : head_dim_(c.head_dim), inv_freq_(rope_inv_freq(c)), table_(RopeTable::shared(inv_freq_)) {}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t pos0) const {
  const int64_t T = x.size(1), half = head_dim_ / 2;
  auto [cos_rows, sin_rows] = table_->rows(pos0 + T, x.device());
  auto cos = cos_rows.narrow(0, pos0, T).view({1, T, 1, head_dim_}).to(x.scalar_type());
  auto sin = sin_rows.narrow(0, pos0, T).view({1, T, 1, head_dim_}).to(x.scalar_type());
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

at::Tensor RotaryEmbedding::apply_flat(const at::Tensor& x, int64_t pos0, int64_t heads) const {
  const int64_t B = x.size(0), T = x.size(1);
  return apply(x.view({B, T, heads, head_dim_}), pos0).reshape({B, T, heads * head_dim_});
}

}  // namespace skvq
