#pragma once
// The fuzz targets: each feeds one input to one of the engine's loaders or parsers
// (see fuzz_util.h for what counts as a finding). scripts/fuzz.sh runs each under libFuzzer;
// tests/test_fuzz_regressions.cpp replays tests/fuzz/regressions/<name>/* through them.
#include <cstddef>
#include <cstdint>

// X(name): targets/<name>.cpp defines skvq::fuzz::name, the binary is fuzz_<name>.
#define SKVQ_FUZZ_TARGETS(X) \
  X(llama2c_model)           \
  X(llama2c_tokenizer)       \
  X(safetensors)             \
  X(hf_config)               \
  X(hf_tokenizer)            \
  X(gguf)                    \
  X(calibration)             \
  X(batch)                   \
  X(quant_config)            \
  X(chat_template)

namespace skvq::fuzz {
#define SKVQ_FUZZ_DECLARE(name) void name(const uint8_t* data, size_t size);
SKVQ_FUZZ_TARGETS(SKVQ_FUZZ_DECLARE)
#undef SKVQ_FUZZ_DECLARE
}  // namespace skvq::fuzz
