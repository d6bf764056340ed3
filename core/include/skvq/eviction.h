#pragma once
// StreamingLLM eviction (arXiv 2309.17453) as a KV method: "k0-v0-w<W>-sink<S>" keeps the first S
// (attention-sink) tokens and the W most recent ones in full precision and drops the middle that
// SKVQ would keep at 2 bits. Attention at position p reads the sinks and the tokens at positions
// (p - W, p] (key_span.h), which is what decoding token by token with the evicting cache gives.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "skvq/key_span.h"

namespace skvq {

/// Drops the middle of one layer's buffers: k and v are [B, capacity, C] with rows [0, used)
/// filled; rows [sink, used - window) are removed and the last `window` rows move down to follow
/// the sinks. Returns the number of rows dropped (0 when used <= sink + window), so the layer
/// then holds used - returned rows. Throws Error when k and v disagree in shape.
int64_t evict_middle(at::Tensor& k, at::Tensor& v, int64_t used, int64_t sink, int64_t window);

}  // namespace skvq
