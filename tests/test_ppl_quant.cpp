// Quantized perplexity on the demo model: the orderings the method predicts.
#include <gtest/gtest.h>

#include <map>

#include "skvq/calibration.h"
#include "skvq/perplexity.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;

namespace {

class QuantPplTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lm_ = new LoadedModel(load_model_for_eval(test::stories_model(), test::stories_tokenizer()));
    // Calibrate on another text (WikiText-2), evaluate on TinyStories, as the paper does.
    const auto calib_tokens = tokenize_text_file(*lm_->tokenizer, test::data("text/wikitext2/wiki.test.raw"), 300000);
    CalibrationOptions o;
    o.samples = 16;
    o.seq_len = 512;
    o.group_sizes = {8, 16};
    calib_ = new Calibration(calibrate(*lm_->model, calib_tokens, o));
    tokens_ = new std::vector<int32_t>(tokenize_text_file(*lm_->tokenizer, test::data("text/tinystories/tinystories_val.txt"), 120000));
  }
  static void TearDownTestSuite() {
    delete lm_;
    delete calib_;
    delete tokens_;
  }
  static double ppl(const std::string& config) {
    auto it = cache_.find(config);
    if (it != cache_.end()) return it->second;
    auto qc = QuantConfig::parse(config);
    PerplexityOptions opt;
    opt.ctx_len = 512;
    auto r = evaluate_perplexity(*lm_->model, *tokens_, qc, KVLayouts::build(qc, lm_->model->config(), calib_), opt);
    std::printf("%-44s PPL %.4f (%lld chunks)\n", config.c_str(), r.ppl, static_cast<long long>(r.chunks));
    return cache_[config] = r.ppl;
  }
  static LoadedModel* lm_;
  static Calibration* calib_;
  static std::vector<int32_t>* tokens_;
  static std::map<std::string, double> cache_;
};
LoadedModel* QuantPplTest::lm_ = nullptr;
Calibration* QuantPplTest::calib_ = nullptr;
std::vector<int32_t>* QuantPplTest::tokens_ = nullptr;
std::map<std::string, double> QuantPplTest::cache_;

}  // namespace

TEST_F(QuantPplTest, EightBitIsWithinHalfAPercent) {
  const double fp = ppl("fp16");
  EXPECT_GT(fp, 3.0);
  EXPECT_LT(fp, 6.0);
  for (const char* c : {"k8-v8-g8", "k8-v8-g32", "k8-v8-g8-reorder-clip0.99-sink5", "k8-v8-g8-rtn"})
    EXPECT_LT(std::abs(ppl(c) / fp - 1.0), 0.005) << c;
}

TEST_F(QuantPplTest, PerplexityFallsAsBitsRise) {
  const double p2 = ppl("k2-v2-g8-reorder-clip-sink5");
  const double p3 = ppl("k3-v3-g8-reorder-clip-sink5");
  const double p4 = ppl("k4-v4-g8-reorder-clip-sink5");
  const double p8 = ppl("k8-v8-g8-reorder-clip0.99-sink5");
  const double fp = ppl("fp16");
  EXPECT_GT(p2, p3);
  EXPECT_GT(p3, p4);
  EXPECT_GT(p4, p8);
  EXPECT_GE(p8, fp * 0.999);
  EXPECT_GT(ppl("k4-v4-g8-rtn"), ppl("k8-v8-g8-rtn"));
}

TEST_F(QuantPplTest, TwoBitSkvqBeatsRtnAtTheSameGroupSize) {
  for (int g : {8, 16}) {
    const std::string gs = std::to_string(g);
    const double skvq = ppl("k2-v2-g" + gs + "-reorder-clip-sink5-fp8");
    const double rtn = ppl("k2-v2-g" + gs + "-rtn");
    EXPECT_LT(skvq, rtn) << "g" << g;
  }
  // Each ingredient helps on its own at 2 bits, g8.
  EXPECT_LT(ppl("k2-v2-g8-reorder-sink5"), ppl("k2-v2-g8-sink5"));
  EXPECT_LT(ppl("k2-v2-g8-reorder-clip-sink5"), ppl("k2-v2-g8-reorder-sink5"));
  EXPECT_LT(ppl("k2-v2-g8-reorder-pre_rope-clip-sink5"), ppl("k2-v2-g8-reorder-clip-sink5"));
}

TEST_F(QuantPplTest, TernaryValuesAndKiviRun) {
  const double v15 = ppl("k2-v1.5-g8-reorder-clip-sink5-fp8");
  const double v2 = ppl("k2-v2-g8-reorder-clip-sink5-fp8");
  EXPECT_TRUE(std::isfinite(v15));
  EXPECT_GT(v15, v2);  // fewer levels, more error
  EXPECT_LT(v15, 2 * v2);
  const double kivi = ppl("k2-v2-g8-KIVI");
  EXPECT_TRUE(std::isfinite(kivi));
  EXPECT_GT(kivi, ppl("fp16"));
  EXPECT_LT(ppl("k4-v4-g8-KIVI"), kivi);
  // Values are far less sensitive than keys in this model: 2-bit values alone cost little.
  EXPECT_LT(ppl("k16-v2-g8-reorder-clip-sink5") / ppl("fp16"), 1.1);
}
