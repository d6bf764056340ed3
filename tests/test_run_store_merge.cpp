// Merging run stores (skvq runs merge): dedup by identity, idempotence, conflicts reported,
// newer schemas refused, older ones migrated in a copy, inputs never changed, provenance.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/run_store.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using skvq::RunStore;

namespace {

skvq::ModelRecord model_rec(const std::string& sha) {
  skvq::ModelRecord m;
  m.name = "stories";
  m.path = "/models/stories.bin";
  m.sha256 = sha;
  m.identity = "identity-" + sha;
  m.identity_json = {{"weights_sha256", sha}};
  m.config = {{"hidden_size", 64}};
  return m;
}

skvq::CalibrationRecord calib_rec(int64_t model_id, const std::string& sha) {
  skvq::CalibrationRecord c;
  c.model_id = model_id;
  c.path = "/cal/" + sha + ".json";
  c.sha256 = sha;
  c.text_path = "wiki.txt";
  c.text_sha256 = "t";
  c.samples = 4;
  c.seq_len = 64;
  c.seed = 1;
  c.group_sizes = {8};
  return c;
}

skvq::RunRecord run_rec(int64_t model_id, const std::string& config, double ppl, double wall) {
  skvq::RunRecord r;
  r.kind = "ppl";
  r.model_id = model_id;
  r.config = config;
  r.data_path = "text.txt";
  r.data_sha256 = "d0";
  r.params = {{"ctx_len", 64}, {"max_chunks", 2}};
  r.metrics = {{"ppl", ppl}, {"tokens", 126}, {"wall_seconds", wall}, {"tokens_per_second", 126 / wall}};
  r.wall_seconds = wall;
  r.host = "node-" + config;
  return r;
}

std::string file_bytes(const std::string& p) { return skvq::read_file(p); }

int64_t count(const std::string& db, const std::string& table) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(h, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

// Everything of a store that a merge must reproduce, without ids and in a stable order.
json content(const std::string& db) {
  RunStore s(db, 2000, skvq::StoreMode::ReadOnly);
  json out = json::array();
  for (const auto& r : s.list_runs()) {
    json items = json::object();
    for (const auto& it : s.items(r.id)) items[it.key] = it.data;
    json sources = json::array();
    for (const auto& src : s.run_sources(r.id)) sources.push_back({src.source, src.source_run_id, src.host});
    auto cal = r.calibration_id ? s.get_calibration(*r.calibration_id) : std::nullopt;
    out.push_back({{"model", s.get_model(r.model_id)->identity}, {"calibration", cal ? cal->sha256 : ""},
                   {"config", r.config}, {"params", r.params}, {"metrics", r.metrics}, {"status", r.status},
                   {"host", r.host}, {"created_at", r.created_at}, {"items", items}, {"sources", sources}});
  }
  return out;
}

class RunStoreMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = skvq::test::temp_dir("merge");
    // Shard a: fp16 and rtn (with two items); shard b: fp16 again (same result, other timing)
    // and a calibrated run; plus one failed run that must not travel.
    {
      RunStore a(path("a"));
      const int64_t m = a.upsert_model(model_rec("w1"));
      add(a, run_rec(m, "fp16", 5.25, 1.0));
      const int64_t id = add(a, run_rec(m, "k2-v2-g8-rtn", 7.5, 2.0));
      a.put_item({id, "chunk/0", {{"nll", 2.0}, {"seconds", 0.1}}});
      a.put_item({id, "chunk/1", {{"nll", 2.1}, {"seconds", 0.2}}});
      auto failed = run_rec(m, "k4-v4-g8-rtn", 0, 0.5);
      failed.status = "failed";
      failed.metrics = {{"error", "boom"}};
      a.add_run(failed);
    }
    {
      RunStore b(path("b"));
      b.upsert_model(model_rec("other"));  // different ids in b than in a
      const int64_t m = b.upsert_model(model_rec("w1"));
      const int64_t c = b.upsert_calibration(calib_rec(m, "c1"));
      add(b, run_rec(m, "fp16", 5.25, 3.0));
      auto r = run_rec(m, "k2-v2-g8-reorder", 6.5, 2.0);
      r.calibration_id = c;
      add(b, r);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  int64_t add(RunStore& s, skvq::RunRecord r) { return s.add_run(r); }
  std::string path(const std::string& name) const { return dir_ + "/" + name + ".sqlite"; }
  std::string dir_;
};

}  // namespace

TEST_F(RunStoreMerge, DeduplicatesByIdentityAndCopiesItemsModelsCalibrations) {
  RunStore out(path("out"));
  const auto s = out.merge_from({path("a"), path("b")});
  EXPECT_EQ(s.runs_added, 3);      // fp16, rtn, reorder
  EXPECT_EQ(s.runs_duplicate, 1);  // b's fp16: same ppl, other wall time
  EXPECT_EQ(s.runs_unfinished, 1);
  EXPECT_EQ(s.models_added, 2);
  EXPECT_EQ(s.calibrations_added, 1);
  EXPECT_EQ(s.items_added, 2);
  EXPECT_TRUE(s.conflicts.empty());
  const auto runs = out.list_runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].config, "fp16");
  EXPECT_EQ(runs[0].metrics["wall_seconds"], 1.0);  // the first input's copy is kept
  EXPECT_EQ(runs[1].config, "k2-v2-g8-rtn");
  EXPECT_EQ(out.item_count(runs[1].id), 2);
  EXPECT_EQ(out.item(runs[1].id, "chunk/1")->data["nll"], 2.1);
  ASSERT_TRUE(runs[2].calibration_id);
  EXPECT_EQ(out.get_calibration(*runs[2].calibration_id)->sha256, "c1");
  EXPECT_EQ(out.get_model(runs[2].model_id)->identity, "identity-w1");
  // The merged store resumes like any other: find_run answers the merged run.
  auto probe = runs[2];
  probe.metrics = json::object();
  EXPECT_EQ(out.find_run(probe)->id, runs[2].id);
}

TEST_F(RunStoreMerge, KeepsProvenanceSourceFileAndHost) {
  RunStore out(path("out"));
  out.merge_from({path("a"), path("b")});
  const auto runs = out.list_runs();
  EXPECT_EQ(runs[1].host, "node-k2-v2-g8-rtn");
  const auto fp = out.run_sources(runs[0].id);  // from a (run 1) and b (run 1)
  ASSERT_EQ(fp.size(), 2u);
  EXPECT_EQ(fp[0].source, fs::absolute(path("a")).lexically_normal().string());
  EXPECT_EQ(fp[0].source_run_id, 1);
  EXPECT_EQ(fp[0].host, "node-fp16");
  EXPECT_EQ(fp[1].source, fs::absolute(path("b")).lexically_normal().string());
  // Merging the merged store onward keeps the original sources and adds the merged store's.
  RunStore onward(path("onward"));
  onward.merge_from({path("out")});
  const auto src = onward.run_sources(onward.list_runs()[0].id);
  ASSERT_EQ(src.size(), 3u);
  EXPECT_EQ(src[0].source, fp[0].source);
  EXPECT_EQ(src[2].source, fs::absolute(path("out")).lexically_normal().string());
}

TEST_F(RunStoreMerge, MergingTwiceChangesNothing) {
  {
    RunStore out(path("out"));
    out.merge_from({path("a"), path("b")});
  }
  const json once = content(path("out"));
  const int64_t sources = count(path("out"), "run_sources");
  {
    RunStore out(path("out"));
    const auto s = out.merge_from({path("a"), path("b")});
    EXPECT_EQ(s.runs_added, 0);
    EXPECT_EQ(s.runs_duplicate, 4);
    EXPECT_EQ(s.sources_added, 0);
    EXPECT_EQ(s.models_added + s.calibrations_added + s.items_added, 0);
  }
  EXPECT_EQ(content(path("out")), once);
  EXPECT_EQ(count(path("out"), "run_sources"), sources);
  // A fresh store merged from the same inputs holds the same content.
  {
    RunStore again(path("again"));
    again.merge_from({path("a"), path("b")});
  }
  EXPECT_EQ(content(path("again")), once);
}

TEST_F(RunStoreMerge, ConflictIsReportedAndNotResolved) {
  {
    RunStore c(path("c"));
    const int64_t m = c.upsert_model(model_rec("w1"));
    c.add_run(run_rec(m, "k2-v2-g8-rtn", 7.75, 2.0));  // same identity as a's, other PPL
  }
  RunStore out(path("out"));
  const auto s = out.merge_from({path("a"), path("c")});
  ASSERT_EQ(s.conflicts.size(), 1u);
  EXPECT_EQ(s.conflicts[0].source, path("c"));
  EXPECT_EQ(s.conflicts[0].source_run_id, 1);
  EXPECT_EQ(s.conflicts[0].config, "k2-v2-g8-rtn");
  EXPECT_EQ(s.conflicts[0].difference, "metrics differ: ppl 7.5 vs 7.75");
  const auto runs = out.list_runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].metrics["ppl"], 7.5);             // the output's run stands
  EXPECT_EQ(out.run_sources(runs[1].id).size(), 1u);  // and c is not named as its source

  // An item that differs is a conflict too.
  {
    RunStore d(path("d"));
    const int64_t m = d.upsert_model(model_rec("w1"));
    const int64_t id = d.add_run(run_rec(m, "k2-v2-g8-rtn", 7.5, 9.0));
    d.put_item({id, "chunk/0", {{"nll", 2.0}, {"seconds", 5.0}}});
    d.put_item({id, "chunk/1", {{"nll", 2.2}, {"seconds", 5.0}}});
  }
  const auto t = out.merge_from({path("d")});
  ASSERT_EQ(t.conflicts.size(), 1u);
  EXPECT_EQ(t.conflicts[0].difference, "item 'chunk/1' differs: nll 2.1 vs 2.2");
}

TEST(RunStoreMergeResults, TimingKeysDoNotCount) {
  EXPECT_EQ(skvq::result_difference({{"ppl", 5.0}, {"wall_seconds", 1}, {"tokens_per_second", 9}},
                                    {{"ppl", 5.0}, {"wall_seconds", 2}, {"tokens_per_second", 3}}),
            "");
  EXPECT_EQ(skvq::result_difference({{"ppl", 5.0}, {"prefill_seconds", 1}, {"decode_tokens_per_s", 1}},
                                    {{"ppl", 5.0}, {"prefill_seconds", 2}}),
            "");
  EXPECT_EQ(skvq::result_difference({{"ppl", 5.0}}, {{"ppl", 5.0}, {"bits_k", 2.125}}), "bits_k (none) vs 2.125");
  // Exact: one ulp is a difference (both sides computed the same way give the same bits).
  EXPECT_NE(skvq::result_difference({{"ppl", 5.0}}, {{"ppl", std::nextafter(5.0, 6.0)}}), "");
}

TEST_F(RunStoreMerge, InputsAreOpenedReadOnlyAndLeftByteForByte) {
  const std::string a0 = file_bytes(path("a")), b0 = file_bytes(path("b"));
  ASSERT_FALSE(fs::exists(path("a") + "-wal"));  // closed cleanly: everything is in the main file
  {
    RunStore out(path("out"));
    out.merge_from({path("a"), path("b")});
    out.merge_from({path("a"), path("b")});
  }
  EXPECT_EQ(file_bytes(path("a")), a0);
  EXPECT_EQ(file_bytes(path("b")), b0);
  // A read-only input (file and folder not writable) merges too: SQLite opens it immutable.
  fs::create_directories(dir_ + "/ro");
  fs::copy_file(path("a"), dir_ + "/ro/a.sqlite");
  fs::permissions(dir_ + "/ro/a.sqlite", fs::perms::owner_read);
  fs::permissions(dir_ + "/ro", fs::perms::owner_read | fs::perms::owner_exec);
  {
    RunStore out(path("out2"));
    EXPECT_EQ(out.merge_from({dir_ + "/ro/a.sqlite"}).runs_added, 2);
  }
  fs::permissions(dir_ + "/ro", fs::perms::owner_all);
  EXPECT_EQ(file_bytes(dir_ + "/ro/a.sqlite"), a0);
}

TEST_F(RunStoreMerge, NewerSchemaIsRefusedBeforeAnythingIsWritten) {
  fs::copy_file(path("b"), path("newer"));
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(path("newer").c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, ("UPDATE schema_version SET version = " + std::to_string(RunStore::schema_version() + 1)).c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  const std::string before = file_bytes(path("newer"));
  RunStore out(path("out"));
  try {
    out.merge_from({path("a"), path("newer")});
    FAIL() << "a newer input was merged";
  } catch (const skvq::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path("newer") + ": the run store has schema version"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("newer than this software"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(out.list_runs().empty());  // a was not merged either
  EXPECT_EQ(file_bytes(path("newer")), before);
  EXPECT_THROW(out.merge_from({path("out")}), skvq::StoreError);           // itself
  EXPECT_THROW(out.merge_from({path("missing")}), skvq::StoreError);       // no such file
  EXPECT_FALSE(fs::exists(path("missing")));
}

TEST_F(RunStoreMerge, OlderSchemaInputIsMigratedInACopy) {
  // A version 2 store as an earlier skvq left it: no runs.host, no run_sources.
  const std::string v2 = path("v2");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(v2.c_str(), &h), SQLITE_OK);
    const char* sql = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2);
CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
  identity TEXT NOT NULL UNIQUE, identity_json TEXT NOT NULL DEFAULT '{}', config TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
CREATE TABLE calibrations(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, text_path TEXT NOT NULL, text_sha256 TEXT NOT NULL,
  samples INTEGER NOT NULL, seq_len INTEGER NOT NULL, seed INTEGER NOT NULL, group_sizes TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, model_id INTEGER NOT NULL REFERENCES models(id),
  calibration_id INTEGER REFERENCES calibrations(id), config TEXT NOT NULL, data_path TEXT NOT NULL DEFAULT '',
  data_sha256 TEXT NOT NULL DEFAULT '', params TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'done', software_version TEXT NOT NULL, created_at TEXT NOT NULL,
  wall_seconds REAL NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '', heartbeat INTEGER NOT NULL DEFAULT 0);
CREATE TABLE run_items(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL, data TEXT NOT NULL, UNIQUE(run_id, key));
INSERT INTO models VALUES (1, 'stories', '/m.bin', 'w1', 'identity-w1', '{}', '{}', '2024-01-01T00:00:00Z');
INSERT INTO runs(kind, model_id, config, data_path, data_sha256, params, metrics, software_version, created_at, owner)
  VALUES ('ppl', 1, 'k3-v3-g8-rtn', 'text.txt', 'd0', '{"ctx_len":64,"max_chunks":2}', '{"ppl":6}', '0.1',
          '2024-01-01T00:00:00Z', 'oldhost 123 abc');
INSERT INTO runs(kind, model_id, config, data_path, data_sha256, params, metrics, software_version, created_at)
  VALUES ('ppl', 1, 'k4-v4-g8-rtn', 'text.txt', 'd0', '{"ctx_len":64,"max_chunks":2}', '{"ppl":5.5}', '0.1',
          '2024-01-01T00:00:00Z');
)sql";
    ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
  }
  const std::string before = file_bytes(v2);
  RunStore out(path("out"));
  const auto s = out.merge_from({v2, path("a")});
  EXPECT_EQ(s.runs_added, 4);
  EXPECT_EQ(file_bytes(v2), before);
  const auto runs = out.list_runs();
  EXPECT_EQ(runs[0].host, "oldhost");  // from the claim owner
  EXPECT_EQ(runs[1].host, "unknown");  // no owner, no host
  EXPECT_EQ(runs[1].metrics["ppl"], 5.5);
  // The version 2 store itself, opened writable, is migrated in place like any older store.
  {
    RunStore migrated(v2);
    EXPECT_EQ(migrated.list_runs()[0].host, "oldhost");
    EXPECT_TRUE(migrated.run_sources(1).empty());
  }
}

TEST_F(RunStoreMerge, CliReportsSummaryAndExitsOneOnConflict) {
  const std::string bin = skvq::test::built("app/skvq");
  if (!fs::exists(bin)) GTEST_SKIP() << "skvq not built at " << bin;
  auto r = skvq::test::run_command("'" + bin + "' runs merge '" + path("out") + "' '" + path("a") + "' '" + path("b") + "'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("3 runs added, 1 already there with equal results, 2 items"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not merged: 1 runs not done"), std::string::npos) << r.out;
  {
    RunStore c(path("c"));
    const int64_t m = c.upsert_model(model_rec("w1"));
    c.add_run(run_rec(m, "fp16", 5.5, 1.0));
  }
  r = skvq::test::run_command("'" + bin + "' runs merge '" + path("out") + "' '" + path("c") + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("skvq: conflict: " + path("c") + " run 1 (ppl fp16)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ppl 5.25 vs 5.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 conflicting runs not merged"), std::string::npos) << r.out;
  r = skvq::test::run_command("'" + bin + "' runs merge '" + path("out") + "'");
  EXPECT_EQ(r.code, 2) << r.out;  // usage: no input
}
