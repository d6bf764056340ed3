// KV-cache memory accounting (memory.h): exact integer arithmetic in units of 1/(10 g) bit, so
// that 1.6-bit codes and per-group scales add up without rounding until the final byte count.
#include "skvq/memory.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/gguf_file.h"
#include "skvq/error.h"
#include "skvq/kv_regions.h"
#include "skvq/weights.h"

namespace skvq {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using i128 = __int128;

// Bits per element of K and V as integers over a common denominator `den` (bits = units/den).
struct BitUnits {
  int64_t den = 10;
  int64_t k = 160, v = 160, fp16 = 160;
};

BitUnits bit_units(const QuantConfig& c) {
  BitUnits u;
  u.den = 10 * std::max<int64_t>(1, c.group_size);
  u.fp16 = 16 * u.den;
  // stored bits = code bits (a multiple of 0.1) + scale/zero bits / g: an integer over 10 g.
  u.k = c.quantizes_keys() ? std::llround(stored_bits_per_element(c, true) * u.den) : u.fp16;
  u.v = c.quantizes_values() ? std::llround(stored_bits_per_element(c, false) * u.den) : u.fp16;
  return u;
}

void check(const ModelConfig& model, const QuantConfig& config) {
  if (model.num_hidden_layers <= 0 || model.kv_channels() <= 0)
    throw ConfigError("memory accounting: the model has no K/V channels (" +
                      std::to_string(model.num_hidden_layers) + " layers, " +
                      std::to_string(model.kv_channels()) + " channels)");
  config.validate_for(model);
}

// Total bits * den of a cache of T tokens.
i128 cache_units(const ModelConfig& model, const QuantConfig& c, const BitUnits& u, int64_t T) {
  int64_t nq = 0, nqk = 0, nqv = 0;
  if (!c.is_unquantized()) {
    nq = KVRegions::of(c).middle_tokens(T);
    nqk = c.quantizes_keys() ? nq : 0;
    if (c.method == QuantMethod::KIVI && c.group_size > 0) nqk = nqk / c.group_size * c.group_size;
    nqv = c.quantizes_values() ? nq : 0;
  }
  const i128 per_layer = static_cast<i128>(T - nqk) * u.fp16 + static_cast<i128>(nqk) * u.k +
                         static_cast<i128>(T - nqv) * u.fp16 + static_cast<i128>(nqv) * u.v;
  return per_layer * model.num_hidden_layers * model.kv_channels();
}

int64_t units_to_bytes(i128 units, int64_t den) {
  const i128 d = static_cast<i128>(8) * den;
  return static_cast<int64_t>((units + d - 1) / d);
}

int32_t read_i32(const unsigned char* p) {
  int32_t v;
  std::memcpy(&v, p, 4);  // llama2.c writes native (little-endian) int32
  return v;
}

}  // namespace

KVMemory kv_memory(const ModelConfig& model, const QuantConfig& c) {
  check(model, c);
  KVMemory m;
  m.config = c.to_string();
  const double elems = static_cast<double>(model.num_hidden_layers) * model.kv_channels();
  const bool qk = c.quantizes_keys(), qv = c.quantizes_values();
  m.nominal_bits_k = qk ? c.k_bits : 16;
  m.nominal_bits_v = qv ? c.v_bits : 16;
  const BitUnits u = bit_units(c);
  m.bits_k = static_cast<double>(u.k) / u.den;
  m.bits_v = static_cast<double>(u.v) / u.den;
  const double code_k = qk ? stored_code_bits(c.k_bits) : 16;
  const double code_v = qv ? stored_code_bits(c.v_bits) : 16;
  m.codes_bytes_per_token = elems * (code_k + code_v) / 8;
  m.scale_zero_bytes_per_token = elems * ((m.bits_k - code_k) + (m.bits_v - code_v)) / 8;
  m.kv_bytes_per_token = elems * (m.bits_k + m.bits_v) / 8;
  m.fp16_bytes_per_token = model.kv_bytes_per_token(2);
  m.full_precision_tokens = c.is_unquantized() ? 0 : KVRegions::of(c).sink + KVRegions::of(c).window;
  m.sink_window_bytes = m.full_precision_tokens * m.fp16_bytes_per_token;
  return m;
}

int64_t kv_cache_bytes(const ModelConfig& model, const QuantConfig& c, int64_t tokens) {
  check(model, c);
  if (tokens < 0) throw ConfigError("memory accounting: negative context length " + std::to_string(tokens));
  const BitUnits u = bit_units(c);
  return units_to_bytes(cache_units(model, c, u, tokens), u.den);
}

int64_t num_parameters(const ModelConfig& m) {
  const int64_t hd = m.head_dim > 0 ? m.head_dim
                                    : (m.num_attention_heads > 0 ? m.hidden_size / m.num_attention_heads : 0);
  const int64_t q = m.num_attention_heads * hd, kv = m.num_key_value_heads * hd;
  int64_t layer = m.hidden_size * q + 2 * m.hidden_size * kv + q * m.hidden_size +
                  3 * m.hidden_size * m.intermediate_size + 2 * m.hidden_size;
  if (m.attention_bias) layer += q + 2 * kv;
  const int64_t embed = m.vocab_size * m.hidden_size;
  return embed + m.num_hidden_layers * layer + m.hidden_size + (m.tie_word_embeddings ? 0 : embed);
}

int64_t weight_bytes_fp16(const ModelConfig& m) { return 2 * num_parameters(m); }

int64_t max_context_tokens(const ModelConfig& model, const QuantConfig& c, double budget_gib) {
  check(model, c);
  if (!std::isfinite(budget_gib) || budget_gib < 0)
    throw ConfigError("memory budget must be a non-negative number of GiB");
  const long double budget = std::floor(static_cast<long double>(budget_gib) * 1073741824.0L);
  const long double avail_ld = budget - static_cast<long double>(weight_bytes_fp16(model));
  if (avail_ld < 0) return 0;
  const i128 avail = static_cast<i128>(avail_ld);
  const BitUnits u = bit_units(c);
  auto fits = [&](int64_t T) {
    return static_cast<i128>(units_to_bytes(cache_units(model, c, u, T), u.den)) <= avail;
  };
  // Exponential then binary search: cache bytes never decrease as T grows.
  int64_t lo = 0, hi = 1;
  constexpr int64_t kCap = int64_t{1} << 50;
  while (hi < kCap && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi >= kCap && fits(kCap)) return kCap;
  while (hi - lo > 1) {  // fits(lo), !fits(hi)
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

ModelConfig read_llama2c_header(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such file");
  if (fs::is_directory(path, ec)) throw FileError(path, "is a directory, expected a llama2.c .bin file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot be read");
  unsigned char h[28];
  in.read(reinterpret_cast<char*>(h), sizeof h);
  if (in.gcount() != static_cast<std::streamsize>(sizeof h))
    throw FileError(path, "too short for a llama2.c header (" + std::to_string(in.gcount()) +
                              " bytes, need 28)");
  const int32_t dim = read_i32(h), hidden = read_i32(h + 4), layers = read_i32(h + 8),
                heads = read_i32(h + 12), kv_heads = read_i32(h + 16), vocab = read_i32(h + 20),
                seq_len = read_i32(h + 24);
  auto bad = [&](const std::string& why) {
    return FileError(path, "not a llama2.c checkpoint: " + why + " (header dim=" +
                               std::to_string(dim) + " hidden_dim=" + std::to_string(hidden) +
                               " n_layers=" + std::to_string(layers) + " n_heads=" +
                               std::to_string(heads) + " n_kv_heads=" + std::to_string(kv_heads) +
                               " vocab_size=" + std::to_string(vocab) + " seq_len=" +
                               std::to_string(seq_len) + ")");
  };
  if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || vocab == 0 ||
      seq_len <= 0 || vocab == INT32_MIN)
    throw bad("non-positive size");
  if (dim % heads != 0) throw bad("dim is not a multiple of n_heads");
  if (kv_heads > heads || heads % kv_heads != 0) throw bad("n_heads is not a multiple of n_kv_heads");
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = dim / heads;
  c.vocab_size = vocab < 0 ? -static_cast<int64_t>(vocab) : vocab;
  c.tie_word_embeddings = vocab > 0;
  c.max_position_embeddings = seq_len;
  return c;
}

ModelConfig model_config_from_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string cfg = (fs::path(path) / "config.json").string();
    if (!fs::exists(cfg, ec))
      throw FileError(path, "directory without config.json (expected a Hugging Face model directory)");
    return load_hf_config(cfg);
  }
  if (!fs::exists(path, ec)) throw FileError(path, "no such file or directory");
  if (fs::path(path).extension() == ".json") return load_hf_config(path);
  if (is_gguf_file(path)) return gguf::model_config(path);
  return read_llama2c_header(path);
}

json memory_report(const ModelConfig& model, const std::string& model_name,
                   const std::vector<QuantConfig>& configs, std::optional<double> budget_gib,
                   std::optional<int64_t> ctx) {
  json out = json::object();
  out["model"] = model_name;
  out["num_parameters"] = num_parameters(model);
  out["weights_bytes"] = weight_bytes_fp16(model);
  out["fp16_kv_bytes_per_token"] = model.kv_bytes_per_token(2);
  if (budget_gib) out["budget_gib"] = *budget_gib;
  if (ctx) out["ctx"] = *ctx;
  json rows = json::array();
  for (const auto& c : configs) {
    const KVMemory m = kv_memory(model, c);
    json r = json::object();
    r["config"] = m.config;
    r["bits_k"] = m.bits_k;
    r["bits_v"] = m.bits_v;
    r["nominal_bits_k"] = m.nominal_bits_k;
    r["nominal_bits_v"] = m.nominal_bits_v;
    r["kv_bytes_per_token"] = m.kv_bytes_per_token;
    r["codes_bytes_per_token"] = m.codes_bytes_per_token;
    r["scale_zero_bytes_per_token"] = m.scale_zero_bytes_per_token;
    r["sink_window_bytes"] = m.sink_window_bytes;
    r["compression"] = static_cast<double>(m.fp16_bytes_per_token) / m.kv_bytes_per_token;
    if (budget_gib) r["max_context_tokens"] = max_context_tokens(model, c, *budget_gib);
    if (ctx) r["cache_bytes_at_ctx"] = kv_cache_bytes(model, c, *ctx);
    rows.push_back(std::move(r));
  }
  out["configs"] = std::move(rows);
  return out;
}

}  // namespace skvq
