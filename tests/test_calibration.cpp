// Calibration: k-means on hand-made points, determinism, file round trip, wrong-model errors.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/quant_config.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;

TEST(KMeans, SeparatesObviousClustersAndNumbersThemCanonically) {
  // Three tight clusters around x = 10, 0, 5 (given out of order).
  std::vector<float> x{10, 10.1f, 9.9f, 0, 0.1f, -0.1f, 5, 5.1f, 4.9f};
  std::vector<float> y{1, 1, 1, 2, 2, 2, 3, 3, 3};
  auto labels = kmeans_2d(x, y, 3, 42);
  EXPECT_EQ(labels, (std::vector<int32_t>{2, 2, 2, 0, 0, 0, 1, 1, 1}));  // numbered by rising centre x
  auto c = clusters_from_labels(labels, 3);
  EXPECT_EQ(c.perm, (std::vector<int64_t>{3, 4, 5, 6, 7, 8, 0, 1, 2}));
  EXPECT_EQ(c.offsets, (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(kmeans_2d(x, y, 3, 7), labels);  // another seed finds the same optimum
  EXPECT_THROW(kmeans_2d(x, y, 10, 1), ConfigError);
  EXPECT_THROW(kmeans_2d(x, y, 0, 1), ConfigError);
}

class CalibrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lm_ = new LoadedModel(load_model_for_eval(test::stories_model(), test::stories_tokenizer()));
    tokens_ = new std::vector<int32_t>(tokenize_text_file(*lm_->tokenizer, test::data("text/wikitext2/wiki.test.raw"), 200000));
  }
  static void TearDownTestSuite() {
    delete lm_;
    delete tokens_;
  }
  static CalibrationOptions options() {
    CalibrationOptions o;
    o.samples = 8;
    o.seq_len = 256;
    o.group_sizes = {8, 16};
    o.seed = 99;
    return o;
  }
  static LoadedModel* lm_;
  static std::vector<int32_t>* tokens_;
};
LoadedModel* CalibrationTest::lm_ = nullptr;
std::vector<int32_t>* CalibrationTest::tokens_ = nullptr;

TEST_F(CalibrationTest, IsDeterministicForASeedAndRecordsRealRanges) {
  Calibration a = calibrate(*lm_->model, *tokens_, options());
  Calibration b = calibrate(*lm_->model, *tokens_, options());
  ASSERT_EQ(a.layers.size(), 5u);
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].k.min, b.layers[l].k.min);
    EXPECT_EQ(a.layers[l].v.absmax, b.layers[l].v.absmax);
    EXPECT_EQ(a.layers[l].k_clusters.at(8).labels, b.layers[l].k_clusters.at(8).labels);
    EXPECT_EQ(a.layers[l].v_clusters.at(16).perm, b.layers[l].v_clusters.at(16).perm);
    for (size_t c = 0; c < 32; ++c) {
      EXPECT_LE(a.layers[l].k.min[c], a.layers[l].k.max[c]);
      EXPECT_FLOAT_EQ(a.layers[l].k.absmax[c], std::max(-a.layers[l].k.min[c], a.layers[l].k.max[c]));
    }
    // 32 channels in groups of 8: 4 clusters whose sizes add up to 32.
    EXPECT_EQ(a.layers[l].k_clusters.at(8).offsets.back(), 32);
    EXPECT_LE(a.layers[l].k_clusters.at(8).offsets.size(), 5u);
  }
  // The statistics are those of the K/V projections on the sampled text: with a text of exactly
  // L tokens the only sample is the whole text, so they equal a direct forward pass.
  struct Probe : ForwardObserver {
    void on_kv(int64_t layer, const at::Tensor& k, const at::Tensor& v) override {
      if (layer != 2) return;
      kmin = std::get<0>(k.reshape({-1, 32}).min(0));
      vabs = std::get<0>(v.reshape({-1, 32}).abs().max(0));
    }
    at::Tensor kmin, vabs;
  } probe;
  std::vector<int32_t> exact(tokens_->begin(), tokens_->begin() + 256);
  CalibrationOptions one = options();
  one.samples = 1;
  Calibration c = calibrate(*lm_->model, exact, one);
  lm_->model->forward(at::tensor(std::vector<int64_t>(exact.begin(), exact.end()), at::kLong).unsqueeze(0), nullptr, &probe);
  for (int ch = 0; ch < 32; ++ch) {
    EXPECT_FLOAT_EQ(c.layers[2].k.min[ch], probe.kmin[ch].item<float>());
    EXPECT_FLOAT_EQ(c.layers[2].v.absmax[ch], probe.vabs[ch].item<float>());
  }
  Calibration other_seed = calibrate(*lm_->model, *tokens_, [] {
    auto o = options();
    o.seed = 100;
    return o;
  }());
  EXPECT_NE(other_seed.layers[0].k.max, a.layers[0].k.max);  // other samples, other ranges
}

TEST_F(CalibrationTest, FileRoundTripsAndRejectsAnotherModel) {
  Calibration a = calibrate(*lm_->model, *tokens_, options());
  a.text_path = "wiki.test.raw";
  a.text_sha256 = "abc";
  const std::string dir = test::temp_dir("calib");
  a.save(dir + "/c.json");
  Calibration b = Calibration::load(dir + "/c.json");
  EXPECT_EQ(b.samples, 8);
  EXPECT_EQ(b.seq_len, 256);
  EXPECT_EQ(b.seed, 99u);
  EXPECT_EQ(b.group_sizes, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(b.weights_fingerprint, a.weights_fingerprint);
  for (size_t l = 0; l < 5; ++l) {
    EXPECT_EQ(b.layers[l].k.min, a.layers[l].k.min);  // floats survive exactly
    EXPECT_EQ(b.layers[l].v.max, a.layers[l].v.max);
    EXPECT_EQ(b.layers[l].k_clusters.at(16).perm, a.layers[l].k_clusters.at(16).perm);
    EXPECT_EQ(b.layers[l].v_clusters.at(8).offsets, a.layers[l].v_clusters.at(8).offsets);
  }
  EXPECT_NO_THROW(b.check_model(lm_->model->weights(), dir + "/c.json"));
  auto layout = b.layout(1, true, QuantConfig::parse("k2-v2-g8-reorder-smooth"));
  EXPECT_EQ(layout.perm, a.layers[1].k_clusters.at(8).perm);
  EXPECT_FLOAT_EQ(layout.smooth[3], 1.0f / a.layers[1].k.absmax[3]);
  EXPECT_THROW(b.layout(1, true, QuantConfig::parse("k2-v2-g32-reorder")), ConfigError);  // g32 not calibrated

  // Another model: same shapes, one K weight changed.
  ModelWeights other = lm_->model->weights();
  other.layers[0].k_proj = other.layers[0].k_proj.clone();
  other.layers[0].k_proj[0][0] += 0.5f;
  try {
    b.check_model(other, dir + "/c.json");
    FAIL() << "calibration accepted for another model";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("calibration made for another model"), std::string::npos) << e.what();
  }
  // Truncated and foreign files.
  const std::string text = read_file(dir + "/c.json");
  std::ofstream(dir + "/trunc.json") << text.substr(0, text.size() / 2);
  try {
    Calibration::load(dir + "/trunc.json");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("trunc.json: malformed or truncated calibration file"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/other.json") << "{\"hello\": 1}";
  EXPECT_THROW(Calibration::load(dir + "/other.json"), FileError);
  EXPECT_THROW(Calibration::load(dir + "/missing.json"), FileError);
  EXPECT_THROW(a.save(dir + "/no/such/dir/c.json"), FileError);
  std::filesystem::remove_all(dir);
}
