// Running out of memory is the user's situation, not a bug: `skvq` reports it as an error
// (exit 1) naming what it tried to allocate, stores the run as failed, and never prints
// "internal error" (exit 3) or a LibTorch stack trace (issue 9).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>

#include "skvq/out_of_memory.h"
#include "test_util.h"

namespace fs = std::filesystem;

// 2^40 floats = 4 TiB: more than any machine this runs on has as RAM plus swap, so the CPU
// allocator refuses it under Linux's default (heuristic) overcommit.
TEST(OutOfMemory, ClassifiesAllocatorFailuresOnly) {
  try {
    auto t = at::empty({int64_t{1} << 40}, at::kFloat);
    FAIL() << "a 4 TiB allocation succeeded";
  } catch (const std::exception& e) {
    EXPECT_TRUE(skvq::is_out_of_memory(e)) << e.what();
  }
  EXPECT_TRUE(skvq::is_out_of_memory(std::bad_alloc()));
  try {
    (void)at::matmul(at::ones({2, 3}), at::ones({4, 5}));  // a shape error is a bug, not memory
    FAIL() << "mismatched matmul succeeded";
  } catch (const std::exception& e) {
    EXPECT_FALSE(skvq::is_out_of_memory(e)) << e.what();
  }
  EXPECT_FALSE(skvq::is_out_of_memory(std::runtime_error("can't allocate memory")));  // not an allocator's
}

// A model that does not fit: SmolLM2's Q4_1 weights dequantize to 0.55 GB of float32 copies,
// which a 1.1 GB address space cannot hold beside LibTorch's libraries (about 0.8 GB mapped:
// below that even the model's memory map fails, with its own clear message). One thread, one
// malloc arena and one OpenBLAS thread keep the address space the same on machines with more
// cores. Before, this exited 3 with a 35-frame LibTorch trace.
TEST(OutOfMemory, CommandLineSaysOutOfMemoryWhenTheModelDoesNotFit) {
  SKVQ_REQUIRE_SMOLLM2();
  const std::string dir = skvq::test::temp_dir("oom");
  const std::string db = dir + "/runs.sqlite";
  const std::string cmd = "ulimit -v 1100000; OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MALLOC_ARENA_MAX=1 timeout 300 '" +
                          skvq::test::built("app/skvq") + "' --threads 1 --dtype float32 --db '" + db +
                          "' ppl --model '" + skvq::test::smollm2_model() + "' --text '" +
                          skvq::test::data("text/wikitext2/wiki.test.raw") + "' --ctx-len 64 --max-chunks 1 --max-bytes 6000";
  const auto r = skvq::test::run_command(cmd);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("skvq: error: out of memory"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("can't allocate memory"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("internal error"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("frame #"), std::string::npos) << r.out;
  fs::remove_all(dir);
}
