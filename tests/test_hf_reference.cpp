// Tiny random checkpoints that Hugging Face transformers created and saved (tests/reference/tiny,
// made by tests/reference/make_references.py) against the logits transformers computed for them:
// llama3-type rope_scaling, Qwen2 with q/k/v bias and tied embeddings, Mistral, and bf16 weights.
// Both sides compute in float32 (the bf16 checkpoint upcast exactly), so they differ only by
// accumulation order: ~1e-6 on logits of magnitude ~5 after two layers; bound 1e-4.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "skvq/error.h"
#include "skvq/model.h"
#include "skvq/rope.h"
#include "skvq/session.h"
#include "skvq/weights.h"
#include "test_util.h"

using json = nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class TinyCheckpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(TinyCheckpoint, LogitsMatchTransformers) {
  const std::string dir = skvq::test::reference(std::string("tiny/") + GetParam());
  const json ref = read_json(dir + "/logits.json");
  skvq::Model model(skvq::load_model(dir, at::kFloat));
  const auto ids = ref["input_ids"].get<std::vector<int64_t>>();
  auto logits = model.forward(at::tensor(ids, at::kLong).unsqueeze(0), nullptr)[0];  // [T, vocab]
  const auto want = ref["logits"].get<std::vector<std::vector<float>>>();
  ASSERT_EQ(logits.size(0), static_cast<int64_t>(want.size()));
  float worst = 0, scale = 0;
  for (size_t t = 0; t < want.size(); ++t)
    for (size_t v = 0; v < want[t].size(); ++v) {
      worst = std::max(worst, std::abs(logits[t][v].item<float>() - want[t][v]));
      scale = std::max(scale, std::abs(want[t][v]));
    }
  EXPECT_LT(worst, 1e-4f) << GetParam();
  EXPECT_GT(scale, 1.0f);  // the logits are not trivially small
  const auto argmax = ref["argmax"].get<std::vector<int64_t>>();
  for (size_t t = 0; t < argmax.size(); ++t) EXPECT_EQ(logits[t].argmax().item<int64_t>(), argmax[t]) << t;
  std::printf("%-16s max |logit - transformers| %.3g (max |logit| %.2f)\n", GetParam(), worst, scale);
}

INSTANTIATE_TEST_SUITE_P(Reference, TinyCheckpoint,
                         ::testing::Values("llama3_rope", "qwen2_bias_tied", "mistral", "llama_bf16"));

TEST(TinyCheckpointConfig, Llama3RopeFrequenciesMatchTransformers) {
  const std::string dir = skvq::test::reference("tiny/llama3_rope");
  const json ref = read_json(dir + "/logits.json");
  const auto want = ref["rope_inv_freq_after_scaling"].get<std::vector<float>>();
  const auto got = skvq::rope_inv_freq(skvq::load_hf_config(dir + "/config.json"));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6f * std::abs(want[i]) + 1e-12f) << i;
}

TEST(TinyCheckpointConfig, QwenBiasAndTiedEmbeddings) {
  auto w = skvq::load_model(skvq::test::reference("tiny/qwen2_bias_tied"), at::kFloat);
  EXPECT_TRUE(w.config.attention_bias);
  EXPECT_TRUE(w.config.tie_word_embeddings);
  EXPECT_TRUE(w.lm_head.is_same(w.embed_tokens));
  EXPECT_TRUE(w.layers[0].k_bias.defined());
}

// --dtype auto keeps a bf16 checkpoint in bf16 on the CPU; float32 upcasts it exactly.
TEST(TinyCheckpointConfig, AutoDtypeKeepsBf16Weights) {
  const std::string dir = skvq::test::reference("tiny/llama_bf16");
  EXPECT_EQ(skvq::resolve_model_dtype("auto", dir, "cpu"), at::kBFloat16);
  EXPECT_EQ(skvq::resolve_model_dtype("auto", skvq::test::reference("tiny/mistral"), "cpu"), at::kFloat);
  auto bf = skvq::load_model(dir, at::kBFloat16);
  auto f32 = skvq::load_model(dir, at::kFloat);
  EXPECT_EQ(bf.layers[0].q_proj.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(bf.layers[0].q_proj.to(at::kFloat), f32.layers[0].q_proj));
  EXPECT_THROW(skvq::resolve_model_dtype("float64", dir, "cpu"), skvq::ConfigError);
  // bf16 matmuls: the logits move by bf16 rounding of the activations (8 significand bits), not more.
  skvq::Model mb(std::move(bf)), mf(std::move(f32));
  auto ids = at::arange(0, 16, at::kLong).unsqueeze(0);
  const float diff = (mb.forward(ids, nullptr) - mf.forward(ids, nullptr)).abs().max().item<float>();
  EXPECT_LT(diff, 0.25f);
  EXPECT_GT(diff, 0.0f);
}

}  // namespace
