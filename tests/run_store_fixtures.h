#pragma once
// Shared by the run-store tests (test_run_store*.cpp): records to store, raw SQLite access behind
// the store's back, and the expectation that an error names the file and the problem.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "skvq/error.h"
#include "skvq/run_store.h"

namespace skvq::test {

inline skvq::ModelRecord model_rec(const std::string& name, const std::string& sha) {
  skvq::ModelRecord m;
  m.name = name;
  m.path = "/models/" + name + ".bin";
  m.sha256 = sha;
  m.identity = "id-" + sha;
  m.config = {{"hidden_size", 64}, {"num_hidden_layers", 5}};
  return m;
}

inline skvq::RunRecord ppl_run(int64_t model_id, const std::string& config, double ppl) {
  skvq::RunRecord r;
  r.kind = "ppl";
  r.model_id = model_id;
  r.config = config;
  r.data_path = "text/tinyshakespeare.txt";
  r.data_sha256 = "abc123";
  r.params = {{"ctx_len", 256}, {"max_chunks", 4}, {"keep_window", false}};
  r.metrics = {{"ppl", ppl}, {"bits_k", 2.125}, {"bits_v", 2.125}, {"tokens", 1020}};
  r.wall_seconds = 1.5;
  return r;
}

// Raw sqlite3 access for poking at the file behind the store's back.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
  int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
};

// Expects `f` to throw a StoreError whose message contains the path and `needle`.
template <class F>
void expect_store_error(F f, const std::string& path, const std::string& needle) {
  try {
    f();
    FAIL() << "expected StoreError containing '" << needle << "'";
  } catch (const skvq::StoreError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

}  // namespace skvq::test
