// OpenBLAS kernel choice (skvq/blas_select.h): the programs and tests never run OpenBLAS's
// generic SSE3 kernels on a CPU with AVX2 or AVX-512, and a user's OPENBLAS_CORETYPE wins.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "skvq/blas_select.h"
#include "test_util.h"

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

TEST(BlasSelect, ThisProcessDoesNotRunTheGenericKernels) {
  const std::string core = skvq::blas_core_name();
  if (core.empty()) GTEST_SKIP() << "the BLAS is not OpenBLAS";
  std::printf("OpenBLAS core: %s\n", core.c_str());
  if (has_avx2()) EXPECT_NE(core, "Prescott") << "the CPU has AVX2/FMA but OpenBLAS runs its SSE3 kernels";
}

TEST(BlasSelect, CliReexecutesWithTheCpusKernelsAndKeepsTheUsersChoice) {
  const std::string skvq_bin = skvq::test::built("app/skvq");
  if (skvq::blas_core_name()[0] == '\0') GTEST_SKIP() << "the BLAS is not OpenBLAS";
  // OPENBLAS_VERBOSE=2 makes OpenBLAS print "Core: NAME" each time it is loaded.
  const std::string chosen = run("env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 '" + skvq_bin + "' --version");
  EXPECT_NE(chosen.find("skvq "), std::string::npos) << chosen;  // the program ran to the end
  if (has_avx2()) {
    const size_t last = chosen.rfind("Core: ");
    ASSERT_NE(last, std::string::npos) << chosen;
    const std::string last_core = chosen.substr(last + 6, chosen.find('\n', last) - last - 6);
    EXPECT_NE(last_core, "Prescott") << chosen;
  }
  const std::string user = run("OPENBLAS_CORETYPE=Haswell OPENBLAS_VERBOSE=2 '" + skvq_bin + "' --version");
  if (has_avx2()) {
    EXPECT_NE(user.find("Core: Haswell"), std::string::npos) << user;
    EXPECT_EQ(user.find("Core: SkylakeX"), std::string::npos) << user;
  }
}
