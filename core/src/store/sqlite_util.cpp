// sqlite3 helpers for the run store.
#include "store/sqlite_util.h"

#include <utility>

namespace skvq::store {

StoreError sqlite_error(const Conn& c, const std::string& doing, int rc) {
  std::string msg = c.db ? sqlite3_errmsg(c.db) : sqlite3_errstr(rc);
  std::string why;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      why = "the database is locked by another connection (gave up after " +
            std::to_string(c.busy_timeout_ms) +
            " ms; wait longer with SKVQ_DB_LOCK_TIMEOUT=SECONDS or --db-lock-timeout)";
      break;
    case SQLITE_NOTADB:
      why = "not a SQLite database, so not a run store";
      break;
    case SQLITE_CORRUPT:
      why = "the database file is corrupt";
      break;
    case SQLITE_CANTOPEN:
      why = "cannot open or create the database file (does the directory exist, is it writable?)";
      break;
    case SQLITE_READONLY:
      why = "the database cannot be written (read-only file or directory?)";
      break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      why = "permission denied";
      break;
    case SQLITE_FULL:
      why = "the disk is full";
      break;
    case SQLITE_IOERR:
      why = "I/O error";
      break;
    case SQLITE_CONSTRAINT:
      why = "constraint violated";
      break;
    default:
      why = "SQLite error " + std::to_string(rc);
  }
  return StoreError(*c.path + ": " + doing + ": " + why + " (sqlite: " + msg + ")");
}

void exec(const Conn& c, const char* sql, const std::string& doing) {
  char* err = nullptr;
  int rc = sqlite3_exec(c.db, sql, nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) throw sqlite_error(c, doing, rc);
}

Stmt::Stmt(const Conn& c, const char* sql, std::string doing) : c_(c), doing_(std::move(doing)) {
  int rc = sqlite3_prepare_v2(c.db, sql, -1, &st_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st_);
    st_ = nullptr;
    throw sqlite_error(c_, doing_, rc);
  }
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

Stmt& Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(st_, i, static_cast<sqlite3_int64>(v));
  if (rc != SQLITE_OK) throw sqlite_error(c_, doing_, rc);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  int rc = sqlite3_bind_double(st_, i, v);
  if (rc != SQLITE_OK) throw sqlite_error(c_, doing_, rc);
  return *this;
}
Stmt& Stmt::bind(int i, const std::string& v) {
  int rc = sqlite3_bind_text64(st_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw sqlite_error(c_, doing_, rc);
  return *this;
}
Stmt& Stmt::bind(int i, const std::optional<int64_t>& v) {
  return v ? bind(i, *v) : bind_null(i);
}
Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(st_, i);
  if (rc != SQLITE_OK) throw sqlite_error(c_, doing_, rc);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw sqlite_error(c_, doing_, rc);
}

void Stmt::run() {
  while (step()) {
  }
}

int64_t Stmt::col_int(int i) const { return sqlite3_column_int64(st_, i); }
double Stmt::col_double(int i) const { return sqlite3_column_double(st_, i); }
std::string Stmt::col_text(int i) const {
  const unsigned char* t = sqlite3_column_text(st_, i);
  int n = sqlite3_column_bytes(st_, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(n)) : std::string();
}
bool Stmt::col_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }

Transaction::Transaction(const Conn& c, std::string doing) : c_(c), doing_(std::move(doing)) {
  exec(c_, "BEGIN IMMEDIATE", doing_);
  open_ = true;
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(c_.db, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(c_, "COMMIT", doing_);
  open_ = false;
}

}  // namespace skvq::store
