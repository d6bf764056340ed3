// Fuzz target: safetensors header (read_header), then every tensor as float32 (read_all).
#include "fuzz_util.h"
#include "model/safetensors.h"
#include "targets/targets.h"

void skvq::fuzz::safetensors(const uint8_t* data, size_t size) {
  const std::string path = write_input("model.safetensors", data, size);
  expect_only_engine_errors([&] {
    const auto header = skvq::safetensors::read_header(path);
    fuzz_check(header.data_start <= header.file_size, "data section starts past the end of the file");
    for (const auto& [name, info] : header.tensors)
      fuzz_check(info.begin <= info.end && header.data_start + info.end <= header.file_size,
                 "tensor " + name + " lies outside the file");
    (void)skvq::safetensors::read_all(path);
  });
}
