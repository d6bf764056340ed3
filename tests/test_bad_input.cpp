// Hand-made bad inputs (issue 9): each is a clear skvq::Error naming the file and the problem
// (exit 1 from the command line), never a crash, a huge allocation or "internal error" (exit 3).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sqlite3.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
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
                          args;
  const auto res = skvq::test::run_command(cmd);
  r.code = res.code;
  r.out = res.out;
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

/// stories260K.bin with the floats [first, first + count) of the payload set to `value`.
/// Offsets of its tensors in floats (dim 64, hidden 172, 5 layers, 4 KV heads x 8, vocab 512):
/// embedding 0, rms_att 32768, wq 33088, wk 53568, ..., final norm 259968.
std::string stories_with(const std::string& out, int64_t first, int64_t count, float value) {
  std::string b = skvq::read_file(skvq::test::stories_model());
  for (int64_t i = first; i < first + count; ++i) std::memcpy(b.data() + 28 + 4 * i, &value, 4);
  write_file(out, b);
  return out;
}
constexpr int64_t kStoriesWq = 33088, kStoriesWk = 53568, kStoriesNorm = 259968;

/// Runs of a store with the given status.
int count_runs(const std::string& db, const std::string& status) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_stmt* st = nullptr;
  int n = -1;
  const std::string q = "SELECT count(*) FROM runs WHERE status = '" + status + "'";
  if (sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
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

// k-means on points with NaN used to keep an empty "best" run and read out of bounds.
TEST(BadInputKMeans, NonFinitePointsAreAClearError) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x{nan, nan, nan, nan}, y{1, 2, 3, 4};
  EXPECT_THROW(skvq::kmeans_2d(x, y, 2, 1), skvq::ConfigError);
  std::vector<float> x2{0, 1, std::numeric_limits<float>::infinity(), 3};
  EXPECT_THROW(skvq::kmeans_2d(x2, y, 2, 1), skvq::ConfigError);
}

// A NaN weight is refused when the model is loaded, naming the file and the tensor; calibrate
// and analyze used to SIGSEGV in k-means on it.
TEST_F(BadInput, NanWeightIsRefusedAtLoadNamingTheTensor) {
  const std::string p = stories_with(path("nan.bin"), kStoriesWq + 5, 1, std::numeric_limits<float>::quiet_NaN());
  expect_error([&] { skvq::load_llama2c(p); }, p, {"model.layers.0.self_attn.q_proj.weight", "NaN"});
  if (!have_cli()) return;
  const std::string text = skvq::test::data("text/tinystories/tinystories_val.txt");
  const std::string tok = skvq::test::stories_tokenizer();
  auto r = run_cli("calibrate --model '" + p + "' --tokenizer '" + tok + "' --text '" + text +
                   "' --max-bytes 20000 --samples 2 --seq-len 64 --group-sizes 8 --out '" + path("c.json") + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("q_proj"), std::string::npos) << r.out;
  r = run_cli("--db '" + path("runs.sqlite") + "' analyze --model '" + p + "' --tokenizer '" + tok + "' --text '" + text + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("q_proj"), std::string::npos) << r.out;
}

// Finite weights whose keys overflow to infinity: calibration names the layer and tensor
// instead of running k-means on NaN/Inf statistics.
TEST_F(BadInput, NonFiniteCalibrationStatisticsNameTheLayer) {
  const std::string p = stories_with(path("huge.bin"), kStoriesWk, 64 * 32, 3e38f);
  auto lm = skvq::load_model_for_eval(p, skvq::test::stories_tokenizer());
  std::vector<int32_t> tokens(400);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(1 + i % 300);
  skvq::CalibrationOptions o;
  o.samples = 2;
  o.seq_len = 64;
  o.group_sizes = {8};
  expect_error([&] { skvq::calibrate(*lm.model, tokens, o); }, p, {"layer 0", "k_proj", "not finite"});
}

// A perplexity that comes out NaN (finite weights, overflowing logits) is a failed run with a
// message and exit 1, never a "done" run with PPL NaN.
TEST_F(BadInput, PerplexityNanIsAFailedRunNotADoneOne) {
  if (!have_cli()) GTEST_SKIP() << "skvq not built";
  const std::string p = stories_with(path("overflow.bin"), kStoriesNorm, 64, 3e38f);
  const std::string db = path("runs.sqlite");
  auto r = run_cli("--db '" + db + "' ppl --model '" + p + "' --tokenizer '" + skvq::test::stories_tokenizer() +
                   "' --text '" + skvq::test::data("text/tinystories/tinystories_val.txt") + "' --ctx-len 64 --max-chunks 2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not finite"), std::string::npos) << r.out;
  EXPECT_EQ(count_runs(db, "done"), 0) << r.out;
  EXPECT_EQ(count_runs(db, "failed"), 1) << r.out;
}

namespace {

// A tiny config.json for load_hf_config, with one field replaced by raw JSON text.
std::string config_with(const std::string& dir, const std::string& field, const std::string& raw) {
  std::string j = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
    "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
    "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0)";
  j += ", \"" + field + "\": " + raw + "}";
  const std::string path = dir + "/config.json";
  write_file(path, j);
  return path;
}

// The message of the FileError fn() throws for `path` ("" when it throws none or another error).
template <class F>
std::string file_error(F&& fn, const std::string& path) {
  try {
    fn();
  } catch (const skvq::FileError& e) {
    return e.path() == path ? e.what() : std::string();
  } catch (...) {
  }
  return "";
}

TEST_F(BadInput, ConfigNumbersOutOfRangeAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rope_theta", "0"},          {"rope_theta", "1e999"},
      {"rms_norm_eps", "-1"},       {"max_position_embeddings", "-1"},
      {"max_position_embeddings", "4611686018427387904"}, {"hidden_size", "1e999"}};
  for (const auto& [field, raw] : cases) {
    const std::string path = config_with(dir_, field, raw);
    const std::string msg = file_error([&] { skvq::load_hf_config(path); }, path);
    EXPECT_FALSE(msg.empty()) << field << " = " << raw;
    EXPECT_TRUE(msg.find(field) != std::string::npos || msg.find("out of range") != std::string::npos ||
                msg.find("finite") != std::string::npos)
        << msg;
  }
}

TEST_F(BadInput, DeeplyNestedJsonIsRefusedBeforeTheStackOverflows) {
  const std::string path = dir_ + "/tokenizer.json";
  write_file(path, std::string(50000, '[') + std::string(50000, ']'));
  const std::string msg = file_error([&] { skvq::load_hf_tokenizer(path); }, path);
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
}

TEST_F(BadInput, SafetensorsShapeWhoseElementCountOverflows) {
  const std::string dir = dir_ + "/hf";
  fs::create_directories(dir);
  config_with(dir, "tie_word_embeddings", "true");
  const std::string header = R"({"model.embed_tokens.weight": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  const std::string path = dir + "/model.safetensors";
  write_file(path, bytes + header + std::string(16, '\0'));
  const std::string msg = file_error([&] { skvq::load_model(dir); }, path);
  EXPECT_NE(msg.find("more elements than a 64-bit count can hold"), std::string::npos) << msg;
}

}  // namespace
