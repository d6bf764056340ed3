#pragma once
// Logits of a batch of perplexity chunks, shared by both perplexity protocols.
#include <ATen/core/Tensor.h>

#include <algorithm>

#include "skvq/cache_factory.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/perplexity.h"
#include "skvq/quant_config.h"

namespace skvq {

/// chunk: [B, L] int64 token ids. Unquantized configurations run cache-less; others through a
/// fresh cache from make_kv_cache for the B chunks: packed storage unless opt.fake_quant (or the
/// model is not on the CPU, or the method has no packed codec). Returns logits
/// [B, L - logits_from, vocab_size] of positions logits_from .. L-1. `stored_bytes`
/// (optional) is raised to the cache's stored bytes per sequence after the chunk.
inline at::Tensor chunk_logits(const Model& model, const at::Tensor& chunk, const QuantConfig& run_config,
                               const KVLayouts& layouts, const PerplexityOptions& opt, int64_t logits_from = 0,
                               int64_t* stored_bytes = nullptr) {
  if (run_config.is_unquantized()) return model.forward(chunk, nullptr, nullptr, false, logits_from);
  auto cache = make_kv_cache(model.config(), run_config, layouts, chunk.size(0), opt.full_prefill,
                             /*packed=*/!opt.fake_quant && model.device().is_cpu());
  at::Tensor logits = model.forward(chunk, cache.get(), nullptr, false, logits_from);
  if (stored_bytes) *stored_bytes = std::max(*stored_bytes, cache->stored_bytes() / chunk.size(0));
  return logits;
}

/// "packed" when chunk_logits stores `run_config` packed under `opt` on this model, else
/// "fake-quant" ("none" for unquantized configurations, which run without a cache).
inline const char* chunk_kv_storage(const Model& model, const QuantConfig& run_config, const PerplexityOptions& opt) {
  if (run_config.is_unquantized()) return "none";
  const bool packed = !opt.fake_quant && model.device().is_cpu() && packed_cache_supported(run_config);
  return packed ? "packed" : "fake-quant";
}

}  // namespace skvq
