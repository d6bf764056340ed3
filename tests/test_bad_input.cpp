// Hand-made bad inputs (issue 9): each is a clear skvq::Error naming the file and the problem
// (exit 1 from the command line), never a crash, a huge allocation or "internal error" (exit 3).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "skvq/error.h"
#include "skvq/weights.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

struct CliResult {
  int code = -1;
  std::string out;
};

CliResult run_cli(const std::string& args) {
  CliResult r;
  const std::string cmd = "SKVQ_DATA_DIR='" + skvq::test::data_dir() + "' '" + skvq::test::built("app/skvq") + "' " +
                          args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool have_cli() { return fs::exists(skvq::test::built("app/skvq")); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A llama2.c header (7 int32) followed by `floats` zero floats.
std::string llama2c_file(const std::array<int32_t, 7>& h, size_t floats) {
  std::string s(28 + 4 * floats, '\0');
  std::memcpy(s.data(), h.data(), 28);
  return s;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = skvq::test::temp_dir("bad-input"); }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

// Expects `fn` to throw a skvq::Error whose message contains `path` and every one of `words`.
template <class Fn>
void expect_error(Fn fn, const std::string& path, std::vector<std::string> words) {
  try {
    fn();
    ADD_FAILURE() << "no error for " << path;
  } catch (const skvq::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    for (const auto& w : words) EXPECT_NE(m.find(w), std::string::npos) << "missing '" << w << "' in: " << m;
  }
}

}  // namespace

// 36 bytes: every header field is within 2^24, but the float count wraps around int64 to
// exactly the 2 floats present (dim 2^24, hidden 65535, 2^24 layers, 2^23 heads, vocab 2^24-1,
// seq_len 1). Before the fix this copied 2^48 floats out of the 8-byte payload: SIGSEGV.
TEST_F(BadInput, Llama2cHeaderWhoseSizeWrapsAroundInt64) {
  const std::string p = path("wrap.bin");
  write_file(p, llama2c_file({1 << 24, 65535, 1 << 24, 1 << 23, 1 << 23, (1 << 24) - 1, 1}, 2));
  ASSERT_EQ(fs::file_size(p), 36u);
  expect_error([&] { skvq::load_llama2c(p); }, p, {"int64"});
  if (have_cli()) {
    auto r = run_cli("info --model '" + p + "'");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(p), std::string::npos) << r.out;
  }
}

// Variants: a product that overflows to a negative count, and INT32_MIN as vocabulary
// (std::abs(INT32_MIN) is undefined and used to slip through the range check).
TEST_F(BadInput, Llama2cHeaderVariants) {
  const std::string p = path("neg.bin");
  write_file(p, llama2c_file({1 << 24, 1 << 24, 1 << 24, 1 << 22, 1 << 22, 1 << 24, 1 << 24}, 2));
  expect_error([&] { skvq::load_llama2c(p); }, p, {"int64"});
  const std::string q = path("intmin.bin");
  write_file(q, llama2c_file({64, 64, 1, 8, 8, INT32_MIN, 64}, 2));
  expect_error([&] { skvq::load_llama2c(q); }, q, {"implausible"});
  if (have_cli()) {
    auto r = run_cli("info --model '" + p + "'");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(r.out.find("internal error"), std::string::npos) << r.out;
  }
}
