#pragma once
// Attention locality and quantization-error analysis of one text sample (the evidence behind
// SKVQ's sink + sliding window and channel reordering), stored as run items of kind "analyze"
// exactly as docs/run-items.md lists them.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "skvq/common.h"
#include "skvq/fake_quant.h"
#include "skvq/quant_config.h"

namespace skvq {

class Model;
class RunStore;
struct Calibration;

/// Attention locality of one layer.
struct LayerLocality {
  std::vector<int64_t> bin_edges;             ///< log_distance_bin_edges(Tk - 1)
  std::vector<std::vector<double>> mass;      ///< [head][bin]: mean over queries (and batch) of the
                                              ///< probability mass on keys at that distance
  std::map<int64_t, std::vector<double>> sink_mass;    ///< S -> [head]: mass on keys 0..S-1
  std::map<int64_t, std::vector<double>> window_mass;  ///< W -> [head]: mass on the last W keys
                                                       ///< up to the query (distance 0..W-1)
};

/// Locality of attention probabilities `probs` [B, H, Tq, Tk] float (rows sum to 1; query i sits
/// at position Tk - Tq + i, key j at position j, distance = query position - j). Means are over
/// all queries and batch rows. Throws ConfigError unless probs is 4-D with Tq <= Tk.
LayerLocality attention_locality(const at::Tensor& probs, const std::vector<int64_t>& sinks,
                                 const std::vector<int64_t>& windows);

/// Mean squared fake-quantization error of each group of `layout` for token vectors x [N, C]
/// float (CPU): group j covers the original channels perm[offsets[j] .. offsets[j+1]) and its
/// error is the mean over those channels and all N tokens of (x - fake_quant(x))^2, quantized by
/// fake_quant_rows_cpu with `p`. Throws ConfigError when C != layout.channels().
std::vector<double> group_mse(const at::Tensor& x, const GroupLayout& layout,
                              const GroupQuantParams& p);

/// The channel group size analyze uses for clusters and group errors: config.group_size for
/// SKVQ/RTN configurations, else 128 when it divides C into at least 2 groups, else C/4 (else C).
int64_t analysis_group_size(const QuantConfig& config, int64_t kv_channels);

/// Settings of one analysis.
struct AnalyzeOptions {
  std::vector<int64_t> sinks{1, 5, 10};
  std::vector<int64_t> windows{16, 32, 64, 128};
  ProgressFn progress;  ///< optional: (done, 4) after each of the four steps below (not stored)
};

/// Result of run_analyze.
struct AnalyzeSummary {
  int64_t run_id = 0;
  bool reused = false;     ///< a finished run with the same identity was found; nothing computed
  nlohmann::json metrics;  ///< {"layers", "heads", "mean_sink_mass", "mean_window_mass", ...}
};

/// Analyzes `tokens` (BOS first, at least 3 tokens) of the text file `text_path`:
/// 1. fp forward without a cache: per layer the locality item "locality/layer<l>";
/// 2. channel statistics and k-means clusters for analysis_group_size from `calib`, or, without
///    one, from calibrate() on these tokens (1 sample of all but one token): "channels/layer<l>";
/// 3. per-group MSE of the layer's pre-RoPE K and V of this text, plain (contiguous groups, no
///    clip), reorder (clusters, no clip), reorder_clip (clusters, config's clip or 0.92 when the
///    config has none), bits of the config (2 where it leaves K or V unquantized or is KIVI),
///    fp8 as configured: "group_error/layer<l>";
/// 4. a second forward through make_kv_cache(config, full_prefill = false; packed storage where
///    the method has a packed codec and the model is on the CPU), with the text's
///    calibration when `calib` is null and the config needs one: relative error and MSE of each
///    layer's attention output against the fp run: "attn_error/layer<l>".
/// Run kind "analyze", params {"text", "tokens", "sinks", "windows", "quant"}; metrics
/// {"layers", "heads", "mean_sink_mass", "mean_window_mass"} for the first S and W (means over
/// layers and heads) plus "sink_mass_by_S" and "window_mass_by_W" objects for every S and W.
/// A finished run with the same identity is returned as is. Throws ConfigError, StoreError,
/// Cancelled.
AnalyzeSummary run_analyze(const Model& model, const std::vector<int32_t>& tokens,
                           const std::string& text_path, const QuantConfig& config,
                           const Calibration* calib, RunStore& store, int64_t model_id,
                           std::optional<int64_t> calibration_id, const AnalyzeOptions& opt,
                           CancelFlag cancel = nullptr);

}  // namespace skvq
