// The `skvq` command line and its run store: a changed model is a new run, a read-only store can
// be listed, two batch processes compute each run once.
#include "cli_fixture.h"
#include "skvq/common.h"
#include "test_util.h"

using skvq::read_file;
using namespace skvq::test;

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
