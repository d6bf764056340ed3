#pragma once
// Perplexity jobs over several configurations, stored run by run (skvq ppl, skvq batch, the
// dashboard), and the JSON batch file format.
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "skvq/batch_shard.h"
#include "skvq/common.h"
#include "skvq/perplexity.h"
#include "skvq/run_store.h"

namespace skvq {

/// What to evaluate: one model, one text, a list of configuration strings.
struct PplJob {
  std::string model;             ///< llama2.c file or HF directory
  std::string tokenizer;         ///< optional explicit tokenizer path
  std::string calibration;       ///< calibration file (needed by reorder/smooth configurations)
  std::string text;              ///< evaluation text
  int64_t max_bytes = 0;         ///< read at most this many bytes of the text (0 = all)
  int64_t skip_bytes = 0;        ///< start reading the text after this many bytes (held-out text)
  PerplexityOptions options;     ///< ctx_len etc.
  std::vector<std::string> configs{"fp16"};
  std::string device = "cpu";
  std::string dtype = "auto";    ///< weight dtype (resolve_model_dtype)
  bool skip_existing = true;     ///< resume: configurations already stored are not run again
  /// Which of the distinct configurations (distinct_configs order, batch_shard.h) to evaluate;
  /// empty = all. The unquantized reference of a chosen one (WorkUnit::reference) is evaluated
  /// too, or reused when stored, so its ppl_fp and delta_ppl equal a run of the whole job.
  std::vector<size_t> units;
};

/// Called with the configuration being evaluated and its chunk progress.
using JobProgressFn = std::function<void(const std::string& config, int64_t index, int64_t count,
                                         int64_t done, int64_t total)>;

/// Evaluates every configuration of `job` by the perplexity protocol and writes each as a
/// "ppl" run (docs/run-items.md) as soon as it finishes, in its own transaction, so a cancelled
/// job keeps the finished ones. Configurations are parsed and checked against the model before
/// anything runs (ConfigError). Returns the runs of all configurations, stored or found.
/// Throws FileError, ConfigError, StoreError, Cancelled.
std::vector<RunRecord> run_ppl_job(const PplJob& job, RunStore& store, std::ostream& log,
                                   const JobProgressFn& progress = nullptr, CancelFlag cancel = nullptr);

/// How run_batch_file runs a job: all of it, one shard of it, only its shared steps, or only
/// its plan (batch_shard.h).
struct BatchRunOptions {
  /// Evaluate only this shard's units (and the unquantized references they compare against).
  /// A shard never makes the calibration file (all shards would write the same file): a missing
  /// or outdated one is a FileError asking for --prepare.
  std::optional<ShardSpec> shard;
  /// Make the calibration file and evaluate prepare_units (the references) only, for the
  /// shards to start from (examples/slurm merges this store into each shard's).
  bool prepare = false;
  /// Print format_plan (N from `shard`, else 1; `shard`'s units marked) and return: nothing is
  /// loaded, evaluated or written.
  bool plan = false;
};

/// Batch file (JSON):
///   {"model": PATH, "tokenizer": PATH?, "device": "cpu"?, "dtype": "auto"?, "threads": N?,
///    "calibration": {"file": PATH, "text": PATH, "samples": N, "seq_len": L,
///                    "group_sizes": [g...], "seed": S, "max_bytes": B}?,
///    "ppl": {"text": PATH, "ctx_len": L, "max_bytes": B?, "skip_bytes": B?, "max_chunks": N?},
///    "configs": ["fp16", "k2-v2-g8-reorder-clip-sink5-fp8", ...]}
/// Relative paths are tried against the batch file's folder, then the current folder, then the
/// data directory. The calibration file is made when missing (and registered in the store).
/// Prints progress and the comparison table to `log`. Returns the runs. Throws like run_ppl_job.
/// `how` selects a shard, the prepare step or the plan (BatchRunOptions); shard and prepare
/// together are a ConfigError.
std::vector<RunRecord> run_batch_file(const std::string& job_path, const std::string& db_path,
                                      std::ostream& log, const JobProgressFn& progress = nullptr,
                                      CancelFlag cancel = nullptr, const BatchRunOptions& how = {});

/// A plain-text comparison table of "ppl" runs: config, PPL, delta vs unquantized, bits K/V,
/// KV bytes per token, tokens, seconds.
std::string format_ppl_table(const std::vector<RunRecord>& runs);

/// Resolves a path from a batch file: as given if it exists, else against `base_dir`, else
/// under the data directory. Throws FileError naming every place tried.
std::string resolve_data_path(const std::string& path, const std::string& base_dir);

}  // namespace skvq
