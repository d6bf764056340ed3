#pragma once
// Hyper-parameters of a Llama-family decoder (the numbers in a model's header or config.json).
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace skvq {

/// Architecture of a Llama-family causal LM, named as in Hugging Face config.json.
/// All counts are plain integers; lengths are in tokens.
struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";  ///< LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM
  int64_t hidden_size = 0;                        ///< model width (llama2.c "dim")
  int64_t intermediate_size = 0;                  ///< MLP width (llama2.c "hidden_dim")
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;                ///< < num_attention_heads means grouped-query attention
  int64_t head_dim = 0;                           ///< usually hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;            ///< trained context length, tokens
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  double rope_scaling_factor = 1.0;               ///< RoPE scaling factor (linear: positions are divided by it)
  std::string rope_type = "default";              ///< rope_scaling type: default, linear or llama3
  double rope_low_freq_factor = 1.0;              ///< llama3 rope_scaling low_freq_factor
  double rope_high_freq_factor = 4.0;             ///< llama3 rope_scaling high_freq_factor
  int64_t rope_original_max_position_embeddings = 8192;  ///< llama3 original context, tokens
  std::vector<float> rope_freq_factors;           ///< GGUF rope_freqs.weight: inv_freq[i] /= factor[i]
  bool tie_word_embeddings = false;               ///< lm_head shares embed_tokens
  bool attention_bias = false;                    ///< q/k/v_proj have biases (Qwen2)
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;

  /// Channels of one token's K (or V) vector: num_key_value_heads * head_dim.
  int64_t kv_channels() const { return num_key_value_heads * head_dim; }
  /// Unquantized KV-cache bytes per token for all layers at `bytes_per_element` (2 for float16).
  int64_t kv_bytes_per_token(int64_t bytes_per_element) const {
    return 2 * num_hidden_layers * kv_channels() * bytes_per_element;
  }
  /// Throws ConfigError when a count is non-positive or heads do not divide evenly.
  void validate(const std::string& source) const;
  /// One-line human description, e.g. "LlamaForCausalLM: 5 layers, hidden 64, 8 heads (4 KV) x 8".
  std::string describe() const;
};

/// config.json's "rope_scaling" for `c`: null, {"rope_type": "linear", "factor"} or the llama3 object.
nlohmann::json rope_scaling_json(const ModelConfig& c);

}  // namespace skvq
