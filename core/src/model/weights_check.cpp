// Load-time check that every weight is finite.
#include "model/weights_check.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "skvq/error.h"

namespace skvq {

namespace {

// In slices of 4M elements, so that the temporaries stay a few MB whatever the tensor's size
// (a whole-tensor isfinite of a 7B embedding would allocate ~650 MB of masks).
bool all_finite(const at::Tensor& t) {
  const at::Tensor flat = t.reshape({-1});
  constexpr int64_t kSlice = int64_t(1) << 22;
  for (int64_t i = 0; i < flat.numel(); i += kSlice)
    if (!at::isfinite(flat.slice(0, i, std::min(i + kSlice, flat.numel()))).all().item<bool>()) return false;
  return true;
}

void check_one(const ModelWeights& w, const at::Tensor& t, const std::string& name) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0) return;
  if (all_finite(t)) return;
  const int64_t nan = at::isnan(t).sum().item<int64_t>();
  const int64_t inf = at::isinf(t).sum().item<int64_t>();
  throw FileError(w.source_path, "tensor " + name + " is not finite: " + std::to_string(nan) + " NaN and " +
                                     std::to_string(inf) + " infinite values of " + std::to_string(t.numel()));
}

}  // namespace

void check_finite(const ModelWeights& w) {
  check_one(w, w.embed_tokens, "model.embed_tokens.weight");
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    check_one(w, l.input_layernorm, p + "input_layernorm.weight");
    check_one(w, l.q_proj, p + "self_attn.q_proj.weight");
    check_one(w, l.k_proj, p + "self_attn.k_proj.weight");
    check_one(w, l.v_proj, p + "self_attn.v_proj.weight");
    check_one(w, l.q_bias, p + "self_attn.q_proj.bias");
    check_one(w, l.k_bias, p + "self_attn.k_proj.bias");
    check_one(w, l.v_bias, p + "self_attn.v_proj.bias");
    check_one(w, l.o_proj, p + "self_attn.o_proj.weight");
    check_one(w, l.post_attention_layernorm, p + "post_attention_layernorm.weight");
    check_one(w, l.gate_proj, p + "mlp.gate_proj.weight");
    check_one(w, l.up_proj, p + "mlp.up_proj.weight");
    check_one(w, l.down_proj, p + "mlp.down_proj.weight");
  }
  check_one(w, w.norm, "model.norm.weight");
  if (!w.lm_head.is_same(w.embed_tokens)) check_one(w, w.lm_head, "lm_head.weight");
}

}  // namespace skvq
