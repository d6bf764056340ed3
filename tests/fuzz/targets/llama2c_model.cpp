// Fuzz target: llama2.c checkpoint (load_llama2c, then the shape check every loader runs).
#include "fuzz_util.h"
#include "skvq/weights.h"
#include "targets/targets.h"

void skvq::fuzz::llama2c_model(const uint8_t* data, size_t size) {
  const std::string path = write_input("model.bin", data, size);
  expect_only_engine_errors([&] {
    ModelWeights w = load_llama2c(path);
    w.check_shapes();
    (void)w.num_parameters();
    (void)w.config.describe();
  });
}
