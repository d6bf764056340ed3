// The SQLite run store: opening, schema migrations, canonical JSON and the shared helpers.
// Models and calibrations: run_store_models.cpp; runs and items: run_store_runs.cpp.
#include "skvq/run_store.h"

#include <sqlite3.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <thread>

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
    // version 2: a model's identity covers more than its weights (models.sha256 is no longer
    // unique); runs carry a claim (owner, heartbeat). Runs only refer to models by id, so the
    // rebuilt models table keeps every id. Foreign keys are off while migrating.
    R"sql(
CREATE TABLE models_v2(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  identity TEXT NOT NULL UNIQUE,
  identity_json TEXT NOT NULL DEFAULT '{}',
  config TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
INSERT INTO models_v2(id, name, path, sha256, identity, identity_json, config, created_at)
  SELECT id, name, path, sha256, 'v1-weights-only:' || sha256, '{}', config, created_at FROM models;
DROP TABLE models;
ALTER TABLE models_v2 RENAME TO models;
CREATE INDEX models_sha256 ON models(sha256);
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat INTEGER NOT NULL DEFAULT 0;
)sql",
    // version 3: provenance for merged stores (skvq runs merge). runs.host is the machine that
    // computed the run (taken from the claim owner "host pid token" of older rows); run_sources
    // lists the stores a merged run came from.
    R"sql(
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE runs SET host = substr(owner, 1, instr(owner, ' ') - 1) WHERE instr(owner, ' ') > 1;
CREATE TABLE run_sources(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  source_run_id INTEGER NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT '',
  UNIQUE(run_id, source, source_run_id));
CREATE INDEX run_sources_run ON run_sources(run_id);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

// Tables a run store may hold (besides SQLite's own sqlite_*).
const std::set<std::string> kKnownTables = {"schema_version", "models", "calibrations", "runs",
                                            "run_items", "run_sources"};

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

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

namespace store {

// "file:" URI of a path (RFC 3986 percent-encoding of everything but unreserved and '/').
std::string file_uri(const std::string& path) {
  std::string out = "file:";
  char buf[4];
  for (unsigned char ch : fs::absolute(path).string()) {
    if (std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

// Read-only: plain "mode=ro" when this process could write the file and its directory (SQLite
// may then create the WAL index it needs to read), else "immutable=1" (no locks, no WAL index:
// nobody without write access can change the file).
std::string read_only_uri(const std::string& path) {
  const fs::path dir = fs::absolute(path).parent_path();
  const bool writable = ::access(path.c_str(), W_OK) == 0 && ::access(dir.c_str(), W_OK) == 0;
  return file_uri(path) + (writable ? "?mode=ro" : "?immutable=1");
}

}  // namespace store

int RunStore::default_lock_timeout_ms() {
  const char* env = std::getenv("SKVQ_DB_LOCK_TIMEOUT");
  if (!env || !*env) return kDefaultLockTimeoutMs;
  char* end = nullptr;
  const double s = std::strtod(env, &end);
  if (end == env || *end != '\0' || !std::isfinite(s) || s < 0 || s > 2e6)
    throw ConfigError(std::string("SKVQ_DB_LOCK_TIMEOUT: '") + env +
                      "' is not a number of seconds between 0 and 2000000");
  return static_cast<int>(s * 1000.0);
}

int RunStore::busy_handler(void* self, int count) {
  auto* s = static_cast<RunStore*>(self);
  const double now = steady_seconds();
  if (count == 0) {
    s->wait_started_ = now;
    s->wait_noted_ = false;
  }
  const double waited = now - s->wait_started_;
  const double limit = s->busy_timeout_ms_ / 1000.0;
  if (waited >= limit) return 0;
  if (waited >= 5.0 && !s->wait_noted_ && limit > 5.0) {
    std::fprintf(stderr,
                 "skvq: %s: locked by another process; waiting up to %.0f s for it "
                 "(SKVQ_DB_LOCK_TIMEOUT or --db-lock-timeout)\n",
                 s->path_.c_str(), limit);
    s->wait_noted_ = true;
  }
  const double pause = std::min({1.0, 0.001 * std::pow(2.0, std::min(count, 10)), limit - waited});
  std::this_thread::sleep_for(std::chrono::duration<double>(pause));
  return 1;
}

RunStore::RunStore(const std::string& path, int busy_timeout_ms, StoreMode mode)
    : path_(path), busy_timeout_ms_(busy_timeout_ms), read_only_(mode == StoreMode::ReadOnly) {
  std::error_code ec;
  if (path.empty()) throw StoreError("(empty path): no run store path given");
  if (fs::is_directory(path, ec))
    throw StoreError(path + ": is a directory, expected a run store file");
  if (read_only_ && !fs::exists(path, ec)) throw StoreError(path + ": no run store here");
  int rc = read_only_ ? sqlite3_open_v2(store::read_only_uri(path).c_str(), &db_,
                                        SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr)
                      : sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
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
    sqlite3_busy_handler(db_, &RunStore::busy_handler, this);
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

void RunStore::set_busy_timeout(int ms) { busy_timeout_ms_ = ms; }

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

  if (read_only_) {
    if (!has_version)
      throw StoreError(path_ + ": not a SKVQ run store (no schema_version table; nothing to list)");
    if (version < kSchemaVersion)
      throw StoreError(path_ + ": the run store has schema version " + std::to_string(version) +
                       " and needs migrating to version " + std::to_string(kSchemaVersion) +
                       ", which needs write access; open it once with a writable skvq");
    store::exec(c, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    return;
  }

  // 2. Connection settings. journal_mode needs no transaction; it is a no-op when already WAL.
  //    SQLite answers SQLITE_BUSY at once, without the busy handler, when another connection
  //    holds a lock while this one switches (two processes opening a new store together), so
  //    the switch is retried here with the handler's backoff and limit.
  {
    std::string mode;
    for (int attempt = 0;; ++attempt) {
      sqlite3_stmt* st = nullptr;
      int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &st, nullptr);
      if (rc == SQLITE_OK) rc = sqlite3_step(st);
      if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(st, 0);
        mode = t ? reinterpret_cast<const char*>(t) : "";
      }
      sqlite3_finalize(st);
      if (rc == SQLITE_ROW || rc == SQLITE_DONE) break;
      if ((rc & 0xff) != SQLITE_BUSY || !busy_handler(this, attempt))
        throw sqlite_error(c, "switching to WAL journal mode", rc);
    }
    if (mode != "wal" && mode != "memory")
      throw StoreError(path_ + ": cannot use WAL journal mode (SQLite kept '" + mode + "')");
  }
  // Foreign keys stay off while migrating (a table rebuild drops and renames tables, see the
  // version 2 step); PRAGMA foreign_keys is a no-op inside a transaction.
  if (version < kSchemaVersion) {
    store::exec(c, "PRAGMA foreign_keys = OFF", "disabling foreign keys to migrate");
    migrate_schema(version);
  }
  store::exec(c, "PRAGMA foreign_keys = ON", "enabling foreign keys");
}

void RunStore::migrate_schema(int version) {
  Conn c{db_, &path_, busy_timeout_ms_};
  bool has_version = false;
  std::string foreign;
  // 3. Migrate inside one write transaction; re-read the state there, since another process
  //    may have created or migrated the store in the meantime.
  Transaction tx(c, "migrating the run store");
  {
    Stmt s(c, "SELECT name FROM sqlite_master WHERE type = 'table'", "reading the schema");
    while (s.step()) has_version = has_version || s.col_text(0) == "schema_version";
  }
  if (has_version) {
    Stmt s(c, "SELECT MAX(version) FROM schema_version", "reading the schema version");
    version = s.step() && !s.col_null(0) ? static_cast<int>(s.col_int(0)) : 0;
  } else {
    version = 0;
  }
  if (version > kSchemaVersion)
    throw StoreError(path_ + ": the run store was migrated to schema version " +
                     std::to_string(version) + " by a newer skvq meanwhile; use a newer skvq");
  if (version == kSchemaVersion) return;  // done by another process meanwhile
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
  {
    Stmt s(c, "PRAGMA foreign_key_check", "checking foreign keys after migrating");
    if (s.step())
      throw StoreError(path_ + ": migrating to schema version " + std::to_string(kSchemaVersion) +
                       " would leave a row of table '" + s.col_text(0) +
                       "' pointing at nothing; the store was left as it was");
  }
  tx.commit();
}

}  // namespace skvq
