#pragma once
// Fused causal attention for float32 on the CPU (internal to the forward pass).
#include <algorithm>
#include <cstdint>

#include "skvq/key_span.h"

namespace skvq {

// The keys a query at position p reads, as at most two index ranges [0, a) and [lo, n) of the
// cache rows (sinks, then the window or everything up to the query): span.visible() in index form.
struct VisibleKeys {
  int64_t a = 0, lo = 0, n = 0;
  int64_t count() const { return a + (n - lo); }
  int64_t index(int64_t v) const { return v < a ? v : lo + (v - a); }
};

inline VisibleKeys visible_keys(int64_t Tk, int64_t p, const KeySpan& span) {
  VisibleKeys r;
  r.n = std::min<int64_t>(Tk, p >= span.sink + span.evicted ? p - span.evicted + 1 : std::min(p + 1, span.sink));
  if (span.window <= 0) {
    r.a = r.lo = r.n;
    return r;
  }
  r.a = std::min(span.sink, r.n);
  r.lo = std::clamp<int64_t>(p - span.window + 1 - span.evicted, r.a, r.n);
  return r;
}

/// Chunks of at least this many queries go to prefill_attention_blas.
constexpr int64_t kBlasPrefillMinTokens = 64;

/// Prefill by BLAS blocks (attention_blas.cpp, kept apart: it uses ATen tensors, which the fuzz
/// build cannot compile in this file's C++20 mode). Same arguments as causal_attention_cpu.
void prefill_attention_blas(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                            int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                            const KeySpan& span);

/// Causal grouped-query attention without materializing the score matrix.
/// q: [B, T, H, hd] (after RoPE), k, v: [B, Tk, KVH * hd], out: [B, T, H * hd]; all float32,
/// contiguous. Query t sits at position pos0 + t and reads the keys span.visible() allows (plain
/// causal: keys 0..pos0+t); head h reads KV head h / (H / KVH). scale multiplies q.k
/// (1/sqrt(hd)). Parallel over (batch, head).
void causal_attention_cpu(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                          int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                          const KeySpan& span = {});

}  // namespace skvq
