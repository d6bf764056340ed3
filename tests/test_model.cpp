// The demo model end to end: llama2.c loading, greedy text against the reference, perplexity.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "skvq/error.h"
#include "skvq/generate.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/perplexity.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;

namespace {
// Reference text from ../shared/data/README.md (llama2.c run.c, greedy).
const std::string kReference =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom "
    "said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do.";

std::string greedy_text(const LoadedModel& lm, const QuantConfig& qc, int64_t n) {
  FakeQuantKVCache cache(lm.model->config(), qc, KVLayouts::build(qc, lm.model->config(), nullptr), 1, true);
  SamplingParams sp;
  sp.max_new_tokens = n;
  const auto prompt = lm.tokenizer->encode("Once upon a time", true);
  std::string text;
  for (size_t i = 1; i < prompt.size(); ++i) text += lm.tokenizer->decode_token(prompt[i - 1], prompt[i]);
  return text + generate_tokens(*lm.model, *lm.tokenizer, prompt, sp, cache).text;
}
}  // namespace

TEST(Llama2c, LoadsTheDemoModel) {
  ModelWeights w = load_llama2c(test::stories_model());
  EXPECT_EQ(w.config.hidden_size, 64);
  EXPECT_EQ(w.config.intermediate_size, 172);
  EXPECT_EQ(w.config.num_hidden_layers, 5);
  EXPECT_EQ(w.config.num_attention_heads, 8);
  EXPECT_EQ(w.config.num_key_value_heads, 4);
  EXPECT_EQ(w.config.head_dim, 8);
  EXPECT_EQ(w.config.vocab_size, 512);
  EXPECT_EQ(w.config.max_position_embeddings, 512);
  EXPECT_TRUE(w.config.tie_word_embeddings);
  EXPECT_TRUE(w.lm_head.is_same(w.embed_tokens));
  EXPECT_EQ(w.sha256, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
  EXPECT_EQ(w.num_parameters(), 260032);  // all floats of the file but the 4096 of the RoPE tables
}

TEST(Llama2c, GreedyTextMatchesTheReference) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const std::string text = greedy_text(lm, QuantConfig{}, 200);
  ASSERT_GE(text.size(), kReference.size()) << text;
  EXPECT_EQ(text.substr(0, kReference.size()), kReference);
}

TEST(Llama2c, CachedDecodingEqualsFullForward) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto ids = lm.tokenizer->encode("Once upon a time, there was a dog named Max.", true);
  auto t = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
  auto full = lm.model->forward(t, nullptr);
  FakeQuantKVCache cache(lm.model->config(), QuantConfig{}, {}, 1, false);
  const int64_t T = t.size(1);
  lm.model->forward(t.narrow(1, 0, T - 3), &cache);
  for (int64_t i = T - 3; i < T; ++i) {
    auto step = lm.model->forward(t.narrow(1, i, 1), &cache);
    EXPECT_TRUE(at::allclose(step[0][0], full[0][i], 1e-4, 1e-4)) << "position " << i;
  }
}

TEST(Llama2c, PerplexityOfTheWholeValidationText) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data("text/tinystories/tinystories_val.txt"));
  PerplexityOptions opt;
  opt.ctx_len = 512;
  auto r = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  EXPECT_EQ(r.chunks, 767);
  EXPECT_NEAR(r.ppl, 5.0482, 0.005);
  EXPECT_EQ(r.tokens_evaluated, 767 * 511);
  std::printf("PPL %.4f over %lld tokens in %.1f s (%.0f tokens/s)\n", r.ppl, static_cast<long long>(r.tokens_evaluated),
              r.seconds, r.tokens_evaluated / r.seconds);
}

TEST(Llama2c, BatchingChunksDoesNotChangeTheResult) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data("text/tinystories/tinystories_val.txt"), 40000);
  auto qc = QuantConfig::parse("k2-v2-g8-sink5-clip-fp8");
  auto layouts = KVLayouts::build(qc, lm.model->config(), nullptr);
  PerplexityOptions a, b;
  a.ctx_len = b.ctx_len = 256;
  a.batch = 1;
  b.batch = 5;
  auto ra = evaluate_perplexity(*lm.model, tokens, qc, layouts, a);
  auto rb = evaluate_perplexity(*lm.model, tokens, qc, layouts, b);
  // Only the summation order inside the matrix products differs; at 2 bits a last-bit change can
  // flip a code, so allow 1e-4 relative.
  EXPECT_NEAR(ra.ppl, rb.ppl, 1e-4 * ra.ppl);
}

TEST(Llama2c, BadCheckpointsGiveClearErrors) {
  const std::string dir = test::temp_dir("bad-ckpt");
  const std::string bytes = read_file(test::stories_model());
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir + "/" + name, std::ios::binary) << content;
    return dir + "/" + name;
  };
  auto message = [](const std::string& path) {
    try {
      load_llama2c(path);
    } catch (const FileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string truncated = write("truncated.bin", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(message(truncated).find("truncated llama2.c checkpoint"), std::string::npos) << message(truncated);
  EXPECT_EQ(message(truncated).rfind(truncated, 0), 0u);  // names the file first
  EXPECT_NE(message(write("tiny.bin", "abc")).find("header alone needs 28"), std::string::npos);
  EXPECT_NE(message(write("longer.bin", bytes + "junk")).find("the header implies"), std::string::npos);
  std::string garbage = bytes;
  garbage[0] = garbage[1] = garbage[2] = garbage[3] = 0;  // dim = 0
  EXPECT_NE(message(write("zero.bin", garbage)).find("implausible header"), std::string::npos);
  EXPECT_NE(message(dir + "/missing.bin").find("no such file"), std::string::npos);
  std::filesystem::remove_all(dir);
}

namespace {
struct WantsAttention : ForwardObserver {
  bool wants_attention() const override { return true; }
  void on_attention(int64_t, const at::Tensor& p) override { rows_sum = p.sum(-1); }
  at::Tensor rows_sum;
};
}  // namespace

TEST(Llama2c, FusedCpuAttentionEqualsTheMatmulPath) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data("text/tinystories/tinystories_val.txt"), 4000);
  auto t = at::tensor(std::vector<int64_t>(tokens.begin(), tokens.begin() + 300), at::kLong).view({2, 150});
  auto fused = lm.model->forward(t, nullptr);
  WantsAttention obs;
  auto matmul = lm.model->forward(t, nullptr, &obs);
  EXPECT_TRUE(at::allclose(fused, matmul, 1e-4, 1e-4)) << (fused - matmul).abs().max().item<float>();
  EXPECT_TRUE(at::allclose(obs.rows_sum, at::ones_like(obs.rows_sum), 1e-5, 1e-5));
}

TEST(HuggingFacePath, ConvertedDirectoryGivesTheSameTextAndPerplexity) {
  const std::string dir = test::temp_dir("hf-stories");
  save_hf_model(load_llama2c(test::stories_model()), dir);
  convert_llama2c_tokenizer(test::stories_tokenizer(), 512, dir);
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors"));
  ASSERT_TRUE(std::filesystem::exists(dir + "/tokenizer.json"));
  LoadedModel lm = load_model_for_eval(dir);  // tokenizer.json found in the directory
  EXPECT_EQ(lm.model->config().num_key_value_heads, 4);
  const std::string text = greedy_text(lm, QuantConfig{}, 200);
  EXPECT_EQ(text.substr(0, kReference.size()), kReference);
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data("text/tinystories/tinystories_val.txt"));
  PerplexityOptions opt;
  opt.ctx_len = 512;
  auto r = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  EXPECT_EQ(r.chunks, 767);
  EXPECT_NEAR(r.ppl, 5.0482, 0.005);
  std::filesystem::remove_all(dir);
}
