#pragma once
// The run store: every model, calibration and evaluation run in one SQLite database.
//
// Layout (schema version 3): tables schema_version(version), models (UNIQUE identity), calibrations,
// runs (with the claim columns owner and heartbeat, and host), run_items (run_id -> runs.id ON
// DELETE CASCADE, UNIQUE(run_id, key)) and run_sources (where a merged run came from: run_id ->
// runs.id ON DELETE CASCADE, UNIQUE(run_id, source, source_run_id)). Version 1 stores are
// migrated on open: their models keep their
// rows under the identity "v1-weights-only:<sha256>", which no new model matches (a version 1
// identity covered the weights alone, so its results are not served for a new lookup). Version 2
// stores gain runs.host (the host part of the claim owner, "" when there was none) and an
// empty run_sources. JSON columns (model
// config, params, metrics, item data, group sizes) are stored as text: nlohmann::json::dump()
// of the value, with integral floats written as integers so that equal values give equal text.
// Timestamps are ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ".
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace skvq {

/// A model known to the store, identified by `identity`: the sha256 (hex) of the canonical
/// JSON `identity_json`, which holds everything that changes a model's results (weights,
/// parsed config, tokenizer, chat template, dtype, device, results version; see
/// model_identity_json in session.h).
struct ModelRecord {
  int64_t id = 0;
  std::string name, path;
  std::string sha256;          ///< the weights (checkpoint) sha256, for display and lookups
  std::string identity;        ///< the key of the model in the store
  nlohmann::json identity_json = nlohmann::json::object();  ///< what `identity` hashes
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
/// kv_bytes_per_token, tokens, wall_seconds). docs/run-items.md lists what each kind stores.
struct RunRecord {
  int64_t id = 0;
  std::string kind;
  int64_t model_id = 0;        ///< must name a model of the store (upsert_model first)
  std::optional<int64_t> calibration_id;
  std::string config;          ///< canonical QuantConfig string ("fp16" for unquantized)
  std::string data_path, data_sha256;
  nlohmann::json params = nlohmann::json::object();   ///< protocol settings (ctx_len, ...)
  nlohmann::json metrics = nlohmann::json::object();  ///< results
  std::string status = "done"; ///< "running" while claimed, "done", "failed", "interrupted"
  std::string software_version;
  std::string owner;           ///< who claimed it: "host pid token" (RunStore::process_owner)
  int64_t heartbeat = 0;       ///< unix seconds of the claim's last sign of life
  std::string host;            ///< the machine that computed it (add_run fills this host when empty)
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

/// Where a run of a merged store came from (RunStore::merge_from): one row per input store and
/// input run that held this result, including the sources that input had itself recorded.
struct RunSource {
  std::string source;          ///< the input store file, absolute path
  int64_t source_run_id = 0;   ///< the run's id in that store
  std::string host;            ///< the machine that computed it there
  std::string created_at;      ///< when it was made there (ISO 8601 UTC)
};

/// One run that two stores hold with the same identity but different results.
struct MergeConflict {
  std::string source;          ///< the input store
  int64_t source_run_id = 0;   ///< its run
  int64_t run_id = 0;          ///< the run of the output store that was kept
  std::string kind, config;
  std::string difference;      ///< e.g. "metrics differ: ppl 5.01 vs 5.02", "items differ: L256_D50.0"
};

/// What RunStore::merge_from did. Counts are of rows written to the output store.
struct MergeSummary {
  int64_t models_added = 0, calibrations_added = 0;
  int64_t runs_added = 0;       ///< done runs the output did not hold
  int64_t runs_duplicate = 0;   ///< done runs it held with equal results (provenance added)
  int64_t runs_unfinished = 0;  ///< input runs not "done" (failed, interrupted, running): not merged
  int64_t runs_superseded = 0;  ///< older done runs of an identity an input holds a newer done run of
  int64_t items_added = 0, sources_added = 0;
  std::vector<MergeConflict> conflicts;  ///< not merged: the output keeps its run
};

/// Whether two runs' results are equal for a merge: metrics (and each item's data) compared
/// as canonical JSON after dropping timing keys, which differ between two computations of the
/// same result: "wall_seconds", "seconds", and keys ending in "_seconds", "_per_second" or
/// "_per_s" (top level of the object only). Returns "" when equal, else what differs.
std::string result_difference(const nlohmann::json& a, const nlohmann::json& b);

/// Filter for list_runs; empty fields match everything.
struct RunFilter {
  std::string kind;                 ///< exact kind
  std::optional<int64_t> model_id;
  std::string config_contains;      ///< substring of the configuration string (case-sensitive)
};

/// The canonical text of a JSON value as stored and compared by the store: dump() with object
/// keys sorted and floats of integral value (|x| < 2^53) written as integers.
std::string canonical_json(const nlohmann::json& j);

/// The current UTC time as ISO 8601 "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now_iso8601();

/// How RunStore opens its file.
enum class StoreMode {
  ReadWrite,  ///< create or migrate as needed; every method works
  ReadOnly,   ///< never writes (SQLITE_OPEN_READONLY; immutable when the file or its directory
              ///< cannot be written): listing and reading only, writes throw StoreError
};

/// What claim_run does when the newest run with the identity is "done".
enum class OnDone {
  Reuse,   ///< leave it: the stored result is the answer (ClaimState::Done)
  Resume,  ///< claim it again to add missing items (needle grids, LongBench samples)
  Rerun,   ///< claim a new run with the same identity (--rerun)
};

/// Outcome of claim_run.
enum class ClaimState {
  Claimed,  ///< this process owns the run (status "running"); compute, then finish_run
  Done,     ///< a done run exists and OnDone::Reuse: nothing to compute
  Busy,     ///< another live process holds the claim: skip or wait (claim again later)
};

struct ClaimResult {
  ClaimState state = ClaimState::Claimed;
  RunRecord run;                ///< the claimed, done or busy run
  std::string previous_status;  ///< status before a claim took it ("" for a new run)
};

/// A claim older than this (no heartbeat) is stale and may be reclaimed by any process; on the
/// same host a claim whose owner process is gone is stale at once.
constexpr int64_t kClaimStaleSeconds = 300;
/// Default lock wait of a RunStore (SKVQ_DB_LOCK_TIMEOUT unset): 600 s.
constexpr int kDefaultLockTimeoutMs = 600000;

/// SQLite run store. WAL journal, foreign keys on, a schema_version table with migrations
/// applied on open; each write is one transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on
/// failure, so a failed write leaves what was stored before intact). Not thread-safe: use one
/// RunStore per thread (several may open the same file). A write that finds the database
/// locked by another connection retries with backoff (1 ms doubling to 1 s between tries) for
/// the lock timeout, saying on stderr after 5 s that it waits.
/// Every error is a StoreError whose message starts with "<path>: ".
class RunStore {
 public:
  /// Opens or creates the database at `path` and migrates it to the current schema.
  /// lock_timeout_ms: how long a statement waits for another connection's lock (default:
  /// default_lock_timeout_ms()). ReadOnly opens an existing store without writing anything.
  /// Throws StoreError "<path>: <problem>" if it cannot be opened or created (missing or
  /// unwritable directory), is not a SQLite file, is corrupt, holds tables that are not a run
  /// store's, is newer than this software (or, read-only, older: it needs a writable open to
  /// migrate), or is locked beyond the timeout.
  explicit RunStore(const std::string& path, int lock_timeout_ms = default_lock_timeout_ms(),
                    StoreMode mode = StoreMode::ReadWrite);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  /// The database file as given to the constructor.
  const std::string& path() const { return path_; }
  /// Current schema version written by this software.
  static int schema_version();
  /// Changes how long statements wait for a lock held by another connection (milliseconds).
  void set_busy_timeout(int ms);
  /// The current lock wait, milliseconds.
  int busy_timeout() const { return busy_timeout_ms_; }
  /// Whether the store was opened StoreMode::ReadOnly.
  bool read_only() const { return read_only_; }
  /// The lock wait from the environment: SKVQ_DB_LOCK_TIMEOUT in seconds (decimals allowed,
  /// >= 0), else kDefaultLockTimeoutMs. Throws ConfigError for a malformed value.
  static int default_lock_timeout_ms();
  /// This process as a claim owner: "<hostname> <pid> <random token>".
  static const std::string& process_owner();
  /// Whether a claim by `owner` with `heartbeat` (unix seconds) is still live at `now`: this
  /// process's own leftover claims are not (taken back); on this host the owner process must exist and on any host the
  /// heartbeat must be younger than kClaimStaleSeconds. An empty owner is never live.
  static bool claim_is_live(const std::string& owner, int64_t heartbeat, int64_t now);

  /// Inserts the model or returns the id of the one with the same identity (updating path,
  /// name and config). Throws StoreError when identity or sha256 is empty.
  int64_t upsert_model(const ModelRecord& m);
  /// Inserts the calibration or returns the id of the one with the same file sha256 (updating
  /// its path). Throws StoreError when model_id is not in the store.
  int64_t upsert_calibration(const CalibrationRecord& c);
  /// All models, by rising id.
  std::vector<ModelRecord> list_models();
  /// All calibrations (of one model when given), by rising id.
  std::vector<CalibrationRecord> list_calibrations(std::optional<int64_t> model_id = std::nullopt);
  /// The model / calibration with this id, or nullopt. Throws StoreError on a database error.
  std::optional<ModelRecord> get_model(int64_t id);
  std::optional<CalibrationRecord> get_calibration(int64_t id);

  /// Writes a run (id ignored) in one transaction and returns its id. Fills software_version
  /// (SKVQ_VERSION) and created_at (now, UTC) when empty. Throws StoreError when kind or config
  /// is empty, or model_id / calibration_id is not in the store.
  int64_t add_run(const RunRecord& r);
  /// Updates status, metrics and wall_seconds of an existing run. Throws StoreError when there
  /// is no run `id`.
  void finish_run(int64_t id, const std::string& status, const nlohmann::json& metrics,
                  double wall_seconds);
  /// The run with the same identity (kind, model, calibration, config, data sha256, canonical
  /// params), if any (the newest, i.e. highest id). Status is not compared. This is the one
  /// definition of a run's identity (claim_run and merges use it); the model part is the model
  /// row's identity (ModelRecord::identity).
  std::optional<RunRecord> find_run(const RunRecord& identity);
  /// Claims the run with `identity` for this process in one write transaction: a new run
  /// (status "running", owner process_owner(), heartbeat now) when none exists; the newest
  /// one when it is failed, interrupted or a stale "running" claim (its items are kept, so the
  /// caller resumes); Busy when another live process holds it (claim_is_live); for a done run
  /// as `on_done` says. Throws StoreError as add_run.
  ClaimResult claim_run(const RunRecord& identity, OnDone on_done = OnDone::Reuse);
  /// Records that the claim of run `id` is alive (heartbeat = now). Throws StoreError.
  void heartbeat_run(int64_t id);
  /// The run with this id, or nullopt.
  std::optional<RunRecord> get_run(int64_t id);
  /// Runs matching `filter`, by rising id.
  std::vector<RunRecord> list_runs(const RunFilter& filter = {});
  /// Deletes a run and its items. Returns false if no such run.
  bool delete_run(int64_t id);

  /// Where run `id` came from when it was merged from other stores (rising id); empty for a
  /// run computed into this store.
  std::vector<RunSource> run_sources(int64_t run_id);

  /// Merges the run stores `inputs` into this one (skvq runs merge), in one write transaction.
  /// Every input is opened read-only and never written (one with an older schema is migrated
  /// in a temporary copy made with SQLite's backup API). Models are matched by identity,
  /// calibrations by file sha256 (added when missing); only "done" runs are merged, and of an
  /// identity (find_run's: kind, model identity, calibration sha256, config, data sha256,
  /// params) an input holds several done runs of, only the newest. A run the output holds done
  /// with equal results (result_difference on metrics and items) only gains provenance; one with
  /// different results is a conflict, listed and not merged. Each merged run keeps its host,
  /// times and software version and gains a RunSource row for the input (plus the input's own
  /// RunSource rows), so merging the same inputs again changes nothing.
  /// Throws StoreError before writing anything when an input is missing, not a run store, is
  /// newer than this software, or is this store's own file.
  MergeSummary merge_from(const std::vector<std::string>& inputs);

  /// Adds or replaces one item of a run (one transaction). Throws StoreError when the run does
  /// not exist or the key is empty.
  void put_item(const RunItem& item);
  /// All items of a run, by key order of insertion (rising rowid).
  std::vector<RunItem> items(int64_t run_id);
  /// One item of a run by key, or nullopt.
  std::optional<RunItem> item(int64_t run_id, const std::string& key);
  /// Number of items of a run (0 for an unknown run).
  int64_t item_count(int64_t run_id);

  /// Runs as CSV, RFC 4180 quoting, "\n" line ends. Header: id,kind,model,config,
  /// calibration_id,data_path,created_at,wall_seconds,status, then one column per metric key
  /// found in any run (sorted by name). "model" is the model's name; numbers are written with
  /// round-trip precision, strings as they are, arrays/objects as JSON; missing values empty.
  std::string export_csv(const std::vector<RunRecord>& runs);
  /// Runs as a JSON array of objects {id, kind, model_id, model (name), calibration_id (or
  /// null), config, data_path, data_sha256, params, metrics, status, software_version,
  /// created_at, wall_seconds} plus, with_items, "items": {key: data, ...}.
  nlohmann::json export_json(const std::vector<RunRecord>& runs, bool with_items);

 private:
  void migrate();
  void migrate_schema(int version);
  static int busy_handler(void* self, int count);
  std::string path_;
  sqlite3* db_ = nullptr;
  int busy_timeout_ms_ = kDefaultLockTimeoutMs;
  bool read_only_ = false;
  double wait_started_ = 0;  ///< steady-clock seconds when the current lock wait began
  bool wait_noted_ = false;  ///< the current wait was reported on stderr
};

}  // namespace skvq
