#pragma once
// The studio's calls into the engine, behind a LibTorch-free header (moc reads the headers
// that include this one). Everything here throws skvq::Error (FileError, ConfigError,
// StoreError, Cancelled) with messages naming the file and problem.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "skvq/common.h"

namespace skvq {
struct Calibration;
}

namespace skvq::studio {

/// What the wizard shows about a model file or directory.
struct ModelInfo {
  std::string name, path, sha256, description;
  nlohmann::json config;   ///< ModelConfig fields as in config.json
  int64_t num_layers = 0, kv_channels = 0, max_position_embeddings = 0;
};
/// Loads the model (llama2.c file or HF directory) and describes it.
ModelInfo inspect_model(const std::string& path);

/// A calibration to run: model, text and CalibrationOptions.
struct CalibrationRequest {
  std::string model_path, tokenizer_path, text_path;
  int64_t max_text_bytes = 0;  ///< 0 = whole text
  int64_t samples = 16, seq_len = 256;
  std::vector<int64_t> group_sizes{8, 16, 32};
  uint64_t seed = 1234;
};
std::shared_ptr<const Calibration> run_calibration(const CalibrationRequest& req,
                                                   ProgressFn progress, CancelFlag cancel);
std::shared_ptr<const Calibration> load_calibration(const std::string& path);
/// Writes the calibration to `out_path` and registers model and calibration in the store at
/// `db`; `tokenizer_path` empty = the tokenizer found beside the model. Returns the calibration id.
int64_t save_and_register_calibration(const Calibration& calib, const std::string& model_path,
                                      const std::string& out_path, const std::string& db,
                                      const std::string& tokenizer_path = "");
int64_t calibration_layers(const Calibration& calib);
std::vector<int64_t> calibration_group_sizes(const Calibration& calib);
/// One layer of a calibration in the shape of the analyze item "channels/layer<l>"
/// (docs/run-items.md), for the outlier view.
nlohmann::json calibration_channels_item(const Calibration& calib, int64_t layer,
                                         int64_t group_size);

/// A perplexity evaluation stored as a "ppl" run (docs/run-items.md).
struct PplRequest {
  std::string model_path, tokenizer_path, text_path, config = "fp16", calibration_path;
  int64_t ctx_len = 256, max_chunks = 4, max_bytes = 200000;
  int64_t skip_bytes = 0;           ///< start after this many bytes of the text (held-out text)
  std::string protocol = "reference";  ///< "reference" or "llama.cpp" (skvq/perplexity.h)
  bool keep_window = false, full_prefill = false;
};
/// Evaluates through core's run_ppl_job (or finds the stored run with the same identity) and
/// returns the run id.
int64_t run_perplexity(const PplRequest& req, const std::string& db, ProgressFn progress,
                       CancelFlag cancel);

/// Average stored bits per element of keys and values for a configuration string.
std::pair<double, double> config_bits(const std::string& config);
/// KV-cache bytes (whole model, one sequence) at each context length for a configuration
/// (core memory accounting, skvq/memory.h); model_config is a ModelRecord's config JSON.
std::vector<double> kv_cache_bytes(const nlohmann::json& model_config, const std::string& config,
                                   const std::vector<int64_t>& lengths);

/// What Help > About shows: {"libtorch": version, "cuda": "available (<n> devices)" or the
/// reason it is not, "sqlite": library version}.
nlohmann::json engine_versions();

/// Runs a batch job file headlessly (core's run_batch_file; progress and the comparison table
/// go to `log`). Returns the process exit code; throws skvq::Error.
int run_batch(const std::string& job_path, const std::string& db, std::ostream& log,
              CancelFlag cancel);

}  // namespace skvq::studio
