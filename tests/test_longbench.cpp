// LongBench / L-Eval loaders, task table, scoring, and a small real run on stories260K.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "skvq/error.h"
#include "skvq/longbench.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "skvq/session.h"
#include "test_util.h"

using namespace skvq;
namespace fs = std::filesystem;

namespace {
std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}
}  // namespace

TEST(LongBench, LoadsJsonlSkippingBlankLines) {
  const std::string dir = test::temp_dir("lb-load");
  const std::string f = write_file(dir + "/hotpotqa.jsonl",
      "{\"input\": \"Who?\", \"context\": \"Alice met Bob.\", \"answers\": [\"Alice\", \"Bob\"], "
      "\"length\": 3, \"dataset\": \"hotpotqa\", \"all_classes\": null}\n"
      "\n   \n"
      "{\"input\": \"Type?\", \"context\": \"ex\", \"answers\": [\"LOC\"], \"all_classes\": [\"LOC\", \"HUM\"]}\n");
  auto got = load_eval_jsonl(f);
  EXPECT_EQ(got.skipped_empty_lines, 2);
  ASSERT_EQ(got.samples.size(), 2u);
  EXPECT_EQ(got.samples[0].task, "hotpotqa");
  EXPECT_EQ(got.samples[0].answers, (std::vector<std::string>{"Alice", "Bob"}));
  EXPECT_EQ(got.samples[0].length, 3);
  EXPECT_TRUE(got.samples[0].all_classes.empty());
  EXPECT_EQ(got.samples[1].task, "hotpotqa");  // no dataset field: file stem
  EXPECT_EQ(got.samples[1].index, 1);
  EXPECT_EQ(got.samples[1].line, 4);
  EXPECT_EQ(got.samples[1].all_classes.size(), 2u);

  // Indices continue across files of one task.
  std::map<std::string, int64_t> offsets;
  load_eval_jsonl(f, &offsets);
  auto second = load_eval_jsonl(f, &offsets);
  EXPECT_EQ(second.samples[0].index, 2);
  EXPECT_EQ(offsets["hotpotqa"], 4);

  const std::string bad = write_file(dir + "/bad.jsonl",
      "{\"input\": \"q\", \"context\": \"c\", \"answers\": [\"a\"]}\n\n{\"input\": \"q\", \"answers\": [\"a\"]}\n");
  try {
    load_eval_jsonl(bad);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.jsonl"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("context"), std::string::npos) << msg;
  }
  write_file(dir + "/broken.jsonl", "{\"input\": \n");
  EXPECT_THROW(load_eval_jsonl(dir + "/broken.jsonl"), FileError);
  EXPECT_THROW(load_eval_jsonl(dir + "/missing.jsonl"), FileError);
  fs::remove_all(dir);
}

TEST(LongBench, LoadsLEvalOneSamplePerInstruction) {
  const std::string path = test::data("text/leval/topic_retrieval_longchat.jsonl");
  auto got = load_eval_jsonl(path);
  // 50 records with 3 instructions each.
  ASSERT_EQ(got.samples.size(), 150u);
  EXPECT_EQ(got.samples[0].task, "topic_retrieval_longchat");
  EXPECT_EQ(got.samples[0].answers, (std::vector<std::string>{"The role of art in society"}));
  EXPECT_EQ(got.samples[1].answers, (std::vector<std::string>{"The future of space tourism"}));
  EXPECT_EQ(got.samples[0].context, got.samples[2].context);
  EXPECT_NE(got.samples[0].context, got.samples[3].context);
  EXPECT_EQ(got.samples[149].index, 149);
  EXPECT_EQ(got.samples[149].line, 50);
}

TEST(LongBench, TaskTableMatchesResourceFile) {
  auto builtin = builtin_task_table();
  EXPECT_EQ(builtin.size(), 19u);
  EXPECT_EQ(builtin.at("hotpotqa").max_new_tokens, 32);
  EXPECT_EQ(builtin.at("gov_report").metric, "rouge_l");
  EXPECT_TRUE(builtin.at("trec").first_line);
  const fs::path res = fs::path(__FILE__).parent_path().parent_path() / "resources/longbench_tasks.json";
  ASSERT_TRUE(fs::exists(res)) << res;
  auto file = load_task_table(res.string());
  EXPECT_EQ(task_table_json(file), task_table_json(builtin));

  EXPECT_THROW(parse_task_table(nlohmann::json::parse(R"({"x": {"prompt": "p", "max_new_tokens": 4}})"), "t.json"),
               FileError);
  EXPECT_THROW(parse_task_table(nlohmann::json::parse(R"({"x": {"prompt": "p", "max_new_tokens": 4, "metric": "bleu"}})"), "t.json"),
               FileError);
}

TEST(LongBench, ScoringAndTemplates) {
  EvalSample s;
  s.input = "Q";
  s.context = "C";
  s.answers = {"Paris France", "Paris"};
  TaskSpec qa{"qa", "{context}|{input}|{context}", 8, "qa_f1", false};
  EXPECT_EQ(fill_task_template(qa.prompt_template, s), "C|Q|C");
  // max over answers: "Paris" matches exactly -> 1.
  EXPECT_EQ(score_sample(qa, "Paris", s), 1.0);
  // first_line: only "\n\nParis" first line "Paris" counts; without it the second line dilutes.
  TaskSpec fl = qa;
  fl.first_line = true;
  EXPECT_EQ(score_sample(fl, "\n\nParis\nLondon Berlin", s), 1.0);
  // without first_line: pred {paris, london, berlin} vs {paris}: P 1/3, R 1 -> 0.5; vs {paris,
  // france}: P 1/3 R 1/2 -> 0.4; max 0.5.
  EXPECT_NEAR(score_sample(qa, "\n\nParis\nLondon Berlin", s), 0.5, 1e-12);
  EvalSample c;
  c.answers = {"LOC"};
  c.all_classes = {"LOC", "HUM"};
  TaskSpec cls{"trec", "", 8, "classification", true};
  EXPECT_EQ(score_sample(cls, "LOC\nHUM", c), 1.0);
  EXPECT_EQ(score_answer("retrieval", "Paragraph 4", "Paragraph 4", {}), 1.0);
  EXPECT_EQ(score_answer("contains", "it was The role of music in society, yes", "The role of music in society", {}), 1.0);
  EXPECT_THROW(score_answer("bleu", "a", "a", {}), ConfigError);
}

TEST(LongBench, SmallRunTruncatesStoresAndResumes) {
  const std::string dir = test::temp_dir("lb-run");
  // Two samples with contexts far over the 96-token prompt limit (middle truncation).
  std::string ctx;
  for (int i = 0; i < 60; ++i) ctx += "Tom had a red ball. ";
  nlohmann::json a = {{"input", "What did Tom have?"}, {"context", ctx}, {"answers", {"a red ball"}},
                      {"length", 300}, {"dataset", "multifieldqa_en"}, {"all_classes", nullptr}};
  nlohmann::json b = a;
  b["input"] = "What color was the ball?";
  b["answers"] = {"red"};
  const std::string f = write_file(dir + "/mf.jsonl", a.dump() + "\n" + b.dump() + "\n");
  auto samples = load_eval_jsonl(f).samples;

  ModelWeights w = load_model(test::stories_model());
  auto tok = load_tokenizer_for(test::stories_model(), "", 512);
  RunStore store(dir + "/runs.sqlite");
  const int64_t model_id = register_model(store, w, *tok);
  Model model(std::move(w));
  TaskTable tasks = builtin_task_table();
  tasks["multifieldqa_en"].max_new_tokens = 8;
  LongBenchOptions opt;
  opt.max_prompt_tokens = 96;
  std::vector<QuantConfig> configs{QuantConfig::parse("fp16"), QuantConfig::parse("k2-v2-g8-sink5")};
  auto runs = run_longbench(model, *tok, configs, nullptr, store, model_id, std::nullopt, samples, tasks, f,
                            sha256_file(f), opt);
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r.computed, 2);
    auto run = store.get_run(r.run_id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, "done");
    EXPECT_EQ(run->params["max_prompt_tokens"], 96);
    EXPECT_EQ(run->params["tasks"], nlohmann::json({"multifieldqa_en"}));
    auto items = store.items(r.run_id);
    ASSERT_EQ(items.size(), 2u);
    double sum = 0;
    for (const auto& it : items) {
      EXPECT_EQ(it.data["prompt_tokens"], 88);  // truncated to 96 - 8
      EXPECT_EQ(it.data["metric"], "qa_f1");
      const double sc = it.data["score"];
      // The stored score is the metric of the stored prediction.
      EvalSample s = samples[it.data["index"].get<int64_t>()];
      EXPECT_DOUBLE_EQ(sc, score_sample(tasks.at("multifieldqa_en"), it.data["prediction"], s));
      sum += sc;
    }
    EXPECT_NEAR(r.metrics["tasks"]["multifieldqa_en"]["score"].get<double>(), 100.0 * sum / 2, 1e-9);
    EXPECT_EQ(r.metrics["tasks"]["multifieldqa_en"]["samples"], 2);
    EXPECT_NEAR(r.metrics["average"].get<double>(), 100.0 * sum / 2, 1e-9);
    EXPECT_TRUE(store.item(r.run_id, "multifieldqa_en/1").has_value());
  }
  auto again = run_longbench(model, *tok, configs, nullptr, store, model_id, std::nullopt, samples, tasks, f,
                             sha256_file(f), opt);
  EXPECT_EQ(again[0].computed, 0);
  EXPECT_EQ(again[0].skipped, 2);
  EXPECT_EQ(again[1].run_id, runs[1].run_id);

  samples[0].task = "unknown_task";
  EXPECT_THROW(run_longbench(model, *tok, configs, nullptr, store, model_id, std::nullopt, samples, tasks, f,
                             sha256_file(f), opt),
               ConfigError);
  fs::remove_all(dir);
}
