#pragma once
// KV-cache memory accounting: bytes per token, cache size at a context length, and the longest
// context that fits a memory budget next to the weights. Pure arithmetic over a ModelConfig and
// a QuantConfig; nothing is loaded and nothing is stored.
//
// Storage model (skvq-method.md sections 1-4):
//   - full-precision tokens (sink S + window W; for KIVI the residual R = window) and
//     unquantized configurations are float16: 2 bytes per element;
//   - a quantized token costs, per layer and per tensor (K or V) of C = kv_channels() elements,
//     C * stored_bits_per_element / 8 bytes: codes at stored_code_bits (ternary 1.5-bit codes
//     take 1.6 bits, 5 codes per byte) plus one scale and one zero-point per group (1 byte each
//     with fp8, 2 bytes each otherwise; sym: one float16 scale and no zero-point);
//   - KIVI keys are quantized per channel in complete groups of g tokens: tokens of an
//     incomplete group outside the residual stay float16 as well.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skvq/model_config.h"
#include "skvq/quant_config.h"

namespace skvq {

/// Memory of one configuration for one model. Byte counts cover all layers, K and V together,
/// and may be fractional per token (1.6-bit codes, scale/zero shared by a group).
struct KVMemory {
  std::string config;                   ///< canonical configuration string ("fp16" unquantized)
  double nominal_bits_k = 16, nominal_bits_v = 16;  ///< the configuration's bits (16 = float16)
  double bits_k = 16, bits_v = 16;      ///< stored bits per element in the quantized region
  double codes_bytes_per_token = 0;     ///< codes of K + V (float16 values of an unquantized tensor)
  double scale_zero_bytes_per_token = 0;  ///< scales and zero-points of K + V
  double kv_bytes_per_token = 0;        ///< codes + scale/zero: one token of the quantized region
  int64_t fp16_bytes_per_token = 0;     ///< one token at float16 (sink, window, unquantized)
  int64_t full_precision_tokens = 0;    ///< sink + window tokens kept at float16 (0 unquantized)
  int64_t sink_window_bytes = 0;        ///< full_precision_tokens * fp16_bytes_per_token, fixed
};

/// Per-token accounting of `config` for `model`. Throws ConfigError when the group size does
/// not fit the model's K/V channels (QuantConfig::validate_for) or the model has no KV channels.
KVMemory kv_memory(const ModelConfig& model, const QuantConfig& config);

/// Bytes of the whole KV cache (all layers, K and V, one sequence) holding `tokens` tokens:
/// the first S and last W at float16, the rest quantized (all float16 when unquantized).
/// Rounded up to whole bytes. Throws ConfigError as kv_memory, or for tokens < 0.
int64_t kv_cache_bytes(const ModelConfig& model, const QuantConfig& config, int64_t tokens);

/// Number of parameters implied by the configuration: embeddings + per layer (q, k, v, o
/// projections, their biases when attention_bias, gate/up/down MLP, two RMSNorms) + final norm
/// + lm_head unless tie_word_embeddings. Llama-2-7B: 6,738,415,616.
int64_t num_parameters(const ModelConfig& model);

/// Bytes of the weights at float16: 2 * num_parameters.
int64_t weight_bytes_fp16(const ModelConfig& model);

/// The largest context (tokens, one sequence) whose KV cache fits in `budget_gib` GiB
/// (1 GiB = 2^30 bytes) next to the float16 weights: largest T with
/// weight_bytes_fp16 + kv_cache_bytes(T) <= budget. 0 when the weights alone do not fit.
/// Throws ConfigError for a negative or non-finite budget.
int64_t max_context_tokens(const ModelConfig& model, const QuantConfig& config, double budget_gib);

/// Reads the 28-byte header of a llama2.c checkpoint (7 int32: dim, hidden_dim, n_layers,
/// n_heads, n_kv_heads, vocab_size (negative = separate classifier, i.e. untied), seq_len) into
/// a ModelConfig (head_dim = dim / n_heads, max_position_embeddings = seq_len). Reads nothing
/// else. Throws FileError "<path>: ..." for a missing or short file or impossible numbers.
ModelConfig read_llama2c_header(const std::string& path);

/// The configuration of a model given as a Hugging Face directory (its config.json), a
/// config.json file, a GGUF file (its metadata, gguf_file.h) or a llama2.c .bin checkpoint
/// (header only). Throws FileError.
ModelConfig model_config_from_path(const std::string& path);

/// A memory table as JSON: {"model", "num_parameters", "weights_bytes",
/// "fp16_kv_bytes_per_token", "budget_gib" (when given), "ctx" (when given), "configs": [{"config",
/// "bits_k", "bits_v", "nominal_bits_k", "nominal_bits_v", "kv_bytes_per_token",
/// "codes_bytes_per_token", "scale_zero_bytes_per_token", "sink_window_bytes",
/// "compression" (fp16 bytes / kv_bytes_per_token), "max_context_tokens" (when budget given),
/// "cache_bytes_at_ctx" (when ctx given)}]}. Throws ConfigError as kv_memory.
nlohmann::json memory_report(const ModelConfig& model, const std::string& model_name,
                             const std::vector<QuantConfig>& configs,
                             std::optional<double> budget_gib = std::nullopt,
                             std::optional<int64_t> ctx = std::nullopt);

}  // namespace skvq
