// GGUF models (architectures `llama` and `qwen2`): hyperparameters from the metadata, tensors
// dequantized from the memory-mapped file into the chosen dtype, Q/K rows of `llama` files
// brought back from llama.cpp's interleaved RoPE order to Hugging Face's rotate-half order.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "model/gguf_file.h"
#include "model/gguf_quants.h"
#include "model/qk_layout.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/weights.h"

namespace skvq {
namespace {

ModelConfig gguf_config(const gguf::File& f, const std::string& arch) {
  const std::string& path = f.path();
  auto key = [&](const char* k) { return arch + "." + k; };
  ModelConfig c;
  c.architecture = arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
  c.hidden_size = f.get_int(key("embedding_length"));
  c.intermediate_size = f.get_int(key("feed_forward_length"));
  c.num_hidden_layers = f.get_int(key("block_count"));
  c.num_attention_heads = f.get_int(key("attention.head_count"));
  c.num_key_value_heads = f.has(key("attention.head_count_kv")) ? f.get_int(key("attention.head_count_kv"))
                                                                : c.num_attention_heads;
  if (c.num_attention_heads <= 0) throw FileError(path, key("attention.head_count") + " must be positive");
  c.head_dim = f.has(key("attention.key_length")) ? f.get_int(key("attention.key_length"))
                                                  : c.hidden_size / c.num_attention_heads;
  if (f.has(key("attention.value_length")) && f.get_int(key("attention.value_length")) != c.head_dim)
    throw FileError(path, "attention.value_length differs from key_length: not supported");
  if (f.has(key("rope.dimension_count")) && f.get_int(key("rope.dimension_count")) != c.head_dim)
    throw FileError(path, key("rope.dimension_count") + " " + std::to_string(f.get_int(key("rope.dimension_count"))) +
                              " differs from head_dim " + std::to_string(c.head_dim) + " (partial RoPE is not supported)");
  c.max_position_embeddings = f.get_int(key("context_length"));
  c.rms_norm_eps = f.get_float(key("attention.layer_norm_rms_epsilon"));
  c.rope_theta = f.has(key("rope.freq_base")) ? f.get_float(key("rope.freq_base")) : 10000.0;
  const std::string scaling = f.has(key("rope.scaling.type")) ? f.get_string(key("rope.scaling.type")) : "none";
  if (scaling == "linear") {
    c.rope_type = "linear";
    c.rope_scaling_factor = f.get_float(key("rope.scaling.factor"));
    if (!(c.rope_scaling_factor > 0)) throw FileError(path, key("rope.scaling.factor") + " must be positive");
  } else if (scaling != "none") {
    throw FileError(path, "unsupported " + key("rope.scaling.type") + " '" + scaling + "' (supported: none, linear)");
  }
  if (f.has("tokenizer.ggml.tokens") && f.metadata()["tokenizer.ggml.tokens"].is_array())
    c.vocab_size = static_cast<int64_t>(f.metadata()["tokenizer.ggml.tokens"].size());
  if (f.has(key("vocab_size"))) c.vocab_size = f.get_int(key("vocab_size"));
  if (const gguf::TensorInfo* emb = f.find("token_embd.weight"); emb && emb->ne.size() == 2 && c.vocab_size == 0)
    c.vocab_size = emb->ne[1];
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.has("tokenizer.ggml.eos_token_id")) c.eos_token_id = f.get_int("tokenizer.ggml.eos_token_id");
  c.attention_bias = f.find("blk.0.attn_q.bias") != nullptr;
  c.tie_word_embeddings = f.find("output.weight") == nullptr;
  c.validate(path);
  return c;
}

// Dequantizes one tensor into a contiguous CPU tensor of `dtype` with the row-major shape.
at::Tensor read_tensor(const gguf::File& f, const gguf::TensorInfo& t, at::ScalarType dtype) {
  const gguf::TypeInfo* ti = gguf::type_info(t.type);
  if (!ti->dequantizable)
    throw FileError(f.path(), "tensor '" + t.name + "' has type " + ti->name + ", which is not supported (supported: "
                              "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  const int64_t row = t.ne[0], rows = t.numel() / row, row_bytes = gguf::row_bytes(t.type, row);
  auto out = at::empty(t.shape(), at::TensorOptions().dtype(dtype));
  const uint8_t* src = f.data(t);
  if (dtype == at::kFloat) {
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) gguf::dequantize(t.type, src + r * row_bytes, dst + r * row, row);
    });
  } else {
    // Row by row through a float32 scratch row, so that no float32 copy of the tensor exists.
    auto rows_view = out.view({rows, row});
    at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) {
      auto scratch = at::empty({row}, at::kFloat);
      for (int64_t r = b; r < e; ++r) {
        gguf::dequantize(t.type, src + r * row_bytes, scratch.data_ptr<float>(), row);
        rows_view.select(0, r).copy_(scratch);
      }
    });
  }
  return out;
}

std::string supported_architecture(const gguf::File& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2")
    throw FileError(f.path(), "unsupported architecture '" + arch + "' (supported: llama, qwen2)");
  return arch;
}

}  // namespace

ModelConfig gguf::model_config(const std::string& path) {
  const gguf::File f(path);
  return gguf_config(f, supported_architecture(f));
}

ModelWeights load_gguf_model(const std::string& path, at::ScalarType dtype) {
  const gguf::File f(path);
  const std::string arch = supported_architecture(f);
  ModelWeights w;
  w.config = gguf_config(f, arch);
  const ModelConfig& c = w.config;
  w.source_path = path;

  w.name = std::filesystem::path(path).stem().string();
  w.sha256 = sha256_file(path);

  auto load = [&](const std::string& name, bool required) -> at::Tensor {
    const gguf::TensorInfo* t = f.find(name);
    if (!t) {
      if (required) throw FileError(path, "missing tensor '" + name + "'");
      return at::Tensor();
    }
    try {
      return read_tensor(f, *t, dtype);
    } catch (const std::invalid_argument& e) {
      throw FileError(path, "tensor '" + name + "': " + e.what());
    }
  };
  w.embed_tokens = load("token_embd.weight", true);
  w.norm = load("output_norm.weight", true);
  w.lm_head = c.tie_word_embeddings ? w.embed_tokens : load("output.weight", true);
  if (const gguf::TensorInfo* rf = f.find("rope_freqs.weight")) {
    if (rf->numel() != c.head_dim / 2) throw FileError(path, "rope_freqs.weight must have head_dim/2 elements");
    at::Tensor factors = read_tensor(f, *rf, at::kFloat);
    w.config.rope_freq_factors.assign(factors.data_ptr<float>(), factors.data_ptr<float>() + factors.numel());
  }
  const bool interleaved = arch == "llama";  // llama.cpp's converter permutes llama Q/K rows
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights l;
    l.input_layernorm = load(p + "attn_norm.weight", true);
    l.post_attention_layernorm = load(p + "ffn_norm.weight", true);
    l.q_proj = load(p + "attn_q.weight", true);
    l.k_proj = load(p + "attn_k.weight", true);
    l.v_proj = load(p + "attn_v.weight", true);
    l.o_proj = load(p + "attn_output.weight", true);
    l.q_bias = load(p + "attn_q.bias", c.attention_bias);
    l.k_bias = load(p + "attn_k.bias", c.attention_bias);
    l.v_bias = load(p + "attn_v.bias", c.attention_bias);
    l.gate_proj = load(p + "ffn_gate.weight", true);
    l.up_proj = load(p + "ffn_up.weight", true);
    l.down_proj = load(p + "ffn_down.weight", true);
    if (interleaved) {
      if (l.q_proj.size(0) != c.num_attention_heads * c.head_dim || l.k_proj.size(0) != c.kv_channels())
        throw FileError(path, "tensor '" + p + "attn_q/attn_k.weight' shape disagrees with the head counts");
      l.q_proj = interleaved_to_rotate_half(l.q_proj, c.num_attention_heads, c.head_dim);
      l.k_proj = interleaved_to_rotate_half(l.k_proj, c.num_key_value_heads, c.head_dim);
      if (l.q_bias.defined()) l.q_bias = interleaved_to_rotate_half(l.q_bias, c.num_attention_heads, c.head_dim);
      if (l.k_bias.defined()) l.k_bias = interleaved_to_rotate_half(l.k_bias, c.num_key_value_heads, c.head_dim);
    }
    w.layers.push_back(std::move(l));
  }
  w.check_shapes();
  return w;
}

}  // namespace skvq
