// make_kv_cache: packed storage where supported, fake quantization otherwise.
#include "skvq/cache_factory.h"

#include <utility>

#include "skvq/fake_quant_cache.h"
#include "skvq/kv_method.h"
#include "skvq/packed_cache.h"

namespace skvq {

bool packed_cache_supported(const QuantConfig& config) { return packed_codec_refusal(config).empty(); }

std::unique_ptr<KVCache> make_kv_cache(const ModelConfig& model, const QuantConfig& config, KVLayouts layouts,
                                       int64_t batch, bool full_prefill, bool packed) {
  if (packed && packed_cache_supported(config))
    return std::make_unique<PackedKVCache>(model, config, std::move(layouts), batch, full_prefill);
  return std::make_unique<FakeQuantKVCache>(model, config, std::move(layouts), batch, full_prefill);
}

}  // namespace skvq
