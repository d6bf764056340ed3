// Attention locality, per-group quantization error, and a real analysis of 200 tokens.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <atomic>
#include <filesystem>

#include "skvq/analyze.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;
namespace fs = std::filesystem;

TEST(Analyze, LocalityOfHandMadeProbabilities) {
  // One head, uniform causal attention over 3 tokens:
  // row0 [1, 0, 0], row1 [1/2, 1/2, 0], row2 [1/3, 1/3, 1/3].
  auto p = at::zeros({1, 1, 3, 3}, at::kFloat);
  p[0][0][0][0] = 1.0;
  p[0][0][1][0] = 0.5;
  p[0][0][1][1] = 0.5;
  for (int j = 0; j < 3; ++j) p[0][0][2][j] = 1.0 / 3.0;
  auto L = attention_locality(p, {1}, {2});
  EXPECT_EQ(L.bin_edges, (std::vector<int64_t>{0, 1, 2, 4}));
  ASSERT_EQ(L.mass.size(), 1u);
  ASSERT_EQ(L.mass[0].size(), 3u);
  // distance 0: (1 + 1/2 + 1/3)/3; distance 1: (0 + 1/2 + 1/3)/3; distance 2-3: (1/3)/3.
  EXPECT_NEAR(L.mass[0][0], (1 + 0.5 + 1.0 / 3) / 3, 1e-6);
  EXPECT_NEAR(L.mass[0][1], (0.5 + 1.0 / 3) / 3, 1e-6);
  EXPECT_NEAR(L.mass[0][2], (1.0 / 3) / 3, 1e-6);
  // sink S=1: key 0 -> (1 + 1/2 + 1/3)/3; window W=2: distances 0,1 -> (1 + 1 + 2/3)/3.
  EXPECT_NEAR(L.sink_mass.at(1)[0], (1 + 0.5 + 1.0 / 3) / 3, 1e-6);
  EXPECT_NEAR(L.window_mass.at(2)[0], (1 + 1 + 2.0 / 3) / 3, 1e-6);

  // Queries that are the last 2 of 3 positions (Tq = 2 < Tk = 3): rows at positions 1 and 2.
  auto q = p.slice(2, 1, 3).contiguous();
  auto L2 = attention_locality(q, {1}, {1});
  EXPECT_NEAR(L2.mass[0][0], (0.5 + 1.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(L2.window_mass.at(1)[0], (0.5 + 1.0 / 3) / 2, 1e-6);
  EXPECT_THROW(attention_locality(at::zeros({3, 3}), {1}, {1}), ConfigError);
}

TEST(Analyze, GroupMseByHand) {
  auto x = at::tensor({0.0f, 1.0f, 2.0f, 3.0f}).reshape({1, 4});
  GroupQuantParams p;
  p.qmax = 1;
  // One group of 4: scale 3, codes round(x/3) = 0,0,1,1 -> 0,0,3,3; errors 0,1,1,0 -> MSE 0.5.
  auto one = group_mse(x, GroupLayout::contiguous(4, 4), p);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0], 0.5, 1e-9);
  // Contiguous pairs {0,1}, {2,3}: each exact with 1 bit.
  auto pairs = group_mse(x, GroupLayout::contiguous(4, 2), p);
  EXPECT_NEAR(pairs[0], 0.0, 1e-9);
  EXPECT_NEAR(pairs[1], 0.0, 1e-9);
  // Reordered pairs {0,3}, {1,2}: exact too; {0,2},{1,3} with values (0,2),(1,3) also exact; a
  // pair {0, 3} plus group of 1 and 2 sizes: offsets 0,2,3,4 with perm 0,3,1,2.
  GroupLayout r;
  r.perm = {0, 3, 1, 2};
  r.offsets = {0, 2, 3, 4};
  auto rr = group_mse(x, r, p);
  ASSERT_EQ(rr.size(), 3u);
  for (double e : rr) EXPECT_NEAR(e, 0.0, 1e-9);
  // Clip 0.5 on one group of 4: lo 0, hi 1.5, scale 1.5: codes 0,1,1,1 -> 0,1.5,1.5,1.5;
  // errors 0, 0.25, 0.25, 2.25 -> MSE 0.6875.
  p.clip_ratio = 0.5f;
  EXPECT_NEAR(group_mse(x, GroupLayout::contiguous(4, 4), p)[0], 0.6875, 1e-9);
  EXPECT_THROW(group_mse(x, GroupLayout::contiguous(8, 4), p), ConfigError);
  EXPECT_EQ(analysis_group_size(QuantConfig::parse("k2-v2-g16"), 32), 16);
  EXPECT_EQ(analysis_group_size(QuantConfig::parse("fp16"), 32), 8);
  EXPECT_EQ(analysis_group_size(QuantConfig::parse("fp16"), 4096), 128);
}

TEST(Analyze, TwoHundredTokensOfTinyStories) {
  ModelWeights w = load_model(test::stories_model());
  auto tok = load_tokenizer_for(test::stories_model(), "", 512);
  const std::string text = test::data("text/tinystories/tinystories_val.txt");
  auto tokens = tok->encode(read_text(text, 4000), true);
  ASSERT_GE(tokens.size(), 200u);
  tokens.resize(200);
  const std::string dir = test::temp_dir("analyze");
  RunStore store(dir + "/runs.sqlite");
  const int64_t model_id = register_model(store, w, *tok);
  Model model(std::move(w));
  AnalyzeOptions opt;
  opt.sinks = {1, 5};
  opt.windows = {16, 64};
  auto cfg = QuantConfig::parse("k2-v2-g8-reorder-clip-sink5");
  auto r = run_analyze(model, tokens, text, cfg, nullptr, store, model_id, std::nullopt, opt);
  EXPECT_FALSE(r.reused);
  auto run = store.get_run(r.run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, "done");
  EXPECT_EQ(run->params["tokens"], 200);
  EXPECT_EQ(run->params["quant"], cfg.to_string());
  EXPECT_EQ(r.metrics["layers"], 5);
  EXPECT_EQ(r.metrics["heads"], 8);
  EXPECT_EQ(store.items(r.run_id).size(), 20u);  // 4 kinds x 5 layers

  for (int l = 0; l < 5; ++l) {
    auto loc = store.item(r.run_id, "locality/layer" + std::to_string(l));
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc->data["bin_edges"], nlohmann::json({0, 1, 2, 4, 8, 16, 32, 64, 128, 256}));
    ASSERT_EQ(loc->data["mass"].size(), 8u);
    for (const auto& head : loc->data["mass"]) {
      double s = 0;
      for (double m : head) s += m;
      EXPECT_NEAR(s, 1.0, 1e-4);
    }
    for (int h = 0; h < 8; ++h) {
      const double s1 = loc->data["sink_mass"]["1"][h], s5 = loc->data["sink_mass"]["5"][h];
      const double w16 = loc->data["window_mass"]["16"][h], w64 = loc->data["window_mass"]["64"][h];
      EXPECT_LE(s1, s5 + 1e-12);
      EXPECT_LE(w16, w64 + 1e-12);
      // The window of 16 covers distances 0..15 = bins 0..4.
      double b = 0;
      for (int k = 0; k < 5; ++k) b += loc->data["mass"][h][k].get<double>();
      EXPECT_NEAR(w16, b, 1e-9);
    }
    auto ch = store.item(r.run_id, "channels/layer" + std::to_string(l));
    ASSERT_TRUE(ch);
    EXPECT_EQ(ch->data["group_size"], 8);
    EXPECT_EQ(ch->data["k"]["perm"].size(), 32u);
    EXPECT_EQ(ch->data["v"]["offsets"].size(), 5u);
    EXPECT_EQ(ch->data["k"]["offsets"].back(), 32);
    for (int c = 0; c < 32; ++c)
      EXPECT_LE(ch->data["k"]["min"][c].get<double>(), ch->data["k"]["max"][c].get<double>());
    auto ge = store.item(r.run_id, "group_error/layer" + std::to_string(l));
    ASSERT_TRUE(ge);
    EXPECT_EQ(ge->data["k"]["plain"].size(), 4u);
    EXPECT_EQ(ge->data["v"]["reorder_clip"].size(), 4u);
    for (const char* side : {"k", "v"})
      for (const char* kind : {"plain", "reorder", "reorder_clip"})
        for (double e : ge->data[side][kind]) EXPECT_GE(e, 0.0);
    auto ae = store.item(r.run_id, "attn_error/layer" + std::to_string(l));
    ASSERT_TRUE(ae);
    EXPECT_GT(ae->data["rel_error"].get<double>(), 0.0);
    EXPECT_LT(ae->data["rel_error"].get<double>(), 2.0);
  }
  // The whole analysis is stored: a second call computes nothing.
  auto again = run_analyze(model, tokens, text, cfg, nullptr, store, model_id, std::nullopt, opt);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.run_id, r.run_id);
  // Unquantized: attention output errors are exactly 0.
  auto fp = run_analyze(model, tokens, text, QuantConfig::parse("fp16"), nullptr, store, model_id, std::nullopt, opt);
  EXPECT_EQ(store.item(fp.run_id, "attn_error/layer0")->data["rel_error"], 0.0);
  fs::remove_all(dir);
}

// A cancelled analysis ends "interrupted" and a failing one "failed" with its message (both
// used to stay "running" forever).
TEST(Analyze, CancelledOrFailingRunsEndWithAStatus) {
  ModelWeights w = load_model(test::stories_model());
  auto tok = load_tokenizer_for(test::stories_model(), "", 512);
  const std::string text = test::data("text/tinystories/tinystories_val.txt");
  auto tokens = tok->encode(read_text(text, 2000), true);
  ASSERT_GE(tokens.size(), 64u);
  tokens.resize(64);
  RunStore store(test::temp_dir("analyze") + "/runs.sqlite");
  const int64_t model_id = register_model(store, w, *tok);
  Model model(std::move(w));
  AnalyzeOptions opt;
  opt.sinks = {1};
  opt.windows = {16};
  const auto cfg = QuantConfig::parse("k2-v2-g8-rtn");
  std::atomic<bool> cancel{true};
  EXPECT_THROW(run_analyze(model, tokens, text, cfg, nullptr, store, model_id, std::nullopt, opt, &cancel),
               Cancelled);
  auto runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "interrupted");

  Calibration wrong;  // a calibration of one layer: does not fit the 5-layer model
  wrong.num_layers = 1;
  wrong.kv_channels = 32;
  const auto other = QuantConfig::parse("k4-v4-g8-rtn");
  try {
    run_analyze(model, tokens, text, other, &wrong, store, model_id, std::nullopt, opt);
    ADD_FAILURE() << "a mismatched calibration was accepted";
  } catch (const ConfigError& e) {
    runs = store.list_runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[1].status, "failed");
    EXPECT_EQ(runs[1].metrics.value("error", std::string()), e.what());
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  // The interrupted run is resumed (same id) and ends done.
  auto r = run_analyze(model, tokens, text, cfg, nullptr, store, model_id, std::nullopt, opt);
  EXPECT_EQ(r.run_id, runs[0].id);
  EXPECT_EQ(store.get_run(r.run_id)->status, "done");
}
