#pragma once
// Loading a model with its tokenizer for evaluation, and describing it to the run store.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "skvq/model.h"
#include "skvq/run_store.h"
#include "skvq/tokenizer.h"

namespace skvq {

struct Calibration;

/// A model ready to run: weights on the device, its tokenizer, where it came from.
struct LoadedModel {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string path;
};

/// The weight dtype for `dtype_name` ("auto", "float32", "bfloat16", "float16") of the model at
/// `model_path` on `device`. auto: float16 on cuda; on cpu the checkpoint's own dtype when it is
/// bfloat16 safetensors, else float32 (GGUF and llama2.c files dequantize to float32).
/// Matmuls run in the weight dtype; norms, RoPE, attention and the KV cache run in float32 on the
/// CPU (float16 on CUDA). Throws ConfigError for an unknown name.
at::ScalarType resolve_model_dtype(const std::string& dtype_name, const std::string& model_path,
                                   const std::string& device = "cpu");

/// Loads a llama2.c file, GGUF file or HF directory and its tokenizer (load_tokenizer_for) with
/// weights in resolve_model_dtype(dtype). device "cuda" needs a LibTorch with CUDA (else
/// ConfigError). Throws FileError for missing or malformed files.
LoadedModel load_model_for_eval(const std::string& model_path, const std::string& tokenizer_path = "",
                                const std::string& device = "cpu", const std::string& dtype = "auto");

/// ModelConfig as Hugging Face config.json fields.
nlohmann::json model_config_json(const ModelConfig& c);

/// Bumped when a change of the engine changes the numbers of a run for the same inputs, so
/// runs stored by an older engine are not served for a newer one.
constexpr int kResultsVersion = 2;

/// Everything that changes a model's results, as canonical JSON: {"weights_sha256",
/// "config" (model_config_json of the parsed config, after any override such as
/// --rope-scaling), "dtype" and "device" of the weights, "tokenizer_sha256"
/// (Tokenizer::content_sha256), "chat_template_sha256" (of Tokenizer::chat_template()),
/// "results_version" (kResultsVersion)}.
nlohmann::json model_identity_json(const ModelWeights& w, const Tokenizer& tok);

/// The run-store record of a model with its tokenizer: name, path, weights sha256, config
/// and identity (sha256 of canonical_json(model_identity_json)).
ModelRecord model_record(const ModelWeights& w, const Tokenizer& tok);

/// Registers the model in the store (upsert by identity, model_record) and returns its id.
/// Throws StoreError.
int64_t register_model(RunStore& store, const ModelWeights& w, const Tokenizer& tok);

/// Registers the calibration file at `path` (stored as an absolute path with its sha256, text,
/// N, L, seed and group sizes) for `model_id`; returns its id. Throws FileError, StoreError.
int64_t register_calibration(RunStore& store, int64_t model_id, const Calibration& calib,
                             const std::string& path);

/// Tokenizes at most `max_bytes` (0 = all) of a text file after its first `skip_bytes` once,
/// BOS first when the model's tokenizer adds one (the perplexity protocol). Throws FileError
/// when the file is missing or empty.
std::vector<int32_t> tokenize_text_file(const Tokenizer& tok, const std::string& path, int64_t max_bytes = 0,
                                        int64_t skip_bytes = 0);

}  // namespace skvq
