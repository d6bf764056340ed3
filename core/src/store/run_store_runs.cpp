// The run store's runs (add, finish, find, get, list, delete) and their items.
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

namespace store {

const char* const kRunColumns =
    "id, kind, model_id, calibration_id, config, data_path, data_sha256, params, metrics, "
    "status, software_version, created_at, wall_seconds, owner, heartbeat, host";

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
  r.owner = s.col_text(13);
  r.heartbeat = s.col_int(14);
  r.host = s.col_text(15);
  return r;
}

std::optional<RunRecord> find_run_in(const Conn& c, const RunRecord& r) {
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
  return read_run(*c.path, s);
}

int64_t insert_run(const Conn& c, const RunRecord& r, const std::string& doing) {
  if (!exists_row(c, "SELECT 1 FROM models WHERE id = ?1", r.model_id, doing))
    throw StoreError(*c.path + ": " + doing + ": no model with id " + std::to_string(r.model_id) +
                     " (store the model first)");
  if (r.calibration_id &&
      !exists_row(c, "SELECT 1 FROM calibrations WHERE id = ?1", *r.calibration_id, doing))
    throw StoreError(*c.path + ": " + doing + ": no calibration with id " +
                     std::to_string(*r.calibration_id));
  Stmt s(c,
         "INSERT INTO runs(kind, model_id, calibration_id, config, data_path, data_sha256, "
         "params, metrics, status, software_version, created_at, wall_seconds, owner, heartbeat, host) "
         "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
         doing);
  s.bind(1, r.kind).bind(2, r.model_id).bind(3, r.calibration_id).bind(4, r.config);
  s.bind(5, r.data_path).bind(6, r.data_sha256);
  s.bind(7, canonical_json(r.params.is_null() ? json::object() : r.params));
  s.bind(8, canonical_json(r.metrics.is_null() ? json::object() : r.metrics));
  s.bind(9, r.status.empty() ? std::string("done") : r.status);
  s.bind(10, r.software_version.empty() ? std::string(SKVQ_VERSION) : r.software_version);
  s.bind(11, r.created_at.empty() ? utc_now_iso8601() : r.created_at);
  s.bind(12, r.wall_seconds);
  s.bind(13, r.owner).bind(14, r.heartbeat);
  s.bind(15, r.host.empty() ? host_name() : r.host);
  s.run();
  return sqlite3_last_insert_rowid(c.db);
}

}  // namespace store

using store::find_run_in;
using store::kRunColumns;
using store::read_run;

int64_t RunStore::add_run(const RunRecord& r) {
  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot add " + (r.kind.empty() ? std::string("a") : r.kind) +
                            " run '" + r.config + "'";
  if (r.kind.empty()) throw StoreError(path_ + ": " + doing + ": empty kind");
  if (r.config.empty()) throw StoreError(path_ + ": " + doing + ": empty configuration");
  Transaction tx(c, doing);
  const int64_t id = store::insert_run(c, r, doing);
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
  return find_run_in(c, r);
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
