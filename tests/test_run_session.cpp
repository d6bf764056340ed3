// The shared run protocol (RunSession): every run ends done, failed (with the message) or
// interrupted, resumes keep stored items, and a result the store cannot take is written to a
// recovery file instead of being lost.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/run_session.h"
#include "skvq/run_store.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace skvq;

namespace {

struct Fixture {
  std::string dir, path;
  std::unique_ptr<RunStore> store;
  RunRecord ident;
  Fixture() {
    dir = test::temp_dir("session");
    path = dir + "/runs.sqlite";
    store = std::make_unique<RunStore>(path, 300);
    ModelRecord m;
    m.name = "m";
    m.path = "/m.bin";
    m.sha256 = "w";
    m.identity = "id";
    ident.kind = "needle";
    ident.model_id = store->upsert_model(m);
    ident.config = "k2-v2-g8";
    ident.data_sha256 = "hay";
    ident.params = {{"needle", "x"}};
  }
};

std::vector<fs::path> recovery_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".recovered-") != std::string::npos) out.push_back(e.path());
  return out;
}

}  // namespace

TEST(RunSession, FailingBodyEndsFailedWithItsMessage) {
  Fixture f;
  int64_t id = 0;
  {
    RunSession s(*f.store, f.ident, OnDone::Resume, true);
    ASSERT_TRUE(s.claimed());
    id = s.id();
    EXPECT_THROW(s.guard([&] {
      s.put_item("L1_D0.0", {{"score", 1}});
      throw std::runtime_error("disk on fire");
    }),
                 std::runtime_error);
    EXPECT_FALSE(s.claimed());
  }
  auto run = f.store->get_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, "failed");
  EXPECT_EQ(run->metrics["error"], "disk on fire");
  EXPECT_EQ(f.store->item_count(id), 1);  // the finished item is kept for a resume
}

TEST(RunSession, CancelledBodyEndsInterruptedAndResumes) {
  Fixture f;
  int64_t id = 0;
  {
    RunSession s(*f.store, f.ident, OnDone::Resume, true);
    id = s.id();
    EXPECT_THROW(s.guard([&] {
      s.put_item("a", 1);
      throw Cancelled();
    }),
                 Cancelled);
  }
  EXPECT_EQ(f.store->get_run(id)->status, "interrupted");
  RunSession again(*f.store, f.ident, OnDone::Resume, true);
  EXPECT_EQ(again.id(), id);
  EXPECT_EQ(again.previous_status(), "interrupted");
  ASSERT_EQ(again.items().size(), 1u);
  again.guard([&] {
    again.put_item("b", 2);
    again.finish({{"cells", 2}}, again.total_wall_seconds());
  });
  auto run = f.store->get_run(id);
  EXPECT_EQ(run->status, "done");
  EXPECT_EQ(run->metrics["cells"], 2);
  EXPECT_EQ(f.store->item_count(id), 2);
  // Done and reused: nothing to compute.
  RunSession reused(*f.store, f.ident, OnDone::Reuse, true);
  EXPECT_TRUE(reused.reused());
  EXPECT_FALSE(reused.claimed());
  EXPECT_EQ(reused.run().metrics["cells"], 2);
}

TEST(RunSession, SessionLeftWithoutAnEndIsFailed) {
  Fixture f;
  int64_t id = 0;
  { RunSession s(*f.store, f.ident, OnDone::Resume, true); id = s.id(); }
  auto run = f.store->get_run(id);
  EXPECT_EQ(run->status, "failed");
  EXPECT_NE(run->metrics.value("error", std::string()).find("abandoned"), std::string::npos);
}

// The store locked by another connection past the (short) lock wait when an item and then the
// final metrics are written: both go to recovery files next to the store, named in the error.
TEST(RunSession, ResultsTheStoreCannotTakeGoToARecoveryFile) {
  Fixture f;
  RunSession s(*f.store, f.ident, OnDone::Resume, true);
  const int64_t id = s.id();
  s.put_item("first", {{"score", 0.5}});
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(f.path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string msg;
  try {
    s.put_item("second", {{"score", 0.25}});
  } catch (const StoreError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("locked"), std::string::npos) << msg;
  auto files = recovery_files(f.dir);
  ASSERT_EQ(files.size(), 1u) << msg;
  EXPECT_NE(msg.find(files[0].string()), std::string::npos) << msg;
  json rec = json::parse(read_file(files[0].string()));
  EXPECT_EQ(rec["store"], f.path);
  EXPECT_EQ(rec["run"]["id"], id);
  EXPECT_EQ(rec["run"]["kind"], "needle");
  EXPECT_EQ(rec["run"]["config"], "k2-v2-g8");
  EXPECT_EQ(rec["run"]["params"]["needle"], "x");
  EXPECT_DOUBLE_EQ(rec["items"]["first"]["score"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(rec["items"]["second"]["score"].get<double>(), 0.25);

  try {
    s.finish({{"ppl", 4.25}}, 1.0);
    ADD_FAILURE() << "finish succeeded under a held lock";
  } catch (const StoreError& e) {
    msg = e.what();
  }
  files = recovery_files(f.dir);
  ASSERT_EQ(files.size(), 2u);
  bool found = false;
  for (const auto& p : files) {
    json r = json::parse(read_file(p.string()));
    if (r.contains("metrics")) {
      found = true;
      EXPECT_DOUBLE_EQ(r["metrics"]["ppl"].get<double>(), 4.25);
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    }
  }
  EXPECT_TRUE(found);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(f.store->get_run(id)->status, "running");  // not done: a rerun resumes it
}

TEST(RunSession, RecoveryFileFallsBackWhenTheStoreDirectoryIsMissing) {
  const std::string tmp = test::temp_dir("recovery-tmp");
  const char* old = std::getenv("TMPDIR");
  const std::string keep = old ? old : "";
  setenv("TMPDIR", tmp.c_str(), 1);
  const std::string file = write_recovery_file("/nonexistent-dir/runs.sqlite", {{"x", 1}});
  if (old) setenv("TMPDIR", keep.c_str(), 1);
  else unsetenv("TMPDIR");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(fs::path(file).parent_path(), fs::path(tmp));
  EXPECT_EQ(json::parse(read_file(file))["x"], 1);
}
