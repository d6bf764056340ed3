// The llama.cpp perplexity protocol (evaluate_perplexity_llama_cpp) against a direct
// computation with Model::forward on stories260K: which tokens are scored, the BOS replacement.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "skvq/batch.h"
#include "skvq/error.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/model.h"
#include "skvq/perplexity.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;

namespace {

const std::string kText = "text/tinystories/tinystories_val.txt";

// Sum of -log p(chunk[t+1] | chunk[..t]) for t in [from, L-2], chunk[0] set to `bos` when >= 0.
double direct_nll(const Model& m, const std::vector<int32_t>& tokens, int64_t start, int64_t L, int64_t from,
                  int32_t bos, const QuantConfig* qc, const KVLayouts* layouts) {
  auto ids = at::empty({1, L}, at::kLong);
  for (int64_t t = 0; t < L; ++t) ids[0][t] = tokens[start + t];
  if (bos >= 0) ids[0][0] = bos;
  at::Tensor logits;
  if (qc) {
    FakeQuantKVCache cache(m.config(), *qc, *layouts, 1, false);
    logits = m.forward(ids, &cache);
  } else {
    logits = m.forward(ids, nullptr);
  }
  double nll = 0;
  for (int64_t t = from; t <= L - 2; ++t) {
    auto logp = at::log_softmax(logits[0][t].to(at::kDouble), -1);
    nll -= logp[tokens[start + t + 1]].item<double>();  // the target is the text's own token
  }
  return nll;
}

}  // namespace

TEST(PplProtocol, LlamaCppScoresTheSecondHalfOfEachChunkWithBosFirst) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data(kText), 4000);
  const int32_t bos = lm.tokenizer->bos_id();
  ASSERT_EQ(tokens[0], bos);
  const int64_t L = 16, chunks = 3;
  ASSERT_NE(tokens[L], bos);  // chunks 1 and 2 start mid-text: the replacement changes them
  ASSERT_NE(tokens[2 * L], bos);
  PerplexityOptions opt;
  opt.ctx_len = L;
  opt.max_chunks = chunks;
  opt.batch = 2;  // one batch of 2 chunks and one of 1
  opt.protocol = PplProtocol::LlamaCpp;
  opt.bos_id = bos;
  auto r = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  EXPECT_EQ(r.chunks, chunks);
  EXPECT_EQ(r.tokens_evaluated, chunks * 7);  // targets 9..15 of each chunk of 16
  double nll = 0;
  for (int64_t c = 0; c < chunks; ++c) nll += direct_nll(*lm.model, tokens, c * L, L, L / 2, bos, nullptr, nullptr);
  EXPECT_NEAR(r.mean_nll, nll / 21, 1e-5);
  EXPECT_NEAR(r.ppl, std::exp(nll / 21), 1e-4 * r.ppl);

  // Without BOS (a tokenizer that adds none) the chunks keep their own first token.
  opt.bos_id = -1;
  auto nobos = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  double nll_nobos = 0;
  for (int64_t c = 0; c < chunks; ++c) nll_nobos += direct_nll(*lm.model, tokens, c * L, L, L / 2, -1, nullptr, nullptr);
  EXPECT_NEAR(nobos.mean_nll, nll_nobos / 21, 1e-5);
  EXPECT_GT(std::abs(nobos.mean_nll - r.mean_nll), 1e-3);  // the replacement is really made

  // The reference protocol scores every prediction: a different figure on the same chunks.
  opt.protocol = PplProtocol::Reference;
  auto ref = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  EXPECT_EQ(ref.tokens_evaluated, chunks * 15);
  EXPECT_GT(std::abs(ref.mean_nll - r.mean_nll), 1e-3);
}

TEST(PplProtocol, LlamaCppWithAQuantizedCacheMatchesTheDirectComputation) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data(kText), 4000);
  const int64_t L = 20;  // odd half: first = 10, targets 11..19, 9 per chunk
  auto qc = QuantConfig::parse("k2-v2-g8");
  qc.window = 0;  // what the protocol forces
  auto layouts = KVLayouts::build(qc, lm.model->config(), nullptr);
  PerplexityOptions opt;
  opt.ctx_len = L;
  opt.max_chunks = 2;
  opt.batch = 1;  // the same products as the direct computation: no 2-bit code flips by rounding
  opt.protocol = PplProtocol::LlamaCpp;
  opt.bos_id = lm.tokenizer->bos_id();
  auto r = evaluate_perplexity(*lm.model, tokens, QuantConfig::parse("k2-v2-g8"), layouts, opt);
  double nll = 0;
  for (int64_t c = 0; c < 2; ++c) nll += direct_nll(*lm.model, tokens, c * L, L, L / 2, opt.bos_id, &qc, &layouts);
  EXPECT_EQ(r.tokens_evaluated, 18);
  EXPECT_NEAR(r.mean_nll, nll / 18, 1e-5);
  auto fp = evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
  EXPECT_GT(r.mean_nll - fp.mean_nll, 1e-3);  // 2-bit K/V really read by the attention
}

TEST(PplProtocol, LlamaCppNeedsTwoChunksOfText) {
  LoadedModel lm = load_model_for_eval(test::stories_model(), test::stories_tokenizer());
  auto tokens = tokenize_text_file(*lm.tokenizer, test::data(kText), 4000);
  tokens.resize(31);
  PerplexityOptions opt;
  opt.ctx_len = 16;
  opt.protocol = PplProtocol::LlamaCpp;
  try {
    evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 2*ctx_len = 32"), std::string::npos) << e.what();
  }
  tokens = tokenize_text_file(*lm.tokenizer, test::data(kText), 4000);
  tokens.resize(32);
  EXPECT_EQ(evaluate_perplexity(*lm.model, tokens, QuantConfig{}, {}, opt).chunks, 2);
  EXPECT_THROW(parse_protocol("llamacpp"), ConfigError);
  EXPECT_EQ(parse_protocol(protocol_name(PplProtocol::LlamaCpp)), PplProtocol::LlamaCpp);
}

TEST(PplProtocol, RunsOfTheTwoProtocolsAreStoredApartAndResumedByProtocol) {
  const std::string dir = test::temp_dir("ppl-protocol");
  RunStore store(dir + "/runs.db");
  PplJob job;
  job.model = test::stories_model();
  job.tokenizer = test::stories_tokenizer();
  job.text = test::data(kText);
  job.max_bytes = 4000;
  job.options.ctx_len = 32;
  job.options.max_chunks = 2;
  std::ostringstream log;
  auto ref = run_ppl_job(job, store, log);
  job.options.protocol = PplProtocol::LlamaCpp;
  auto lcpp = run_ppl_job(job, store, log);
  ASSERT_EQ(ref.size(), 1u);
  ASSERT_EQ(lcpp.size(), 1u);
  EXPECT_NE(ref[0].id, lcpp[0].id);  // not taken for the reference run on resume
  EXPECT_FALSE(ref[0].params.contains("protocol"));  // earlier runs keep their identity
  EXPECT_EQ(lcpp[0].params.value("protocol", ""), "llama.cpp");
  EXPECT_EQ(lcpp[0].metrics.value("tokens", int64_t{0}), 2 * 15);
  EXPECT_NE(lcpp[0].metrics.value("ppl", 0.0), ref[0].metrics.value("ppl", 0.0));
  auto again = run_ppl_job(job, store, log);  // resume finds the llama.cpp run
  EXPECT_EQ(again[0].id, lcpp[0].id);
  EXPECT_NE(log.str().find("skipped"), std::string::npos);
  std::filesystem::remove_all(dir);
}
