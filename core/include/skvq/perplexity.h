#pragma once
// Perplexity by the reference eval_ppl protocol (skvq-method.md section 6).
#include <cstdint>
#include <vector>

#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/quant_config.h"

namespace skvq {

class Model;

/// Options of one perplexity evaluation.
struct PerplexityOptions {
  int64_t ctx_len = 512;       ///< L: tokens per chunk
  int64_t max_chunks = 0;      ///< 0 = all chunks
  int64_t batch = 8;           ///< chunks run together (speed only; results are identical)
  bool keep_window = false;    ///< false (protocol): W = 0; true: use the configuration's window
  bool full_prefill = false;   ///< attention reads exact K/V (protocol: false)
};

/// Result of one evaluation.
struct PerplexityResult {
  double ppl = 0;             ///< exp(mean over chunks of the chunk's mean NLL)
  double mean_nll = 0;        ///< nats per token, averaged over chunks
  int64_t chunks = 0;
  int64_t tokens_evaluated = 0;  ///< chunks * (L - 1) predictions
  double seconds = 0;
};

/// Cuts `tokens` (BOS first) into non-overlapping chunks of L (remainder dropped), runs each
/// from an empty FakeQuantKVCache with `config` (window forced to 0 unless keep_window), and
/// averages the next-token NLL of the L-1 predictions per chunk. Throws ConfigError when the
/// text has fewer than L tokens; Cancelled when `cancel` is raised.
PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int32_t>& tokens,
                                     const QuantConfig& config, const KVLayouts& layouts,
                                     const PerplexityOptions& opt, ProgressFn progress = nullptr,
                                     CancelFlag cancel = nullptr);

}  // namespace skvq
