// Fuzz target: GGUF file: the reader (gguf::File), the model loader (load_gguf_model) and the
// tokenizer from its metadata (load_gguf_tokenizer, then probe_tokenizer).
#include "fuzz_util.h"
#include "model/gguf_file.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "targets/targets.h"
#include "targets/tokenizer_probe.h"

void skvq::fuzz::gguf(const uint8_t* data, size_t size) {
  const std::string path = write_input("model.gguf", data, size);
  bool readable = false;
  expect_only_engine_errors([&] {
    const skvq::gguf::File f(path);
    for (const auto& t : f.tensors())
      fuzz_check(t.offset + t.nbytes <= f.size(), "tensor " + t.name + " lies outside the file");
    for (const auto& [key, value] : f.metadata().items()) (void)f.type_name(key);
    readable = true;
  });
  if (!readable) return;
  expect_only_engine_errors([&] {
    ModelWeights w = load_gguf_model(path);
    w.check_shapes();
  });
  expect_only_engine_errors([&] { probe_tokenizer(*load_gguf_tokenizer(path), ""); });
}
