// The `skvq` command line on real data: bad input gives a clear error and a non-zero exit;
// batch jobs store their runs, resume, and keep finished runs on Ctrl-C.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "skvq/common.h"
#include "test_util.h"

namespace fs = std::filesystem;
using skvq::read_file;

namespace {

struct Result {
  int code = -1;
  std::string out;
};

std::string skvq_bin() { return skvq::test::built("app/skvq"); }

Result run(const std::string& args) {
  Result r;
  const std::string cmd = "SKVQ_DATA_DIR='" + skvq::test::data_dir() + "' '" + skvq_bin() + "' " + args;
  const auto res = skvq::test::run_command(cmd);
  r.code = res.code;
  r.out = res.out;
  return r;
}

int count_runs(const std::string& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* st = nullptr;
  int n = -1;
  if (sqlite3_prepare_v2(h, "SELECT count(*) FROM runs WHERE status = 'done'", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(skvq_bin())) GTEST_SKIP() << "skvq not built at " << skvq_bin();
    dir_ = skvq::test::temp_dir("cli");
    model_ = skvq::test::stories_model();
    text_ = skvq::test::data("text/tinystories/tinystories_val.txt");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string db() const { return "--db '" + dir_ + "/runs.sqlite'"; }
  std::string dir_, model_, text_;
};

}  // namespace

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
  j["model"]["weights_fingerprint"] = "0000";  // as if made for other weights of the same shape
  std::ofstream(dir_ + "/other.json") << j.dump();
  r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + dir_ + "/other.json' --quant k2-v2-g8-reorder");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("other.json: calibration made for another model"), std::string::npos) << r.out;
  r = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --max-chunks 1 --calib '" + cal + "' --quant k2-v2-g32-reorder");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no channel clusters for group size 32"), std::string::npos) << r.out;
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

namespace {

nlohmann::json ppl_json(const Result& r) {
  const auto brace = r.out.find('{');
  if (r.code != 0 || brace == std::string::npos) return nullptr;
  try {
    return nlohmann::json::parse(r.out.substr(brace));
  } catch (const std::exception&) {
    return nullptr;
  }
}

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

}  // namespace

// The same weights with another config.json, tokenizer, chat template or dtype are another
// model: a new run, never the stored result of the original (which used to be served).
TEST_F(Cli, ChangedConfigTokenizerTemplateOrDtypeIsANewRun) {
  const std::string hf = dir_ + "/hf";
  auto conv = run("convert --model '" + model_ + "' --out '" + hf + "'");
  ASSERT_EQ(conv.code, 0) << conv.out;
  const std::string ppl = db() + " ppl --model '" + hf + "' --text '" + text_ + "' --ctx-len 64 --max-chunks 2 --json";
  auto first = ppl_json(run(ppl));
  ASSERT_FALSE(first.is_null());
  const int64_t run0 = first["configs"][0]["run_id"];
  const double ppl0 = first["configs"][0]["ppl"];
  auto again = ppl_json(run(ppl));
  ASSERT_FALSE(again.is_null());
  EXPECT_EQ(again["configs"][0]["run_id"], run0);  // unchanged: the stored run is reused

  const std::string cfg_path = hf + "/config.json", tok_path = hf + "/tokenizer.json",
                    tcfg_path = hf + "/tokenizer_config.json";
  const nlohmann::json cfg = nlohmann::json::parse(read_file(cfg_path));
  const nlohmann::json tok = nlohmann::json::parse(read_file(tok_path));
  const nlohmann::json tcfg = nlohmann::json::parse(read_file(tcfg_path));
  std::set<int64_t> ids{run0};
  auto expect_new_run = [&](const std::string& what, const std::string& extra, bool ppl_changes) {
    auto r = run(ppl + extra);
    auto j = ppl_json(r);
    ASSERT_FALSE(j.is_null()) << what << ": " << r.out;
    const int64_t id = j["configs"][0]["run_id"];
    EXPECT_TRUE(ids.insert(id).second) << what << ": served stored run " << id;
    if (ppl_changes) EXPECT_GT(std::fabs(j["configs"][0]["ppl"].get<double>() - ppl0), 1e-3) << what;
  };

  nlohmann::json rope = cfg;
  rope["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  write_json(cfg_path, rope);
  expect_new_run("rope_scaling linear 4", "", true);
  write_json(cfg_path, cfg);

  nlohmann::json few = tok;
  ASSERT_GT(few["model"]["merges"].size(), 20u);
  few["model"]["merges"] = nlohmann::json(std::vector<nlohmann::json>(few["model"]["merges"].begin(),
                                                                      few["model"]["merges"].begin() + 20));
  write_json(tok_path, few);
  expect_new_run("tokenizer with 20 merges", "", true);
  write_json(tok_path, tok);

  nlohmann::json templ = tcfg;
  templ["chat_template"] = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  write_json(tcfg_path, templ);
  expect_new_run("chat template", "", false);
  write_json(tcfg_path, tcfg);

  expect_new_run("dtype bfloat16", " --dtype bfloat16", true);

  auto back = ppl_json(run(ppl));  // everything as at first: the first run again
  ASSERT_FALSE(back.is_null());
  EXPECT_EQ(back["configs"][0]["run_id"], run0);
  EXPECT_DOUBLE_EQ(back["configs"][0]["ppl"].get<double>(), ppl0);
}

// A store on a read-only file in a read-only directory can be listed (it used to fail switching
// to WAL mode). Root ignores permissions, so as root the listing runs as user nobody.
TEST_F(Cli, ReadOnlyStoreCanBeListed) {
  auto made = run(db() + " ppl --model '" + model_ + "' --text '" + text_ + "' --ctx-len 64 --max-chunks 1");
  ASSERT_EQ(made.code, 0) << made.out;
  const std::string store = dir_ + "/runs.sqlite";
  ASSERT_FALSE(fs::exists(store + "-wal"));
  fs::permissions(store, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const auto rx = fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                  fs::perms::others_read | fs::perms::others_exec;
  fs::permissions(dir_, rx);
  const std::string as = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  Result r;
  {
    const std::string cmd = as + "'" + skvq_bin() + "' --db '" + store + "' runs list 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_TRUE(p);
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("fp16"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(store + "-wal"));  // nothing written
}

// Two batch processes on one store, released together: each run is computed by exactly one of
// them (a claim is taken before computing), both finish with every run in their table.
TEST_F(Cli, TwoBatchProcessesComputeEachRunOnce) {
  const std::vector<std::string> configs = {"fp16", "k4-v4-g8-rtn", "k3-v3-g8-rtn", "k2-v2-g8-rtn",
                                            "k2-v2-g16-rtn", "k4-v2-g8-rtn", "k2-v4-g8-rtn", "k3-v2-g8-rtn"};
  nlohmann::json job = {{"model", "models/stories260K/stories260K.bin"},
                        {"ppl", {{"text", "text/tinystories/tinystories_val.txt"}, {"ctx_len", 256}, {"max_chunks", 6}}},
                        {"configs", configs}};
  write_json(dir_ + "/job.json", job);
  const std::string store = dir_ + "/runs.sqlite";
  // An empty database file, write-locked: both processes open it and wait to create the store.
  sqlite3* lock = nullptr;
  ASSERT_EQ(sqlite3_open(store.c_str(), &lock), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<pid_t> pids;
  for (int k = 0; k < 2; ++k) {
    const std::string log = dir_ + "/batch" + std::to_string(k) + ".log";
    pid_t pid = fork();
    if (pid == 0) {
      setenv("SKVQ_DATA_DIR", skvq::test::data_dir().c_str(), 1);
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      execl(skvq_bin().c_str(), "skvq", "--threads", "1", "--db", store.c_str(), "batch", (dir_ + "/job.json").c_str(),
            nullptr);
      _exit(127);
    }
    pids.push_back(pid);
  }
  // Both load the model and then wait for the lock; releasing it lets them race for the runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  sqlite3_exec(lock, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(lock);
  std::map<std::string, int> computed;
  for (int k = 0; k < 2; ++k) {
    int st = 0;
    waitpid(pids[k], &st, 0);
    const std::string out = read_file(dir_ + "/batch" + std::to_string(k) + ".log");
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
    std::regex line(R"(\] (\S+): PPL )");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
      ++computed[(*it)[1]];
    EXPECT_NE(out.find("k3-v2-g8"), std::string::npos) << out;  // the last one is in its table
  }
  EXPECT_EQ(computed.size(), configs.size());
  for (const auto& [c, n] : computed) EXPECT_EQ(n, 1) << c << " computed " << n << " times";
  EXPECT_EQ(count_runs(store), static_cast<int>(configs.size()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(store.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), static_cast<int>(configs.size()));  // no duplicates, none left running
  sqlite3_finalize(st);
  sqlite3_close(db);
}
