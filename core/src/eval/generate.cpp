// Greedy and sampled decoding over a KV cache.
#include "skvq/generate.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"
#include "skvq/tokenizer.h"

namespace skvq {

namespace {

int32_t sample(const at::Tensor& logits_row, const SamplingParams& p, std::mt19937_64& rng) {
  auto logits = logits_row.to(at::kFloat).cpu().contiguous();
  if (p.temperature <= 0.0f) return static_cast<int32_t>(logits.argmax().item<int64_t>());
  auto probs = at::softmax(logits / p.temperature, -1).contiguous();
  const float* pr = probs.data_ptr<float>();
  const int64_t n = probs.numel();
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return pr[a] > pr[b]; });
  double keep = 0;
  int64_t cut = n;
  if (p.top_p < 1.0f) {
    for (int64_t i = 0; i < n; ++i) {
      keep += pr[idx[i]];
      if (keep >= p.top_p) {
        cut = i + 1;
        break;
      }
    }
  } else {
    keep = 1.0;
  }
  double u = std::uniform_real_distribution<double>(0, keep)(rng);
  for (int64_t i = 0; i < cut; ++i) {
    u -= pr[idx[i]];
    if (u <= 0) return idx[i];
  }
  return idx[cut - 1];
}

}  // namespace

GenerationResult generate_tokens(const Model& model, const Tokenizer& tok,
                                 const std::vector<int32_t>& prompt_tokens, const SamplingParams& params,
                                 KVCache& cache, const std::function<void(const std::string&)>& on_text,
                                 CancelFlag cancel) {
  if (prompt_tokens.empty()) throw ConfigError("generate: empty prompt");
  if (cache.length() != 0) throw Error("generate: the KV cache must start empty");
  GenerationResult r;
  r.prompt_tokens = prompt_tokens;
  std::mt19937_64 rng(params.seed);
  double t0 = now_seconds();
  auto ids = at::tensor(std::vector<int64_t>(prompt_tokens.begin(), prompt_tokens.end()), at::kLong).unsqueeze(0);
  auto logits = model.forward(ids, &cache, nullptr, /*last_only=*/true);
  r.prefill_seconds = now_seconds() - t0;
  t0 = now_seconds();
  int32_t prev = prompt_tokens.back();
  for (int64_t i = 0; i < params.max_new_tokens; ++i) {
    throw_if_cancelled(cancel);
    const int32_t next = sample(logits[0][-1], params, rng);
    if (params.stop_at_eos && (next == tok.eos_id() || (tok.adds_bos() && next == tok.bos_id()))) break;
    r.tokens.push_back(next);
    std::string piece = tok.decode_token(prev, next);
    r.text += piece;
    if (on_text) on_text(piece);
    prev = next;
    if (i + 1 == params.max_new_tokens) break;
    logits = model.forward(at::full({1, 1}, static_cast<int64_t>(next), at::kLong), &cache, nullptr, true);
  }
  r.decode_seconds = now_seconds() - t0;
  return r;
}

GenerationResult generate(const Model& model, const Tokenizer& tok, const std::string& prompt,
                          const SamplingParams& params, KVCache& cache,
                          const std::function<void(const std::string&)>& on_text, CancelFlag cancel) {
  return generate_tokens(model, tok, tok.encode(prompt, /*add_bos=*/true), params, cache, on_text, cancel);
}

}  // namespace skvq
