#pragma once
// Text generation: greedy or sampled decoding over any KV cache.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "skvq/common.h"

namespace skvq {

class Model;
class Tokenizer;
class KVCache;

/// Decoding settings. temperature 0 = greedy (argmax).
struct SamplingParams {
  int64_t max_new_tokens = 256;
  float temperature = 0.0f;
  float top_p = 1.0f;        ///< nucleus sampling when < 1
  uint64_t seed = 42;
  bool stop_at_eos = true;   ///< stop at EOS, and at BOS as llama2.c run.c does (when the tokenizer starts texts with BOS)
};

/// What generation produced.
struct GenerationResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  ///< generated tokens only
  std::string text;             ///< decoded generated text
  double prefill_seconds = 0, decode_seconds = 0;
};

/// Prefills `prompt_tokens` into `cache` (which must be empty), then decodes token by token.
/// on_text receives each new piece of text as it is produced. Throws Cancelled.
GenerationResult generate_tokens(const Model& model, const Tokenizer& tok,
                                 const std::vector<int32_t>& prompt_tokens,
                                 const SamplingParams& params, KVCache& cache,
                                 const std::function<void(const std::string&)>& on_text = nullptr,
                                 CancelFlag cancel = nullptr);

/// Encodes `prompt` with BOS and calls generate_tokens.
GenerationResult generate(const Model& model, const Tokenizer& tok, const std::string& prompt,
                          const SamplingParams& params, KVCache& cache,
                          const std::function<void(const std::string&)>& on_text = nullptr,
                          CancelFlag cancel = nullptr);

}  // namespace skvq
