#pragma once
// The `skvq` command-line tests' fixture (test_cli*.cpp): run the built program on the shared data
// in a temporary directory, count the done runs of a store, parse a --json result.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "skvq/common.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace skvq::test {

struct Result {
  int code = -1;
  std::string out;
};

inline std::string skvq_bin() { return skvq::test::built("app/skvq"); }

inline Result run(const std::string& args) {
  Result r;
  const std::string cmd = "SKVQ_DATA_DIR='" + skvq::test::data_dir() + "' '" + skvq_bin() + "' " + args;
  const auto res = skvq::test::run_command(cmd);
  r.code = res.code;
  r.out = res.out;
  return r;
}

inline int count_runs(const std::string& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* st = nullptr;
  int n = -1;
  if (sqlite3_prepare_v2(h, "SELECT count(*) FROM runs WHERE status = 'done'", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(skvq_bin())) GTEST_SKIP() << "skvq not built at " << skvq_bin();
    dir_ = skvq::test::temp_dir("cli");
    model_ = skvq::test::stories_model();
    text_ = skvq::test::data("text/tinystories/tinystories_val.txt");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string db() const { return "--db '" + dir_ + "/runs.sqlite'"; }
  std::string dir_, model_, text_;
};

inline nlohmann::json ppl_json(const Result& r) {
  const auto brace = r.out.find('{');
  if (r.code != 0 || brace == std::string::npos) return nullptr;
  try {
    return nlohmann::json::parse(r.out.substr(brace));
  } catch (const std::exception&) {
    return nullptr;
  }
}

inline void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

}  // namespace skvq::test
