// libFuzzer entry of one target; SKVQ_FUZZ_TARGET names it (set by tests/fuzz/CMakeLists.txt).
#include <ATen/Parallel.h>

#include "targets/targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);  // one core per fuzzer
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skvq::fuzz::SKVQ_FUZZ_TARGET(data, size);
  return 0;
}
