// ModelWeights: device moves, parameter counts, shape checks, and the loader dispatch.
#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "skvq/error.h"
#include "skvq/weights.h"

namespace skvq {

namespace {
template <class F>
void for_each_tensor(ModelWeights& w, F&& f) {
  f(w.embed_tokens);
  f(w.norm);
  for (auto& l : w.layers) {
    for (at::Tensor* t : {&l.input_layernorm, &l.q_proj, &l.k_proj, &l.v_proj, &l.q_bias, &l.k_bias,
                          &l.v_bias, &l.o_proj, &l.post_attention_layernorm, &l.gate_proj,
                          &l.up_proj, &l.down_proj})
      f(*t);
  }
}
}  // namespace

void ModelWeights::to(at::Device device, at::ScalarType dtype) {
  const bool tied = lm_head.defined() && lm_head.is_same(embed_tokens);
  for_each_tensor(*this, [&](at::Tensor& t) {
    if (t.defined()) t = t.to(device, dtype).contiguous();
  });
  lm_head = tied ? embed_tokens : lm_head.to(device, dtype).contiguous();
}

int64_t ModelWeights::num_parameters() const {
  int64_t n = 0;
  auto add = [&](const at::Tensor& t) {
    if (t.defined()) n += t.numel();
  };
  add(embed_tokens);
  add(norm);
  if (lm_head.defined() && !lm_head.is_same(embed_tokens)) add(lm_head);
  for (const auto& l : layers) {
    for (const at::Tensor* t : {&l.input_layernorm, &l.q_proj, &l.k_proj, &l.v_proj, &l.q_bias,
                                &l.k_bias, &l.v_bias, &l.o_proj, &l.post_attention_layernorm,
                                &l.gate_proj, &l.up_proj, &l.down_proj})
      add(*t);
  }
  return n;
}

void ModelWeights::check_shapes() const {
  const auto& c = config;
  auto expect = [&](const at::Tensor& t, std::vector<int64_t> shape, const std::string& name) {
    if (!t.defined()) throw FileError(source_path, "tensor " + name + " is missing");
    if (t.sizes().vec() != shape) {
      std::string want, got;
      for (auto d : shape) want += std::to_string(d) + " ";
      for (auto d : t.sizes()) got += std::to_string(d) + " ";
      throw FileError(source_path, "tensor " + name + " has shape [ " + got + "], expected [ " + want + "]");
    }
  };
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.kv_channels();
  expect(embed_tokens, {c.vocab_size, c.hidden_size}, "embed_tokens");
  expect(norm, {c.hidden_size}, "norm");
  expect(lm_head, {c.vocab_size, c.hidden_size}, "lm_head");
  if (static_cast<int64_t>(layers.size()) != c.num_hidden_layers)
    throw FileError(source_path, "has " + std::to_string(layers.size()) + " layers, config says " +
                                     std::to_string(c.num_hidden_layers));
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string p = "layers." + std::to_string(i) + ".";
    expect(l.input_layernorm, {c.hidden_size}, p + "input_layernorm");
    expect(l.q_proj, {q, c.hidden_size}, p + "q_proj");
    expect(l.k_proj, {kv, c.hidden_size}, p + "k_proj");
    expect(l.v_proj, {kv, c.hidden_size}, p + "v_proj");
    expect(l.o_proj, {c.hidden_size, q}, p + "o_proj");
    expect(l.post_attention_layernorm, {c.hidden_size}, p + "post_attention_layernorm");
    expect(l.gate_proj, {c.intermediate_size, c.hidden_size}, p + "gate_proj");
    expect(l.up_proj, {c.intermediate_size, c.hidden_size}, p + "up_proj");
    expect(l.down_proj, {c.hidden_size, c.intermediate_size}, p + "down_proj");
    if (c.attention_bias) {
      expect(l.q_bias, {q}, p + "q_proj.bias");
      expect(l.k_bias, {kv}, p + "k_proj.bias");
      expect(l.v_bias, {kv}, p + "v_proj.bias");
    }
  }
}

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in && in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

namespace {
ModelWeights load_any_model(const std::string& path, at::ScalarType dtype) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_model(path, dtype);
  if (fs::path(path).filename() == "config.json") return load_hf_model(fs::path(path).parent_path().string(), dtype);
  if (is_gguf_file(path)) return load_gguf_model(path, dtype);
  ModelWeights w = load_llama2c(path);
  if (dtype != at::kFloat) w.to(at::Device(at::kCPU), dtype);
  return w;
}
}  // namespace

ModelWeights load_model(const std::string& path, at::ScalarType dtype) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such model file or directory");
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
    throw ConfigError("model dtype must be float32, bfloat16 or float16");
  ModelWeights w = load_any_model(path, dtype);
  // The run store keeps source_path: absolute and canonical, so "m.bin" run from another
  // folder or through a symlink is the same model path.
  const fs::path canonical = fs::weakly_canonical(fs::absolute(w.source_path, ec), ec);
  if (!ec) w.source_path = canonical.string();
  return w;
}

}  // namespace skvq
