// main() of every GoogleTest executable: the same BLAS kernel choice as the programs
// (skvq/blas_select.h), so tests run the code paths users run, then GoogleTest.
#include <gtest/gtest.h>

#include "skvq/blas_select.h"

int main(int argc, char** argv) {
  skvq::select_blas_kernels(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
