// FakeQuantKVCache: float storage, tokens replaced by quantize-dequantize results as they leave
// the sink/window regions (skvq-method.md sections 1-4).
#include <ATen/ATen.h>

#include "skvq/error.h"
#include "skvq/eviction.h"
#include "skvq/fake_quant.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/kv_method.h"
#include "skvq/rope.h"

namespace skvq {

namespace {

// Appends `x` [B, T_new, C] to a growing buffer (capacity doubling) and returns the filled view.
void append_rows(at::Tensor& buf, int64_t& used, const at::Tensor& x) {
  const int64_t need = used + x.size(1);
  if (!buf.defined() || buf.size(1) < need) {
    int64_t cap = std::max<int64_t>(need, buf.defined() ? buf.size(1) * 2 : 64);
    auto grown = at::empty({x.size(0), cap, x.size(2)}, x.options());
    if (used > 0) grown.narrow(1, 0, used).copy_(buf.narrow(1, 0, used));
    buf = grown;
  }
  buf.narrow(1, used, x.size(1)).copy_(x);
  used = need;
}

}  // namespace

FakeQuantKVCache::FakeQuantKVCache(const ModelConfig& model, const QuantConfig& config,
                                   KVLayouts layouts, int64_t batch, bool full_prefill)
    : model_(model), config_(config), regions_(KVRegions::of(config)), layouts_(std::move(layouts)), batch_(batch),
      full_prefill_(full_prefill), layers_(model.num_hidden_layers) {
  config_.validate_for(model_);
  if (!config_.is_unquantized() && !config_.evicts()) {
    const auto L = static_cast<size_t>(model_.num_hidden_layers);
    if (layouts_.k.size() != L || layouts_.v.size() != L)
      throw ConfigError("group layouts cover " + std::to_string(layouts_.k.size()) + " layers, the model has " + std::to_string(L));
  }
}

int64_t FakeQuantKVCache::length(int64_t layer) const { return layers_.at(layer).used + layers_.at(layer).evicted; }
int64_t FakeQuantKVCache::length() const { return layers_.empty() ? 0 : length(static_cast<int64_t>(layers_.size()) - 1); }

KeySpan FakeQuantKVCache::key_span(int64_t layer) const {
  return regions_.key_span(layers_.at(layer).evicted);
}

void FakeQuantKVCache::clear() {
  for (auto& l : layers_) l = Layer{};
}

void FakeQuantKVCache::quantize_pending(int64_t li, const RotaryEmbedding& rope) {
  Layer& l = layers_[li];
  const int64_t T = l.used;
  const int64_t KVH = model_.num_key_value_heads;
  const int64_t S = regions_.sink, target = regions_.middle_end(T);
  const KVMethod* by_tokens = token_grouped_keys(config_);  // KIVI: keys in whole blocks of tokens
  if (by_tokens) {
    const int64_t block = by_tokens->key_block_tokens(config_), end = S + (target - S) / block * block;
    const int64_t start = std::max(l.k_done, S);
    if (config_.quantizes_keys() && end > start) {
      auto seg = l.k_post.narrow(1, start, end - start);
      seg.copy_(by_tokens->fake_quant_keys(seg, config_));
      l.k_done = end;
    }
  } else {
    if (config_.quantizes_keys()) {
      const int64_t start = std::max(l.k_done, S);
      if (target > start) {
        const GroupQuantParams p = group_quant_params(config_, model_, true);
        if (config_.pre_rope) {
          auto q = fake_quant_tokens(l.k_pre.narrow(1, start, target - start), layouts_.k[li], p);
          l.k_post.narrow(1, start, target - start).copy_(rope.apply_flat(q, start, KVH));
        } else {
          auto seg = l.k_post.narrow(1, start, target - start);
          seg.copy_(fake_quant_tokens(seg, layouts_.k[li], p));
        }
      }
    }
    l.k_done = std::max(l.k_done, target);
  }
  // Values: per-token groups for every method (KIVI's included).
  if (config_.quantizes_values()) {
    const int64_t start = std::max(l.v_done, S);
    if (target > start) {
      const GroupQuantParams p = group_quant_params(config_, model_, false);
      auto seg = l.v.narrow(1, start, target - start);
      seg.copy_(fake_quant_tokens(seg, layouts_.v[li], p));
    }
  }
  if (!by_tokens || config_.quantizes_values()) l.v_done = std::max(l.v_done, target);
}

std::pair<at::Tensor, at::Tensor> FakeQuantKVCache::append(int64_t li, const at::Tensor& k_pre,
                                                           const at::Tensor& k_post,
                                                           const at::Tensor& v,
                                                           const RotaryEmbedding& rope) {
  if (li < 0 || li >= static_cast<int64_t>(layers_.size())) throw Error("KV cache: layer out of range");
  if (k_post.size(0) != batch_) throw Error("KV cache: batch " + std::to_string(k_post.size(0)) + " != " + std::to_string(batch_));
  Layer& l = layers_[li];
  if (config_.evicts()) {
    // Views the previous call returned are no longer in use: drop their middle now.
    const int64_t dropped = evict_middle(l.k_post, l.v, l.used, regions_.sink, regions_.window);
    l.used -= dropped;
    l.evicted += dropped;
    int64_t used_v = l.used;
    append_rows(l.v, used_v, v);
    append_rows(l.k_post, l.used, k_post);
    return {l.k_post.narrow(1, 0, l.used), l.v.narrow(1, 0, l.used)};
  }
  const int64_t old = l.used, n = k_post.size(1);
  int64_t used_pre = old, used_v = old;
  if (config_.pre_rope) append_rows(l.k_pre, used_pre, k_pre);
  append_rows(l.v, used_v, v);
  append_rows(l.k_post, l.used, k_post);
  if (!config_.is_unquantized()) quantize_pending(li, rope);
  auto K = l.k_post.narrow(1, 0, l.used), V = l.v.narrow(1, 0, l.used);
  // The call that brings the tokens reads them exactly; later calls read what is stored. When
  // none of this call's tokens was quantized (a decode step inside the window) the buffers
  // already hold them exactly: no copy of the cache.
  const bool touched = l.k_done > old || l.v_done > old;
  if (full_prefill_ && !config_.is_unquantized() && touched) {
    K = at::cat({K.narrow(1, 0, old), k_post}, 1);
    V = at::cat({V.narrow(1, 0, old), v}, 1);
  }
  (void)n;
  return {K, V};
}

int64_t FakeQuantKVCache::stored_bytes() const {
  // Accounting of the storage format: full-precision tokens as float16, quantized tokens at
  // the stored bits per element (codes + scale/zero-point per group).
  const double C = static_cast<double>(model_.kv_channels());
  const double bk = stored_bits_per_element(config_, true), bv = stored_bits_per_element(config_, false);
  double bytes = 0;
  if (config_.evicts()) {  // between calls: sinks and window as float16, nothing for the middle
    for (const auto& l : layers_)
      bytes += 2.0 * regions_.stored_tokens(l.used + l.evicted) * batch_ * C * 2;
    return static_cast<int64_t>(bytes);
  }
  for (const auto& l : layers_) {
    const double T = static_cast<double>(l.used) * batch_;
    const double kq = config_.quantizes_keys() ? static_cast<double>(std::max<int64_t>(0, l.k_done - regions_.sink)) * batch_ : 0;
    const double vq = config_.quantizes_values() ? static_cast<double>(std::max<int64_t>(0, l.v_done - regions_.sink)) * batch_ : 0;
    bytes += (T - kq) * C * 2 + kq * C * bk / 8;
    bytes += (T - vq) * C * 2 + vq * C * bv / 8;
  }
  return static_cast<int64_t>(bytes + 0.5);
}

}  // namespace skvq
