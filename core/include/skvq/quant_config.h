#pragma once
// KV-cache quantization configurations and their string grammar (skvq-method.md section 5).
#include <cstdint>
#include <string>
#include <string_view>

namespace skvq {

struct ModelConfig;

/// How the K/V vectors are grouped and quantized.
enum class QuantMethod {
  None,  ///< no KV quantization (the "fp16"/"fp32" reference)
  SKVQ,  ///< per-token clipped min-max groups (optionally reordered), sink + window kept
  RTN,   ///< per-token groups of g consecutive channels, no reorder, no clip
  KIVI,  ///< keys per channel over groups of g tokens, values per token; residual = window
};

/// One KV-cache quantization configuration, e.g. "k2-v2-g128-w128-reorder-pre_rope-clip-sink5-fp8".
struct QuantConfig {
  QuantMethod method = QuantMethod::None;
  double k_bits = 16;        ///< 0 (middle evicted), 1.5 (ternary), 2, 3, 4, 8 or 16 (= keys unquantized)
  double v_bits = 16;        ///< same set as k_bits
  int64_t group_size = 0;    ///< g: channels per group (average, with reorder); KIVI: tokens per key group
  int64_t window = 0;        ///< W: most recent tokens kept in full precision (KIVI: residual R)
  int64_t sink = 0;          ///< S: first tokens kept in full precision
  bool reorder = false;      ///< channel reordering from calibration (section 3)
  bool smooth = false;       ///< per-channel smooth scales s_c = 1/absmax_c from calibration
  bool pre_rope = false;     ///< quantize keys before RoPE
  double clip_ratio = 1.0;   ///< lo/hi multiplier in (0,1]; "clip" alone = 0.92
  bool fp8 = false;          ///< scale and zero-point stored as FP8 E4M3 (else float16)
  bool sym = false;          ///< symmetric groups, float16 scale only (llama.cpp q4_0 / q8_0; sym_quant.h)
  bool had = false;          ///< Walsh-Hadamard rotation of each KV head before quantization (hadamard.h)

  /// Parses the grammar of skvq-method.md section 5; also accepts "fp16", "fp32", "none"
  /// for the unquantized reference. Throws ConfigError naming the bad field (e.g. "k9: bits
  /// must be one of 1.5, 2, 3, 4, 8, 16", "g0: group size must be positive", unknown option).
  /// Numbers are plain decimals (no sign, exponent or hex); every option may appear once
  /// (aliases count as one: rod = reorder); g, w and sink are at most 2^20.
  static QuantConfig parse(std::string_view text);
  /// "sym" needs bits 4 or 8 (or 16) and refuses fp8 and KIVI. "had" refuses reorder, smooth
  /// (calibrated for unrotated channels) and KIVI. "k0-v0" (eviction, StreamingLLM) needs both
  /// 0, a window w>0, no g (optional) and none of the quantizer options.
  /// Canonical string: k-v-g first (g omitted for eviction without one), then w, reorder, smooth, pre_rope, clip, sink, fp8, sym,
  /// had, KIVI, rtn. parse(to_string()) == *this. Unquantized prints "fp16".
  std::string to_string() const;

  bool quantizes_keys() const { return method != QuantMethod::None && k_bits < 16; }
  bool quantizes_values() const { return method != QuantMethod::None && v_bits < 16; }
  bool is_unquantized() const { return !quantizes_keys() && !quantizes_values(); }
  /// True for "k0-v0": the middle between sink and window is evicted, not quantized (eviction.h).
  bool evicts() const { return method != QuantMethod::None && k_bits == 0; }
  /// True when a calibration file is needed (reorder or smooth).
  bool needs_calibration() const { return reorder || smooth; }

  /// Checks the configuration against a model: the group size must divide
  /// num_key_value_heads * head_dim (channel groups); with "had" head_dim must be a power of
  /// two. Throws ConfigError.
  void validate_for(const ModelConfig& model) const;

  bool operator==(const QuantConfig&) const = default;
};

/// `v` in the fewest of 6..17 significant digits that parse back to it (the grammar's numbers:
/// bits, clip ratios), e.g. 0.92 -> "0.92", 1.5 -> "1.5".
std::string format_config_number(double v);

/// Largest integer code for `bits`: 2^bits - 1, and 2 for 1.5 bits (ternary). Throws ConfigError
/// for an unsupported width.
int32_t qmax_for_bits(double bits);

/// Bits one code occupies in packed storage: 1.6 for 1.5-bit ternary (5 codes per byte), else
/// bits (0 for an evicted middle).
double stored_code_bits(double bits);

/// Average stored bits per element of one tensor (K or V) in the quantized region:
/// stored_code_bits + (bits of scale + zero-point) / group size; scale and zero are 8 bits each
/// with fp8 and 16 bits each otherwise (KIVI and RTN store float16); sym stores one float16
/// scale and no zero-point. 16 for unquantized, 0 for an evicted middle (k0/v0).
/// Examples: 2-bit, g128, fp8 -> 2 + 16/128 = 2.125; k4-v4-g32-sym -> 4 + 16/32 = 4.5 (q4_0).
double stored_bits_per_element(const QuantConfig& c, bool keys);

}  // namespace skvq
