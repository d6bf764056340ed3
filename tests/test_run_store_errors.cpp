// Run store failure modes: unwritable, read-only, corrupt, foreign, newer, locked and failed
// writes, each named with its file and losing nothing already stored.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "run_store_fixtures.h"
#include "skvq/error.h"
#include "skvq/run_store.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using skvq::RunStore;
using namespace skvq::test;

TEST(RunStoreErrors, UnwritableLocation) {
  expect_store_error([] { RunStore s("/proc/x.sqlite"); }, "/proc/x.sqlite", "cannot open");
  // A directory below a regular file cannot exist, even for root.
  const std::string dir = skvq::test::temp_dir("store");
  std::ofstream(dir + "/plain") << "x";
  expect_store_error([&] { RunStore s(dir + "/plain/runs.sqlite"); }, dir + "/plain/runs.sqlite", "cannot open");
  expect_store_error([&] { RunStore s(dir); }, dir, "is a directory");
}

TEST(RunStoreErrors, ReadOnlyDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string dir = skvq::test::temp_dir("store");
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  expect_store_error([&] { RunStore s(dir + "/runs.sqlite"); }, dir + "/runs.sqlite", "");
  fs::permissions(dir, fs::perms::owner_all);
}

TEST(RunStoreErrors, NotSqliteAndCorrupt) {
  const std::string dir = skvq::test::temp_dir("store");
  const std::string text = dir + "/notes.txt";
  std::ofstream(text) << std::string(3000, 'n') << "\nplain text, not a database\n";
  expect_store_error([&] { RunStore s(text); }, text, "not a SQLite database");
  EXPECT_EQ(fs::file_size(text), 3000u + 28u);  // left untouched

  // A real store whose bytes are overwritten with garbage.
  const std::string path = dir + "/runs.sqlite";
  {
    RunStore s(path);
    int64_t m = s.upsert_model(model_rec("m", "sha"));
    for (int i = 0; i < 50; ++i) s.add_run(ppl_run(m, "k2-v2-g32-fp8", i));
  }
  const std::string copy = dir + "/copy.sqlite";
  fs::copy_file(path, copy);
  {  // header garbage
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string junk(100, '\xA5');
    f.write(junk.data(), junk.size());
  }
  expect_store_error([&] { RunStore s(path); }, path, "not a SQLite database");
  {  // everything after the 100-byte header garbage
    auto size = fs::file_size(copy);
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    std::string junk(size - 100, '\x5A');
    f.write(junk.data(), junk.size());
  }
  expect_store_error([&] { RunStore s(copy); s.list_runs(); }, copy, "corrupt");
}

TEST(RunStoreErrors, ForeignTablesAndNewerVersion) {
  const std::string dir = skvq::test::temp_dir("store");
  const std::string foreign = dir + "/foreign.sqlite";
  { RawDb raw(foreign); ASSERT_EQ(raw.exec("CREATE TABLE photos(id INTEGER, blob BLOB)"), SQLITE_OK); }
  expect_store_error([&] { RunStore s(foreign); }, foreign, "not a SKVQ run store");
  {
    RawDb raw(foreign);
    EXPECT_EQ(raw.text("SELECT COUNT(*) FROM sqlite_master"), "1");  // nothing was added
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");           // nor switched
  }

  const std::string extra = dir + "/extra.sqlite";
  { RunStore s(extra); }
  { RawDb raw(extra); ASSERT_EQ(raw.exec("CREATE TABLE mine(x)"), SQLITE_OK); }
  expect_store_error([&] { RunStore s(extra); }, extra, "'mine'");

  const std::string newer = dir + "/newer.sqlite";
  {
    RunStore s(newer);
    s.add_run(ppl_run(s.upsert_model(model_rec("m", "sha")), "fp16", 1));
  }
  { RawDb raw(newer); ASSERT_EQ(raw.exec("UPDATE schema_version SET version = 99"), SQLITE_OK); }
  expect_store_error([&] { RunStore s(newer); }, newer, "schema version 99, newer than this software");
  {
    RawDb raw(newer);
    ASSERT_EQ(raw.exec("UPDATE schema_version SET version = " + std::to_string(RunStore::schema_version())), SQLITE_OK);
  }
  RunStore ok(newer);
  EXPECT_EQ(ok.list_runs().size(), 1u);
}

TEST(RunStoreErrors, LockedDatabaseLosesNothing) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  int64_t m = 0;
  {
    RunStore s(path);
    m = s.upsert_model(model_rec("m", "sha"));
    s.add_run(ppl_run(m, "k4-v4-g32", 6.0));
    s.add_run(ppl_run(m, "k2-v2-g32", 7.0));
  }
  RunStore s(path, 150);
  EXPECT_EQ(s.busy_timeout(), 150);
  RawDb other(path);
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE; INSERT INTO models(name,path,sha256,identity,config,created_at) "
                       "VALUES('x','x','x','x','{}','t');"),
            SQLITE_OK);
  auto t0 = std::chrono::steady_clock::now();
  expect_store_error([&] { s.add_run(ppl_run(m, "fp16", 5.0)); }, path, "locked");
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 0.1);  // it did wait for the busy timeout
  EXPECT_LT(waited, 3.0);
  expect_store_error([&] { s.put_item({1, "k", 1}); }, path, "locked");
  EXPECT_EQ(s.list_runs().size(), 2u);  // readers still work in WAL mode
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);

  s.set_busy_timeout(5000);
  s.add_run(ppl_run(m, "fp16", 5.0));
  RunStore reopened(path);
  auto runs = reopened.list_runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].config, "k4-v4-g32");
  EXPECT_DOUBLE_EQ(runs[1].metrics["ppl"].get<double>(), 7.0);
  EXPECT_EQ(runs[2].config, "fp16");
  EXPECT_EQ(reopened.list_models().size(), 1u);  // the other connection's insert was rolled back
}

TEST(RunStoreErrors, FailedWriteKeepsStoredRuns) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  {
    RunStore s(path);
    int64_t m = s.upsert_model(model_rec("m", "sha"));
    int64_t id = s.add_run(ppl_run(m, "k2-v2-g32", 7.0));
    s.put_item({id, "a", 1});
    EXPECT_THROW(s.add_run(ppl_run(m + 1, "fp16", 1.0)), skvq::StoreError);
    EXPECT_THROW(s.put_item({id + 1, "b", 2}), skvq::StoreError);
    // The connection is still usable after a failed write.
    s.put_item({id, "c", 3});
  }
  RunStore s(path);
  auto runs = s.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].config, "k2-v2-g32");
  EXPECT_EQ(s.item_count(runs[0].id), 2);
}

TEST(RunStoreErrors, WriteWaitsForAReleasedLock) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  int64_t m = 0;
  { RunStore s(path); m = s.upsert_model(model_rec("m", "sha")); }
  RawDb other(path);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE; UPDATE models SET name = 'held' WHERE id = 1;"), SQLITE_OK);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(6000));
    other.exec("COMMIT");
  });
  RunStore s(path);  // the default lock wait
  EXPECT_GT(s.busy_timeout(), 6000);
  const int64_t id = s.add_run(ppl_run(m, "fp16", 5.0));
  release.join();
  EXPECT_EQ(s.get_run(id)->config, "fp16");
  EXPECT_EQ(s.get_model(m)->name, "held");  // the other writer's change went in first
}

TEST(RunStoreErrors, LockTimeoutFromTheEnvironment) {
  const char* old = std::getenv("SKVQ_DB_LOCK_TIMEOUT");
  const std::string keep = old ? old : "";
  unsetenv("SKVQ_DB_LOCK_TIMEOUT");
  EXPECT_EQ(RunStore::default_lock_timeout_ms(), skvq::kDefaultLockTimeoutMs);
  setenv("SKVQ_DB_LOCK_TIMEOUT", "2.5", 1);
  EXPECT_EQ(RunStore::default_lock_timeout_ms(), 2500);
  for (const char* bad : {"abc", "-1", "5s", "nan"}) {
    setenv("SKVQ_DB_LOCK_TIMEOUT", bad, 1);
    EXPECT_THROW(RunStore::default_lock_timeout_ms(), skvq::ConfigError) << bad;
  }
  if (old) setenv("SKVQ_DB_LOCK_TIMEOUT", keep.c_str(), 1);
  else unsetenv("SKVQ_DB_LOCK_TIMEOUT");
}

// Read-only: nothing is written (not even the WAL switch of a new file), writes are refused.

TEST(RunStore, ReadOnlyOpenReadsAndRefusesWrites) {
  const std::string dir = skvq::test::temp_dir("store");
  const std::string path = dir + "/runs.sqlite";
  {
    RunStore s(path);
    s.add_run(ppl_run(s.upsert_model(model_rec("m", "sha")), "fp16", 5.0));
  }
  RunStore ro(path, 1000, skvq::StoreMode::ReadOnly);
  EXPECT_TRUE(ro.read_only());
  ASSERT_EQ(ro.list_runs().size(), 1u);
  EXPECT_EQ(ro.list_models()[0].name, "m");
  expect_store_error([&] { ro.add_run(ppl_run(1, "k2-v2-g8", 1)); }, path, "cannot be written");
  expect_store_error([&] { RunStore s(dir + "/none.sqlite", 1000, skvq::StoreMode::ReadOnly); },
                     dir + "/none.sqlite", "no run store here");
  EXPECT_FALSE(fs::exists(dir + "/none.sqlite"));
}
