// Perplexity by the reference eval_ppl protocol (skvq-method.md section 6).
#include "skvq/perplexity.h"

#include <ATen/ATen.h>

#include <cmath>

#include "eval/chunk_logits.h"
#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"

namespace skvq {

std::string protocol_name(PplProtocol p) { return p == PplProtocol::LlamaCpp ? "llama.cpp" : "reference"; }

PplProtocol parse_protocol(const std::string& name) {
  if (name == "reference") return PplProtocol::Reference;
  if (name == "llama.cpp") return PplProtocol::LlamaCpp;
  throw ConfigError("unknown perplexity protocol '" + name + "' (expected reference or llama.cpp)");
}

PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int32_t>& tokens,
                                     const QuantConfig& config, const KVLayouts& layouts,
                                     const PerplexityOptions& opt, ProgressFn progress, CancelFlag cancel) {
  if (opt.protocol == PplProtocol::LlamaCpp)
    return evaluate_perplexity_llama_cpp(model, tokens, config, layouts, opt, progress, cancel);
  const int64_t L = opt.ctx_len;
  if (L < 2) throw ConfigError("perplexity: ctx_len must be at least 2 tokens");
  int64_t chunks = static_cast<int64_t>(tokens.size()) / L;
  if (chunks == 0)
    throw ConfigError("perplexity: the text has " + std::to_string(tokens.size()) + " tokens, fewer than one chunk of " + std::to_string(L));
  if (opt.max_chunks > 0) chunks = std::min(chunks, opt.max_chunks);

  QuantConfig run_config = config;
  // protocol: W = 0, every token but the sinks quantized (eviction keeps its window: it is the method)
  if (!opt.keep_window && !config.evicts()) run_config.window = 0;
  const double t0 = now_seconds();
  const int64_t batch = std::max<int64_t>(1, opt.batch);
  double nll_sum = 0;  // sum over chunks of the chunk's mean NLL
  int64_t done = 0;
  int64_t kv_bytes = 0;  // stored bytes per chunk, measured on the cache
  auto ids = at::empty({chunks, L}, at::kLong);
  {
    auto* p = ids.data_ptr<int64_t>();
    for (int64_t i = 0; i < chunks * L; ++i) p[i] = tokens[i];
  }
  while (done < chunks) {
    throw_if_cancelled(cancel);
    const int64_t b = std::min(batch, chunks - done);
    auto chunk = ids.narrow(0, done, b);
    at::Tensor logits = chunk_logits(model, chunk, run_config, layouts, opt, 0, &kv_bytes);
    auto logp = at::log_softmax(logits.narrow(1, 0, L - 1).to(at::kFloat), -1);
    auto target = chunk.narrow(1, 1, L - 1).to(logp.device()).unsqueeze(-1);
    auto nll = -logp.gather(-1, target).squeeze(-1).to(at::kDouble).mean(1);  // [b]
    nll_sum += nll.sum().item<double>();
    done += b;
    if (progress) progress(done, chunks);
  }
  PerplexityResult r;
  r.chunks = chunks;
  r.mean_nll = nll_sum / static_cast<double>(chunks);
  r.ppl = std::exp(r.mean_nll);
  r.tokens_evaluated = chunks * (L - 1);
  r.seconds = now_seconds() - t0;
  r.kv_storage = chunk_kv_storage(model, run_config, opt);
  r.kv_bytes_measured = kv_bytes;
  return r;
}

}  // namespace skvq
