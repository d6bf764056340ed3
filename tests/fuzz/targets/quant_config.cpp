// Fuzz target: the KV configuration grammar (QuantConfig::parse): parse(to_string(c)) == c as
// documented, and the checks and sizes computed from a configuration.
#include <string>

#include "fuzz_util.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"
#include "targets/targets.h"

void skvq::fuzz::quant_config(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  expect_only_engine_errors([&] {
    const QuantConfig c = QuantConfig::parse(text);
    const std::string canonical = c.to_string();
    fuzz_check(QuantConfig::parse(canonical) == c, "parse(\"" + canonical + "\") != parse(input)");
    fuzz_check(canonical == QuantConfig::parse(canonical).to_string(), "to_string is not canonical: " + canonical);
    (void)stored_bits_per_element(c, true);
    (void)stored_bits_per_element(c, false);
    (void)qmax_for_bits(c.k_bits);
    (void)qmax_for_bits(c.v_bits);
    ModelConfig m;  // stories260K's shape: 4 KV heads x 8 = 32 channels
    m.hidden_size = 64, m.intermediate_size = 172, m.num_hidden_layers = 5;
    m.num_attention_heads = 8, m.num_key_value_heads = 4, m.head_dim = 8;
    m.vocab_size = 512, m.max_position_embeddings = 512;
    c.validate_for(m);
  });
}
