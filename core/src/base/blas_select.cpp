// select_blas_kernels: OPENBLAS_CORETYPE from the CPU's features (see blas_select.h).
#include "skvq/blas_select.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace skvq {

const char* blas_core_name() {
  // Looked up at run time: LibTorch loads libopenblas, the project does not link it itself.
  using CoreName = char* (*)();
  auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = fn ? fn() : nullptr;
  return name ? name : "";
}

void select_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::strcmp(blas_core_name(), "Prescott") != 0) return;
  const char* core = nullptr;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    core = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    core = "Haswell";
#endif
  if (!core || !argv) return;
  setenv("OPENBLAS_CORETYPE", core, 1);  // also stops a second re-exec
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): go on with the generic kernels.
}

}  // namespace skvq
