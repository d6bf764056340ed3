#pragma once
// Walsh-Hadamard rotation of KV heads before group quantization (configuration option "had"):
// the rotation llama.cpp applies to quantized KV caches by default, and QuaRot (Ashkboos et al.
// 2024, section 4) / RotateKV use. H is the normalized Sylvester-Hadamard matrix of size n
// (a power of two): H = H^T, H H = I, entries +-1/sqrt(n). Rotating spreads an outlier channel
// over all n channels of the head, so per-group min-max ranges shrink.
#include <cstdint>

namespace skvq {

/// True for n = 1, 2, 4, 8, ...
bool is_power_of_two(int64_t n);

/// In place x <- H x for one vector x[n] (float32), by the fast Walsh-Hadamard transform:
/// log2(n) butterfly stages (a, b) -> (a + b, a - b) in Sylvester order (H_2n = [[H, H], [H, -H]]),
/// then a multiplication by 1/sqrt(n). O(n log n). Applying it twice returns x up to float32
/// rounding. Throws ConfigError unless n is a positive power of two.
void fwht(float* x, int64_t n);

/// fwht on each of the channels / block consecutive blocks of one token vector x[channels]
/// (per KV head with block = head_dim). Throws ConfigError unless block is a power of two that
/// divides channels.
void fwht_blocks(float* x, int64_t channels, int64_t block);

}  // namespace skvq
