// Model + tokenizer loading for evaluations and the run-store description of a model.
#include "skvq/session.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <filesystem>

#include "model/safetensors.h"
#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/error.h"

namespace skvq {

at::ScalarType resolve_model_dtype(const std::string& name, const std::string& model_path, const std::string& device) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  if (name != "auto") throw ConfigError("unknown dtype '" + name + "' (auto, float32, bfloat16 or float16)");
  if (device == "cuda") return at::kHalf;
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::is_directory(model_path, ec) ? fs::path(model_path)
                       : fs::path(model_path).filename() == "config.json" ? fs::path(model_path).parent_path()
                                                                          : fs::path();
  if (dir.empty()) return at::kFloat;
  try {
    // The shard holding the embedding: model.safetensors, or the one the index names.
    fs::path file = dir / "model.safetensors";
    if (!fs::is_regular_file(file, ec) && fs::is_regular_file(dir / "model.safetensors.index.json", ec)) {
      const auto index = parse_json_file((dir / "model.safetensors.index.json").string());
      const auto* map = index.is_object() && index.contains("weight_map") ? &index["weight_map"] : nullptr;
      if (map && map->is_object() && map->contains("model.embed_tokens.weight") &&
          (*map)["model.embed_tokens.weight"].is_string())
        file = dir / (*map)["model.embed_tokens.weight"].get<std::string>();
    }
    if (!fs::is_regular_file(file, ec)) return at::kFloat;
    const auto h = safetensors::read_header(file.string());
    auto it = h.tensors.find("model.embed_tokens.weight");
    if (it != h.tensors.end() && it->second.dtype == "BF16") return at::kBFloat16;
  } catch (const FileError&) {
    // A broken checkpoint: the loader reports it (config.json first), not the dtype guess.
  }
  return at::kFloat;
}

LoadedModel load_model_for_eval(const std::string& model_path, const std::string& tokenizer_path,
                                const std::string& device, const std::string& dtype) {
  if (device != "cpu" && device != "cuda") throw ConfigError("unknown device '" + device + "' (cpu or cuda)");
  if (device == "cuda" && !at::hasCUDA())
    throw ConfigError("--device cuda: this LibTorch build has no CUDA support or no GPU is present");
  const at::ScalarType wt = resolve_model_dtype(dtype, model_path, device);
  check_weights_dtype(wt, device == "cpu");  // before the load, not after it (Model checks too)
  ModelWeights w = load_model(model_path, wt);
  auto tok = load_tokenizer_for(model_path, tokenizer_path, static_cast<int32_t>(w.config.vocab_size));
  if (device == "cuda") w.to(at::Device(at::kCUDA), w.embed_tokens.scalar_type() == at::kFloat ? at::kHalf : w.embed_tokens.scalar_type());
  LoadedModel m;
  m.path = model_path;
  m.model = std::make_shared<const Model>(std::move(w));
  m.tokenizer = std::move(tok);
  return m;
}

nlohmann::json model_config_json(const ModelConfig& c) {
  nlohmann::json j = {{"architectures", {c.architecture}},
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
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"attention_bias", c.attention_bias},
          {"bos_token_id", c.bos_token_id},
          {"eos_token_id", c.eos_token_id}};
  const nlohmann::json rs = rope_scaling_json(c);
  if (!rs.is_null()) j["rope_scaling"] = rs;
  if (!c.rope_freq_factors.empty()) j["rope_freq_factors"] = c.rope_freq_factors;
  return j;
}

nlohmann::json model_identity_json(const ModelWeights& w, const Tokenizer& tok) {
  const bool defined = w.embed_tokens.defined();
  return {{"weights_sha256", w.sha256},
          {"config", model_config_json(w.config)},
          {"dtype", defined ? std::string(c10::toString(w.embed_tokens.scalar_type())) : std::string("Float")},
          {"device", defined ? c10::DeviceTypeName(w.embed_tokens.device().type(), /*lower_case=*/true) : std::string("cpu")},
          {"tokenizer_sha256", tok.content_sha256()},
          {"chat_template_sha256", sha256_hex(tok.chat_template())},
          {"results_version", kResultsVersion}};
}

ModelRecord model_record(const ModelWeights& w, const Tokenizer& tok) {
  ModelRecord r;
  r.name = w.name;
  r.path = w.source_path;
  r.sha256 = w.sha256;
  r.config = model_config_json(w.config);
  r.config["num_parameters"] = w.num_parameters();
  if (w.embed_tokens.defined() && w.embed_tokens.scalar_type() != at::kFloat)
    r.config["dtype"] = std::string(c10::toString(w.embed_tokens.scalar_type()));
  r.identity_json = model_identity_json(w, tok);
  r.identity = sha256_hex(canonical_json(r.identity_json));
  return r;
}

int64_t register_model(RunStore& store, const ModelWeights& w, const Tokenizer& tok) {
  return store.upsert_model(model_record(w, tok));
}

int64_t register_calibration(RunStore& store, int64_t model_id, const Calibration& calib, const std::string& path) {
  CalibrationRecord r;
  r.model_id = model_id;
  r.path = std::filesystem::absolute(path).lexically_normal().string();
  r.sha256 = sha256_file(path);
  r.text_path = calib.text_path;
  r.text_sha256 = calib.text_sha256;
  r.samples = calib.samples;
  r.seq_len = calib.seq_len;
  r.seed = calib.seed;
  r.group_sizes = calib.group_sizes;
  return store.upsert_calibration(r);
}

std::vector<int32_t> tokenize_text_file(const Tokenizer& tok, const std::string& path, int64_t max_bytes,
                                        int64_t skip_bytes) {
  const std::string text = read_text(path, max_bytes, skip_bytes);
  if (text.empty()) throw FileError(path, "the text file is empty");
  return tok.encode(text, /*add_bos=*/true);
}

}  // namespace skvq
