#pragma once
// Helpers shared by the run store's source files (private): JSON column parsing, row existence.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "skvq/run_store.h"
#include "store/sqlite_util.h"

#ifndef SKVQ_VERSION
#define SKVQ_VERSION "unknown"
#endif

namespace skvq::store {

/// Parses a JSON column; StoreError "<path>: <what> holds malformed JSON (...)" when it is not.
nlohmann::json parse_column(const std::string& path, const std::string& what, const std::string& text);

/// True when `sql` (one ?1 parameter bound to id) returns a row.
bool exists_row(const Conn& c, const char* sql, int64_t id, const std::string& doing);

/// The SQLite URI that opens `path` without writing: "file:<absolute path>?mode=ro" when this
/// process could write the file and its directory (SQLite may then make the WAL index it needs),
/// else "...?immutable=1". Open it with SQLITE_OPEN_READONLY | SQLITE_OPEN_URI.
std::string read_only_uri(const std::string& path);

/// This machine's name as a claim owner and a run's host use it (spaces made '_';
/// "localhost" when it has none).
std::string host_name();

/// The runs columns read_run expects, in order.
extern const char* const kRunColumns;
/// One row of SELECT kRunColumns as a RunRecord. Throws StoreError for malformed JSON columns.
RunRecord read_run(const std::string& path, const Stmt& s);
/// The newest run with r's identity (the body of RunStore::find_run, for use inside a
/// transaction).
std::optional<RunRecord> find_run_in(const Conn& c, const RunRecord& r);
/// Inserts r (checking that its model and calibration exist) and returns its id; the caller
/// holds the transaction. Throws StoreError.
int64_t insert_run(const Conn& c, const RunRecord& r, const std::string& doing);

}  // namespace skvq::store
