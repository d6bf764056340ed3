#pragma once
// Logits of a batch of perplexity chunks, shared by both perplexity protocols.
#include <ATen/core/Tensor.h>

#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/quant_config.h"

namespace skvq {

/// chunk: [B, L] int64 token ids. Unquantized configurations run cache-less; others through a
/// fresh FakeQuantKVCache for the B chunks. Returns logits [B, L - logits_from, vocab_size] of
/// positions logits_from .. L-1.
inline at::Tensor chunk_logits(const Model& model, const at::Tensor& chunk, const QuantConfig& run_config,
                               const KVLayouts& layouts, bool full_prefill, int64_t logits_from = 0) {
  if (run_config.is_unquantized()) return model.forward(chunk, nullptr, nullptr, false, logits_from);
  FakeQuantKVCache cache(model.config(), run_config, layouts, chunk.size(0), full_prefill);
  return model.forward(chunk, &cache, nullptr, false, logits_from);
}

}  // namespace skvq
