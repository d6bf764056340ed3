#pragma once
// The forward pass of a Llama-family decoder in LibTorch.
#include <ATen/core/Tensor.h>

#include <memory>

#include "skvq/rope.h"
#include "skvq/weights.h"

namespace skvq {

class KVCache;

/// Hooks into the forward pass for calibration and analysis. Default methods do nothing.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  /// k_pre_rope and v of the tokens of this call: [B, T_new, C] float.
  virtual void on_kv(int64_t layer, const at::Tensor& k_pre_rope, const at::Tensor& v) {}
  /// Return true to receive attention probabilities (costs memory).
  virtual bool wants_attention() const { return false; }
  /// probs: [B, num_attention_heads, T_new, T_total] float, rows sum to 1.
  virtual void on_attention(int64_t layer, const at::Tensor& probs) {}
  /// Attention output before o_proj: [B, T_new, num_attention_heads*head_dim].
  virtual void on_attention_output(int64_t layer, const at::Tensor& out) {}
};

/// One loaded model ready to run: weights on a device plus the rotary embedding.
/// Throws ConfigError for float16 weights on the CPU: this LibTorch has no CPU float16 matmul
/// (float16 runs on CUDA; bfloat16 and float32 run everywhere).
void check_weights_dtype(at::ScalarType dtype, bool on_cpu);

class Model {
 public:
  /// Takes the weights (call ModelWeights::to first for a GPU).
  explicit Model(ModelWeights weights);
  const ModelConfig& config() const { return w_.config; }
  const ModelWeights& weights() const { return w_; }
  const RotaryEmbedding& rope() const { return rope_; }
  /// Device the weights live on (CPU or a CUDA device).
  at::Device device() const;

  /// tokens: [B, T] int64 on any device. With a cache the tokens continue the cached sequence
  /// (positions from cache->length()); without one they start at position 0 with an exact
  /// float cache-less attention. Returns logits [B, T, vocab_size] float32, or [B, 1, vocab]
  /// with last_only, or [B, T - logits_from, vocab] of positions logits_from.. (the output head
  /// then runs only on those rows: llama.cpp's perplexity protocol scores the second half).
  /// Causal attention with grouped-query heads. Throws Error when logits_from is not in [0, T).
  at::Tensor forward(const at::Tensor& tokens, KVCache* cache, ForwardObserver* observer = nullptr,
                     bool last_only = false, int64_t logits_from = 0) const;

 private:
  ModelWeights w_;
  RotaryEmbedding rope_;
};

}  // namespace skvq
