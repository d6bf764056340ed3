#pragma once
// Helpers shared by the run store's source files (private): JSON column parsing, row existence.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "store/sqlite_util.h"

#ifndef SKVQ_VERSION
#define SKVQ_VERSION "unknown"
#endif

namespace skvq::store {

/// Parses a JSON column; StoreError "<path>: <what> holds malformed JSON (...)" when it is not.
nlohmann::json parse_column(const std::string& path, const std::string& what, const std::string& text);

/// True when `sql` (one ?1 parameter bound to id) returns a row.
bool exists_row(const Conn& c, const char* sql, int64_t id, const std::string& doing);

}  // namespace skvq::store
