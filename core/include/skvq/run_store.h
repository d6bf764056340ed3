#pragma once
// The run store: every model, calibration and evaluation run in one SQLite database.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace skvq {

/// A model known to the store (identified by its checkpoint sha256).
struct ModelRecord {
  int64_t id = 0;
  std::string name, path, sha256;
  nlohmann::json config;       ///< ModelConfig fields as in config.json
  std::string created_at;      ///< ISO 8601 UTC
};

/// A calibration file registered in the store.
struct CalibrationRecord {
  int64_t id = 0;
  int64_t model_id = 0;
  std::string path, sha256;    ///< the calibration file and its sha256
  std::string text_path, text_sha256;
  int64_t samples = 0, seq_len = 0;
  uint64_t seed = 0;
  std::vector<int64_t> group_sizes;
  std::string created_at;
};

/// One evaluation run. kind: "ppl", "needle", "longbench", "analyze", "generate", ...
/// The identity of a run (for resuming) is (kind, model_id, calibration_id, config,
/// data_sha256, params); metrics hold the results (e.g. ppl, bits_k, bits_v,
/// kv_bytes_per_token, tokens, wall_seconds).
struct RunRecord {
  int64_t id = 0;
  std::string kind;
  int64_t model_id = 0;
  std::optional<int64_t> calibration_id;
  std::string config;          ///< canonical QuantConfig string ("fp16" for unquantized)
  std::string data_path, data_sha256;
  nlohmann::json params = nlohmann::json::object();   ///< protocol settings (ctx_len, ...)
  nlohmann::json metrics = nlohmann::json::object();  ///< results
  std::string status = "done"; ///< "running" while items are added, "done", "failed"
  std::string software_version;
  std::string created_at;
  double wall_seconds = 0;
};

/// One stored item of a run (a needle cell, a LongBench sample, an analysis layer): a key
/// unique within the run and a JSON payload.
struct RunItem {
  int64_t run_id = 0;
  std::string key;
  nlohmann::json data;
};

/// Filter for list_runs; empty fields match everything.
struct RunFilter {
  std::string kind;
  std::optional<int64_t> model_id;
  std::string config_contains;
};

/// SQLite run store. WAL journal, foreign keys on, a schema_version table with migrations
/// applied on open; each write is one transaction. Not thread-safe: use one RunStore per thread
/// (several may open the same file; SQLite's busy timeout is 5 s).
class RunStore {
 public:
  /// Opens or creates the database at `path` and migrates it to the current schema.
  /// Throws StoreError "<path>: <problem>" if it cannot be opened, is not a run store, is newer
  /// than this software, or is locked.
  explicit RunStore(const std::string& path);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& path() const { return path_; }
  /// Current schema version written by this software.
  static int schema_version();

  /// Inserts the model or returns the id of the one with the same sha256 (updating path/name).
  int64_t upsert_model(const ModelRecord& m);
  /// Inserts the calibration or returns the id of the one with the same file sha256.
  int64_t upsert_calibration(const CalibrationRecord& c);
  std::vector<ModelRecord> list_models();
  std::vector<CalibrationRecord> list_calibrations(std::optional<int64_t> model_id = std::nullopt);
  std::optional<ModelRecord> get_model(int64_t id);
  std::optional<CalibrationRecord> get_calibration(int64_t id);

  /// Writes a run (id ignored) in one transaction and returns its id. Fills software_version
  /// and created_at when empty.
  int64_t add_run(const RunRecord& r);
  /// Updates status, metrics and wall_seconds of an existing run.
  void finish_run(int64_t id, const std::string& status, const nlohmann::json& metrics,
                  double wall_seconds);
  /// The run with the same identity (kind, model, calibration, config, data sha256, params),
  /// if any (the newest).
  std::optional<RunRecord> find_run(const RunRecord& identity);
  std::optional<RunRecord> get_run(int64_t id);
  std::vector<RunRecord> list_runs(const RunFilter& filter = {});
  /// Deletes a run and its items. Returns false if no such run.
  bool delete_run(int64_t id);

  /// Adds or replaces one item of a run (one transaction).
  void put_item(const RunItem& item);
  std::vector<RunItem> items(int64_t run_id);
  std::optional<RunItem> item(int64_t run_id, const std::string& key);

  /// Runs as CSV (header: id,kind,model,config,calibration_id,data_path,created_at,
  /// wall_seconds,status, then one column per metric key found) or as a JSON array.
  std::string export_csv(const std::vector<RunRecord>& runs);
  nlohmann::json export_json(const std::vector<RunRecord>& runs, bool with_items);

 private:
  void migrate();
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace skvq
