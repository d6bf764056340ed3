// Replays the inputs under tests/fuzz/regressions/<target>/ (each once crashed a fuzz target or
// broke one of its checks) through the same target code, built with the normal compiler: each
// must now give success or one of the engine's documented errors (skvq::Error), which the target
// swallows; any other exception fails the test, and a crash fails the test executable.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "skvq/batch.h"
#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"
#include "fuzz_util.h"
#include "targets/targets.h"
#include "test_util.h"

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

// The findings whose old behaviour was silent in a normal build (undefined float -> integer
// conversion, which only UBSan reports) must now be refused with a FileError naming the file.
std::string regression(const std::string& rel) { return std::string(SKVQ_FUZZ_REGRESSIONS_DIR) + "/" + rel; }

template <class F>
void expect_file_error(F&& fn, const std::string& path, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << path << ": no FileError (wanted: " << needle << ")";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(FuzzFindings, FloatIntegersInACalibrationAreRefused) {
  for (const char* f : {"samples_float_1e300.json", "label_float_1e300.json", "group_size_float.json"}) {
    const std::string p = regression(std::string("calibration/") + f);
    expect_file_error([&] { skvq::Calibration::load(p); }, p, "must be an integer");
  }
  const auto ok = skvq::Calibration::load(regression("calibration/valid_small.json"));
  EXPECT_EQ(ok.samples, 2);
  EXPECT_EQ(ok.layers.at(0).k_clusters.at(4).offsets, (std::vector<int64_t>{0, 4, 8}));
}

TEST(FuzzFindings, FloatAddedTokenIdIsRefused) {
  const std::string p = regression("hf_tokenizer/added_token_id_float_1e300.json");
  expect_file_error([&] { skvq::load_hf_tokenizer(p); }, p, "is not an integer in range");
}

TEST(FuzzFindings, FloatCtxLenInABatchFileIsRefused) {
  const std::string dir = skvq::test::temp_dir("fuzz-batch");
  std::ofstream(dir + "/model.bin") << std::string(28, '\0');
  std::ofstream(dir + "/text.txt") << "Once upon a time.\n";
  const std::string job = dir + "/job.json";
  std::ofstream(job) << skvq::read_file(regression("batch/ctx_len_float_1e300.json"));
  std::ostringstream log;
  expect_file_error([&] { skvq::run_batch_file(job, dir + "/runs.sqlite", log); }, job,
                    "field \"ctx_len\" must be an integer");
}

// "max_bytes" 2e12 allocated 2 TB before reading the calibration text (ASan abort), INT64_MAX
// threw std::length_error: both now read the 18-byte text and stop at the model file.
TEST(FuzzFindings, HugeCalibrationMaxBytesReadsOnlyTheFile) {
  const std::string dir = skvq::test::temp_dir("fuzz-batch-max-bytes");
  std::ofstream(dir + "/model.bin") << std::string(28, '\0');
  std::ofstream(dir + "/text.txt") << "Once upon a time.\n";
  for (const char* name : {"calibration_max_bytes_2e12.json", "calibration_max_bytes_int64_max.json"}) {
    const std::string job = dir + "/job.json";
    std::ofstream(job) << skvq::read_file(regression(std::string("batch/") + name));
    std::ostringstream log;
    // model.bin and text.txt are found beside the job (not in the current folder).
    expect_file_error([&] { skvq::run_batch_file(job, dir + "/runs.sqlite", log); }, dir + "/model.bin", "");
  }
  const std::string job = dir + "/negative.json";
  std::ofstream(job) << R"({"model": ")" + dir + R"(/model.bin", "ppl": {"text": ")" + dir +
                            R"(/text.txt"}, "calibration": {"file": "c.json", "text": ")" + dir +
                            R"(/text.txt", "max_bytes": -1}})";
  std::ostringstream log;
  expect_file_error([&] { skvq::run_batch_file(job, dir + "/runs.sqlite", log); }, job, "\"max_bytes\" must be >= 0");
  fs::remove_all(dir);
}

TEST(FuzzFindings, GgufScoresThatAreNotNumbersAreRefused) {
  const std::string p = regression("gguf/llama_scores_are_strings.gguf");
  expect_file_error([&] { skvq::load_gguf_tokenizer(p); }, p, "tokenizer.ggml.scores entries must be numbers");
}

TEST(FuzzFindings, Llama2cTokenizerWithoutTheByteTokensIsRefused) {
  const std::string p = regression("llama2c_tokenizer/vocab8_byte_fallback_ids_outside.bin");
  expect_file_error([&] { skvq::load_llama2c_tokenizer(p, 8); }, p, "the 256 byte tokens");
}

}  // namespace
