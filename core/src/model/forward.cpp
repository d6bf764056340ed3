// The forward pass of a Llama-family decoder: RMSNorm, GQA attention with RoPE, SwiGLU MLP.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "attention_cpu.h"
#include "gemv_bf16.h"
#include "skvq/error.h"
#include "skvq/kv_cache.h"
#include "skvq/model.h"

namespace skvq {

namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto xf = x.to(at::kFloat);
  auto r = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (xf * r).to(x.scalar_type()) * weight.to(x.scalar_type());
}

// x @ w^T (+ b) in the weight dtype (bfloat16 weights: oneDNN's bf16 matmul on the CPU); the
// result returns to x's dtype, so activations stay float32 on the CPU whatever the weights are.
//
// One row on the CPU (a decode step of one sequence) goes to a matrix-vector product: as a
// 1 x K GEMM, OpenBLAS copies ("packs") the whole weight matrix on every call, which was 41 % of
// a SmolLM2 decode profile; GEMV reads each weight once.
//
// bfloat16 weights with one float32 row on the CPU: gemv_bf16 (float32 activations, half the
// weight bytes of float32); more rows go to oneDNN's bf16 matmul below.
at::Tensor apply_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = at::Tensor()) {
  if (w.scalar_type() == at::kBFloat16 && x.scalar_type() == at::kFloat && x.is_cpu() && w.is_cpu() &&
      w.is_contiguous() && x.numel() == x.size(-1)) {
    auto y = gemv_bf16(w, x.reshape({-1}).contiguous());
    if (b.defined()) y.add_(b.to(at::kFloat));
    auto shape = x.sizes().vec();
    shape.back() = w.size(0);
    return y.view(shape);
  }
  if (x.scalar_type() == w.scalar_type() && x.is_cpu() && x.numel() == x.size(-1)) {
    auto y = at::mv(w, x.reshape({-1}));
    if (b.defined()) y.add_(b);
    auto shape = x.sizes().vec();
    shape.back() = w.size(0);
    return y.view(shape);
  }
  if (x.scalar_type() == w.scalar_type()) return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
  auto xw = x.to(w.scalar_type());
  auto y = b.defined() ? at::linear(xw, w, b.to(w.scalar_type())) : at::linear(xw, w);
  return y.to(x.scalar_type());
}

// CPU float32: fused causal attention, no score matrix in memory. q [B, T, H, hd], K/V [B, Tk, KVH*hd].
at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& K, const at::Tensor& V, int64_t pos0, double scale,
                           const KeySpan& span) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), hd = q.size(3), Tk = K.size(1), KVH = K.size(2) / hd;
  auto qc = q.contiguous(), Kc = K.contiguous(), Vc = V.contiguous();
  auto out = at::empty({B, T, H * hd}, qc.options());
  causal_attention_cpu(qc.data_ptr<float>(), Kc.data_ptr<float>(), Vc.data_ptr<float>(), out.data_ptr<float>(), B, T, Tk,
                       H, KVH, hd, pos0, static_cast<float>(scale), span);
  return out;
}

// Any device and dtype: grouped-query attention with LibTorch matmuls, without repeating K/V.
// Queries of the G heads that share a KV head are stacked along the row axis; head index =
// kv * G + g, as HF repeat_kv. Hands the probabilities to an observer that wants them.
at::Tensor matmul_attention(const at::Tensor& q, const at::Tensor& K, const at::Tensor& V, int64_t pos0, double scale,
                            const KeySpan& span, ForwardObserver* observer, int64_t layer) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), hd = q.size(3), Tk = K.size(1), KVH = K.size(2) / hd;
  const int64_t G = H / KVH;
  auto qg = q.view({B, T, KVH, G, hd}).permute({0, 2, 3, 1, 4}).reshape({B, KVH, G * T, hd});
  auto Kh = K.view({B, Tk, KVH, hd}).permute({0, 2, 3, 1});  // [B, KV, hd, Tk]
  auto Vh = V.view({B, Tk, KVH, hd}).permute({0, 2, 1, 3});  // [B, KV, Tk, hd]
  auto scores = at::matmul(qg, Kh).mul_(scale).to(at::kFloat).view({B, KVH, G, T, Tk});
  if (T > 1 || Tk > pos0 + T || span.evicted > 0 || span.window > 0) {
    // query t (position pos0 + t) reads the keys span.visible() allows (plain causal: j <= pos0 + t)
    auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
    auto qpos = at::arange(pos0, pos0 + T, opts).unsqueeze(1);
    auto kidx = at::arange(0, Tk, opts).unsqueeze(0);
    auto kpos = at::where(kidx < span.sink, kidx, kidx + span.evicted);
    auto hidden = kpos > qpos;
    if (span.window > 0) hidden = hidden.logical_or((kpos >= span.sink).logical_and(kpos <= qpos - span.window));
    scores.masked_fill_(hidden, -std::numeric_limits<float>::infinity());
  }
  auto probs = at::softmax(scores, -1);
  if (observer && observer->wants_attention()) observer->on_attention(layer, probs.reshape({B, H, T, Tk}));
  auto out = at::matmul(probs.to(V.scalar_type()).view({B, KVH, G * T, Tk}), Vh);  // [B, KV, G*T, hd]
  return out.view({B, KVH, G, T, hd}).permute({0, 3, 1, 2, 4}).reshape({B, T, H * hd});
}

}  // namespace

Model::Model(ModelWeights weights)
    : w_(std::move(weights)),
      rope_(w_.config) {
  w_.check_shapes();
  check_weights_dtype(w_.embed_tokens.scalar_type(), w_.embed_tokens.is_cpu());
}

void check_weights_dtype(at::ScalarType dtype, bool on_cpu) {
  if (on_cpu && dtype == at::kHalf)
    throw ConfigError("dtype float16 runs on CUDA only (this LibTorch has no float16 matmul on the CPU); use --dtype bfloat16 or float32 on the CPU");
}

at::Device Model::device() const { return w_.embed_tokens.device(); }

at::Tensor Model::forward(const at::Tensor& tokens, KVCache* cache, ForwardObserver* observer,
                          bool last_only, int64_t logits_from) const {
  const auto& c = w_.config;
  if (tokens.dim() != 2) throw Error("Model::forward: tokens must be [B, T]");
  const int64_t B = tokens.size(0), T = tokens.size(1);
  if (logits_from < 0 || (T > 0 && logits_from >= T)) throw Error("Model::forward: logits_from out of range");
  const int64_t H = c.num_attention_heads, KVH = c.num_key_value_heads, hd = c.head_dim;
  const int64_t pos0 = cache ? cache->length() : 0;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));

  // Token ids are checked where they are (the host, for every caller in the engine), before the
  // upload: no device synchronisation per forward.
  auto host_ids = tokens.to(at::kCPU, at::kLong).contiguous();  // no copy for CPU int64 input
  const int64_t* idp = host_ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < host_ids.numel(); ++i)
    if (idp[i] < 0 || idp[i] >= c.vocab_size)
      throw Error("Model::forward: token id " + std::to_string(idp[i]) + " outside the vocabulary (0.." +
                  std::to_string(c.vocab_size - 1) + ")");
  auto ids = host_ids.to(device());
  // Activations: float32 on the CPU, the weight dtype elsewhere (float16 on CUDA).
  const at::ScalarType act = device().is_cpu() ? at::kFloat : w_.embed_tokens.scalar_type();
  at::Tensor x = at::embedding(w_.embed_tokens, ids).to(act);  // [B, T, D]

  for (int64_t li = 0; li < c.num_hidden_layers; ++li) {
    const auto& l = w_.layers[li];
    auto h = rms_norm(x, l.input_layernorm, c.rms_norm_eps);
    auto q = apply_linear(h, l.q_proj, l.q_bias).view({B, T, H, hd});
    auto k_pre = apply_linear(h, l.k_proj, l.k_bias);  // [B, T, KV*hd]
    auto v = apply_linear(h, l.v_proj, l.v_bias);
    q = rope_.apply(q, pos0);
    auto k_post = rope_.apply_flat(k_pre, pos0, KVH);
    if (observer) observer->on_kv(li, k_pre, v);

    // The cache attends (its own decode attention where it has one); without a cache, or
    // where the cache hands its K/V back, the dense attention below runs.
    const bool wants_probs = observer && observer->wants_attention();
    struct Args {  // one reference captured: the std::function stores it without allocating
      int64_t pos0, layer;
      double scale;
      ForwardObserver* observer;
      bool wants_probs;
    } const a{pos0, li, scale, observer, wants_probs};
    const DenseAttention dense = [&a](const at::Tensor& qq, const at::Tensor& K, const at::Tensor& V,
                                      const KeySpan& span) {
      const bool fused = K.device().is_cpu() && K.scalar_type() == at::kFloat && !a.wants_probs;
      return fused ? fused_attention(qq, K, V, a.pos0, a.scale, span)
                   : matmul_attention(qq, K, V, a.pos0, a.scale, span, a.observer, a.layer);
    };
    const at::Tensor out = cache ? cache->attend(li, q, k_pre, k_post, v, rope_, dense, wants_probs)
                                 : dense(q, k_post, v, KeySpan{});
    if (observer) observer->on_attention_output(li, out);
    x = x + apply_linear(out, l.o_proj);

    auto h2 = rms_norm(x, l.post_attention_layernorm, c.rms_norm_eps);
    auto mlp = apply_linear(at::silu(apply_linear(h2, l.gate_proj)) * apply_linear(h2, l.up_proj), l.down_proj);
    x = x + mlp;
  }
  if (last_only) x = x.narrow(1, T - 1, 1);
  else if (logits_from > 0) x = x.narrow(1, logits_from, T - logits_from);
  x = rms_norm(x, w_.norm, c.rms_norm_eps);
  return apply_linear(x, w_.lm_head).to(at::kFloat);
}

}  // namespace skvq
