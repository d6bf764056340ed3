#pragma once
// The studio's calls that start the evaluation runs of the Run menu (needle grid, attention
// locality analysis, LongBench tasks, batch files) and the memory planner, behind a
// LibTorch-free header like engine.h. Each run function opens the store at `db` itself (it runs
// on the JobRunner's worker thread), stores its runs the way the matching `skvq` command does
// and returns their ids. They throw skvq::Error (FileError, ConfigError, StoreError, Cancelled).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skvq/common.h"

namespace skvq::studio {

/// Empty when `config` parses (skvq::QuantConfig::parse) and, when `model_path` names a
/// readable model (memory.h model_config_from_path), fits it (QuantConfig::validate_for);
/// else the error message, e.g. "k9: bits must be one of 1.5, 2, 3, 4, 8, 16".
std::string config_error(const std::string& config, const std::string& model_path = {});
/// Whether the configuration reads the calibration (reorder or smooth). False when it does not parse.
bool config_needs_calibration(const std::string& config);

/// The model, tokenizer and optional calibration a run uses (calibration needed by
/// reorder/smooth configurations, checked against the model and registered with it).
struct RunModel {
  std::string model_path, tokenizer_path, calibration_path;
};

/// A needle-in-a-haystack grid (skvq needle): the unquantized reference runs first.
struct NeedleRequest {
  RunModel model;
  std::vector<std::string> configs;
  std::vector<int64_t> lengths;    ///< context lengths, tokens
  std::vector<double> depths;      ///< depth percents 0..100
  std::string haystack_dir;        ///< empty: <data>/text/needle/PaulGrahamEssays
  int64_t max_new_tokens = 32;
  int64_t buffer_tokens = -1;      ///< < 0: default_needle_buffer (skvq/eval_inputs.h)
  std::string chat_template = "auto";
};
/// Runs core's run_needle over the grid; returns the run ids, reference first.
std::vector<int64_t> run_needle_grid(const NeedleRequest& req, const std::string& db, ProgressFn progress,
                                     CancelFlag cancel);

/// An attention-locality and quantization-error analysis of one text (skvq analyze).
struct AnalyzeRequest {
  RunModel model;
  std::string text_path;
  std::string config;              ///< empty: default_analyze_config
  int64_t max_tokens = 0;          ///< 0 = the model's max_position_embeddings
  std::vector<int64_t> sinks{1, 5, 10}, windows{16, 32, 64, 128};
};
/// Runs core's run_analyze; returns the run id (a stored run with the same identity is reused).
int64_t run_locality_analysis(const AnalyzeRequest& req, const std::string& db, ProgressFn progress,
                              CancelFlag cancel);

/// LongBench / L-Eval style tasks (skvq longbench).
struct LongBenchRequest {
  RunModel model;
  std::vector<std::string> data_paths;  ///< JSONL files
  std::string tasks_file;               ///< optional task table added to the built-in one
  std::vector<std::string> configs{"fp16"};
  int64_t max_samples = 0, max_prompt_tokens = 0;
  std::string chat_template = "auto";
};
/// Runs core's run_longbench; returns one run id per configuration.
std::vector<int64_t> run_longbench_tasks(const LongBenchRequest& req, const std::string& db, ProgressFn progress,
                                         CancelFlag cancel);

/// What a batch file would do without running it (run_batch_file with plan = true: parses the
/// file, resolves its paths, parses its configurations). Throws FileError, ConfigError.
std::string batch_plan(const std::string& job_path);
/// The result of a batch job: its runs and the log (progress lines and the comparison table).
struct BatchResult {
  std::vector<int64_t> run_ids;
  std::string log;
};
/// Runs a batch job file (core's run_batch_file) into the store at `db`; progress counts the
/// chunks of the configuration being evaluated.
BatchResult run_batch_job(const std::string& job_path, const std::string& db, ProgressFn progress,
                          CancelFlag cancel);

/// Memory table (core's memory_report, skvq memory --json) for a model directory, config.json,
/// GGUF or llama2.c file and configuration strings; budget in GiB and context in tokens
/// optional. Throws FileError, ConfigError.
nlohmann::json memory_plan(const std::string& model_path, const std::vector<std::string>& configs,
                           std::optional<double> budget_gib, std::optional<int64_t> ctx);
/// KV-cache bytes (kv_cache_bytes, all layers, one sequence) of one configuration of the model
/// at `model_path` at each context length.
std::vector<double> memory_curve(const std::string& model_path, const std::string& config,
                                 const std::vector<int64_t>& lengths);

}  // namespace skvq::studio
