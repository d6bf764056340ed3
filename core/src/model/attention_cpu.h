#pragma once
// Fused causal attention for float32 on the CPU (internal to the forward pass).
#include <cstdint>

#include "skvq/key_span.h"

namespace skvq {

/// Causal grouped-query attention without materializing the score matrix.
/// q: [B, T, H, hd] (after RoPE), k, v: [B, Tk, KVH * hd], out: [B, T, H * hd]; all float32,
/// contiguous. Query t sits at position pos0 + t and reads the keys span.visible() allows (plain
/// causal: keys 0..pos0+t); head h reads KV head h / (H / KVH). scale multiplies q.k
/// (1/sqrt(hd)). Parallel over (batch, head).
void causal_attention_cpu(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                          int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                          const KeySpan& span = {});

}  // namespace skvq
