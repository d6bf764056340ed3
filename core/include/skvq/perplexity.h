#pragma once
// Perplexity by the reference eval_ppl protocol (skvq-method.md section 6).
#include <cstdint>
#include <string>
#include <vector>

#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/quant_config.h"

namespace skvq {

class Model;

/// How chunks are cut and which predictions are scored.
enum class PplProtocol {
  Reference,  ///< skvq-method.md section 6: every prediction of each chunk (L-1 per chunk)
  LlamaCpp,   ///< llama.cpp llama-perplexity: BOS replaces each chunk's first token (when the
              ///< tokenizer adds BOS); only the second half of each chunk is scored (L-1-L/2)
};

/// "reference" or "llama.cpp" (the names the CLI and the run store use).
std::string protocol_name(PplProtocol p);
/// Parses a protocol name; throws ConfigError naming the accepted names.
PplProtocol parse_protocol(const std::string& name);

/// Options of one perplexity evaluation.
struct PerplexityOptions {
  int64_t ctx_len = 512;       ///< L: tokens per chunk
  int64_t max_chunks = 0;      ///< 0 = all chunks
  int64_t batch = 8;           ///< chunks run together (speed only; results are identical)
  bool keep_window = false;    ///< false (protocol): W = 0; true: use the configuration's window
  bool full_prefill = false;   ///< attention reads exact K/V (protocol: false)
  PplProtocol protocol = PplProtocol::Reference;
  int32_t bos_id = -1;         ///< LlamaCpp: BOS put at each chunk's start; -1 = none (no BOS added)
  /// KV storage: false = packed low-bit storage (PackedKVCache) where the method has a packed
  /// codec and the model is on the CPU; true = fake quantization (float32 storage, the checking
  /// path). Both give the same perplexity (the packed dequantization is the fake quantization's;
  /// pre_rope keys within float rounding).
  bool fake_quant = false;
};

/// Result of one evaluation.
struct PerplexityResult {
  double ppl = 0;             ///< exp(mean over chunks of the chunk's mean NLL)
  double mean_nll = 0;        ///< nats per token, averaged over chunks
  int64_t chunks = 0;
  int64_t tokens_evaluated = 0;  ///< chunks * (L - 1) predictions (LlamaCpp: chunks * (L - 1 - L/2))
  double seconds = 0;
  std::string kv_storage;     ///< "packed", "fake-quant" or "none" (unquantized: no cache)
  int64_t kv_bytes_measured = 0;  ///< the cache's stored bytes per chunk after its forward (0 = no cache)
};

/// Cuts `tokens` (BOS first) into non-overlapping chunks of L (remainder dropped), runs each
/// from an empty cache with `config` (make_kv_cache: packed unless opt.fake_quant) (window forced to 0 unless keep_window or the
/// configuration evicts: k0-v0 keeps its window, StreamingLLM attention), and
/// averages the next-token NLL of the L-1 predictions per chunk. Throws ConfigError when the
/// text has fewer than L tokens; Cancelled when `cancel` is raised. With
/// opt.protocol == LlamaCpp it runs evaluate_perplexity_llama_cpp instead.
PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int32_t>& tokens,
                                     const QuantConfig& config, const KVLayouts& layouts,
                                     const PerplexityOptions& opt, ProgressFn progress = nullptr,
                                     CancelFlag cancel = nullptr);

/// llama.cpp's llama-perplexity protocol (tools/perplexity/perplexity.cpp): the whole text is
/// tokenized first (`tokens`, BOS first when the tokenizer adds it), cut into chunks of L tokens
/// (remainder dropped); the first token of each chunk is replaced by opt.bos_id when >= 0; each
/// chunk runs from an empty cache with `config` (window forced to 0 unless keep_window) and only
/// predictions of targets L/2+1 .. L-1 are scored; PPL = exp(mean NLL over scored tokens).
/// Throws ConfigError when the text has fewer than 2*L tokens (as llama.cpp refuses it).
PerplexityResult evaluate_perplexity_llama_cpp(const Model& model, const std::vector<int32_t>& tokens,
                                               const QuantConfig& config, const KVLayouts& layouts,
                                               const PerplexityOptions& opt, ProgressFn progress = nullptr,
                                               CancelFlag cancel = nullptr);

}  // namespace skvq
