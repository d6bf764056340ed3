// The SQLite run store: opening, migrations, models, calibrations, runs and items.
#include "skvq/run_store.h"

#include <sqlite3.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>

#include "skvq/error.h"
#include "store/sqlite_util.h"

#ifndef SKVQ_VERSION
#define SKVQ_VERSION "unknown"
#endif

namespace skvq {
namespace fs = std::filesystem;
using nlohmann::json;
using store::Conn;
using store::Stmt;
using store::Transaction;

namespace {

// Ordered migrations: step i brings the schema from version i to version i + 1.
// Never edit a released step; append a new one.
const char* const kMigrations[] = {
    // version 1
    R"sql(
CREATE TABLE models(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  config TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
CREATE TABLE calibrations(
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  text_path TEXT NOT NULL,
  text_sha256 TEXT NOT NULL,
  samples INTEGER NOT NULL,
  seq_len INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  group_sizes TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE INDEX calibrations_model ON calibrations(model_id);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  model_id INTEGER NOT NULL REFERENCES models(id),
  calibration_id INTEGER REFERENCES calibrations(id),
  config TEXT NOT NULL,
  data_path TEXT NOT NULL DEFAULT '',
  data_sha256 TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}',
  metrics TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'done',
  software_version TEXT NOT NULL,
  created_at TEXT NOT NULL,
  wall_seconds REAL NOT NULL DEFAULT 0);
CREATE INDEX runs_identity ON runs(kind, model_id, config, data_sha256);
CREATE TABLE run_items(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE(run_id, key));
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

// Tables a run store may hold (besides SQLite's own sqlite_*).
const std::set<std::string> kKnownTables = {"schema_version", "models", "calibrations", "runs",
                                            "run_items"};

json canonicalize(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      json out = json::object();
      for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = canonicalize(it.value());
      return out;
    }
    case json::value_t::array: {
      json out = json::array();
      for (const auto& v : j) out.push_back(canonicalize(v));
      return out;
    }
    case json::value_t::number_float: {
      double d = j.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
        return json(static_cast<int64_t>(d));
      return j;
    }
    case json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return json(static_cast<int64_t>(u));
      return j;
    }
    default:
      return j;
  }
}

json parse_column(const std::string& path, const std::string& what, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw StoreError(path + ": " + what + " holds malformed JSON (" + e.what() + ")");
  }
}

constexpr const char* kRunColumns =
    "id, kind, model_id, calibration_id, config, data_path, data_sha256, params, metrics, "
    "status, software_version, created_at, wall_seconds";

RunRecord read_run(const std::string& path, const Stmt& s) {
  RunRecord r;
  r.id = s.col_int(0);
  r.kind = s.col_text(1);
  r.model_id = s.col_int(2);
  if (!s.col_null(3)) r.calibration_id = s.col_int(3);
  r.config = s.col_text(4);
  r.data_path = s.col_text(5);
  r.data_sha256 = s.col_text(6);
  r.params = parse_column(path, "run " + std::to_string(r.id) + " params", s.col_text(7));
  r.metrics = parse_column(path, "run " + std::to_string(r.id) + " metrics", s.col_text(8));
  r.status = s.col_text(9);
  r.software_version = s.col_text(10);
  r.created_at = s.col_text(11);
  r.wall_seconds = s.col_double(12);
  return r;
}

constexpr const char* kModelColumns = "id, name, path, sha256, config, created_at";

ModelRecord read_model(const std::string& path, const Stmt& s) {
  ModelRecord m;
  m.id = s.col_int(0);
  m.name = s.col_text(1);
  m.path = s.col_text(2);
  m.sha256 = s.col_text(3);
  m.config = parse_column(path, "model " + std::to_string(m.id) + " config", s.col_text(4));
  m.created_at = s.col_text(5);
  return m;
}

constexpr const char* kCalibrationColumns =
    "id, model_id, path, sha256, text_path, text_sha256, samples, seq_len, seed, group_sizes, "
    "created_at";

CalibrationRecord read_calibration(const std::string& path, const Stmt& s) {
  CalibrationRecord c;
  c.id = s.col_int(0);
  c.model_id = s.col_int(1);
  c.path = s.col_text(2);
  c.sha256 = s.col_text(3);
  c.text_path = s.col_text(4);
  c.text_sha256 = s.col_text(5);
  c.samples = s.col_int(6);
  c.seq_len = s.col_int(7);
  c.seed = static_cast<uint64_t>(s.col_int(8));  // stored as the int64 with the same bits
  json g = parse_column(path, "calibration " + std::to_string(c.id) + " group_sizes",
                        s.col_text(9));
  try {
    c.group_sizes = g.get<std::vector<int64_t>>();
  } catch (const json::exception& e) {
    throw StoreError(path + ": calibration " + std::to_string(c.id) +
                     " group_sizes is not a list of integers");
  }
  c.created_at = s.col_text(10);
  return c;
}

bool exists_row(const Conn& c, const char* sql, int64_t id, const std::string& doing) {
  Stmt s(c, sql, doing);
  s.bind(1, id);
  return s.step();
}

}  // namespace

std::string canonical_json(const json& j) { return canonicalize(j).dump(); }

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int RunStore::schema_version() { return kSchemaVersion; }

RunStore::RunStore(const std::string& path, int busy_timeout_ms)
    : path_(path), busy_timeout_ms_(busy_timeout_ms) {
  std::error_code ec;
  if (path.empty()) throw StoreError("(empty path): no run store path given");
  if (fs::is_directory(path, ec))
    throw StoreError(path + ": is a directory, expected a run store file");
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           nullptr);
  Conn c{db_, &path_, busy_timeout_ms_};
  if (rc != SQLITE_OK) {
    StoreError err = store::sqlite_error(c, "cannot open the run store", rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw err;
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms_);
    migrate();
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

RunStore::~RunStore() {
  if (db_) sqlite3_close_v2(db_);
}

void RunStore::set_busy_timeout(int ms) {
  busy_timeout_ms_ = ms;
  sqlite3_busy_timeout(db_, ms);
}

void RunStore::migrate() {
  Conn c{db_, &path_, busy_timeout_ms_};
  // 1. Is this a run store? Reading the schema fails on a file that is not SQLite or whose
  //    first page is corrupt; nothing is written before this check passes.
  auto read_state = [&](bool& has_version_table, std::string& foreign) {
    has_version_table = false;
    foreign.clear();
    Stmt s(c, "SELECT name FROM sqlite_master WHERE type = 'table'", "reading the schema");
    while (s.step()) {
      std::string name = s.col_text(0);
      if (name == "schema_version") has_version_table = true;
      if (name.rfind("sqlite_", 0) != 0 && !kKnownTables.count(name) && foreign.empty())
        foreign = name;
    }
  };
  auto read_version = [&]() -> int {
    Stmt s(c, "SELECT MAX(version) FROM schema_version", "reading the schema version");
    return s.step() && !s.col_null(0) ? static_cast<int>(s.col_int(0)) : 0;
  };
  auto check = [&](bool has_version_table, const std::string& foreign, int version) {
    if (!foreign.empty())
      throw StoreError(path_ + ": not a SKVQ run store (it holds a table '" + foreign +
                       "' that a run store does not have)");
    if (version > kSchemaVersion)
      throw StoreError(path_ + ": the run store has schema version " + std::to_string(version) +
                       ", newer than this software (skvq " SKVQ_VERSION " knows up to version " +
                       std::to_string(kSchemaVersion) + "); use a newer skvq");
  };

  bool has_version = false;
  std::string foreign;
  read_state(has_version, foreign);
  if (!has_version && foreign.empty()) {
    // Either a new file or a file holding only SQLite's own tables: a store to create.
  } else if (!has_version) {
    check(has_version, foreign, 0);
  }
  int version = has_version ? read_version() : 0;
  check(has_version, foreign, version);

  // 2. Connection settings. journal_mode needs no transaction; it is a no-op when already WAL.
  {
    Stmt s(c, "PRAGMA journal_mode = WAL", "switching to WAL journal mode");
    std::string mode = s.step() ? s.col_text(0) : "";
    if (mode != "wal" && mode != "memory")
      throw StoreError(path_ + ": cannot use WAL journal mode (SQLite kept '" + mode + "')");
  }
  store::exec(c, "PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (version == kSchemaVersion) return;

  // 3. Migrate inside one write transaction; re-read the state there, since another process
  //    may have created or migrated the store in the meantime.
  Transaction tx(c, "migrating the run store");
  read_state(has_version, foreign);
  version = has_version ? read_version() : 0;
  check(has_version, foreign, version);
  if (!has_version) {
    store::exec(c, "CREATE TABLE schema_version(version INTEGER NOT NULL)",
                "creating the schema_version table");
    store::exec(c, "INSERT INTO schema_version(version) VALUES (0)",
                "creating the schema_version table");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    store::exec(c, kMigrations[v], "migrating to schema version " + std::to_string(v + 1));
    Stmt s(c, "UPDATE schema_version SET version = ?1", "recording the schema version");
    s.bind(1, static_cast<int64_t>(v + 1));
    s.run();
  }
  tx.commit();
}

int64_t RunStore::upsert_model(const ModelRecord& m) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot store model '" + m.name + "'";
  if (m.sha256.empty()) throw StoreError(path_ + ": " + doing + ": empty sha256");
  Transaction tx(c, doing);
  int64_t id = 0;
  std::string config = canonical_json(m.config.is_null() ? json::object() : m.config);
  {
    Stmt s(c, "SELECT id FROM models WHERE sha256 = ?1", doing);
    s.bind(1, m.sha256);
    if (s.step()) id = s.col_int(0);
  }
  if (id) {
    Stmt s(c, "UPDATE models SET name = ?2, path = ?3, config = ?4 WHERE id = ?1", doing);
    s.bind(1, id).bind(2, m.name).bind(3, m.path).bind(4, config);
    s.run();
  } else {
    Stmt s(c,
           "INSERT INTO models(name, path, sha256, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
           doing);
    s.bind(1, m.name).bind(2, m.path).bind(3, m.sha256).bind(4, config);
    s.bind(5, m.created_at.empty() ? utc_now_iso8601() : m.created_at);
    s.run();
    id = sqlite3_last_insert_rowid(db_);
  }
  tx.commit();
  return id;
}

int64_t RunStore::upsert_calibration(const CalibrationRecord& cal) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot store calibration '" + cal.path + "'";
  if (cal.sha256.empty()) throw StoreError(path_ + ": " + doing + ": empty sha256");
  Transaction tx(c, doing);
  int64_t id = 0;
  {
    Stmt s(c, "SELECT id FROM calibrations WHERE sha256 = ?1", doing);
    s.bind(1, cal.sha256);
    if (s.step()) id = s.col_int(0);
  }
  if (id) {
    Stmt s(c, "UPDATE calibrations SET path = ?2 WHERE id = ?1", doing);
    s.bind(1, id).bind(2, cal.path);
    s.run();
  } else {
    if (!exists_row(c, "SELECT 1 FROM models WHERE id = ?1", cal.model_id, doing))
      throw StoreError(path_ + ": " + doing + ": no model with id " +
                       std::to_string(cal.model_id) + " (store the model first)");
    Stmt s(c,
           "INSERT INTO calibrations(model_id, path, sha256, text_path, text_sha256, samples, "
           "seq_len, seed, group_sizes, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
           doing);
    s.bind(1, cal.model_id).bind(2, cal.path).bind(3, cal.sha256).bind(4, cal.text_path);
    s.bind(5, cal.text_sha256).bind(6, cal.samples).bind(7, cal.seq_len);
    s.bind(8, static_cast<int64_t>(cal.seed));
    s.bind(9, json(cal.group_sizes).dump());
    s.bind(10, cal.created_at.empty() ? utc_now_iso8601() : cal.created_at);
    s.run();
    id = sqlite3_last_insert_rowid(db_);
  }
  tx.commit();
  return id;
}

std::vector<ModelRecord> RunStore::list_models() {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, (std::string("SELECT ") + kModelColumns + " FROM models ORDER BY id").c_str(),
         "cannot list models");
  std::vector<ModelRecord> out;
  while (s.step()) out.push_back(read_model(path_, s));
  return out;
}

std::optional<ModelRecord> RunStore::get_model(int64_t id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, (std::string("SELECT ") + kModelColumns + " FROM models WHERE id = ?1").c_str(),
         "cannot read model " + std::to_string(id));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_model(path_, s);
}

std::vector<CalibrationRecord> RunStore::list_calibrations(std::optional<int64_t> model_id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c,
         (std::string("SELECT ") + kCalibrationColumns +
          " FROM calibrations WHERE ?1 IS NULL OR model_id = ?1 ORDER BY id")
             .c_str(),
         "cannot list calibrations");
  s.bind(1, model_id);
  std::vector<CalibrationRecord> out;
  while (s.step()) out.push_back(read_calibration(path_, s));
  return out;
}

std::optional<CalibrationRecord> RunStore::get_calibration(int64_t id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c,
         (std::string("SELECT ") + kCalibrationColumns + " FROM calibrations WHERE id = ?1")
             .c_str(),
         "cannot read calibration " + std::to_string(id));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_calibration(path_, s);
}

int64_t RunStore::add_run(const RunRecord& r) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot add " + (r.kind.empty() ? std::string("a") : r.kind) +
                            " run '" + r.config + "'";
  if (r.kind.empty()) throw StoreError(path_ + ": " + doing + ": empty kind");
  if (r.config.empty()) throw StoreError(path_ + ": " + doing + ": empty configuration");
  Transaction tx(c, doing);
  if (!exists_row(c, "SELECT 1 FROM models WHERE id = ?1", r.model_id, doing))
    throw StoreError(path_ + ": " + doing + ": no model with id " + std::to_string(r.model_id) +
                     " (store the model first)");
  if (r.calibration_id &&
      !exists_row(c, "SELECT 1 FROM calibrations WHERE id = ?1", *r.calibration_id, doing))
    throw StoreError(path_ + ": " + doing + ": no calibration with id " +
                     std::to_string(*r.calibration_id));
  Stmt s(c,
         "INSERT INTO runs(kind, model_id, calibration_id, config, data_path, data_sha256, "
         "params, metrics, status, software_version, created_at, wall_seconds) "
         "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
         doing);
  s.bind(1, r.kind).bind(2, r.model_id).bind(3, r.calibration_id).bind(4, r.config);
  s.bind(5, r.data_path).bind(6, r.data_sha256);
  s.bind(7, canonical_json(r.params.is_null() ? json::object() : r.params));
  s.bind(8, canonical_json(r.metrics.is_null() ? json::object() : r.metrics));
  s.bind(9, r.status.empty() ? std::string("done") : r.status);
  s.bind(10, r.software_version.empty() ? std::string(SKVQ_VERSION) : r.software_version);
  s.bind(11, r.created_at.empty() ? utc_now_iso8601() : r.created_at);
  s.bind(12, r.wall_seconds);
  s.run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit();
  return id;
}

void RunStore::finish_run(int64_t id, const std::string& status, const json& metrics,
                          double wall_seconds) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot finish run " + std::to_string(id);
  Transaction tx(c, doing);
  Stmt s(c, "UPDATE runs SET status = ?2, metrics = ?3, wall_seconds = ?4 WHERE id = ?1", doing);
  s.bind(1, id).bind(2, status);
  s.bind(3, canonical_json(metrics.is_null() ? json::object() : metrics)).bind(4, wall_seconds);
  s.run();
  if (sqlite3_changes(db_) == 0) throw StoreError(path_ + ": " + doing + ": no such run");
  tx.commit();
}

std::optional<RunRecord> RunStore::find_run(const RunRecord& r) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c,
         (std::string("SELECT ") + kRunColumns +
          " FROM runs WHERE kind = ?1 AND model_id = ?2 AND calibration_id IS ?3 AND "
          "config = ?4 AND data_sha256 = ?5 AND params = ?6 ORDER BY id DESC LIMIT 1")
             .c_str(),
         "cannot look up a " + r.kind + " run");
  s.bind(1, r.kind).bind(2, r.model_id).bind(3, r.calibration_id).bind(4, r.config);
  s.bind(5, r.data_sha256);
  s.bind(6, canonical_json(r.params.is_null() ? json::object() : r.params));
  if (!s.step()) return std::nullopt;
  return read_run(path_, s);
}

std::optional<RunRecord> RunStore::get_run(int64_t id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1").c_str(),
         "cannot read run " + std::to_string(id));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_run(path_, s);
}

std::vector<RunRecord> RunStore::list_runs(const RunFilter& f) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c,
         (std::string("SELECT ") + kRunColumns +
          " FROM runs WHERE (?1 = '' OR kind = ?1) AND (?2 IS NULL OR model_id = ?2) AND "
          "(?3 = '' OR instr(config, ?3) > 0) ORDER BY id")
             .c_str(),
         "cannot list runs");
  s.bind(1, f.kind).bind(2, f.model_id).bind(3, f.config_contains);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(read_run(path_, s));
  return out;
}

bool RunStore::delete_run(int64_t id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot delete run " + std::to_string(id);
  Transaction tx(c, doing);
  Stmt s(c, "DELETE FROM runs WHERE id = ?1", doing);
  s.bind(1, id);
  s.run();
  bool deleted = sqlite3_changes(db_) > 0;
  tx.commit();
  return deleted;
}

void RunStore::put_item(const RunItem& item) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing =
      "cannot store item '" + item.key + "' of run " + std::to_string(item.run_id);
  if (item.key.empty()) throw StoreError(path_ + ": " + doing + ": empty key");
  Transaction tx(c, doing);
  if (!exists_row(c, "SELECT 1 FROM runs WHERE id = ?1", item.run_id, doing))
    throw StoreError(path_ + ": " + doing + ": no such run");
  Stmt s(c,
         "INSERT INTO run_items(run_id, key, data) VALUES (?1, ?2, ?3) "
         "ON CONFLICT(run_id, key) DO UPDATE SET data = excluded.data",
         doing);
  s.bind(1, item.run_id).bind(2, item.key).bind(3, canonical_json(item.data));
  s.run();
  tx.commit();
}

std::vector<RunItem> RunStore::items(int64_t run_id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, "SELECT key, data FROM run_items WHERE run_id = ?1 ORDER BY id",
         "cannot read the items of run " + std::to_string(run_id));
  s.bind(1, run_id);
  std::vector<RunItem> out;
  while (s.step()) {
    RunItem it;
    it.run_id = run_id;
    it.key = s.col_text(0);
    it.data = parse_column(path_, "item '" + it.key + "' of run " + std::to_string(run_id),
                           s.col_text(1));
    out.push_back(std::move(it));
  }
  return out;
}

std::optional<RunItem> RunStore::item(int64_t run_id, const std::string& key) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, "SELECT data FROM run_items WHERE run_id = ?1 AND key = ?2",
         "cannot read item '" + key + "' of run " + std::to_string(run_id));
  s.bind(1, run_id).bind(2, key);
  if (!s.step()) return std::nullopt;
  RunItem it;
  it.run_id = run_id;
  it.key = key;
  it.data = parse_column(path_, "item '" + key + "' of run " + std::to_string(run_id),
                         s.col_text(0));
  return it;
}

int64_t RunStore::item_count(int64_t run_id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, "SELECT COUNT(*) FROM run_items WHERE run_id = ?1",
         "cannot count the items of run " + std::to_string(run_id));
  s.bind(1, run_id);
  return s.step() ? s.col_int(0) : 0;
}

}  // namespace skvq
