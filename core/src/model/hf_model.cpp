// Hugging Face model directories: config.json, model.safetensors (or a sharded set listed in
// model.safetensors.index.json); loading into ModelWeights and saving (float32).
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "model/mapped_file.h"
#include "model/safetensors.h"
#include "model/weights_check.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/weights.h"

namespace skvq {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// parse_json_file (skvq/common.h): depth-bounded, refuses non-finite numbers.

int64_t get_int(const json& j, const std::string& path, const char* field) {
  if (!j.contains(field) || j[field].is_null())
    throw FileError(path, std::string("missing field '") + field + "'");
  if (!j[field].is_number_integer())
    throw FileError(path, std::string("field '") + field + "' must be an integer");
  return j[field].get<int64_t>();
}

int64_t get_int_or(const json& j, const std::string& path, const char* field, int64_t dflt) {
  if (!j.contains(field) || j[field].is_null()) return dflt;
  return get_int(j, path, field);
}

double get_double_or(const json& j, const std::string& path, const char* field, double dflt) {
  if (!j.contains(field) || j[field].is_null()) return dflt;
  if (!j[field].is_number()) throw FileError(path, std::string("field '") + field + "' must be a number");
  return j[field].get<double>();
}

bool get_bool_or(const json& j, const std::string& path, const char* field, bool dflt) {
  if (!j.contains(field) || j[field].is_null()) return dflt;
  if (!j[field].is_boolean()) throw FileError(path, std::string("field '") + field + "' must be true or false");
  return j[field].get<bool>();
}

// bos/eos ids may be an integer, a list of integers (the first is used) or null.
int64_t get_token_id_or(const json& j, const std::string& path, const char* field, int64_t dflt) {
  if (!j.contains(field) || j[field].is_null()) return dflt;
  const json& v = j[field];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  throw FileError(path, std::string("field '") + field + "' must be an integer or a list of integers");
}

const char* model_type_of(const std::string& arch) {
  if (arch == "MistralForCausalLM") return "mistral";
  if (arch == "Qwen2ForCausalLM") return "qwen2";
  return "llama";
}

}  // namespace

ModelConfig load_hf_config(const std::string& path) {
  const json j = parse_json_file(path);
  if (!j.is_object()) throw FileError(path, "config.json is not a JSON object");
  ModelConfig c;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    c.architecture = j["architectures"][0].get<std::string>();
  } else if (j.contains("model_type") && j["model_type"].is_string()) {
    const std::string mt = j["model_type"].get<std::string>();
    c.architecture = mt == "llama"     ? "LlamaForCausalLM"
                     : mt == "mistral" ? "MistralForCausalLM"
                     : mt == "qwen2"   ? "Qwen2ForCausalLM"
                                       : mt;
  } else {
    throw FileError(path, "missing field 'architectures'");
  }
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM")
    throw FileError(path, "unsupported architecture '" + c.architecture +
                              "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  c.hidden_size = get_int(j, path, "hidden_size");
  c.intermediate_size = get_int(j, path, "intermediate_size");
  c.num_hidden_layers = get_int(j, path, "num_hidden_layers");
  c.num_attention_heads = get_int(j, path, "num_attention_heads");
  c.num_key_value_heads = get_int_or(j, path, "num_key_value_heads", c.num_attention_heads);
  if (c.num_attention_heads <= 0) throw FileError(path, "num_attention_heads must be positive");
  c.head_dim = get_int_or(j, path, "head_dim", c.hidden_size / c.num_attention_heads);
  c.vocab_size = get_int(j, path, "vocab_size");
  c.max_position_embeddings = get_int(j, path, "max_position_embeddings");
  c.rms_norm_eps = get_double_or(j, path, "rms_norm_eps", 1e-6);
  // transformers 5 writes "rope_parameters" {rope_theta, rope_type, factor, ...} instead of
  // rope_theta + rope_scaling; either is read.
  const json* rope_params = j.contains("rope_parameters") && j["rope_parameters"].is_object() ? &j["rope_parameters"] : nullptr;
  c.rope_theta = get_double_or(j, path, "rope_theta", rope_params ? get_double_or(*rope_params, path, "rope_theta", 10000.0) : 10000.0);
  c.rope_scaling_factor = 1.0;
  const json* rope_scaling = j.contains("rope_scaling") && !j["rope_scaling"].is_null() ? &j["rope_scaling"] : rope_params;
  if (rope_scaling) {
    const json& rs = *rope_scaling;
    if (!rs.is_object()) throw FileError(path, "field 'rope_scaling' must be an object or null");
    std::string type = rs.contains("rope_type") && rs["rope_type"].is_string()
                           ? rs["rope_type"].get<std::string>()
                           : rs.contains("type") && rs["type"].is_string() ? rs["type"].get<std::string>()
                                                                          : std::string();
    if (type == "default") {
      // no scaling
    } else if (type == "linear" || type == "llama3") {
      if (!rs.contains("factor") || !rs["factor"].is_number())
        throw FileError(path, "missing field 'rope_scaling.factor'");
      c.rope_type = type;
      c.rope_scaling_factor = rs["factor"].get<double>();
      if (!(c.rope_scaling_factor > 0) || !std::isfinite(c.rope_scaling_factor))
        throw FileError(path, "rope_scaling.factor must be a positive number");
      if (type == "llama3") {
        c.rope_low_freq_factor = get_double_or(rs, path, "low_freq_factor", 1.0);
        c.rope_high_freq_factor = get_double_or(rs, path, "high_freq_factor", 4.0);
        c.rope_original_max_position_embeddings = get_int_or(rs, path, "original_max_position_embeddings", 8192);
        if (!(c.rope_low_freq_factor > 0) || !(c.rope_high_freq_factor > c.rope_low_freq_factor) ||
            c.rope_original_max_position_embeddings <= 0)
          throw FileError(path, "rope_scaling llama3: need 0 < low_freq_factor < high_freq_factor and "
                                "original_max_position_embeddings > 0");
      }
    } else {
      throw FileError(path, "unsupported rope_scaling type '" + type + "' (supported: linear, llama3)");
    }
  }
  c.tie_word_embeddings = get_bool_or(j, path, "tie_word_embeddings", false);
  c.attention_bias = get_bool_or(j, path, "attention_bias", c.architecture == "Qwen2ForCausalLM");
  if (c.architecture == "Qwen2ForCausalLM") c.attention_bias = true;  // Qwen2 always has q/k/v bias
  if (get_bool_or(j, path, "mlp_bias", false))
    throw FileError(path, "mlp_bias is not supported");
  c.bos_token_id = get_token_id_or(j, path, "bos_token_id", c.bos_token_id);
  c.eos_token_id = get_token_id_or(j, path, "eos_token_id", c.eos_token_id);
  c.validate(path);
  return c;
}

ModelWeights load_hf_model(const std::string& dir, at::ScalarType dtype) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError(dir, "not a directory (expected a Hugging Face model directory)");
  const fs::path d(dir);
  const std::string config_path = (d / "config.json").string();
  if (!fs::exists(config_path, ec)) throw FileError(config_path, "no such file (not a Hugging Face model directory?)");
  ModelWeights w;
  w.config = load_hf_config(config_path);
  const ModelConfig& c = w.config;
  w.source_path = dir;
  w.name = d.filename().string();
  if (w.name.empty()) w.name = d.parent_path().filename().string();

  // name -> file holding it
  std::map<std::string, std::string> where;
  std::map<std::string, safetensors::Header> headers;
  const fs::path single = d / "model.safetensors";
  const fs::path index = d / "model.safetensors.index.json";
  if (fs::exists(index, ec)) {
    const json j = parse_json_file(index.string());
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw FileError(index.string(), "missing field 'weight_map'");
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw FileError(index.string(), "weight_map entry '" + it.key() + "' is not a file name");
      const std::string shard = (d / it.value().get<std::string>()).string();
      where[it.key()] = shard;
      shards.insert(shard);
    }
    std::string hashes = sha256_file(index.string());
    for (const std::string& s : shards) {
      headers.emplace(s, safetensors::read_header(s));
      hashes += sha256_file(s);
    }
    w.sha256 = sha256_hex(hashes);
  } else if (fs::exists(single, ec)) {
    headers.emplace(single.string(), safetensors::read_header(single.string()));
    for (const auto& [name, info] : headers.begin()->second.tensors) where[name] = single.string();
    w.sha256 = sha256_file(single.string());
  } else {
    throw FileError(dir, "no model.safetensors or model.safetensors.index.json");
  }

  for (const auto& [name, file] : where) {
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool qkv_bias = name.find(".self_attn.q_proj.bias") != std::string::npos ||
                          name.find(".self_attn.k_proj.bias") != std::string::npos ||
                          name.find(".self_attn.v_proj.bias") != std::string::npos;
    if (is_bias && !qkv_bias) throw FileError(file, "tensor '" + name + "': this bias is not supported");
  }
  // Weights at the file's dtype are views of these mappings (no copy); others are converted.
  std::map<std::string, std::shared_ptr<const MappedFile>> mapped;
  auto load = [&](const std::string& name, bool required) -> at::Tensor {
    auto it = where.find(name);
    if (it == where.end()) {
      if (!required) return at::Tensor();
      throw FileError(dir, "missing tensor '" + name + "'");
    }
    const safetensors::Header& h = headers.at(it->second);
    if (!h.tensors.count(name))
      throw FileError(it->second, "missing tensor '" + name + "' (listed in model.safetensors.index.json)");
    auto& file = mapped[it->second];
    if (!file) file = std::make_shared<const MappedFile>(it->second);
    return safetensors::map_tensor(file, h, name, dtype);
  };

  w.embed_tokens = load("model.embed_tokens.weight", true);
  w.norm = load("model.norm.weight", true);
  if (c.tie_word_embeddings)
    w.lm_head = w.embed_tokens;
  else
    w.lm_head = load("lm_head.weight", true);
  bool any_bias = false;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.input_layernorm = load(p + "input_layernorm.weight", true);
    l.post_attention_layernorm = load(p + "post_attention_layernorm.weight", true);
    l.q_proj = load(p + "self_attn.q_proj.weight", true);
    l.k_proj = load(p + "self_attn.k_proj.weight", true);
    l.v_proj = load(p + "self_attn.v_proj.weight", true);
    l.o_proj = load(p + "self_attn.o_proj.weight", true);
    l.q_bias = load(p + "self_attn.q_proj.bias", c.attention_bias);
    l.k_bias = load(p + "self_attn.k_proj.bias", c.attention_bias);
    l.v_bias = load(p + "self_attn.v_proj.bias", c.attention_bias);
    any_bias = any_bias || l.q_bias.defined() || l.k_bias.defined() || l.v_bias.defined();
    l.gate_proj = load(p + "mlp.gate_proj.weight", true);
    l.up_proj = load(p + "mlp.up_proj.weight", true);
    l.down_proj = load(p + "mlp.down_proj.weight", true);
    w.layers.push_back(std::move(l));
  }
  if (any_bias && !c.attention_bias) {
    // Biases present although config.json does not say so: use them, all three everywhere.
    for (size_t i = 0; i < w.layers.size(); ++i) {
      const auto& l = w.layers[i];
      if (!l.q_bias.defined() || !l.k_bias.defined() || !l.v_bias.defined())
        throw FileError(dir, "layer " + std::to_string(i) + " has only some of the q/k/v biases");
    }
    w.config.attention_bias = true;
  }
  w.check_shapes();
  check_finite(w);
  return w;
}

void save_hf_model(const ModelWeights& w, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir, "cannot create directory: " + ec.message());
  const ModelConfig& c = w.config;
  const bool tied = w.lm_head.defined() && w.embed_tokens.defined() &&
                    (w.lm_head.is_same(w.embed_tokens) ||
                     (w.lm_head.data_ptr() == w.embed_tokens.data_ptr() &&
                      w.lm_head.sizes() == w.embed_tokens.sizes()));
  json cfg = {{"architectures", {c.architecture}},
              {"model_type", model_type_of(c.architecture)},
              {"hidden_size", c.hidden_size},
              {"intermediate_size", c.intermediate_size},
              {"num_hidden_layers", c.num_hidden_layers},
              {"num_attention_heads", c.num_attention_heads},
              {"num_key_value_heads", c.num_key_value_heads},
              {"head_dim", c.head_dim},
              {"vocab_size", c.vocab_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"rms_norm_eps", c.rms_norm_eps},
              {"rope_theta", c.rope_theta},
              {"rope_scaling", nullptr},
              {"tie_word_embeddings", tied},
              {"attention_bias", c.attention_bias},
              {"hidden_act", "silu"},
              {"bos_token_id", c.bos_token_id},
              {"eos_token_id", c.eos_token_id},
              {"torch_dtype", "float32"}};
  cfg["rope_scaling"] = rope_scaling_json(c);

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  tensors.emplace_back("model.embed_tokens.weight", w.embed_tokens);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    tensors.emplace_back(p + "input_layernorm.weight", l.input_layernorm);
    tensors.emplace_back(p + "self_attn.q_proj.weight", l.q_proj);
    tensors.emplace_back(p + "self_attn.k_proj.weight", l.k_proj);
    tensors.emplace_back(p + "self_attn.v_proj.weight", l.v_proj);
    if (c.attention_bias) {
      tensors.emplace_back(p + "self_attn.q_proj.bias", l.q_bias);
      tensors.emplace_back(p + "self_attn.k_proj.bias", l.k_bias);
      tensors.emplace_back(p + "self_attn.v_proj.bias", l.v_bias);
    }
    tensors.emplace_back(p + "self_attn.o_proj.weight", l.o_proj);
    tensors.emplace_back(p + "post_attention_layernorm.weight", l.post_attention_layernorm);
    tensors.emplace_back(p + "mlp.gate_proj.weight", l.gate_proj);
    tensors.emplace_back(p + "mlp.up_proj.weight", l.up_proj);
    tensors.emplace_back(p + "mlp.down_proj.weight", l.down_proj);
  }
  tensors.emplace_back("model.norm.weight", w.norm);
  if (!tied) tensors.emplace_back("lm_head.weight", w.lm_head);

  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  {
    std::ofstream out(cfg_path, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(cfg_path, "cannot be written");
    out << cfg.dump(2) << "\n";
    out.flush();
    if (!out) throw FileError(cfg_path, "write failed (disk full?)");
  }
  safetensors::write((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

}  // namespace skvq
