// Run store (SQLite): schema, models, calibrations, runs, items, exports, the command line and
// migrations. Failure modes: test_run_store_errors.cpp; claims and concurrency: test_run_store_claims.cpp.
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

TEST(RunStore, CreatesSchemaWithPragmas) {
  const std::string path = skvq::test::temp_dir("store") + "/runs.sqlite";
  { RunStore s(path); EXPECT_EQ(s.path(), path); }
  EXPECT_TRUE(fs::exists(path));
  RawDb raw(path);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT version FROM schema_version"), std::to_string(RunStore::schema_version()));
  EXPECT_EQ(RunStore::schema_version(), 3);
  for (const char* t : {"models", "calibrations", "runs", "run_items", "run_sources"})
    EXPECT_EQ(raw.text(std::string("SELECT name FROM sqlite_master WHERE type='table' AND name='") + t + "'"), t);
  // run_items cascades from runs and is unique per (run_id, key).
  const std::string ddl = raw.text("SELECT sql FROM sqlite_master WHERE name='run_items'");
  EXPECT_NE(ddl.find("ON DELETE CASCADE"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("UNIQUE(run_id, key)"), std::string::npos) << ddl;
  // Reopening an up-to-date store changes nothing.
  RunStore again(path);
  EXPECT_TRUE(again.list_runs().empty());
}

TEST(RunStore, ModelsAndCalibrationsUpsert) {
  RunStore s(skvq::test::temp_dir("store") + "/runs.sqlite");
  int64_t a = s.upsert_model(model_rec("stories260K", "sha-a"));
  int64_t b = s.upsert_model(model_rec("other", "sha-b"));
  EXPECT_NE(a, b);
  auto moved = model_rec("stories260K-renamed", "sha-a");
  moved.path = "/elsewhere/m.bin";
  EXPECT_EQ(s.upsert_model(moved), a);  // same identity -> same id, path and name updated
  auto m = s.get_model(a);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "stories260K-renamed");
  EXPECT_EQ(m->path, "/elsewhere/m.bin");
  EXPECT_EQ(m->config["hidden_size"], 64);
  EXPECT_TRUE(std::regex_match(m->created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << m->created_at;
  EXPECT_EQ(s.list_models().size(), 2u);
  EXPECT_FALSE(s.get_model(999));

  skvq::CalibrationRecord c;
  c.model_id = a;
  c.path = "/cal/x.json";
  c.sha256 = "cal-sha";
  c.text_path = "text/t.txt";
  c.text_sha256 = "t-sha";
  c.samples = 16;
  c.seq_len = 512;
  c.seed = 0xFFFFFFFFFFFFFFF0ull;  // survives the int64 column
  c.group_sizes = {8, 16, 32};
  int64_t cid = s.upsert_calibration(c);
  c.path = "/cal/moved.json";
  EXPECT_EQ(s.upsert_calibration(c), cid);
  auto got = s.get_calibration(cid);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->path, "/cal/moved.json");
  EXPECT_EQ(got->seed, 0xFFFFFFFFFFFFFFF0ull);
  EXPECT_EQ(got->group_sizes, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_EQ(got->samples, 16);
  EXPECT_EQ(got->seq_len, 512);
  EXPECT_EQ(s.list_calibrations(a).size(), 1u);
  EXPECT_EQ(s.list_calibrations(b).size(), 0u);
  EXPECT_EQ(s.list_calibrations().size(), 1u);

  c.sha256 = "cal-2";
  c.model_id = 12345;
  expect_store_error([&] { s.upsert_calibration(c); }, s.path(), "no model with id 12345");
}

TEST(RunStore, RunsRoundTripFindAndFilter) {
  RunStore s(skvq::test::temp_dir("store") + "/runs.sqlite");
  int64_t m = s.upsert_model(model_rec("stories260K", "sha-a"));
  int64_t m2 = s.upsert_model(model_rec("other", "sha-b"));
  auto r = ppl_run(m, "k2-v2-g32-fp8", 7.25);
  int64_t id = s.add_run(r);
  auto got = s.get_run(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, "ppl");
  EXPECT_EQ(got->model_id, m);
  EXPECT_FALSE(got->calibration_id);
  EXPECT_EQ(got->config, "k2-v2-g32-fp8");
  EXPECT_EQ(got->params, r.params);
  EXPECT_DOUBLE_EQ(got->metrics["ppl"].get<double>(), 7.25);
  EXPECT_EQ(got->status, "done");
  EXPECT_EQ(got->software_version, SKVQ_VERSION);
  EXPECT_DOUBLE_EQ(got->wall_seconds, 1.5);
  EXPECT_TRUE(std::regex_match(got->created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));

  // find_run: same identity (params given in another order / as integral floats) -> newest.
  int64_t id2 = s.add_run(ppl_run(m, "k2-v2-g32-fp8", 7.5));
  auto ident = ppl_run(m, "k2-v2-g32-fp8", 0);
  ident.params = {{"keep_window", false}, {"max_chunks", 4.0}, {"ctx_len", 256}};
  auto found = s.find_run(ident);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, id2);
  ident.params["ctx_len"] = 512;
  EXPECT_FALSE(s.find_run(ident));
  ident = ppl_run(m, "k2-v2-g32-fp8", 0);
  ident.data_sha256 = "other";
  EXPECT_FALSE(s.find_run(ident));
  ident = ppl_run(m2, "k2-v2-g32-fp8", 0);
  EXPECT_FALSE(s.find_run(ident));
  ident = ppl_run(m, "k2-v2-g32-fp8", 0);
  ident.kind = "needle";
  EXPECT_FALSE(s.find_run(ident));

  // Calibration is part of the identity (NULL vs a value).
  skvq::CalibrationRecord c;
  c.model_id = m;
  c.path = "c.json";
  c.sha256 = "c";
  int64_t cid = s.upsert_calibration(c);
  auto withcal = ppl_run(m, "k2-v2-g32-reorder-fp8", 7.0);
  withcal.calibration_id = cid;
  int64_t id3 = s.add_run(withcal);
  ASSERT_TRUE(s.find_run(withcal));
  EXPECT_EQ(s.find_run(withcal)->id, id3);
  EXPECT_EQ(*s.get_run(id3)->calibration_id, cid);
  withcal.calibration_id.reset();
  EXPECT_FALSE(s.find_run(withcal));

  s.add_run(ppl_run(m2, "fp16", 6.9));
  auto needle = ppl_run(m, "fp16", 0);
  needle.kind = "needle";
  s.add_run(needle);

  EXPECT_EQ(s.list_runs().size(), 5u);
  EXPECT_EQ(s.list_runs({"ppl", std::nullopt, ""}).size(), 4u);
  EXPECT_EQ(s.list_runs({"", m2, ""}).size(), 1u);
  EXPECT_EQ(s.list_runs({"", std::nullopt, "reorder"}).size(), 1u);
  EXPECT_EQ(s.list_runs({"ppl", m, "g32"}).size(), 3u);
  auto all = s.list_runs();
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].id, all[i].id);

  s.finish_run(id, "failed", {{"ppl", 9.0}}, 3.25);
  got = s.get_run(id);
  EXPECT_EQ(got->status, "failed");
  EXPECT_DOUBLE_EQ(got->metrics["ppl"].get<double>(), 9.0);
  EXPECT_FALSE(got->metrics.contains("bits_k"));
  EXPECT_DOUBLE_EQ(got->wall_seconds, 3.25);
  expect_store_error([&] { s.finish_run(4242, "done", json::object(), 0); }, s.path(), "no such run");

  expect_store_error([&] { s.add_run(ppl_run(777, "fp16", 1)); }, s.path(), "no model with id 777");
  auto nokind = ppl_run(m, "fp16", 1);
  nokind.kind = "";
  expect_store_error([&] { s.add_run(nokind); }, s.path(), "empty kind");
  EXPECT_EQ(s.list_runs().size(), 5u);
}

TEST(RunStore, ItemsPutReplaceCascade) {
  RunStore s(skvq::test::temp_dir("store") + "/runs.sqlite");
  int64_t m = s.upsert_model(model_rec("stories260K", "sha-a"));
  auto r = ppl_run(m, "fp16", 0);
  r.kind = "needle";
  r.status = "running";
  int64_t id = s.add_run(r);
  EXPECT_EQ(s.get_run(id)->status, "running");
  s.put_item({id, "L256_D50.0", {{"rougeL_f", 0.5}}});
  s.put_item({id, "L256_D0.0", {{"rougeL_f", 1.0}}});
  s.put_item({id, "L256_D50.0", {{"rougeL_f", 0.75}}});  // replaces
  EXPECT_EQ(s.item_count(id), 2);
  auto items = s.items(id);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "L256_D50.0");  // insertion order kept on replace
  EXPECT_DOUBLE_EQ(items[0].data["rougeL_f"].get<double>(), 0.75);
  EXPECT_EQ(items[1].key, "L256_D0.0");
  auto one = s.item(id, "L256_D0.0");
  ASSERT_TRUE(one);
  EXPECT_DOUBLE_EQ(one->data["rougeL_f"].get<double>(), 1.0);
  EXPECT_FALSE(s.item(id, "nope"));
  expect_store_error([&] { s.put_item({id + 100, "k", 1}); }, s.path(), "no such run");
  expect_store_error([&] { s.put_item({id, "", 1}); }, s.path(), "empty key");

  EXPECT_TRUE(s.delete_run(id));
  EXPECT_FALSE(s.delete_run(id));
  EXPECT_FALSE(s.get_run(id));
  EXPECT_EQ(s.item_count(id), 0);
  RawDb raw(s.path());
  EXPECT_EQ(raw.text("SELECT COUNT(*) FROM run_items"), "0");  // cascaded
  // Ids are not reused after a delete.
  EXPECT_GT(s.add_run(r), id);
}

TEST(RunStore, ExportCsvAndJson) {
  RunStore s(skvq::test::temp_dir("store") + "/runs.sqlite");
  int64_t m = s.upsert_model(model_rec("stories260K", "sha-a"));
  auto r1 = ppl_run(m, "k2-v2-g32-fp8", 7.25);
  r1.created_at = "2024-01-02T03:04:05Z";
  r1.data_path = "text/a,b.txt";  // needs quoting
  int64_t id1 = s.add_run(r1);
  auto r2 = ppl_run(m, "fp16", 6.5);
  r2.created_at = "2024-01-02T03:04:06Z";
  r2.metrics = {{"ppl", 6.5}, {"note", "say \"hi\""}};
  int64_t id2 = s.add_run(r2);
  s.put_item({id2, "a", {{"x", 1}}});

  std::string csv = s.export_csv(s.list_runs());
  std::string expected =
      "id,kind,model,config,calibration_id,data_path,created_at,wall_seconds,status,bits_k,bits_v,note,ppl,tokens\n" +
      std::to_string(id1) +
      ",ppl,stories260K,k2-v2-g32-fp8,,\"text/a,b.txt\",2024-01-02T03:04:05Z,1.5,done,2.125,2.125,,7.25,1020\n" +
      std::to_string(id2) +
      ",ppl,stories260K,fp16,,text/tinyshakespeare.txt,2024-01-02T03:04:06Z,1.5,done,,,\"say \"\"hi\"\"\",6.5,\n";
  EXPECT_EQ(csv, expected);

  json j = s.export_json(s.list_runs(), true);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["id"], id1);
  EXPECT_EQ(j[0]["model"], "stories260K");
  EXPECT_TRUE(j[0]["calibration_id"].is_null());
  EXPECT_EQ(j[0]["params"]["ctx_len"], 256);
  EXPECT_DOUBLE_EQ(j[0]["metrics"]["ppl"].get<double>(), 7.25);
  EXPECT_TRUE(j[0]["items"].empty());
  EXPECT_EQ(j[1]["items"]["a"]["x"], 1);
  EXPECT_FALSE(s.export_json(s.list_runs(), false)[1].contains("items"));
}

TEST(RunStore, CanonicalJson) {
  EXPECT_EQ(skvq::canonical_json({{"b", 2.0}, {"a", {1.0, 1.5}}}), R"({"a":[1,1.5],"b":2})");
  EXPECT_EQ(skvq::canonical_json(json::parse(R"({"z":1,"y":{"q":3.0}})")), R"({"y":{"q":3},"z":1})");
}

TEST(RunStore, CommandLine) {
  const std::string skvq_bin = skvq::test::built("app/skvq");
  if (!fs::exists(skvq_bin)) GTEST_SKIP() << skvq_bin << " not built";
  const std::string dir = skvq::test::temp_dir("store");
  const std::string db = dir + "/runs.sqlite";
  int64_t keep = 0, gone = 0;
  {
    RunStore s(db);
    int64_t m = s.upsert_model(model_rec("stories260K", "sha-a"));
    keep = s.add_run(ppl_run(m, "k2-v2-g32-fp8", 7.25));
    auto n = ppl_run(m, "fp16", 0);
    n.kind = "needle";
    gone = s.add_run(n);
    s.put_item({gone, "L256_D50.0", {{"rougeL_f", 0.5}}});
  }
  auto run = [&](const std::string& args) {
    const std::string out = dir + "/out.txt";
    const std::string cmd = skvq_bin + " --db " + db + " " + args + " > " + out + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::make_pair(WEXITSTATUS(rc), text);
  };
  auto [rc, list] = run("runs list --kind ppl");
  EXPECT_EQ(rc, 0) << list;
  EXPECT_NE(list.find("k2-v2-g32-fp8"), std::string::npos) << list;
  EXPECT_NE(list.find("7.2500"), std::string::npos) << list;
  EXPECT_EQ(list.find("needle"), std::string::npos) << list;
  auto [rc2, csv] = run("runs export --csv");
  EXPECT_EQ(rc2, 0);
  EXPECT_EQ(csv, RunStore(db).export_csv(RunStore(db).list_runs()));
  auto [rc3, shown] = run("runs show " + std::to_string(gone) + " --json --items");
  EXPECT_EQ(rc3, 0) << shown;
  auto j = json::parse(shown);
  EXPECT_EQ(j["items_count"], 1);
  EXPECT_DOUBLE_EQ(j["items"]["L256_D50.0"]["rougeL_f"].get<double>(), 0.5);
  EXPECT_EQ(run("runs delete " + std::to_string(gone)).first, 0);
  EXPECT_EQ(run("runs delete " + std::to_string(gone)).first, 1);  // no such run: error
  RunStore s(db);
  ASSERT_EQ(s.list_runs().size(), 1u);
  EXPECT_EQ(s.list_runs()[0].id, keep);
  EXPECT_EQ(run("runs show 9999").first, 1);
}

// Before schema version 2 a model was found by its weights sha256 alone: the same weights with
// another config or tokenizer got the old model row (renamed) and its stored results.

TEST(RunStore, ModelIdentityIsMoreThanTheWeights) {
  RunStore s(skvq::test::temp_dir("store") + "/runs.sqlite");
  auto a = model_rec("m", "same-weights");
  a.identity = "identity-a";
  auto b = a;
  b.name = "m-rope4";
  b.identity = "identity-b";
  const int64_t ia = s.upsert_model(a), ib = s.upsert_model(b);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(s.get_model(ia)->name, "m");  // not renamed by the other model
  EXPECT_EQ(s.get_model(ib)->sha256, "same-weights");
  EXPECT_EQ(s.upsert_model(a), ia);
  s.add_run(ppl_run(ia, "fp16", 4.0));
  EXPECT_FALSE(s.find_run(ppl_run(ib, "fp16", 0)));  // a's result is not b's
  a.identity.clear();
  expect_store_error([&] { s.upsert_model(a); }, s.path(), "empty identity");
}

// A store written by schema version 1 (the DDL of that release) keeps its rows and ids, and its
// models, identified by their weights alone, match no new identity.

TEST(RunStore, MigratesVersionOneStores) {
  const std::string path = skvq::test::temp_dir("store") + "/v1.sqlite";
  {
    RawDb raw(path);
    ASSERT_EQ(raw.exec(R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, config TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
CREATE TABLE calibrations(id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE, path TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE, text_path TEXT NOT NULL, text_sha256 TEXT NOT NULL,
  samples INTEGER NOT NULL, seq_len INTEGER NOT NULL, seed INTEGER NOT NULL,
  group_sizes TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX calibrations_model ON calibrations(model_id);
CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
  model_id INTEGER NOT NULL REFERENCES models(id), calibration_id INTEGER REFERENCES calibrations(id),
  config TEXT NOT NULL, data_path TEXT NOT NULL DEFAULT '', data_sha256 TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'done', software_version TEXT NOT NULL, created_at TEXT NOT NULL,
  wall_seconds REAL NOT NULL DEFAULT 0);
CREATE INDEX runs_identity ON runs(kind, model_id, config, data_sha256);
CREATE TABLE run_items(id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL,
  data TEXT NOT NULL, UNIQUE(run_id, key));
INSERT INTO models VALUES (7, 'stories', '/m.bin', 'w-sha', '{"hidden_size":64}', '2025-01-01T00:00:00Z');
INSERT INTO calibrations VALUES (3, 7, '/c.json', 'c-sha', 't', 't-sha', 4, 256, 0, '[8]', '2025-01-01T00:00:00Z');
INSERT INTO runs(id, kind, model_id, calibration_id, config, metrics, status, software_version, created_at)
  VALUES (5, 'ppl', 7, 3, 'k2-v2-g8', '{"ppl":4.5}', 'done', '0.1', '2025-01-01T00:00:00Z');
INSERT INTO run_items(run_id, key, data) VALUES (5, 'a', '1');
)sql"),
              SQLITE_OK);
  }
  RunStore s(path);
  auto models = s.list_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, 7);
  EXPECT_EQ(models[0].sha256, "w-sha");
  EXPECT_EQ(models[0].identity, "v1-weights-only:w-sha");
  EXPECT_EQ(models[0].config["hidden_size"], 64);
  auto run = s.get_run(5);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->model_id, 7);
  EXPECT_EQ(run->calibration_id, std::optional<int64_t>(3));
  EXPECT_DOUBLE_EQ(run->metrics["ppl"].get<double>(), 4.5);
  EXPECT_EQ(run->owner, "");
  EXPECT_EQ(s.get_calibration(3)->model_id, 7);
  // The same weights under a full identity are a new model; the old row stays as it was.
  auto m = model_rec("stories", "w-sha");
  m.identity = "full-identity";
  EXPECT_NE(s.upsert_model(m), 7);
  EXPECT_EQ(s.get_model(7)->identity, "v1-weights-only:w-sha");
  // Foreign keys hold after the table rebuild: items cascade, unknown models are refused.
  EXPECT_TRUE(s.delete_run(5));
  EXPECT_EQ(s.item_count(5), 0);
  expect_store_error([&] { s.add_run(ppl_run(999, "fp16", 1)); }, path, "no model with id 999");
  RawDb raw(path);
  EXPECT_EQ(raw.text("SELECT version FROM schema_version"), "3");
  EXPECT_EQ(raw.text("SELECT COUNT(*) FROM sqlite_master WHERE name = 'models_v2'"), "0");
  EXPECT_EQ(raw.text("PRAGMA foreign_key_check"), "");
}
