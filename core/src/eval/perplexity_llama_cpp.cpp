// Perplexity by llama.cpp's llama-perplexity protocol, so our PPL compares with its figures.
#include <ATen/ATen.h>

#include <cmath>

#include "eval/chunk_logits.h"
#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/perplexity.h"

namespace skvq {

PerplexityResult evaluate_perplexity_llama_cpp(const Model& model, const std::vector<int32_t>& tokens,
                                               const QuantConfig& config, const KVLayouts& layouts,
                                               const PerplexityOptions& opt, ProgressFn progress, CancelFlag cancel) {
  const int64_t L = opt.ctx_len;
  if (L < 4) throw ConfigError("perplexity (llama.cpp protocol): ctx_len must be at least 4 tokens");
  if (static_cast<int64_t>(tokens.size()) < 2 * L)
    throw ConfigError("perplexity (llama.cpp protocol): the text has " + std::to_string(tokens.size()) +
                      " tokens; llama.cpp needs at least 2*ctx_len = " + std::to_string(2 * L));
  int64_t chunks = static_cast<int64_t>(tokens.size()) / L;
  if (opt.max_chunks > 0) chunks = std::min(chunks, opt.max_chunks);
  const int64_t first = L / 2;       // logits of positions first .. L-2 are scored
  const int64_t scored = L - 1 - first;

  QuantConfig run_config = config;
  if (!opt.keep_window && !config.evicts()) run_config.window = 0;  // eviction: the window is the method
  const double t0 = now_seconds();
  const int64_t batch = std::max<int64_t>(1, opt.batch);
  auto ids = at::empty({chunks, L}, at::kLong);
  {
    auto* p = ids.data_ptr<int64_t>();
    for (int64_t i = 0; i < chunks * L; ++i) p[i] = tokens[i];
    if (opt.bos_id >= 0)
      for (int64_t c = 0; c < chunks; ++c) p[c * L] = opt.bos_id;  // input only: position 0 is never a target
  }
  double nll_sum = 0;  // sum of the NLL of every scored token
  int64_t done = 0;
  int64_t kv_bytes = 0;  // stored bytes per chunk, measured on the cache
  while (done < chunks) {
    throw_if_cancelled(cancel);
    const int64_t b = std::min(batch, chunks - done);
    auto chunk = ids.narrow(0, done, b);
    // Logits of the scored positions only (first .. L-2, plus L-1 which is dropped).
    at::Tensor logits = chunk_logits(model, chunk, run_config, layouts, opt, first, &kv_bytes);
    auto logp = at::log_softmax(logits.narrow(1, 0, scored).to(at::kFloat), -1);
    auto target = chunk.narrow(1, first + 1, scored).to(logp.device()).unsqueeze(-1);
    nll_sum += -logp.gather(-1, target).to(at::kDouble).sum().item<double>();
    done += b;
    if (progress) progress(done, chunks);
  }
  PerplexityResult r;
  r.chunks = chunks;
  r.tokens_evaluated = chunks * scored;
  r.mean_nll = nll_sum / static_cast<double>(r.tokens_evaluated);
  r.ppl = std::exp(r.mean_nll);
  r.seconds = now_seconds() - t0;
  r.kv_storage = chunk_kv_storage(model, run_config, opt);
  r.kv_bytes_measured = kv_bytes;
  return r;
}

}  // namespace skvq
