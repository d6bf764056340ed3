// make_kv_cache: packed storage where supported, fake quantization otherwise.
#include "skvq/cache_factory.h"

#include <utility>

#include "skvq/fake_quant_cache.h"
#include "skvq/packed_cache.h"

namespace skvq {

bool packed_cache_supported(const QuantConfig& config) {
  if (config.method != QuantMethod::SKVQ && config.method != QuantMethod::RTN) return false;
  if (config.had && config.pre_rope) return false;  // RoPE between rotation and attention: fake quant
  if (config.evicts()) return false;  // eviction keeps float sinks + window: FakeQuantKVCache stores just those
  return !config.is_unquantized();
}

std::unique_ptr<KVCache> make_kv_cache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                                       int64_t batch, bool full_prefill, bool packed) {
  if (packed && packed_cache_supported(config))
    return std::make_unique<PackedKVCache>(model, config, std::move(layouts), batch, full_prefill);
  return std::make_unique<FakeQuantKVCache>(model, config, std::move(layouts), batch, full_prefill);
}

}  // namespace skvq
