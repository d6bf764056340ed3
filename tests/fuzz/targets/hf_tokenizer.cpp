// Fuzz target: tokenizer.json (load_hf_tokenizer; no tokenizer_config.json beside it), then
// encode/decode (probe_tokenizer).
#include <filesystem>

#include "fuzz_util.h"
#include "targets/targets.h"
#include "targets/tokenizer_probe.h"

void skvq::fuzz::hf_tokenizer(const uint8_t* data, size_t size) {
  static const bool dir_made = std::filesystem::create_directories(scratch_dir() + "/hf_tok");
  (void)dir_made;
  const std::string path = write_input("hf_tok/tokenizer.json", data, size);
  const std::string tail(reinterpret_cast<const char*>(data) + (size > 48 ? size - 48 : 0), size > 48 ? 48 : size);
  expect_only_engine_errors([&] { probe_tokenizer(*load_hf_tokenizer(path), tail); });
}
