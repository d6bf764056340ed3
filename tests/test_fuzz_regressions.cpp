// Replays the inputs under tests/fuzz/regressions/<target>/ (each once crashed a fuzz target or
// broke one of its checks) through the same target code, built with the normal compiler: each
// must now give success or one of the engine's documented errors (skvq::Error), which the target
// swallows; any other exception fails the test, and a crash fails the test executable.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "skvq/common.h"
#include "targets/targets.h"

namespace fs = std::filesystem;

namespace {

struct Case {
  std::string target;
  skvq::fuzz::TargetFn fn;
  fs::path file;
};

std::vector<Case> cases() {
  const std::map<std::string, skvq::fuzz::TargetFn> fns{
#define SKVQ_FUZZ_ENTRY(name) {#name, &skvq::fuzz::name},
      SKVQ_FUZZ_TARGETS(SKVQ_FUZZ_ENTRY)
#undef SKVQ_FUZZ_ENTRY
  };
  std::vector<Case> out;
  for (const auto& [name, fn] : fns) {
    const fs::path dir = fs::path(SKVQ_FUZZ_REGRESSIONS_DIR) / name;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back({name, fn, f});
  }
  return out;
}

class FuzzRegression : public testing::TestWithParam<Case> {};

TEST_P(FuzzRegression, GivesSuccessOrADocumentedError) {
  at::set_num_threads(1);
  const std::string bytes = skvq::read_file(GetParam().file.string());
  EXPECT_NO_THROW(GetParam().fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))
      << GetParam().target << " on " << GetParam().file;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string s = info.param.target + "_" + info.param.file.filename().string();
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Inputs, FuzzRegression, testing::ValuesIn(cases()), case_name);

// Every regression folder belongs to a target (a misspelt folder would be silently skipped).
TEST(FuzzRegressionFolders, NameExistingTargets) {
  std::vector<std::string> known{
#define SKVQ_FUZZ_NAME(name) #name,
      SKVQ_FUZZ_TARGETS(SKVQ_FUZZ_NAME)
#undef SKVQ_FUZZ_NAME
  };
  for (const auto& e : fs::directory_iterator(SKVQ_FUZZ_REGRESSIONS_DIR))
    if (e.is_directory())
      EXPECT_NE(std::find(known.begin(), known.end(), e.path().filename().string()), known.end())
          << e.path() << " is not a fuzz target";
}

}  // namespace
