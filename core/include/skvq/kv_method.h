#pragma once
// The KV methods of the configuration grammar (skvq-method.md section 5) that are a token of
// their own ("sym", "had", "KIVI", "rtn") or a bit width ("k0-v0", eviction). Each is one file
// under core/src/quant/methods/ and one line of methods/registry.cpp; QuantConfig::parse,
// to_string, validate_for and stored_bits_per_element ask the registry instead of naming them.
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "skvq/error.h"
#include "skvq/fake_quant.h"
#include "skvq/quant_config.h"

namespace skvq {

struct ModelConfig;

/// What a method's compatibility check sees once the whole string is parsed.
struct MethodCheck {
  /// Options given, by canonical name: "k", "v", "g", "w", "sink", "clip", "reorder", ... and
  /// the methods' tokens.
  const std::set<std::string>& given;
  /// The ConfigError to throw: "configuration '<string>': <field>: <why>" (no field when empty).
  std::function<ConfigError(const std::string& field, const std::string& why)> fail;
};

/// One KV method of the grammar.
struct KVMethod {
  /// Canonical grammar token, printed by to_string(); empty for a method selected by bits.
  std::string_view token;
  /// Other accepted spellings of the token ("kivi" for "KIVI").
  std::vector<std::string_view> aliases;
  /// Applies the token to the configuration being parsed (nullptr when token is empty).
  void (*select)(QuantConfig&) = nullptr;
  /// True when `c` uses this method.
  bool (*selected)(const QuantConfig& c) = nullptr;
  /// Refuses combinations the method cannot run, after parsing: throws check.fail(...). Runs
  /// when the token was given (or, for a token-less method, when selected).
  void (*check)(const QuantConfig& c, const MethodCheck& check) = nullptr;
  /// Refuses a model the method cannot run on (throws ConfigError); nullptr: any model.
  void (*check_model)(const QuantConfig& c, const ModelConfig& model) = nullptr;
  /// Sets the method's part of the group quantizer (its codec): sym scale-only groups, had the
  /// per-head rotation. nullptr: SKVQ's min-max groups unchanged.
  void (*codec_params)(const QuantConfig& c, const ModelConfig& model, GroupQuantParams& p) = nullptr;
  /// Why the packed cache cannot store `c` with this method (nullptr or "": it can; then the
  /// method's part of the packed codec is codec_params'). The fake-quant cache runs it instead.
  const char* (*no_packed_codec)(const QuantConfig& c) = nullptr;
  /// Keys grouped along tokens instead of channels (KIVI's per-channel keys): the fake-quant
  /// cache quantizes a layer's middle keys only in whole blocks of key_block_tokens(c) tokens,
  /// each block by fake_quant_keys(seg [B, n, C] float32, c) (same shape). nullptr: per-token
  /// groups of the layout (group_quant_params).
  int64_t (*key_block_tokens)(const QuantConfig& c) = nullptr;
  at::Tensor (*fake_quant_keys)(const at::Tensor& seg, const QuantConfig& c) = nullptr;
  /// Stored bits of one group's parameters (scale + zero-point); nullptr: SKVQ's (8 + 8 with
  /// fp8, 16 + 16 otherwise).
  double (*param_bits)(const QuantConfig& c) = nullptr;
};

/// Every registered method, in the order their tokens print in QuantConfig::to_string().
const std::vector<KVMethod>& kv_methods();

/// The group quantizer for the keys (keys = true) or values of `c` on `model`: qmax for the
/// width (qmax_for_bits), SKVQ's clip ratio (1 for the other methods), fp8, then each selected
/// method's codec_params. Throws ConfigError for a width without an integer quantizer (16, 0).
GroupQuantParams group_quant_params(const QuantConfig& c, const ModelConfig& model, bool keys);

/// Why the packed cache cannot store `c`: the first selected method's no_packed_codec reason,
/// "unquantized" for the fp16 reference, or "" when it can.
std::string packed_codec_refusal(const QuantConfig& c);

/// The selected method of `c` that groups keys along tokens (key_block_tokens), or nullptr.
const KVMethod* token_grouped_keys(const QuantConfig& c);

/// The method whose token or alias is `token` (case as written), or nullptr.
const KVMethod* find_kv_method(std::string_view token);

}  // namespace skvq
