// PackedKVCache: regions, quantize-and-pack on window exit, dequantization, byte accounting.
// decode_attention lives in kernels/packed_attention.cpp.
#include "skvq/packed_cache.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <string>

#include "skvq/error.h"
#include "skvq/kv_method.h"
#include "skvq/rope.h"

namespace skvq {

namespace {

PackedFormat make_format(const GroupLayout& layout, const QuantConfig& c, const ModelConfig& model, bool keys) {
  const int64_t C = model.kv_channels();
  PackedFormat f;
  const bool quantized = keys ? c.quantizes_keys() : c.quantizes_values();
  f.layout = layout;
  if (f.layout.channels() == 0) f.layout = GroupLayout::contiguous(C, C);
  if (f.layout.channels() != C)
    throw ConfigError("packed cache: " + std::string(keys ? "key" : "value") + " layout has " +
                      std::to_string(f.layout.channels()) + " channels, model has " + std::to_string(C));
  f.layout.validate();
  if (!quantized) {
    f.params.qmax = 0;  // raw float32 tokens (GroupQuantParams defaults to 2-bit)
    return f;
  }
  f.params = group_quant_params(c, model, keys);  // with the methods' codec parts (sym, had rotation)
  code_bits_for_qmax(f.params.qmax);  // throws for an unsupported width
  return f;
}

std::vector<PackedKVCache::HeadPlan> make_plans(const GroupLayout& L, int64_t kv_heads, int64_t D) {
  std::vector<PackedKVCache::HeadPlan> plans(kv_heads);
  for (int64_t g = 0; g < L.num_groups(); ++g) {
    std::vector<char> touched(kv_heads, 0);
    for (int64_t j = L.offsets[g]; j < L.offsets[g + 1]; ++j) touched[L.perm[j] / D] = 1;
    for (int64_t h = 0; h < kv_heads; ++h) {
      if (!touched[h]) continue;
      auto& p = plans[h];
      p.groups.push_back(g);
      for (int64_t j = L.offsets[g]; j < L.offsets[g + 1]; ++j) {
        const int64_t c = L.perm[j];
        p.dim.push_back(c / D == h ? static_cast<int32_t>(c % D) : -1);
        p.channel.push_back(c);
      }
    }
  }
  return plans;
}

}  // namespace

PackedKVCache::PackedKVCache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                             int64_t batch, bool full_prefill, int64_t block_tokens)
    : model_(model),
      config_(config),
      regions_(KVRegions::of(config)),
      batch_(batch),
      block_tokens_(block_tokens),
      C_(model.kv_channels()),
      full_prefill_(full_prefill) {
  // The methods say what they cannot pack (kv_method.h); an unquantized configuration is
  // stored raw (float32) here, as the tests of the packed cache use it.
  if (const std::string why = packed_codec_refusal(config); !why.empty() && why != "unquantized")
    throw ConfigError("packed cache: " + why + "; use the fake-quant cache");
  if (batch <= 0 || block_tokens <= 0) throw ConfigError("packed cache: batch and block size must be positive");
  if (model.head_dim % 2 != 0) throw ConfigError("packed cache: head_dim must be even (RoPE)");
  const int64_t n = model.num_hidden_layers;
  for (int64_t l = 0; l < n; ++l) {
    const GroupLayout empty;
    kfmt_.push_back(make_format(l < static_cast<int64_t>(layouts.k.size()) ? layouts.k[l] : empty, config, model, true));
    vfmt_.push_back(make_format(l < static_cast<int64_t>(layouts.v.size()) ? layouts.v[l] : empty, config, model, false));
    kplan_.push_back(make_plans(kfmt_.back().layout, model.num_key_value_heads, model.head_dim));
    vplan_.push_back(make_plans(vfmt_.back().layout, model.num_key_value_heads, model.head_dim));
  }
  build_token_plans();  // after kfmt_/vfmt_ stop growing: a plan points into its layout
  clear();
}

void PackedKVCache::clear() {
  layers_.clear();
  layers_.resize(model_.num_hidden_layers);
  const int64_t W = regions_.window;
  for (int64_t l = 0; l < model_.num_hidden_layers; ++l) {
    auto& L = layers_[l];
    L.seqs.resize(batch_);
    for (auto& s : L.seqs) {
      s.win_k.assign(W * C_, 0.0f);
      s.win_v.assign(W * C_, 0.0f);
      if (config_.pre_rope && !kfmt_[l].raw()) s.win_kpre.assign(W * C_, 0.0f);
      s.mid_k = std::make_unique<TokenBlockStore>(kfmt_[l].token_bytes(), block_tokens_);
      s.mid_v = std::make_unique<TokenBlockStore>(vfmt_[l].token_bytes(), block_tokens_);
    }
  }
}

int64_t PackedKVCache::length(int64_t layer) const { return layers_.at(layer).length; }
int64_t PackedKVCache::length() const { return layers_.empty() ? 0 : layers_.back().length; }

int64_t PackedKVCache::packed_tokens(int64_t layer) const {
  return layers_.at(layer).seqs.front().mid_k->size();
}

void PackedKVCache::ensure_rope(int64_t positions) const {
  if (rope_cos_.defined() && rope_cos_.size(0) >= positions) return;
  if (!rope_table_) rope_table_ = RopeTable::shared(rope_inv_freq(model_));
  std::tie(rope_cos_, rope_sin_) = rope_table_->rows(positions, at::kCPU);
}

void PackedKVCache::rope_rotate(float* k, int64_t pos) const {
  const int64_t D = model_.head_dim, half = D / 2;
  const float* cs = rope_cos_.data_ptr<float>() + pos * D;  // rows of head_dim, halves equal
  const float* sn = rope_sin_.data_ptr<float>() + pos * D;
  for (int64_t h = 0; h < model_.num_key_value_heads; ++h) {
    float* x = k + h * D;
    for (int64_t i = 0; i < half; ++i) {
      const float a = x[i], b = x[i + half];
      const float p = a * cs[i], q = -b * sn[i];
      const float r = b * cs[i], s = a * sn[i];
      x[i] = p + q;
      x[i + half] = r + s;
    }
  }
}

void PackedKVCache::push_token(int64_t layer, Seq& s, int64_t pos, const float* kpre,
                               const float* kpost, const float* v) {
  // Used for tokens leaving the window that were stored by an earlier call (see append).
  const bool pre = config_.pre_rope && !kfmt_[layer].raw();
  pack_token(kfmt_[layer], pre ? kpre : kpost, s.mid_k->push());
  pack_token(vfmt_[layer], v, s.mid_v->push());
  (void)pos;
}

std::pair<at::Tensor, at::Tensor> PackedKVCache::append(int64_t layer, const at::Tensor& k_pre_rope,
                                                        const at::Tensor& k_post_rope,
                                                        const at::Tensor& v, const RotaryEmbedding&) {
  const int64_t L0 = layers_.at(layer).length;
  append_tokens(layer, k_pre_rope, k_post_rope, v);
  const int64_t Tn = k_post_rope.size(1);
  auto out = dequantize(layer, 0, L0 + Tn);
  if (full_prefill_) {
    out.first.narrow(1, L0, Tn).copy_(k_post_rope.to(at::kCPU, at::kFloat));
    out.second.narrow(1, L0, Tn).copy_(v.to(at::kCPU, at::kFloat));
  }
  return out;
}

void PackedKVCache::append_tokens(int64_t layer, const at::Tensor& k_pre_rope,
                                  const at::Tensor& k_post_rope, const at::Tensor& v) {
  if (layer < 0 || layer >= model_.num_hidden_layers) throw Error("packed cache: layer out of range");
  if (k_post_rope.dim() != 3 || k_post_rope.size(0) != batch_ || k_post_rope.size(2) != C_)
    throw Error("packed cache: expected K/V of shape [" + std::to_string(batch_) + ", T, " +
                std::to_string(C_) + "]");
  auto kpre = k_pre_rope.to(at::kCPU, at::kFloat).contiguous();
  auto kpost = k_post_rope.to(at::kCPU, at::kFloat).contiguous();
  auto vv = v.to(at::kCPU, at::kFloat).contiguous();
  const int64_t Tn = kpost.size(1), S = regions_.sink, W = regions_.window;
  auto& L = layers_[layer];
  const int64_t L0 = L.length;
  const bool pre = config_.pre_rope && !kfmt_[layer].raw();
  struct Job {
    uint8_t* kdst;
    uint8_t* vdst;
    int64_t b, row;  // row of this call's input
  };
  std::vector<Job> jobs;
  for (int64_t b = 0; b < batch_; ++b) {
    Seq& s = L.seqs[b];
    const float* kp = kpre.data_ptr<float>() + b * Tn * C_;
    const float* kq = kpost.data_ptr<float>() + b * Tn * C_;
    const float* vp = vv.data_ptr<float>() + b * Tn * C_;
    for (int64_t t = 0; t < Tn; ++t) {
      const int64_t p = L0 + t;
      if (p < S) {
        s.sink_k.insert(s.sink_k.end(), kq + t * C_, kq + (t + 1) * C_);
        s.sink_v.insert(s.sink_v.end(), vp + t * C_, vp + (t + 1) * C_);
        continue;
      }
      if (W == 0) {
        jobs.push_back({s.mid_k->push(), s.mid_v->push(), b, t});
        continue;
      }
      const int64_t old = p - W, slot = p % W;
      if (old >= S) {  // the token in this slot leaves the window
        if (old < L0) {
          push_token(layer, s, old, pre ? s.win_kpre.data() + slot * C_ : nullptr,
                     s.win_k.data() + slot * C_, s.win_v.data() + slot * C_);
        } else {
          jobs.push_back({s.mid_k->push(), s.mid_v->push(), b, old - L0});
        }
      }
      std::memcpy(s.win_k.data() + slot * C_, kq + t * C_, C_ * sizeof(float));
      std::memcpy(s.win_v.data() + slot * C_, vp + t * C_, C_ * sizeof(float));
      if (pre) std::memcpy(s.win_kpre.data() + slot * C_, kp + t * C_, C_ * sizeof(float));
    }
  }
  at::parallel_for(0, static_cast<int64_t>(jobs.size()), 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Job& j = jobs[i];
      const int64_t off = (j.b * Tn + j.row) * C_;
      pack_token(kfmt_[layer], (pre ? kpre : kpost).data_ptr<float>() + off, j.kdst);
      pack_token(vfmt_[layer], vv.data_ptr<float>() + off, j.vdst);
    }
  });
  L.length = L0 + Tn;
  if (full_prefill_ && W == 0) {
    // A decode step's token must be read exactly by the attention of the same step.
    for (int64_t b = 0; b < batch_; ++b) {
      Seq& s = L.seqs[b];
      s.last_pos = Tn == 1 ? L0 : -1;
      if (Tn != 1) continue;
      s.last_k.assign(kpost.data_ptr<float>() + b * C_, kpost.data_ptr<float>() + (b + 1) * C_);
      s.last_v.assign(vv.data_ptr<float>() + b * C_, vv.data_ptr<float>() + (b + 1) * C_);
    }
  }
}

void PackedKVCache::token_kv(int64_t layer, const Seq& s, int64_t pos, float* k, float* v) const {
  const KVRegions::Region r = regions_.region(pos, layers_[layer].length);
  if (r == KVRegions::Region::Sink) {
    std::memcpy(k, s.sink_k.data() + pos * C_, C_ * sizeof(float));
    std::memcpy(v, s.sink_v.data() + pos * C_, C_ * sizeof(float));
  } else if (r == KVRegions::Region::Window) {
    const int64_t slot = pos % regions_.window;  // ring of W slots
    std::memcpy(k, s.win_k.data() + slot * C_, C_ * sizeof(float));
    std::memcpy(v, s.win_v.data() + slot * C_, C_ * sizeof(float));
  } else {
    const int64_t i = pos - regions_.sink;
    unpack_token(kfmt_[layer], s.mid_k->token(i), k);
    unpack_token(vfmt_[layer], s.mid_v->token(i), v);
    if (config_.pre_rope && !kfmt_[layer].raw()) rope_rotate(k, pos);
  }
}

std::pair<at::Tensor, at::Tensor> PackedKVCache::dequantize(int64_t layer, int64_t begin,
                                                            int64_t end) const {
  if (layer < 0 || layer >= model_.num_hidden_layers || begin < 0 || end < begin ||
      end > layers_[layer].length)
    throw Error("packed cache: bad token range [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") for layer " + std::to_string(layer));
  const int64_t n = end - begin;
  auto k = at::empty({batch_, n, C_}, at::kFloat);
  auto v = at::empty({batch_, n, C_}, at::kFloat);
  if (config_.pre_rope) ensure_rope(end);
  float* kd = k.data_ptr<float>();
  float* vd = v.data_ptr<float>();
  at::parallel_for(0, batch_ * n, 64, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) {
      const int64_t b = i / n, t = i % n;
      token_kv(layer, layers_[layer].seqs[b], begin + t, kd + i * C_, vd + i * C_);
    }
  });
  return {k, v};
}

int64_t PackedKVCache::allocated_bytes() const {
  int64_t total = 0;
  for (const auto& L : layers_)
    for (const auto& s : L.seqs) {
      total += static_cast<int64_t>(s.sink_k.capacity() + s.sink_v.capacity() + s.win_k.capacity() +
                                    s.win_v.capacity() + s.win_kpre.capacity()) * 4;
      total += s.mid_k->allocated_bytes() + s.mid_v->allocated_bytes();
    }
  return total;
}

int64_t PackedKVCache::packed_bytes() const {
  int64_t total = 0;
  for (const auto& L : layers_)
    for (const auto& s : L.seqs) total += s.mid_k->used_bytes() + s.mid_v->used_bytes();
  return total;
}

int64_t PackedKVCache::accounted_bytes() const {
  int64_t total = 0;
  for (int64_t l = 0; l < static_cast<int64_t>(layers_.size()); ++l) {
    const int64_t full = layers_[l].length - packed_tokens(l);
    total += batch_ * full * C_ * 2 * 2;  // sink + window, K and V at float16
    for (const auto& s : layers_[l].seqs) {
      // Packed bytes as stored; a raw (unquantized) middle tensor at float16 like memory.h.
      total += kfmt_[l].raw() ? s.mid_k->size() * C_ * 2 : s.mid_k->used_bytes();
      total += vfmt_[l].raw() ? s.mid_v->size() * C_ * 2 : s.mid_v->used_bytes();
    }
  }
  return total;
}

}  // namespace skvq
