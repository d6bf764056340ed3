#pragma once
// Which cached keys a query reads: positions kept apart from storage indices (eviction.h).
#include <cstdint>

namespace skvq {

/// Where the keys a cache hands to attention sit in the sequence. Key index j < sink has
/// position j; key index j >= sink has position j + evicted (the tokens between were dropped).
/// A query at position p reads the keys at positions <= p; with window > 0 only the sink keys
/// and those at positions > p - window (StreamingLLM's attention, arXiv 2309.17453). The
/// default is plain causal attention: every key j at position j.
struct KeySpan {
  int64_t sink = 0;
  int64_t evicted = 0;
  int64_t window = 0;

  /// Position of key index j.
  int64_t position(int64_t j) const { return j < sink ? j : j + evicted; }
  /// True when a query at position p reads the key at position kp.
  bool visible(int64_t p, int64_t kp) const { return kp <= p && (window <= 0 || kp < sink || kp > p - window); }
};

}  // namespace skvq
