#pragma once
// Choosing the KV cache implementation for a configuration: the packed cache (real low-bit
// storage, decode attention over the packed bytes) where it supports the configuration, else
// the fake-quantization cache.
#include <cstdint>
#include <memory>

#include "skvq/calibration.h"
#include "skvq/kv_cache.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"

namespace skvq {

/// True when PackedKVCache stores `config`: SKVQ or RTN with at least one of K/V quantized
/// (bits 1.5, 2, 3, 4, 8; 16 = that tensor raw; sym groups included: codes + float16 scale). False for KIVI (per-channel key groups),
/// for had with pre_rope (RoPE sits between the rotation and attention; had alone is packed), for
/// eviction (k0-v0: the fake-quant cache then holds only sinks and window, nothing to pack) and
/// for unquantized configurations (fp16/fp32: nothing to pack).
bool packed_cache_supported(const QuantConfig& config);

/// A cache for `batch` sequences of `model` under `config` with the group layouts `layouts`
/// (KVLayouts::build). packed && packed_cache_supported(config): a PackedKVCache (CPU storage;
/// with full_prefill and window 0 the forward pass reads it through append(), otherwise decode
/// steps use its decode attention); otherwise a FakeQuantKVCache. Both give the same attention
/// inputs (the packed dequantization is bit-identical to fake quantization; pre_rope keys
/// within float rounding). Throws ConfigError when the layouts do not match the model or the
/// configuration cannot be stored.
std::unique_ptr<KVCache> make_kv_cache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                                       int64_t batch, bool full_prefill, bool packed);

}  // namespace skvq
