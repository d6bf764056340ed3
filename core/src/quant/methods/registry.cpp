// The KV method registry (kv_method.h): one line per method, in printing order.
#include "skvq/kv_method.h"

#include "quant/methods/methods.h"

namespace skvq {

const std::vector<KVMethod>& kv_methods() {
  static const std::vector<KVMethod> all = {
      methods::sym(),       // llama.cpp q4_0 / q8_0 groups (sym_quant.h)
      methods::had(),       // Walsh-Hadamard rotation per KV head (hadamard.h)
      methods::kivi(),      // KIVI: keys per channel, values per token
      methods::rtn(),       // round-to-nearest groups, no reorder or clip
      methods::eviction(),  // k0-v0: StreamingLLM, the middle evicted (eviction.h)
  };
  return all;
}

GroupQuantParams group_quant_params(const QuantConfig& c, const ModelConfig& model, bool keys) {
  GroupQuantParams p;
  p.qmax = qmax_for_bits(keys ? c.k_bits : c.v_bits);
  p.clip_ratio = c.method == QuantMethod::SKVQ ? static_cast<float>(c.clip_ratio) : 1.0f;
  p.fp8 = c.fp8;
  for (const KVMethod& m : kv_methods())
    if (m.codec_params && m.selected(c)) m.codec_params(c, model, p);
  return p;
}

std::string packed_codec_refusal(const QuantConfig& c) {
  if (c.is_unquantized()) return "unquantized";
  for (const KVMethod& m : kv_methods()) {
    if (!m.no_packed_codec || !m.selected(c)) continue;
    if (const char* why = m.no_packed_codec(c); why && *why) return why;
  }
  return "";
}

const KVMethod* token_grouped_keys(const QuantConfig& c) {
  for (const KVMethod& m : kv_methods())
    if (m.key_block_tokens && m.selected(c)) return &m;
  return nullptr;
}

const KVMethod* find_kv_method(std::string_view token) {
  for (const KVMethod& m : kv_methods()) {
    if (m.token.empty()) continue;
    if (m.token == token) return &m;
    for (std::string_view alias : m.aliases)
      if (alias == token) return &m;
  }
  return nullptr;
}

}  // namespace skvq
