// Fuzz target: Hugging Face config.json (load_hf_config), then what callers compute from it.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "skvq/model_config.h"
#include "skvq/weights.h"
#include "targets/targets.h"

void skvq::fuzz::hf_config(const uint8_t* data, size_t size) {
  const std::string path = write_input("config.json", data, size);
  expect_only_engine_errors([&] {
    const ModelConfig c = load_hf_config(path);
    c.validate(path);
    (void)c.describe();
    (void)c.kv_bytes_per_token(2);
    (void)rope_scaling_json(c);
  });
}
