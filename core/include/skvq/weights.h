#pragma once
// The tensors of a Llama-family model, in Hugging Face layout and names.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

#include "skvq/model_config.h"

namespace skvq {

/// Weights of one decoder layer. Linear weights are [out_features, in_features] (HF layout);
/// rotary dimensions follow the HF rotate-half convention (pair i with i + head_dim/2).
struct LayerWeights {
  at::Tensor input_layernorm;           ///< [hidden_size]
  at::Tensor q_proj, k_proj, v_proj;    ///< [heads*head_dim, hidden], [kv_heads*head_dim, hidden] x2
  at::Tensor q_bias, k_bias, v_bias;    ///< undefined unless attention_bias
  at::Tensor o_proj;                    ///< [hidden, heads*head_dim]
  at::Tensor post_attention_layernorm;  ///< [hidden_size]
  at::Tensor gate_proj, up_proj;        ///< [intermediate, hidden]
  at::Tensor down_proj;                 ///< [hidden, intermediate]
};

/// A whole model: configuration, weights and where it came from.
struct ModelWeights {
  ModelConfig config;
  at::Tensor embed_tokens;   ///< [vocab_size, hidden_size]
  std::vector<LayerWeights> layers;
  at::Tensor norm;           ///< [hidden_size]
  at::Tensor lm_head;        ///< [vocab_size, hidden_size]; same storage as embed_tokens when tied
  std::string source_path;   ///< file or directory it was loaded from (load_model: absolute, canonical)
  std::string sha256;        ///< hex sha256 of the checkpoint file (sharded: of the index + shards)
  std::string name;          ///< short name, e.g. "stories260K"

  /// Moves every tensor to `device` and floating dtype `dtype` (float32 on CPU; float16 or
  /// bfloat16 on CUDA).
  void to(at::Device device, at::ScalarType dtype);
  /// Total number of parameters (tied embeddings counted once).
  int64_t num_parameters() const;
  /// Checks every tensor's shape against `config`; throws FileError naming source_path.
  void check_shapes() const;
};

/// Reads a llama2.c checkpoint (format of karpathy/llama2.c run.c: 7 int32 header dim,
/// hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative = separate classifier),
/// seq_len; then float32 tensors). Q/K rows are permuted from llama2.c's interleaved RoPE pairs
/// to the HF rotate-half order. Throws FileError on a missing, truncated or oversized file.
ModelWeights load_llama2c(const std::string& path);

/// Loads a model from a llama2.c .bin file, a GGUF file (by its magic) or a Hugging Face
/// directory (config.json + *.safetensors), chosen by what `path` is. Floating tensors are
/// converted to `dtype` (float32, bfloat16 or float16). Throws FileError.
ModelWeights load_model(const std::string& path, at::ScalarType dtype = at::kFloat);

/// True when `path` is a regular file starting with the GGUF magic.
bool is_gguf_file(const std::string& path);

/// Loads a GGUF model (GGUF v2/v3, architectures `llama` and `qwen2`): hyperparameters from
/// `<arch>.*` metadata, tensors token_embd, blk.N.attn_q/k/v/output (+ q/k/v bias),
/// ffn_gate/up/down, attn_norm, ffn_norm, output_norm, output (absent: tied to token_embd),
/// rope_freqs. F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q2_K..Q6_K tensors are dequantized from the
/// memory-mapped file into `dtype`; llama Q/K rows are permuted back from llama.cpp's
/// interleaved RoPE order to the HF order, so results equal transformers' GGUF loading.
/// Throws FileError naming the file and the problem (truncated, unsupported type or
/// architecture, shapes that disagree with the hyperparameters).
ModelWeights load_gguf_model(const std::string& path, at::ScalarType dtype = at::kFloat);

/// Loads a Hugging Face model directory: config.json, model.safetensors or a sharded set listed
/// in model.safetensors.index.json; F32/F16/BF16 tensors are converted to float32.
/// Throws FileError naming the file (missing field, unknown dtype, header past end of file).
ModelWeights load_hf_model(const std::string& dir, at::ScalarType dtype = at::kFloat);

/// Parses a Hugging Face config.json file. Throws FileError for a missing or wrongly typed field.
ModelConfig load_hf_config(const std::string& config_json_path);

/// Writes `w` as a Hugging Face directory: config.json and model.safetensors (float32).
/// Throws FileError when the directory cannot be written.
void save_hf_model(const ModelWeights& w, const std::string& dir);

}  // namespace skvq
