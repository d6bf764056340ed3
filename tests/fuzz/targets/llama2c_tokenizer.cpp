// Fuzz target: llama2.c tokenizer file (load_llama2c_tokenizer with stories260K's vocabulary
// size, and with 0 = every token in the file), then encode/decode (probe_tokenizer).
#include "fuzz_util.h"
#include "targets/targets.h"
#include "targets/tokenizer_probe.h"

void skvq::fuzz::llama2c_tokenizer(const uint8_t* data, size_t size) {
  const std::string path = write_input("tok.bin", data, size);
  const std::string tail(reinterpret_cast<const char*>(data) + (size > 48 ? size - 48 : 0), size > 48 ? 48 : size);
  for (int32_t vocab : {512, 0}) {
    expect_only_engine_errors([&] {
      auto tok = load_llama2c_tokenizer(path, vocab);
      fuzz_check(vocab == 0 || tok->vocab_size() == vocab, "vocab_size() differs from the requested size");
      probe_tokenizer(*tok, tail);
    });
  }
}
