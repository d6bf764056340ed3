// The run store's models (upsert by identity) and calibrations (upsert by sha256): list, get.
#include "skvq/run_store.h"

#include <sqlite3.h>

#include "skvq/error.h"
#include "store/run_store_internal.h"
#include "store/sqlite_util.h"

namespace skvq {
using nlohmann::json;
using store::Conn;
using store::exists_row;
using store::parse_column;
using store::Stmt;
using store::Transaction;

namespace {

constexpr const char* kModelColumns = "id, name, path, sha256, config, created_at, identity, identity_json";

ModelRecord read_model(const std::string& path, const Stmt& s) {
  ModelRecord m;
  m.id = s.col_int(0);
  m.name = s.col_text(1);
  m.path = s.col_text(2);
  m.sha256 = s.col_text(3);
  m.config = parse_column(path, "model " + std::to_string(m.id) + " config", s.col_text(4));
  m.created_at = s.col_text(5);
  m.identity = s.col_text(6);
  m.identity_json = parse_column(path, "model " + std::to_string(m.id) + " identity_json", s.col_text(7));
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

}  // namespace

int64_t RunStore::upsert_model(const ModelRecord& m) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot store model '" + m.name + "'";
  if (m.sha256.empty()) throw StoreError(path_ + ": " + doing + ": empty sha256");
  if (m.identity.empty()) throw StoreError(path_ + ": " + doing + ": empty identity");
  Transaction tx(c, doing);
  int64_t id = 0;
  std::string config = canonical_json(m.config.is_null() ? json::object() : m.config);
  {
    Stmt s(c, "SELECT id FROM models WHERE identity = ?1", doing);
    s.bind(1, m.identity);
    if (s.step()) id = s.col_int(0);
  }
  if (id) {
    Stmt s(c, "UPDATE models SET name = ?2, path = ?3, config = ?4 WHERE id = ?1", doing);
    s.bind(1, id).bind(2, m.name).bind(3, m.path).bind(4, config);
    s.run();
  } else {
    Stmt s(c,
           "INSERT INTO models(name, path, sha256, config, created_at, identity, identity_json) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
           doing);
    s.bind(1, m.name).bind(2, m.path).bind(3, m.sha256).bind(4, config);
    s.bind(5, m.created_at.empty() ? utc_now_iso8601() : m.created_at);
    s.bind(6, m.identity);
    s.bind(7, canonical_json(m.identity_json.is_null() ? json::object() : m.identity_json));
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

}  // namespace skvq
