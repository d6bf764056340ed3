// Needle-in-a-haystack: grids, haystack, insertion position, and a small real grid on
// stories260K stored and resumed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

TEST(Needle, LinearLengthsAndDepthGrids) {
  EXPECT_EQ(linear_lengths(100, 500, 5), (std::vector<int64_t>{100, 200, 300, 400, 500}));
  EXPECT_EQ(linear_lengths(128, 512, 3), (std::vector<int64_t>{128, 320, 512}));
  EXPECT_EQ(linear_lengths(100, 200, 1), (std::vector<int64_t>{100}));
  // linspace(0, 100, 4) = 0, 33.33, 66.67, 100 -> rounded.
  EXPECT_EQ(depth_percent_grid(0, 100, 4, "linear"), (std::vector<double>{0, 33, 67, 100}));
  // sigmoid: ends kept; x = 50 -> 50; x = 25 -> 100/(1+e^2.5) = 7.586 (3 decimals).
  auto s = depth_percent_grid(0, 100, 5, "sigmoid");
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0], 0.0);
  EXPECT_NEAR(s[1], 7.586, 1e-9);
  EXPECT_NEAR(s[2], 50.0, 1e-9);
  EXPECT_NEAR(s[3], 92.414, 1e-9);
  EXPECT_EQ(s[4], 100.0);
  EXPECT_THROW(depth_percent_grid(0, 120, 3, "linear"), ConfigError);
  EXPECT_THROW(depth_percent_grid(0, 100, 3, "cubic"), ConfigError);
  EXPECT_THROW(linear_lengths(100, 50, 3), ConfigError);
}

TEST(Needle, InsertionPointAtSentenceBoundary) {
  //                              0       1     2      3      4     5      6     7
  std::vector<std::string> p{" One", " day", ".", " The", " cat", " sat.", " It", " ran"};
  EXPECT_EQ(needle_insertion_point(p, 0), 0);
  EXPECT_EQ(needle_insertion_point(p, 100), 8);
  // 50% -> start 4; token 3 (" The") does not end a sentence, token 2 (".") does -> 3.
  EXPECT_EQ(needle_insertion_point(p, 50), 3);
  // 80% -> floor(6.4) = 6; token 5 " sat." ends a sentence -> 6.
  EXPECT_EQ(needle_insertion_point(p, 80), 6);
  // 30% -> floor(2.4) = 2; token 1 " day" no, token 0 no -> 0.
  EXPECT_EQ(needle_insertion_point(p, 30), 0);
  EXPECT_THROW(needle_insertion_point(p, 101), ConfigError);
  EXPECT_THROW(needle_insertion_point(p, -1), ConfigError);
}

TEST(Needle, HaystackSortedConcatenation) {
  std::string dir = test::temp_dir("haystack");
  ASSERT_FALSE(dir.empty());
  std::ofstream(dir + "/b.txt") << "Second.";
  std::ofstream(dir + "/a.txt") << "First. ";
  std::ofstream(dir + "/notes.md") << "ignored";
  EXPECT_EQ(load_haystack(dir), "First. Second.");
  EXPECT_THROW(load_haystack(dir + "/missing"), FileError);
  fs::create_directory(dir + "/empty");
  EXPECT_THROW(load_haystack(dir + "/empty"), FileError);
  fs::remove_all(dir);
}

TEST(Needle, TemplateAndScores) {
  EXPECT_EQ(fill_needle_template("A {context} B {question} C {context}", "x", "q?"), "A x B q? C x");
  NeedleOptions opt;
  auto s = score_needle_response("Eat a sandwich and sit in Dolores Park.", opt, nullptr);
  // response 8 rouge tokens, needle 21: all 8 shared and in order. P = 1, R = 8/21,
  // F = 2R/(1+R) = 16/29.
  EXPECT_NEAR(s.rouge1_f, 16.0 / 29.0, 1e-12);
  EXPECT_NEAR(s.rougeL_f, 16.0 / 29.0, 1e-12);
  EXPECT_TRUE(s.contains);
  EXPECT_EQ(s.agreement_rougeL, 1.0);
  std::string fp = "eat a sandwich";
  auto q = score_needle_response("sit in the park", opt, &fp);
  EXPECT_FALSE(q.contains);
  EXPECT_EQ(q.agreement_rougeL, 0.0);
  EXPECT_EQ(needle_cell_key(256, 50), "L256_D50.0");
  EXPECT_EQ(needle_cell_key(1000, 7.586), "L1000_D7.6");
}

TEST(Needle, OptionsValidation) {
  NeedleOptions opt;
  opt.context_lengths = {256};
  opt.depth_percents = {50, 120};
  opt.buffer_tokens = 32;
  EXPECT_THROW(opt.validate(), ConfigError);
  opt.depth_percents = {50};
  EXPECT_NO_THROW(opt.validate());
  opt.context_lengths = {16};
  EXPECT_THROW(opt.validate(), ConfigError);
}

TEST(Needle, ContextWithRealTokenizer) {
  auto tok = load_llama2c_tokenizer(test::stories_tokenizer(), 512);
  std::string hay = load_haystack(test::data("text/needle/PaulGrahamEssays"));
  auto hay_tokens = tok->encode(hay.substr(0, 20000), false);
  auto needle = tok->encode(kDefaultNeedle, false);
  for (double depth : {0.0, 37.0, 50.0, 100.0}) {
    auto ctx = build_needle_context(*tok, hay_tokens, needle, 300, 40, depth);
    EXPECT_EQ(static_cast<int64_t>(ctx.tokens.size()), 260);
    EXPECT_EQ(ctx.needle_len, static_cast<int64_t>(needle.size()));
    std::vector<int32_t> got(ctx.tokens.begin() + ctx.needle_pos,
                             ctx.tokens.begin() + ctx.needle_pos + ctx.needle_len);
    EXPECT_EQ(got, needle);
    const int64_t hay_len = 260 - ctx.needle_len;
    EXPECT_LE(ctx.needle_pos, static_cast<int64_t>(hay_len * depth / 100.0));
    if (depth == 100.0) EXPECT_EQ(ctx.needle_pos, hay_len);
    if (ctx.needle_pos > 0 && depth < 100.0) {  // depth 100 appends at the very end
      std::string before = tok->decode_token(ctx.tokens[ctx.needle_pos - 2], ctx.tokens[ctx.needle_pos - 1]);
      EXPECT_EQ(before.substr(before.find_last_not_of(" \n") ), ".") << "depth " << depth;
    }
    // The decoded context holds the needle sentence.
    EXPECT_NE(tok->decode(ctx.tokens).find("Dolores Park on a sunny day."), std::string::npos);
  }
  EXPECT_THROW(build_needle_context(*tok, hay_tokens, needle, 50, 40, 50), ConfigError);
}

TEST(Needle, SmallGridStoredAndResumed) {
  ModelWeights w = load_model(test::stories_model());
  auto tok = load_tokenizer_for(test::stories_model(), "", 512);
  const std::string dir = test::temp_dir("needle-grid");
  RunStore store(dir + "/runs.sqlite");
  const int64_t model_id = register_model(store, w, *tok);
  Model model(std::move(w));
  NeedleOptions opt;
  opt.haystack_dir = test::data("text/needle/PaulGrahamEssays");
  opt.context_lengths = {160, 256};
  opt.depth_percents = {25, 75};
  opt.buffer_tokens = 32;
  opt.max_new_tokens = 12;
  std::vector<QuantConfig> configs{QuantConfig::parse("k2-v2-g8-w16-clip-sink5")};  // fp added first
  auto runs = run_needle(model, *tok, configs, nullptr, store, model_id, std::nullopt, opt);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].config, "fp16");
  EXPECT_EQ(runs[1].config, configs[0].to_string());
  for (const auto& r : runs) {
    EXPECT_EQ(r.cells_computed, 4);
    EXPECT_EQ(r.cells_skipped, 0);
    EXPECT_EQ(r.metrics["cells"], 4);
    auto run = store.get_run(r.run_id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, "done");
    EXPECT_EQ(run->kind, "needle");
    EXPECT_EQ(run->params["context_lengths"], nlohmann::json({160, 256}));
    auto items = store.items(r.run_id);
    ASSERT_EQ(items.size(), 4u);
    auto cell = store.item(r.run_id, "L256_D75.0");
    ASSERT_TRUE(cell);
    EXPECT_EQ(cell->data["context_length"], 256);
    EXPECT_TRUE(cell->data["response"].is_string());
    EXPECT_FALSE(cell->data["response"].get<std::string>().empty());
    for (const auto* k : {"rouge1_f", "rougeL_f", "agreement_rougeL"}) {
      EXPECT_GE(cell->data[k].get<double>(), 0.0);
      EXPECT_LE(cell->data[k].get<double>(), 1.0);
    }
  }
  // The fp run agrees with itself; the quantized run's agreement is the ROUGE-L of the answers.
  EXPECT_EQ(runs[0].metrics["mean_agreement_rougeL"], 1.0);
  auto fp_cell = store.item(runs[0].run_id, "L160_D25.0");
  auto q_cell = store.item(runs[1].run_id, "L160_D25.0");
  ASSERT_TRUE(fp_cell && q_cell);
  std::string fp_resp = fp_cell->data["response"];
  auto rescored = score_needle_response(q_cell->data["response"], opt, &fp_resp);
  EXPECT_DOUBLE_EQ(q_cell->data["agreement_rougeL"].get<double>(), rescored.agreement_rougeL);

  // Second call: nothing new is computed.
  auto again = run_needle(model, *tok, configs, nullptr, store, model_id, std::nullopt, opt);
  ASSERT_EQ(again.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again[i].run_id, runs[i].run_id);
    EXPECT_EQ(again[i].cells_computed, 0);
    EXPECT_EQ(again[i].cells_skipped, 4);
    EXPECT_EQ(again[i].metrics, runs[i].metrics);
  }
  auto exported = needle_export_json(store, {runs[0].run_id, runs[1].run_id}, "stories260K");
  ASSERT_EQ(exported.size(), 8u);
  EXPECT_EQ(exported[0]["model"], "stories260K");
  EXPECT_EQ(exported[0]["context_length"], 160);
  EXPECT_EQ(exported[0]["depth_percent"], 25.0);
  EXPECT_EQ(exported[0]["version"], "fp16");
  EXPECT_EQ(exported[4]["version"], configs[0].to_string());
  EXPECT_NEAR(exported[0]["score"].get<double>(), 10.0 * fp_cell->data["rouge1_f"].get<double>(), 1e-12);

  opt.haystack_dir = dir + "/nowhere";
  EXPECT_THROW(run_needle(model, *tok, configs, nullptr, store, model_id, std::nullopt, opt), FileError);
  opt.haystack_dir = test::data("text/needle/PaulGrahamEssays");
  opt.depth_percents = {150};
  EXPECT_THROW(run_needle(model, *tok, configs, nullptr, store, model_id, std::nullopt, opt), ConfigError);
  fs::remove_all(dir);
}
