// The SQLite run store: opening, schema migrations, canonical JSON and the shared helpers.
// Models and calibrations: run_store_models.cpp; runs and items: run_store_runs.cpp.
#include "skvq/run_store.h"

#include <sqlite3.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>

#include "skvq/error.h"
#include "store/run_store_internal.h"
#include "store/sqlite_util.h"

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

}  // namespace

namespace store {

json parse_column(const std::string& path, const std::string& what, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw StoreError(path + ": " + what + " holds malformed JSON (" + e.what() + ")");
  }
}

bool exists_row(const Conn& c, const char* sql, int64_t id, const std::string& doing) {
  Stmt s(c, sql, doing);
  s.bind(1, id);
  return s.step();
}

}  // namespace store

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

}  // namespace skvq
