// KV-cache memory accounting: hand-checked numbers for Llama-2-7B, Mistral-7B and stories260K.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "model_configs.h"
#include "skvq/error.h"
#include "skvq/memory.h"
#include "skvq/weights.h"
#include "test_util.h"

namespace fs = std::filesystem;
using skvq::QuantConfig;

namespace {

using skvq::test::llama2_7b;

skvq::ModelConfig mistral_7b() {
  skvq::ModelConfig m = llama2_7b();
  m.architecture = "MistralForCausalLM";
  m.intermediate_size = 14336;
  m.num_key_value_heads = 8;
  return m;
}

const char* kLlama2ConfigJson = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 11008,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
  "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-05,
  "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2})";

constexpr double kGiB = 1073741824.0;

void write_header(const std::string& path, std::vector<int32_t> h, size_t extra = 0) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size() * 4));
  f << std::string(extra, '\0');
}

}  // namespace

TEST(Memory, Llama2Fp16PerToken) {
  auto m = skvq::kv_memory(llama2_7b(), QuantConfig::parse("fp16"));
  EXPECT_EQ(m.fp16_bytes_per_token, 524288);  // 2 (K,V) * 32 layers * 4096 channels * 2 bytes
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token, 524288.0);
  EXPECT_DOUBLE_EQ(m.codes_bytes_per_token, 524288.0);
  EXPECT_DOUBLE_EQ(m.scale_zero_bytes_per_token, 0.0);
  EXPECT_EQ(m.sink_window_bytes, 0);
  EXPECT_EQ(m.config, "fp16");
  EXPECT_DOUBLE_EQ(m.bits_k, 16.0);
  EXPECT_DOUBLE_EQ(m.nominal_bits_v, 16.0);
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), QuantConfig::parse("fp16"), 4096), 2147483648LL);  // 2 GiB
}

TEST(Memory, TwoBitG128Fp8) {
  auto m = skvq::kv_memory(llama2_7b(), QuantConfig::parse("k2-v2-g128-w128-sink5-fp8"));
  EXPECT_DOUBLE_EQ(m.bits_k, 2.125);  // 2 + (8 + 8) / 128
  EXPECT_DOUBLE_EQ(m.bits_v, 2.125);
  EXPECT_DOUBLE_EQ(m.nominal_bits_k, 2.0);
  EXPECT_DOUBLE_EQ(m.codes_bytes_per_token, 65536.0);      // 2*32*4096*2/8
  EXPECT_DOUBLE_EQ(m.scale_zero_bytes_per_token, 4096.0);  // 2*32*(4096/128 groups)*2 bytes
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token, 69632.0);
  EXPECT_EQ(m.full_precision_tokens, 133);
  EXPECT_EQ(m.sink_window_bytes, 133 * 524288);
  // Without fp8 the scale and zero are 2 bytes each: 2 + 32/128.
  auto f16 = skvq::kv_memory(llama2_7b(), QuantConfig::parse("k2-v2-g128"));
  EXPECT_DOUBLE_EQ(f16.bits_k, 2.25);
  EXPECT_DOUBLE_EQ(f16.scale_zero_bytes_per_token, 8192.0);
}

TEST(Memory, TernaryStoresOnePointSixBits) {
  auto m = skvq::kv_memory(llama2_7b(), QuantConfig::parse("k2-v1.5-g128-fp8"));
  EXPECT_DOUBLE_EQ(m.nominal_bits_v, 1.5);
  EXPECT_DOUBLE_EQ(m.bits_v, 1.6 + 0.125);
  EXPECT_DOUBLE_EQ(m.bits_k, 2.125);
  EXPECT_NEAR(m.codes_bytes_per_token, 32768.0 + 26214.4, 1e-6);  // V: 32*4096*1.6/8
  EXPECT_NEAR(m.kv_bytes_per_token, 63078.4, 1e-6);
  // Whole cache: 10 tokens are exactly 630784 bytes; 1 token rounds 63078.4 up.
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), QuantConfig::parse("k2-v1.5-g128-fp8"), 10), 630784);
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), QuantConfig::parse("k2-v1.5-g128-fp8"), 1), 63079);
}

TEST(Memory, CacheBytesSinkWindowAndKivi) {
  const auto cfg = QuantConfig::parse("k2-v2-g128-w128-sink5-fp8");
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), cfg, 0), 0);
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), cfg, 100), 100LL * 524288);  // all inside sink+window
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), cfg, 133), 133LL * 524288);
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), cfg, 1000), 133LL * 524288 + 867LL * 69632);  // 130101248
  // KIVI (fp16 scale/zero: 2.25 bits): residual 128; keys only in complete groups of 128 tokens.
  // T = 328: 200 tokens outside the residual -> 128 key tokens and 200 value tokens quantized.
  const auto kivi = QuantConfig::parse("k2-v2-g128-w128-KIVI");
  const int64_t per_channel_bits = (200 * 16 + 128 * 9 / 4) + (128 * 16 + 200 * 9 / 4);  // 3488 + 2498
  EXPECT_EQ(per_channel_bits, 5986);  // 200*9/4 = 450 exactly
  EXPECT_EQ(skvq::kv_cache_bytes(llama2_7b(), kivi, 328), per_channel_bits * 32 * 4096 / 8);  // 98074624
  EXPECT_THROW(skvq::kv_cache_bytes(llama2_7b(), cfg, -1), skvq::ConfigError);
}

TEST(Memory, Parameters) {
  EXPECT_EQ(skvq::num_parameters(llama2_7b()), 6738415616LL);
  EXPECT_EQ(skvq::weight_bytes_fp16(llama2_7b()), 13476831232LL);
  EXPECT_EQ(skvq::num_parameters(mistral_7b()), 7241732096LL);
  auto tied = llama2_7b();
  tied.tie_word_embeddings = true;
  EXPECT_EQ(skvq::num_parameters(tied), 6738415616LL - 32000LL * 4096);
  auto bias = mistral_7b();
  bias.attention_bias = true;
  EXPECT_EQ(skvq::num_parameters(bias), 7241732096LL + 32LL * (4096 + 2 * 1024));
}

TEST(Memory, FitInBudget) {
  // Llama-2-7B, 24 GiB: 25769803776 - 13476831232 = 12292972544 bytes for the cache.
  EXPECT_EQ(skvq::max_context_tokens(llama2_7b(), QuantConfig::parse("fp16"), 24), 23446);  // / 524288
  // 133 float16 tokens, then (12292972544 - 133*524288) / 69632 = 175540.6 quantized tokens.
  EXPECT_EQ(skvq::max_context_tokens(llama2_7b(), QuantConfig::parse("k2-v2-g128-w128-sink5-fp8"), 24),
            133 + 175540);
  EXPECT_EQ(skvq::max_context_tokens(llama2_7b(), QuantConfig::parse("k2-v1.5-g128-w128-sink5-fp8"), 24), 193911);
  // The answer is the boundary: T fits, T + 1 does not.
  const auto cfg = QuantConfig::parse("k2-v1.5-g128-w128-sink5-fp8");
  const int64_t avail = 24LL * 1073741824 - 13476831232LL;
  EXPECT_LE(skvq::kv_cache_bytes(llama2_7b(), cfg, 193911), avail);
  EXPECT_GT(skvq::kv_cache_bytes(llama2_7b(), cfg, 193912), avail);
  // 12 GiB cannot even hold the 12.55 GiB of weights.
  EXPECT_EQ(skvq::max_context_tokens(llama2_7b(), QuantConfig::parse("fp16"), 12), 0);
  // GQA: Mistral-7B float16 KV is 131072 bytes per token; 80 GiB.
  const int64_t mistral_avail = static_cast<int64_t>(80 * kGiB) - 2 * 7241732096LL;
  EXPECT_EQ(skvq::max_context_tokens(mistral_7b(), QuantConfig::parse("fp16"), 80), mistral_avail / 131072);
  EXPECT_THROW(skvq::max_context_tokens(llama2_7b(), QuantConfig::parse("fp16"), -1), skvq::ConfigError);
}

TEST(Memory, GroupMustFitChannels) {
  EXPECT_THROW(skvq::kv_memory(llama2_7b(), QuantConfig::parse("k2-v2-g96")), skvq::ConfigError);
  skvq::ModelConfig empty;
  EXPECT_THROW(skvq::kv_memory(empty, QuantConfig::parse("fp16")), skvq::ConfigError);
}

TEST(Memory, Llama2cHeader) {
  const auto c = skvq::read_llama2c_header(skvq::test::stories_model());
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(skvq::num_parameters(c), 260032);  // file: 28 + 4*(260032 + 2*512*4 RoPE tables) bytes
  EXPECT_EQ(c.kv_bytes_per_token(2), 640);
  // The header agrees with the full loader.
  EXPECT_EQ(skvq::num_parameters(c), skvq::load_llama2c(skvq::test::stories_model()).num_parameters());

  const std::string dir = skvq::test::temp_dir("memory");
  write_header(dir + "/untied.bin", {288, 768, 6, 6, 6, -32000, 256});
  const auto u = skvq::read_llama2c_header(dir + "/untied.bin");
  EXPECT_FALSE(u.tie_word_embeddings);
  EXPECT_EQ(u.vocab_size, 32000);
  EXPECT_EQ(u.head_dim, 48);

  write_header(dir + "/short.bin", {288, 768, 6});
  try {
    skvq::read_llama2c_header(dir + "/short.bin");
    FAIL();
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(e.path(), dir + "/short.bin");
    EXPECT_NE(std::string(e.what()).find("too short"), std::string::npos) << e.what();
  }
  write_header(dir + "/zeros.bin", {0, 0, 0, 0, 0, 0, 0});
  EXPECT_THROW(skvq::read_llama2c_header(dir + "/zeros.bin"), skvq::FileError);
  write_header(dir + "/heads.bin", {100, 10, 1, 3, 3, 10, 10});  // 100 % 3 != 0
  EXPECT_THROW(skvq::read_llama2c_header(dir + "/heads.bin"), skvq::FileError);
  EXPECT_THROW(skvq::read_llama2c_header(dir + "/missing.bin"), skvq::FileError);
}

TEST(Memory, ModelConfigFromPath) {
  const std::string dir = skvq::test::temp_dir("memory");
  std::ofstream(dir + "/config.json") << kLlama2ConfigJson;
  const auto a = skvq::model_config_from_path(dir);
  const auto b = skvq::model_config_from_path(dir + "/config.json");
  EXPECT_EQ(a.kv_bytes_per_token(2), 524288);
  EXPECT_EQ(skvq::num_parameters(a), 6738415616LL);
  EXPECT_EQ(skvq::num_parameters(b), 6738415616LL);
  EXPECT_EQ(skvq::model_config_from_path(skvq::test::stories_model()).hidden_size, 64);
  EXPECT_THROW(skvq::model_config_from_path(skvq::test::temp_dir("memory-empty")), skvq::FileError);
  EXPECT_THROW(skvq::model_config_from_path(dir + "/nope.json"), skvq::FileError);
}

// A GGUF file is read from its metadata: SmolLM2-135M (30 layers, 3 KV heads, head_dim 64)
// holds 2 bytes * 30 * 2 (K, V) * 3 * 64 = 23040 bytes per token at float16 (data README).
TEST(Memory, ModelConfigFromGguf) {
  const std::string path = skvq::test::smollm2_model();
  if (!fs::exists(path)) {
    if (skvq::test::models_required()) FAIL() << path << " is missing (scripts/fetch-models.sh)";
    GTEST_SKIP() << path << " is missing";
  }
  const auto c = skvq::model_config_from_path(path);
  EXPECT_EQ(c.num_hidden_layers, 30);
  EXPECT_EQ(c.kv_bytes_per_token(2), 23040);
  EXPECT_EQ(skvq::kv_cache_bytes(c, QuantConfig::parse("fp16"), 100), 2304000);
}

TEST(Memory, ReportJson) {
  auto j = skvq::memory_report(llama2_7b(), "llama-2-7b",
                               {QuantConfig::parse("fp16"), QuantConfig::parse("k2-v2-g128-w128-sink5-fp8")},
                               24.0, 4096);
  EXPECT_EQ(j["model"], "llama-2-7b");
  EXPECT_EQ(j["fp16_kv_bytes_per_token"], 524288);
  EXPECT_EQ(j["weights_bytes"], 13476831232LL);
  ASSERT_EQ(j["configs"].size(), 2u);
  const auto& q = j["configs"][1];
  EXPECT_EQ(q["config"], "k2-v2-g128-w128-sink5-fp8");
  EXPECT_DOUBLE_EQ(q["bits_k"].get<double>(), 2.125);
  EXPECT_DOUBLE_EQ(q["nominal_bits_v"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(q["kv_bytes_per_token"].get<double>(), 69632.0);
  EXPECT_DOUBLE_EQ(q["codes_bytes_per_token"].get<double>(), 65536.0);
  EXPECT_DOUBLE_EQ(q["scale_zero_bytes_per_token"].get<double>(), 4096.0);
  EXPECT_EQ(q["sink_window_bytes"], 133 * 524288);
  EXPECT_EQ(q["max_context_tokens"], 175673);
  EXPECT_EQ(q["cache_bytes_at_ctx"], 133LL * 524288 + (4096 - 133) * 69632LL);
  EXPECT_NEAR(q["compression"].get<double>(), 524288.0 / 69632.0, 1e-12);
  EXPECT_EQ(j["configs"][0]["max_context_tokens"], 23446);
  auto none = skvq::memory_report(llama2_7b(), "m", {QuantConfig::parse("fp16")});
  EXPECT_FALSE(none["configs"][0].contains("max_context_tokens"));
  EXPECT_FALSE(none.contains("budget_gib"));
}

// The command line, when it has been built (skvq links every subcommand of the project).
TEST(Memory, CommandLineJson) {
  const std::string skvq_bin = skvq::test::built("app/skvq");
  if (!fs::exists(skvq_bin)) GTEST_SKIP() << skvq_bin << " not built";
  const std::string dir = skvq::test::temp_dir("memory");
  std::ofstream(dir + "/config.json") << kLlama2ConfigJson;
  const std::string cmd = skvq_bin + " memory --model " + dir + " --quant fp16 k2-v1.5-g128-w128-sink5-fp8 "
                                     "--budget-gib 24 --json > " + dir + "/out.json";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir + "/out.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["fp16_kv_bytes_per_token"], 524288);
  EXPECT_EQ(j["configs"][1]["max_context_tokens"], 193911);
  EXPECT_DOUBLE_EQ(j["configs"][1]["bits_v"].get<double>(), 1.725);
  // A bad configuration is an error naming the field, exit status 1.
  const std::string bad = skvq_bin + " memory --model " + dir + " --quant k9-v2-g128 2> " + dir + "/err.txt";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 1);
  std::ifstream err(dir + "/err.txt");
  std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("k9"), std::string::npos) << text;
}
