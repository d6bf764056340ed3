// ModelConfig checks and description.
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "skvq/error.h"
#include "skvq/model_config.h"

namespace skvq {

void ModelConfig::validate(const std::string& source) const {
  auto need = [&](int64_t v, const char* name) {
    if (v <= 0) throw FileError(source, std::string(name) + " must be positive, got " + std::to_string(v));
  };
  need(hidden_size, "hidden_size");
  need(intermediate_size, "intermediate_size");
  need(num_hidden_layers, "num_hidden_layers");
  need(num_attention_heads, "num_attention_heads");
  need(num_key_value_heads, "num_key_value_heads");
  need(head_dim, "head_dim");
  need(vocab_size, "vocab_size");
  if (num_attention_heads % num_key_value_heads != 0)
    throw FileError(source, "num_attention_heads (" + std::to_string(num_attention_heads) +
                                ") is not a multiple of num_key_value_heads (" +
                                std::to_string(num_key_value_heads) + ")");
  if (head_dim % 2 != 0) throw FileError(source, "head_dim must be even for RoPE");
  // Upper bounds: products of these sizes must fit int64 and a tensor of them must be allocatable.
  auto at_most = [&](int64_t v, int64_t limit, const char* name) {
    if (v > limit)
      throw FileError(source, std::string(name) + " " + std::to_string(v) + " is implausibly large (limit " +
                                  std::to_string(limit) + ")");
  };
  constexpr int64_t kDim = int64_t{1} << 24;
  at_most(hidden_size, kDim, "hidden_size");
  at_most(intermediate_size, kDim, "intermediate_size");
  at_most(num_hidden_layers, kDim, "num_hidden_layers");
  at_most(num_attention_heads, kDim, "num_attention_heads");
  at_most(num_key_value_heads, kDim, "num_key_value_heads");
  at_most(head_dim, kDim, "head_dim");
  at_most(vocab_size, int64_t{1} << 26, "vocab_size");
  need(max_position_embeddings, "max_position_embeddings");
  at_most(max_position_embeddings, int64_t{1} << 40, "max_position_embeddings");
  if (!(rope_theta > 0) || !std::isfinite(rope_theta))
    throw FileError(source, "rope_theta must be a positive finite number, got " + std::to_string(rope_theta));
  if (!(rms_norm_eps > 0) || !std::isfinite(rms_norm_eps))
    throw FileError(source, "rms_norm_eps must be a positive finite number, got " + std::to_string(rms_norm_eps));
  if (!(rope_scaling_factor > 0) || !std::isfinite(rope_scaling_factor))
    throw FileError(source, "rope scaling factor must be a positive finite number, got " + std::to_string(rope_scaling_factor));
}

nlohmann::json rope_scaling_json(const ModelConfig& c) {
  if (c.rope_type == "llama3")
    return {{"rope_type", "llama3"}, {"factor", c.rope_scaling_factor}, {"low_freq_factor", c.rope_low_freq_factor},
            {"high_freq_factor", c.rope_high_freq_factor},
            {"original_max_position_embeddings", c.rope_original_max_position_embeddings}};
  if (c.rope_scaling_factor != 1.0) return {{"type", "linear"}, {"rope_type", "linear"}, {"factor", c.rope_scaling_factor}};
  return nullptr;
}

std::string ModelConfig::describe() const {
  std::ostringstream s;
  s << architecture << ": " << num_hidden_layers << " layers, hidden " << hidden_size << ", "
    << num_attention_heads << " heads (" << num_key_value_heads << " KV) x " << head_dim
    << ", MLP " << intermediate_size << ", vocab " << vocab_size << ", context "
    << max_position_embeddings;
  return s.str();
}

}  // namespace skvq
