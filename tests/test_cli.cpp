// The `skvq` command line on real data: bad input gives a clear error and a non-zero exit;
// batch jobs store their runs, resume, and keep finished runs on Ctrl-C. Run identity and
// shared stores: test_cli_store.cpp.
#include "cli_fixture.h"
#include "skvq/common.h"
#include "test_util.h"

using skvq::read_file;
using namespace skvq::test;

TEST_F(Cli, GenerateGreedyPrintsTheReferenceStory) {
  auto r = run(db() + " generate --model '" + model_ + "' --prompt 'Once upon a time' --max-new-tokens 40 --temperature 0");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", 0), 0u) << r.out;
}

TEST_F(Cli, PplJsonHasOneObjectPerConfiguration) {
  auto r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --ctx-len 256 --max-chunks 6 --quant k8-v8-g8 k2-v2-g8-rtn --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  ASSERT_EQ(j["configs"].size(), 3u);  // fp16 first, then the two asked for
  EXPECT_EQ(j["configs"][0]["config"], "fp16");
  EXPECT_EQ(j["configs"][2]["config"], "k2-v2-g8-rtn");
  const double fp = j["configs"][0]["ppl"], k8 = j["configs"][1]["ppl"], k2 = j["configs"][2]["ppl"];
  EXPECT_LT(std::abs(k8 / fp - 1), 0.01);
  EXPECT_GT(k2, k8);
  EXPECT_DOUBLE_EQ(j["configs"][1]["bits_k"].get<double>(), 8 + 32.0 / 8);
  EXPECT_DOUBLE_EQ(j["configs"][2]["kv_bytes_per_token"].get<double>(), 2 * 5 * 32 * (2 + 32.0 / 8) / 8);
  EXPECT_DOUBLE_EQ(j["configs"][0]["kv_bytes_per_token"].get<double>(), 2 * 5 * 32 * 2);
  EXPECT_EQ(j["configs"][0]["tokens"], 6 * 255);
}

TEST_F(Cli, MalformedConfigurationsFailBeforeRunning) {
  struct Case {
    const char* quant;
    const char* message;
  };
  for (const Case& c : {Case{"k9-v2-g8", "k9: bits must be one of"}, Case{"k2-v2-g0", "g0: group size must be positive"},
                        Case{"k2-v2-g128", "group size 128 does not fit the 32 K/V channels"},
                        Case{"k2-v2-g8-fast", "fast: unknown option"},
                        Case{"k2-v2-g8-reorder", "needs a calibration file"}}) {
    auto r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --quant " + c.quant);
    EXPECT_EQ(r.code, 1) << c.quant << ": " << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.quant << ": " << r.out;
    EXPECT_EQ(r.out.find("PPL"), std::string::npos) << "ran although the configuration is bad";
  }
}

TEST_F(Cli, BadModelFilesNameTheFileAndTheProblem) {
  const std::string bytes = read_file(model_);
  std::ofstream(dir_ + "/truncated.bin", std::ios::binary) << bytes.substr(0, 5000);
  auto r = run("info --model '" + dir_ + "/truncated.bin'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(dir_ + "/truncated.bin: truncated llama2.c checkpoint"), std::string::npos) << r.out;
  r = run("info --model '" + dir_ + "/nothing.bin'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("nothing.bin: no such model"), std::string::npos) << r.out;

  // A Hugging Face directory whose safetensors header claims more bytes than the file has.
  fs::create_directories(dir_ + "/hf");
  std::ofstream(dir_ + "/hf/config.json") << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
    "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512, "rms_norm_eps": 1e-5})";
  {
    std::ofstream f(dir_ + "/hf/model.safetensors", std::ios::binary);
    const uint64_t n = 1 << 20;
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << "{}";
  }
  r = run("info --model '" + dir_ + "/hf'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("header"), std::string::npos) << r.out;
  // A config.json without hidden_size.
  std::ofstream(dir_ + "/hf/config.json") << R"({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 5})";
  r = run("info --model '" + dir_ + "/hf'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("config.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hidden_size"), std::string::npos) << r.out;
}

TEST_F(Cli, CalibrationOfAnotherModelIsRejected) {
  const std::string cal = dir_ + "/cal.json";
  auto r = run(db() + " calibrate --model '" + model_ + "' --text '" + text_ + "' --max-bytes 60000 --samples 4 --seq-len 128 --group-sizes 8,16 --out '" + cal + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(read_file(cal));
  EXPECT_EQ(j["model"]["sha256"], "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
  // A bfloat16 load of the same checkpoint rounds the K/V weights (their fingerprint differs):
  // the checkpoint's sha256 still identifies the model, so the calibration serves it.
  r = run(db() + " --dtype bfloat16 ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + cal +
          "' --quant k2-v2-g8-reorder");
  EXPECT_EQ(r.code, 0) << r.out;
  // ... and the other way round: a calibration made from bfloat16 weights serves float32 runs.
  const std::string cal16 = dir_ + "/cal-bf16.json";
  r = run(db() + " --dtype bfloat16 calibrate --model '" + model_ + "' --text '" + text_ +
          "' --max-bytes 60000 --samples 4 --seq-len 128 --group-sizes 8 --out '" + cal16 + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(read_file(cal16))["model"]["weights_dtype"], "bfloat16");
  r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + cal16 +
          "' --quant k2-v2-g8-reorder");
  EXPECT_EQ(r.code, 0) << r.out;
  j["model"]["weights_fingerprint"] = "0000";  // as if made for other weights of the same shape
  j["model"]["sha256"] = std::string(64, 'a');  // (and another checkpoint file)
  std::ofstream(dir_ + "/other.json") << j.dump();
  r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + dir_ + "/other.json' --quant k2-v2-g8-reorder");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("other.json: calibration made for another model"), std::string::npos) << r.out;
  r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + cal + "' --quant k2-v2-g32-reorder");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no channel clusters for group size 32"), std::string::npos) << r.out;
}

TEST_F(Cli, Float16OnTheCpuIsAClearError) {
  // LibTorch has no float16 matmul on the CPU: refused before the model loads, exit 1.
  for (const char* cmd : {" ppl --max-chunks 1 --text '", " calibrate --samples 1 --seq-len 16 --out /dev/null --text '"}) {
    auto r = run(db() + " --dtype float16" + cmd + text_ + "' --model '" + model_ + "'");
    EXPECT_EQ(r.code, 1) << cmd << r.out;
    EXPECT_NE(r.out.find("dtype float16 runs on CUDA only"), std::string::npos) << r.out;
  }
}

TEST_F(Cli, UnwritableDatabaseIsAClearError) {
  auto r = run("--db /proc/skvq-test.sqlite ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("/proc/skvq-test.sqlite"), std::string::npos) << r.out;
}

TEST_F(Cli, BatchStoresResumesAndKeepsFinishedRunsOnCtrlC) {
  nlohmann::json job = {{"model", "models/stories260K/stories260K.bin"},
                        {"calibration", {{"file", dir_ + "/cal.json"}, {"text", "text/wikitext2/wiki.test.raw"}, {"max_bytes", 100000},
                                         {"samples", 4}, {"seq_len", 256}, {"group_sizes", {8}}}},
                        {"ppl", {{"text", "text/tinystories/tinystories_val.txt"}, {"ctx_len", 256}, {"max_chunks", 8}}},
                        {"configs", {"fp16", "k2-v2-g8-reorder-clip-sink5-fp8", "k2-v2-g8-rtn"}}};
  std::ofstream(dir_ + "/job.json") << job.dump(2);
  auto r = run(db() + " batch '" + dir_ + "/job.json'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir_ + "/cal.json"));
  EXPECT_NE(r.out.find("k2-v2-g8-reorder-clip-sink5-fp8"), std::string::npos);
  EXPECT_NE(r.out.find("fp16 (unquantized)"), std::string::npos);
  EXPECT_EQ(count_runs(dir_ + "/runs.sqlite"), 3);
  r = run(db() + " batch '" + dir_ + "/job.json'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("stored as run 3, skipped"), std::string::npos) << r.out;
  EXPECT_EQ(count_runs(dir_ + "/runs.sqlite"), 3);

  // A longer job interrupted after its first run: exit 130, the finished run stays.
  job["ppl"]["max_chunks"] = 200;
  job["configs"] = {"fp16", "k4-v4-g8-rtn", "k3-v3-g8-rtn", "k2-v2-g16-rtn"};
  std::ofstream(dir_ + "/long.json") << job.dump(2);
  const std::string db2 = dir_ + "/long.sqlite";
  pid_t pid = fork();
  if (pid == 0) {
    setenv("SKVQ_DATA_DIR", skvq::test::data_dir().c_str(), 1);
    execl(skvq_bin().c_str(), "skvq", "--threads", "1", "--db", db2.c_str(), "batch", (dir_ + "/long.json").c_str(), nullptr);
    _exit(127);
  }
  int done = 0;
  for (int i = 0; i < 600 && done < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (fs::exists(db2)) done = count_runs(db2);
  }
  ASSERT_GE(done, 1) << "no run finished in 120 s";
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  const int stored = count_runs(db2);
  if (stored < 4) {
    EXPECT_EQ(WEXITSTATUS(status), 130);
  }
  EXPECT_GE(stored, 1);
  auto list = run("--db '" + db2 + "' runs list");
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_NE(list.out.find("fp16"), std::string::npos) << list.out;
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("nosuchcommand").code, 2);
  EXPECT_EQ(run("ppl --model '" + model_ + "' --text '" + text_ + "' --ctx-len 0").code, 2);
  EXPECT_EQ(run("generate --model '" + model_ + "' --top-p 1.5").code, 2);
}

TEST_F(Cli, BatchFileMistakesAreNamedAndSettingsChangesRecalibrate) {
  auto write_job = [&](const std::string& name, const nlohmann::json& j) {
    std::ofstream(dir_ + "/" + name) << j.dump(2);
    return "'" + dir_ + "/" + name + "'";
  };
  nlohmann::json base = {{"model", "models/stories260K/stories260K.bin"},
                         {"ppl", {{"text", "text/tinystories/tinystories_val.txt"}, {"ctx_len", 128}, {"max_chunks", 2}}}};
  auto j = base;
  j["model"] = 42;
  auto r = run(db() + " batch " + write_job("type.json", j));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("type.json: a field has the wrong type"), std::string::npos) << r.out;
  j = base;
  j["ppl"]["max_chunk"] = 1;
  r = run(db() + " batch " + write_job("typo.json", j));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("typo.json: unknown field \"max_chunk\" in \"ppl\""), std::string::npos) << r.out;
  j = base;
  j["ppl"]["ctx_len"] = 0;
  r = run(db() + " batch " + write_job("zero.json", j));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("ctx_len must be at least 2"), std::string::npos) << r.out;

  // The job's "db" is used when --db is not given on the command line.
  j = base;
  j["db"] = dir_ + "/job.sqlite";
  r = run("batch " + write_job("db.json", j));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count_runs(dir_ + "/job.sqlite"), 1);

  // A calibration made with other settings than the job asks for is made again.
  j = base;
  j["calibration"] = {{"file", dir_ + "/c.json"}, {"text", "text/wikitext2/wiki.test.raw"}, {"max_bytes", 50000},
                      {"samples", 2}, {"seq_len", 128}, {"group_sizes", {8}}, {"seed", 1}};
  j["configs"] = {"k2-v2-g8-reorder"};
  r = run(db() + " batch " + write_job("cal1.json", j));
  ASSERT_EQ(r.code, 0) << r.out;
  j["calibration"]["group_sizes"] = {16};
  j["configs"] = {"k2-v2-g16-reorder"};
  r = run(db() + " batch " + write_job("cal2.json", j));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("other settings than the job asks for; calibrating again"), std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ + "/c.json"))["group_sizes"], nlohmann::json({16}));
}

TEST_F(Cli, NeedlePromptAndAnswerFitTheContextLength) {
  auto r = run(db() + " needle --model '" + model_ + "' --quant fp16 --lengths 256,512 --depths 50 --max-new-tokens 16");
  ASSERT_EQ(r.code, 0) << r.out;
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/runs.sqlite").c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT data FROM run_items", -1, &st, nullptr), SQLITE_OK);
  int cells = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto d = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    EXPECT_LE(d["prompt_tokens"].get<int64_t>() + 16, d["context_length"].get<int64_t>()) << d.dump();
    EXPECT_GT(d["prompt_tokens"].get<int64_t>(), d["context_length"].get<int64_t>() / 2) << d.dump();
    ++cells;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  EXPECT_EQ(cells, 2);
}

TEST_F(Cli, InfoOnGgufShowsMetadataTensorTypesAndKvBytes) {
  SKVQ_REQUIRE_SMOLLM2();
  auto r = run("info --model '" + skvq::test::smollm2_model() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("GGUF version 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("general.architecture"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("num_key_value_heads 3, head_dim 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("float16 KV bytes per token 23040"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chat template: chatml"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vocabulary 49152 tokens"), std::string::npos) << r.out;
}

TEST_F(Cli, UnknownChatTemplateNameIsAConfigError) {
  for (const std::string sub : {"needle --quant fp16 --lengths 256 --depths 50", "generate", "longbench --data x.jsonl"}) {
    auto r = run(db() + " " + sub + " --model '" + model_ + "' --chat-template vicuna");
    EXPECT_EQ(r.code, 1) << sub << "\n" << r.out;
    EXPECT_NE(r.out.find("chat template \"vicuna\""), std::string::npos) << sub << "\n" << r.out;
  }
}

TEST_F(Cli, GenerateChatUsesTheModelsTemplate) {
  SKVQ_REQUIRE_SMOLLM2();
  auto r = run("generate --model '" + skvq::test::smollm2_model() +
               "' --chat --prompt 'What is the capital of France?' --max-new-tokens 8 --temperature 0");
  ASSERT_EQ(r.code, 0) << r.out;
  // transformers' greedy answer to this chat prompt (tests/reference/smollm2/greedy.json).
  EXPECT_NE(r.out.find("The capital of France is Paris."), std::string::npos) << r.out;
}

TEST_F(Cli, NeedleChatTemplateFitsTheContextAndIsPartOfTheRun) {
  SKVQ_REQUIRE_SMOLLM2();
  const std::string base = db() + " needle --model '" + skvq::test::smollm2_model() +
                           "' --quant fp16 --lengths 256 --depths 50 --max-new-tokens 8 --json";
  auto r = run(base);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["params"].value("chat_template", ""), "chatml") << j.dump();
  auto plain = run(base + " --chat-template none");
  ASSERT_EQ(plain.code, 0) << plain.out;
  const auto jp = nlohmann::json::parse(plain.out.substr(plain.out.find('{')));
  EXPECT_FALSE(jp["params"].contains("chat_template")) << jp.dump();
  EXPECT_NE(j["configs"][0]["run_id"], jp["configs"][0]["run_id"]);

  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/runs.sqlite").c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT data FROM run_items", -1, &st, nullptr), SQLITE_OK);
  int cells = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto d = nlohmann::json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    EXPECT_LE(d["prompt_tokens"].get<int64_t>() + 8, d["context_length"].get<int64_t>()) << d.dump();
    ++cells;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  EXPECT_EQ(cells, 2);
}
