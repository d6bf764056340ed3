// Perplexity with packed storage (the default) against the fake-quantization checking path on
// the demo model: the same perplexity, and the packed cache's measured bytes equal memory.h's
// accounting.
//
// Why the comparisons can be exact: PackedKVCache::append hands back its dequantized tokens,
// which are the fake quantizer's values bit for bit (the same codes, scale and zero-point in
// the same float32 operations; tests/test_packed.cpp pins that per token). Keys quantized
// before RoPE are the one exception: the packed cache rotates them with its own cos/sin loop
// (rope_rotate) and the fake-quant cache with RotaryEmbedding's tensor ops, both float32 from
// the same table but with different operation order, so each rotated key element may differ by
// an ulp or two (~1e-7 relative). Through 5 layers and a softmax that moves each token's NLL by
// about 1e-6 relative at most, hence the 1e-5 relative bound on those perplexities (measured:
// identical to the last digit on both models here, so the bound is a margin, not a fit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "skvq/calibration.h"
#include "skvq/memory.h"
#include "skvq/perplexity.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;

namespace {

class PplStorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lm_ = new LoadedModel(load_model_for_eval(test::stories_model(), test::stories_tokenizer()));
    const auto calib_tokens = tokenize_text_file(*lm_->tokenizer, test::data("text/wikitext2/wiki.test.raw"), 100000);
    CalibrationOptions o;
    o.samples = 8;
    o.seq_len = 256;
    o.group_sizes = {8};
    calib_ = new Calibration(calibrate(*lm_->model, calib_tokens, o));
    tokens_ = new std::vector<int32_t>(
        tokenize_text_file(*lm_->tokenizer, test::data("text/tinystories/tinystories_val.txt"), 30000));
  }
  static void TearDownTestSuite() {
    delete lm_;
    delete calib_;
    delete tokens_;
  }
  static PerplexityResult run(const std::string& config, bool fake_quant, PplProtocol protocol = PplProtocol::Reference) {
    const auto qc = QuantConfig::parse(config);
    PerplexityOptions opt;
    opt.ctx_len = 256;
    opt.max_chunks = 6;
    opt.batch = 4;  // two calls: a full batch and a partial one
    opt.protocol = protocol;
    opt.fake_quant = fake_quant;
    return evaluate_perplexity(*lm_->model, *tokens_, qc, KVLayouts::build(qc, lm_->model->config(), calib_), opt);
  }
  static LoadedModel* lm_;
  static Calibration* calib_;
  static std::vector<int32_t>* tokens_;
};
LoadedModel* PplStorageTest::lm_ = nullptr;
Calibration* PplStorageTest::calib_ = nullptr;
std::vector<int32_t>* PplStorageTest::tokens_ = nullptr;

// Configurations whose dequantized values are bit-identical in both caches.
const char* kExact[] = {"k2-v2-g8-rtn", "k2-v2-g8-reorder-clip-sink5-fp8", "k4-v2-g8-smooth-reorder-clip-sink5",
                        "k3-v3-g16-sink4", "k1.5-v2-g8-reorder-clip-sink5-fp8", "k4-v4-g32-sym", "k8-v8-g32-sym",
                        "k2-v16-g8-rtn", "k16-v2-g8-rtn", "k2-v2-g8-sink4-had"};

}  // namespace

TEST_F(PplStorageTest, PackedGivesTheFakeQuantPerplexity) {
  for (const char* c : kExact) {
    const auto packed = run(c, false), fake = run(c, true);
    EXPECT_EQ(packed.kv_storage, "packed") << c;
    EXPECT_EQ(fake.kv_storage, "fake-quant") << c;
    EXPECT_DOUBLE_EQ(packed.ppl, fake.ppl) << c;
    EXPECT_GT(packed.ppl, 1.0) << c;
  }
  const auto lp = run("k2-v2-g8-rtn", false, PplProtocol::LlamaCpp), lf = run("k2-v2-g8-rtn", true, PplProtocol::LlamaCpp);
  EXPECT_DOUBLE_EQ(lp.ppl, lf.ppl);
}

TEST_F(PplStorageTest, PreRopeKeysAgreeWithinFloatRounding) {
  for (const char* c : {"k2-v2-g8-reorder-pre_rope-clip-sink5-fp8", "k4-v4-g8-pre_rope-sink4"}) {
    const auto packed = run(c, false), fake = run(c, true);
    EXPECT_EQ(packed.kv_storage, "packed") << c;
    std::printf("%-44s packed %.17g fake-quant %.17g\n", c, packed.ppl, fake.ppl);
    EXPECT_NEAR(packed.ppl / fake.ppl, 1.0, 1e-5) << c;
  }
}

TEST_F(PplStorageTest, MeasuredBytesEqualTheAccounting) {
  const ModelConfig& mc = lm_->model->config();
  for (const char* c : kExact) {
    QuantConfig qc = QuantConfig::parse(c);
    qc.window = 0;  // the protocol's W = 0
    const auto r = run(c, false);
    const int64_t accounted = kv_cache_bytes(mc, qc, 256);
    if (qc.k_bits == 1.5) {
      // Ternary keys: 1.6 bits per code in the accounting, whole bytes (5 codes each) per token
      // stored, so less than one byte more per packed token.
      const int64_t packed_tokens = (256 - qc.sink) * mc.num_hidden_layers;
      EXPECT_GE(r.kv_bytes_measured, accounted) << c;
      EXPECT_LT(r.kv_bytes_measured - accounted, packed_tokens) << c;
    } else {
      EXPECT_EQ(r.kv_bytes_measured, accounted) << c;
    }
  }
  EXPECT_EQ(run("fp16", false).kv_storage, "none");
  EXPECT_EQ(run("fp16", false).kv_bytes_measured, 0);
  // KIVI and had with pre_rope have no packed codec: the fake-quant cache, whatever the option says.
  EXPECT_EQ(run("k2-v2-g32-w32-kivi", false).kv_storage, "fake-quant");
  EXPECT_EQ(run("k2-v2-g8-pre_rope-had", false).kv_storage, "fake-quant");
}

// The same on the real model (SmolLM2-135M: head_dim 64, 3 KV heads, 30 layers): one chunk.
TEST(PplStorageSmolLM2, PackedGivesTheFakeQuantPerplexityAndItsBytes) {
  SKVQ_REQUIRE_SMOLLM2();
  const LoadedModel lm = load_model_for_eval(test::smollm2_model(), "");
  const auto tokens = tokenize_text_file(*lm.tokenizer, test::data("text/wikitext2/wiki.test.raw"), 4000);
  for (const char* c : {"k2-v2-g32-pre_rope-clip-sink5-fp8", "k4-v4-g32-sym", "k2-v2-g64-rtn", "k2-v2-g32-had"}) {
    const auto qc = QuantConfig::parse(c);
    PerplexityOptions opt;
    opt.ctx_len = 256;
    opt.max_chunks = 1;
    const KVLayouts layouts = KVLayouts::build(qc, lm.model->config(), nullptr);
    const auto packed = evaluate_perplexity(*lm.model, tokens, qc, layouts, opt);
    opt.fake_quant = true;
    const auto fake = evaluate_perplexity(*lm.model, tokens, qc, layouts, opt);
    EXPECT_EQ(packed.kv_storage, "packed") << c;
    EXPECT_NEAR(packed.ppl / fake.ppl, 1.0, 1e-5) << c;  // pre_rope: see the header; others exact
    if (!qc.pre_rope) EXPECT_DOUBLE_EQ(packed.ppl, fake.ppl) << c;
    EXPECT_EQ(packed.kv_bytes_measured, kv_cache_bytes(lm.model->config(), qc, 256)) << c;
  }
}
