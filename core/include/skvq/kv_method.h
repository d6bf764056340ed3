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

/// The method whose token or alias is `token` (case as written), or nullptr.
const KVMethod* find_kv_method(std::string_view token);

}  // namespace skvq
