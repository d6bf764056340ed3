// skvq runs merge: run stores written elsewhere (one per Slurm array task, one per machine)
// into one, deduplicated by run identity, with provenance, never writing an input.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "skvq/error.h"
#include "skvq/run_store.h"
#include "store/run_store_internal.h"
#include "store/sqlite_util.h"

namespace skvq {
namespace fs = std::filesystem;
using nlohmann::json;
using store::Conn;
using store::Stmt;
using store::Transaction;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_timing_key(const std::string& k) {
  return k == "wall_seconds" || k == "seconds" || ends_with(k, "_seconds") || ends_with(k, "_per_second") ||
         ends_with(k, "_per_s");
}

json without_timing(const json& j) {
  if (!j.is_object()) return j;
  json out = json::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!is_timing_key(it.key())) out[it.key()] = it.value();
  return out;
}

// The schema version stored in `path`, or -1 when it cannot be read (RunStore then says why).
int stored_schema_version(const std::string& path) {
  sqlite3* db = nullptr;
  int version = -1;
  if (sqlite3_open_v2(store::read_only_uri(path).c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return version;
}

// A temporary copy of an older input, removed (with its WAL files) on destruction.
struct TempCopy {
  std::string path;
  ~TempCopy() {
    if (path.empty()) return;
    std::error_code ec;
    for (const char* tail : {"", "-wal", "-shm", "-journal"}) fs::remove(path + tail, ec);
  }
};

// Copies `input` (opened read-only) to a new file with SQLite's online backup. Throws StoreError.
void backup_copy(const std::string& input, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto fail = [&](const std::string& what) {
    const std::string msg = input + ": cannot make a temporary copy to migrate (" + what + ")";
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
    return StoreError(msg);
  };
  if (sqlite3_open_v2(store::read_only_uri(input).c_str(), &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) !=
      SQLITE_OK)
    throw fail(sqlite3_errmsg(src));
  if (sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
    throw fail(to + ": " + sqlite3_errmsg(dst));
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) throw fail(sqlite3_errmsg(dst));
  const int rc = sqlite3_backup_step(b, -1);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) throw fail(sqlite3_errstr(rc));
  sqlite3_close_v2(src);
  sqlite3_close_v2(dst);
}

// One input, open for reading: the store itself or a migrated temporary copy of it.
struct Input {
  std::string path;  ///< as given
  std::string name;  ///< absolute, normal: the provenance "source"
  std::unique_ptr<TempCopy> copy;
  std::unique_ptr<RunStore> store;
};

Input open_input(const std::string& path, const std::string& out_path) {
  Input in;
  in.path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StoreError(path + ": no run store here (nothing to merge)");
  if (fs::equivalent(path, out_path, ec))
    throw StoreError(path + ": is the output store itself; merge into another file");
  in.name = fs::absolute(path, ec).lexically_normal().string();
  const int version = stored_schema_version(path);
  if (version >= 0 && version < RunStore::schema_version()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/skvq-merge-XXXXXX";
    const int fd = mkstemp(templ.data());
    if (fd < 0) throw StoreError(path + ": cannot make a temporary copy to migrate (mkstemp failed in $TMPDIR)");
    ::close(fd);
    in.copy = std::make_unique<TempCopy>();
    in.copy->path = templ;
    backup_copy(path, templ);
    in.store = std::make_unique<RunStore>(templ);
  } else {
    in.store = std::make_unique<RunStore>(path, RunStore::default_lock_timeout_ms(), StoreMode::ReadOnly);
  }
  return in;
}

std::string identity_key(const RunRecord& r, const std::string& model_identity, const std::string& calibration_sha) {
  return json::array({r.kind, model_identity, calibration_sha, r.config, r.data_sha256,
                      canonical_json(r.params.is_null() ? json::object() : r.params)})
      .dump();
}

std::optional<RunRecord> find_done_run(const Conn& c, const RunRecord& r) {
  Stmt s(c,
         (std::string("SELECT ") + store::kRunColumns +
          " FROM runs WHERE kind = ?1 AND model_id = ?2 AND calibration_id IS ?3 AND config = ?4 AND "
          "data_sha256 = ?5 AND params = ?6 AND status = 'done' ORDER BY id DESC LIMIT 1")
             .c_str(),
         "cannot look up a " + r.kind + " run to merge");
  s.bind(1, r.kind).bind(2, r.model_id).bind(3, r.calibration_id).bind(4, r.config).bind(5, r.data_sha256);
  s.bind(6, canonical_json(r.params.is_null() ? json::object() : r.params));
  if (!s.step()) return std::nullopt;
  return store::read_run(*c.path, s);
}

std::vector<RunItem> read_items(const Conn& c, int64_t run_id) {
  Stmt s(c, "SELECT key, data FROM run_items WHERE run_id = ?1 ORDER BY id", "cannot read items to merge");
  s.bind(1, run_id);
  std::vector<RunItem> out;
  while (s.step())
    out.push_back({run_id, s.col_text(0), store::parse_column(*c.path, "item '" + s.col_text(0) + "'", s.col_text(1))});
  return out;
}

// "" when the two runs' results (metrics and items) are equal for a merge.
std::string results_differ(const RunRecord& have, const std::vector<RunItem>& have_items, const RunRecord& in,
                           const std::vector<RunItem>& in_items) {
  if (std::string d = result_difference(have.metrics, in.metrics); !d.empty()) return "metrics differ: " + d;
  std::map<std::string, const json*> mine;
  for (const auto& it : have_items) mine[it.key] = &it.data;
  std::set<std::string> seen;
  for (const auto& it : in_items) {
    seen.insert(it.key);
    auto m = mine.find(it.key);
    if (m == mine.end()) return "item '" + it.key + "' is only in the input";
    if (std::string d = result_difference(*m->second, it.data); !d.empty())
      return "item '" + it.key + "' differs: " + d;
  }
  for (const auto& [k, _] : mine)
    if (!seen.count(k)) return "item '" + k + "' is only in the output";
  return "";
}

}  // namespace

std::string result_difference(const json& a, const json& b) {
  const json x = without_timing(a), y = without_timing(b);
  if (canonical_json(x) == canonical_json(y)) return "";
  if (!x.is_object() || !y.is_object()) return canonical_json(x) + " vs " + canonical_json(y);
  std::set<std::string> keys;
  for (auto it = x.begin(); it != x.end(); ++it) keys.insert(it.key());
  for (auto it = y.begin(); it != y.end(); ++it) keys.insert(it.key());
  for (const auto& k : keys) {
    const std::string u = x.contains(k) ? canonical_json(x[k]) : "(none)";
    const std::string v = y.contains(k) ? canonical_json(y[k]) : "(none)";
    if (u != v) return k + " " + u + " vs " + v;
  }
  return "";
}

std::vector<RunSource> RunStore::run_sources(int64_t run_id) {
  Conn c{db_, &path_, busy_timeout_ms_};
  Stmt s(c, "SELECT source, source_run_id, host, created_at FROM run_sources WHERE run_id = ?1 ORDER BY id",
         "cannot read the sources of run " + std::to_string(run_id));
  s.bind(1, run_id);
  std::vector<RunSource> out;
  while (s.step()) out.push_back({s.col_text(0), s.col_int(1), s.col_text(2), s.col_text(3)});
  return out;
}

MergeSummary RunStore::merge_from(const std::vector<std::string>& inputs) {
  if (read_only_) throw StoreError(path_ + ": opened read-only; cannot merge into it");
  // Open (and check) every input before writing anything.
  std::vector<Input> opened;
  for (const auto& p : inputs) opened.push_back(open_input(p, path_));

  Conn c{db_, &path_, busy_timeout_ms_};
  const std::string doing = "cannot merge run stores";
  Transaction tx(c, doing);
  // The output's row id for a key (models by identity, calibrations by sha256); 0 when absent.
  auto existing_id = [&](const char* sql, const std::string& key) -> int64_t {
    Stmt find(c, sql, doing);
    find.bind(1, key);
    return find.step() ? find.col_int(0) : 0;
  };
  MergeSummary sum;
  for (Input& in : opened) {
    RunStore& src = *in.store;
    // Models by identity, calibrations by file sha256: input id -> output id.
    std::map<int64_t, int64_t> model_of, calibration_of;
    std::map<int64_t, std::string> model_identity, calibration_sha;
    for (const ModelRecord& m : src.list_models()) {
      model_identity[m.id] = m.identity;
      if (const int64_t id = existing_id("SELECT id FROM models WHERE identity = ?1", m.identity)) {
        model_of[m.id] = id;
        continue;
      }
      Stmt s(c,
             "INSERT INTO models(name, path, sha256, config, created_at, identity, identity_json) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
             doing);
      s.bind(1, m.name).bind(2, m.path).bind(3, m.sha256).bind(4, canonical_json(m.config));
      s.bind(5, m.created_at).bind(6, m.identity).bind(7, canonical_json(m.identity_json));
      s.run();
      model_of[m.id] = sqlite3_last_insert_rowid(db_);
      ++sum.models_added;
    }
    for (const CalibrationRecord& k : src.list_calibrations()) {
      calibration_sha[k.id] = k.sha256;
      if (const int64_t id = existing_id("SELECT id FROM calibrations WHERE sha256 = ?1", k.sha256)) {
        calibration_of[k.id] = id;
        continue;
      }
      Stmt s(c,
             "INSERT INTO calibrations(model_id, path, sha256, text_path, text_sha256, samples, seq_len, seed, "
             "group_sizes, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
             doing);
      s.bind(1, model_of.at(k.model_id)).bind(2, k.path).bind(3, k.sha256).bind(4, k.text_path);
      s.bind(5, k.text_sha256).bind(6, k.samples).bind(7, k.seq_len).bind(8, static_cast<int64_t>(k.seed));
      s.bind(9, json(k.group_sizes).dump()).bind(10, k.created_at);
      s.run();
      calibration_of[k.id] = sqlite3_last_insert_rowid(db_);
      ++sum.calibrations_added;
    }
    // Of one identity the newest done run is merged (chosen newest first); runs are merged in
    // the input's order.
    const std::vector<RunRecord> runs = src.list_runs();
    std::set<std::string> identities;
    std::set<int64_t> chosen;
    for (auto r = runs.rbegin(); r != runs.rend(); ++r) {
      if (r->status != "done") {
        ++sum.runs_unfinished;
        continue;
      }
      const std::string key = identity_key(*r, model_identity.at(r->model_id),
                                           r->calibration_id ? calibration_sha.at(*r->calibration_id) : "");
      if (identities.insert(key).second) chosen.insert(r->id);
      else ++sum.runs_superseded;
    }
    for (auto r = runs.begin(); r != runs.end(); ++r) {
      if (!chosen.count(r->id)) continue;
      RunRecord mapped = *r;
      mapped.model_id = model_of.at(r->model_id);
      if (r->calibration_id) mapped.calibration_id = calibration_of.at(*r->calibration_id);
      const std::vector<RunItem> in_items = src.items(r->id);
      int64_t run_id = 0;
      if (std::optional<RunRecord> have = find_done_run(c, mapped)) {
        const std::string diff = results_differ(*have, read_items(c, have->id), *r, in_items);
        if (!diff.empty()) {
          sum.conflicts.push_back({in.path, r->id, have->id, r->kind, r->config, diff});
          continue;
        }
        run_id = have->id;
        ++sum.runs_duplicate;
      } else {
        if (mapped.host.empty()) mapped.host = "unknown";  // a run stored before hosts were recorded
        run_id = store::insert_run(c, mapped, doing);
        for (const RunItem& it : in_items) {
          Stmt s(c, "INSERT INTO run_items(run_id, key, data) VALUES (?1, ?2, ?3)", doing);
          s.bind(1, run_id).bind(2, it.key).bind(3, canonical_json(it.data));
          s.run();
          ++sum.items_added;
        }
        ++sum.runs_added;
      }
      std::vector<RunSource> sources = src.run_sources(r->id);
      sources.push_back({in.name, r->id, r->host, r->created_at});
      for (const RunSource& rs : sources) {
        Stmt s(c,
               "INSERT OR IGNORE INTO run_sources(run_id, source, source_run_id, host, created_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5)",
               doing);
        s.bind(1, run_id).bind(2, rs.source).bind(3, rs.source_run_id).bind(4, rs.host).bind(5, rs.created_at);
        s.run();
        sum.sources_added += sqlite3_changes(db_);
      }
    }
  }
  tx.commit();
  return sum;
}

}  // namespace skvq
