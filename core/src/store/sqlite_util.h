#pragma once
// Thin RAII helpers over the sqlite3 C API for the run store: prepared statements with bound
// parameters, IMMEDIATE transactions, and errors that name the database file.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "skvq/error.h"

namespace skvq::store {

/// What every helper needs to run a statement and to word an error.
struct Conn {
  sqlite3* db = nullptr;
  const std::string* path = nullptr;
  int busy_timeout_ms = 0;  ///< the lock wait, for messages
};

/// StoreError "<path>: <doing>: <explanation> (sqlite: <message>)" for result code `rc`.
StoreError sqlite_error(const Conn& c, const std::string& doing, int rc);

/// Runs SQL text without results (may hold several statements). Throws StoreError.
void exec(const Conn& c, const char* sql, const std::string& doing);

/// One prepared statement; parameters are numbered from 1, columns from 0.
class Stmt {
 public:
  Stmt(const Conn& c, const char* sql, std::string doing);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, const std::optional<int64_t>& v);
  Stmt& bind_null(int i);
  /// Steps once: true when a row is available, false when done. Throws StoreError.
  bool step();
  /// Steps until done (for INSERT/UPDATE/DELETE). Throws StoreError.
  void run();

  int64_t col_int(int i) const;
  double col_double(int i) const;
  std::string col_text(int i) const;
  bool col_null(int i) const;

 private:
  const Conn& c_;
  sqlite3_stmt* st_ = nullptr;
  std::string doing_;
};

/// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  Transaction(const Conn& c, std::string doing);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  const Conn& c_;
  std::string doing_;
  bool open_ = false;
};

}  // namespace skvq::store
