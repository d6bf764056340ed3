#pragma once
// Calibration (skvq-method.md section 3): per-channel K/V ranges and k-means channel groups.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "skvq/common.h"
#include "skvq/fake_quant.h"

namespace skvq {

class Model;
struct ModelWeights;
struct ModelConfig;
struct QuantConfig;

/// Per-channel statistics of one tensor (K pre-RoPE or V) of one layer over calibration tokens.
struct ChannelStats {
  std::vector<float> min, max, absmax;  ///< each [C] = num_key_value_heads * head_dim
};

/// k-means grouping of C channels for one group size g (n = C/g clusters).
struct ChannelClusters {
  std::vector<int32_t> labels;   ///< [C] cluster of each original channel, clusters numbered by rising centroid min
  std::vector<int64_t> perm;     ///< [C] channels sorted by label (stable)
  std::vector<int64_t> offsets;  ///< [n+1] cumulative cluster sizes
};

/// Statistics and clusters of one decoder layer.
struct LayerCalibration {
  ChannelStats k, v;
  std::map<int64_t, ChannelClusters> k_clusters, v_clusters;  ///< keyed by group size
};

/// A calibration for one model: what it was computed from and the per-layer results.
/// File format: JSON (see calibration.cpp) with format "skvq-calibration", version 1.
struct Calibration {
  std::string model_name, model_sha256;  ///< checkpoint name and file sha256
  std::string weights_fingerprint;       ///< sha256 of all k_proj/v_proj weights as float32:
                                         ///< equal for a llama2.c file and its HF conversion
  std::string weights_dtype = "float32";  ///< the K/V weights' dtype when calibrated ("float32",
                                          ///< "bfloat16", "float16"; float32 for older files)
  std::string text_path, text_sha256;
  int64_t samples = 0, seq_len = 0;  ///< N samples of L tokens
  uint64_t seed = 0;
  int64_t num_layers = 0, kv_channels = 0;
  std::vector<int64_t> group_sizes;
  std::vector<LayerCalibration> layers;
  std::string source_path;  ///< the file load() read ("" for one computed in memory), for messages

  /// "calibration <source_path>" (or "calibration" when computed in memory), for messages.
  std::string name() const { return source_path.empty() ? "calibration" : "calibration " + source_path; }
  /// Writes the calibration as JSON. Throws FileError if the file cannot be written.
  void save(const std::string& path) const;
  /// Reads a calibration file. Throws FileError for a missing, truncated or malformed file.
  static Calibration load(const std::string& path);
  /// Throws ConfigError when the calibration was made for another model: the layer/channel
  /// counts differ, or the K/V projection weights differ (kv_weights_fingerprint of the float32
  /// values). Weights loaded, or calibrated, in another dtype (bfloat16, float16:
  /// weights_dtype) are accepted when they come from the same checkpoint file (w.sha256), since
  /// rounding changes their fingerprint.
  void check_model(const ModelWeights& w, const std::string& calib_path) const;
  /// The group layout of `layer` for keys or values under `config`: reordered clusters for
  /// g when config.reorder (throws ConfigError if g was not calibrated), contiguous groups
  /// otherwise; smooth scales 1/absmax when config.smooth.
  GroupLayout layout(int64_t layer, bool keys, const QuantConfig& config) const;
};

/// sha256 of every layer's k_proj and v_proj weights as little-endian float32, in layer order.
std::string kv_weights_fingerprint(const ModelWeights& w);

/// Options of a calibration run.
struct CalibrationOptions {
  int64_t samples = 16;               ///< N
  int64_t seq_len = 512;              ///< L tokens per sample
  std::vector<int64_t> group_sizes{8, 16, 32};
  uint64_t seed = 1234;               ///< sample positions and k-means
  int kmeans_restarts = 10;
  int kmeans_iterations = 100;
};

/// Runs the float model on N samples of L tokens drawn (with `seed`) from `tokens`, records
/// per-channel min/max/absmax of k_proj (pre-RoPE) and v_proj outputs per layer, and clusters
/// channels for each group size. Deterministic for a seed. Throws ConfigError if the text is
/// shorter than L tokens or a group size does not divide C.
Calibration calibrate(const Model& model, const std::vector<int32_t>& tokens,
                      const CalibrationOptions& opt, ProgressFn progress = nullptr,
                      CancelFlag cancel = nullptr);

/// k-means on 2-D points (x[i], y[i]) into k clusters: k-means++ initialisation, `restarts`
/// runs with seeds derived from `seed`, the run with least inertia kept. Labels are renumbered
/// by rising centroid x then y so that the result is canonical. Throws ConfigError if k < 1 or
/// k > number of points.
std::vector<int32_t> kmeans_2d(const std::vector<float>& x, const std::vector<float>& y, int k,
                               uint64_t seed, int restarts = 10, int iterations = 100);

/// Turns cluster labels into (perm, offsets): channels sorted by label, stable.
ChannelClusters clusters_from_labels(const std::vector<int32_t>& labels, int k);

/// Group layouts of every layer for keys and values under a configuration (calibration may be
/// null when the configuration does not need one; throws ConfigError when it does).
struct KVLayouts {
  std::vector<GroupLayout> k, v;  ///< [num_layers]
  static KVLayouts build(const QuantConfig& config, const ModelConfig& model,
                         const Calibration* calib);
};

}  // namespace skvq
