#pragma once
// The region policy of a KV cache (skvq-method.md section 1), written once for both caches,
// the memory accounting and the eviction baseline, apart from any codec:
//   [ sink S: full precision ][ middle: quantized, or evicted ][ window W: full precision ]
// Positions are token positions in the sequence, from 0; `seen` is how many tokens the cache
// has been given. KIVI has no sinks and its residual R is the window.
#include <algorithm>
#include <cstdint>

#include "skvq/key_span.h"
#include "skvq/quant_config.h"

namespace skvq {

struct KVRegions {
  enum class Region { Sink, Middle, Window };

  int64_t sink = 0;    ///< S: first tokens kept in full precision
  int64_t window = 0;  ///< W: most recent tokens kept in full precision
  bool evict = false;  ///< the middle is dropped (k0-v0, StreamingLLM) instead of quantized

  /// The regions of `config` (its sink, window and eviction). Unquantized configurations have
  /// no middle at all; callers test config.is_unquantized() before asking for one.
  static KVRegions of(const QuantConfig& config) {
    return {config.method == QuantMethod::KIVI ? 0 : config.sink, config.window, config.evicts()};
  }

  /// End (exclusive) of the tokens that have left the window after `seen` tokens:
  /// max(S, seen - W). Positions [S, middle_end) are the middle.
  int64_t middle_end(int64_t seen) const { return std::max(sink, seen - window); }
  /// Tokens in the middle after `seen` tokens: max(0, seen - S - W).
  int64_t middle_tokens(int64_t seen) const { return std::max<int64_t>(0, seen - sink - window); }
  /// Tokens kept in full precision after `seen` tokens: min(seen, S + W).
  int64_t full_precision_tokens(int64_t seen) const { return seen - middle_tokens(seen); }
  /// Tokens a cache stores after `seen` tokens: all of them, or with eviction only the
  /// full-precision ones.
  int64_t stored_tokens(int64_t seen) const { return evict ? full_precision_tokens(seen) : seen; }
  /// Region of position `pos` (0 <= pos < seen) after `seen` tokens.
  Region region(int64_t pos, int64_t seen) const {
    if (pos < sink) return Region::Sink;
    return pos >= middle_end(seen) ? Region::Window : Region::Middle;
  }
  /// What attention reads of an evicting cache that has dropped `evicted` middle tokens
  /// (key_span.h); plain causal attention when the middle is kept.
  KeySpan key_span(int64_t evicted) const { return evict ? KeySpan{sink, evicted, window} : KeySpan{}; }
};

}  // namespace skvq
