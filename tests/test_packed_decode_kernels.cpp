// The two CPU kernels of PackedKVCache::decode_attention on SmolLM2's attention shape (9 query
// heads, 3 KV heads, head_dim 64): the token-at-a-time AVX-512 kernel (SKVQ_PACKED_DECODE=tokens)
// and the group-at-a-time kernel (=groups, and every machine without AVX-512), and the automatic
// choice between them, each against a float64 softmax attention over the cache's own dequantized
// K/V (PackedKVCache::dequantize, pinned to fake quantization in test_packed.cpp).
//
// Tolerance: both kernels read the same codes, scales and zero-points; they differ from
// dequantize() only by fused multiply-adds and summation order in float32 (relative 1e-7 per
// operation on scores of |q.k| <= ~30 over <= 64 terms, i.e. ~1e-5 absolute on a score, which
// moves a softmax weight by ~1e-5 relative), so outputs of magnitude <= ~3 agree to 1e-4.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/packed_decode.h"
#include "kernels/packed_kernels.h"
#include "packed_fixtures.h"
#include "skvq/packed_cache.h"

using namespace skvq;
using namespace skvq::test;

namespace {

ModelConfig smollm2_attention() {
  ModelConfig m;
  m.hidden_size = 576;
  m.intermediate_size = 1536;
  m.num_hidden_layers = 1;
  m.num_attention_heads = 9;
  m.num_key_value_heads = 3;
  m.head_dim = 64;
  m.vocab_size = 32;
  m.max_position_embeddings = 8192;
  m.rope_theta = 100000;
  return m;
}

struct KernelCase {
  const char* name;
  double kb, vb;
  int64_t window, sink;
  bool pre_rope, reorder, fp8, sym;
  int64_t tokens;
  bool aligned16 = false;  // reordered groups of whole 16-channel blocks (smooth on both K and V)
};

at::Tensor decode_with(const PackedKVCache& cache, const at::Tensor& q, const char* kernel) {
  if (kernel) setenv("SKVQ_PACKED_DECODE", kernel, 1);
  auto out = cache.decode_attention(0, q);
  unsetenv("SKVQ_PACKED_DECODE");
  return out;
}

}  // namespace

TEST(PackedDecodeKernels, TokenAndGroupKernelsMatchReferenceAttention) {
  if (!packed_detail::cpu_has_avx512())
    std::cout << "[ note ] no AVX-512 on this CPU: every run uses the group-at-a-time kernel\n";
  const auto m = smollm2_attention();
  const int64_t C = m.kv_channels(), B = 2;
  RotaryEmbedding rope(m.head_dim, m.rope_theta);
  // Uneven reordered groups (average 32, as a calibrated g32 layout) with smooth scales on keys.
  const std::vector<int64_t> ksizes = {17, 45, 30, 9, 41, 50}, vsizes = {33, 31, 40, 24, 2, 62};
  for (const KernelCase& kc : {
           KernelCase{"k2-v2 pre_rope reorder fp8", 2, 2, 8, 4, true, true, true, false, 700},
           KernelCase{"k2-v2 reorder fp8 (post-RoPE keys)", 2, 2, 0, 5, false, true, true, false, 530},
           KernelCase{"k4-v2 g32 float16 params", 4, 2, 16, 0, false, false, false, false, 300},
           KernelCase{"k8-v1.5 pre_rope g32", 8, 1.5, 4, 2, true, false, true, false, 290},
           KernelCase{"k3-v4 pre_rope reorder", 3, 4, 0, 0, true, true, true, false, 257},
           KernelCase{"k4-v4-g32-sym (q4_0)", 4, 4, 8, 0, false, false, false, true, 400},
           KernelCase{"k16-v2 (raw keys)", 16, 2, 8, 4, false, false, true, false, 300},
           // The fused 2-bit item (automatic choice; token counts leave a partial tile of 4).
           KernelCase{"k2-v2 g32 fp8 (fused 2-bit)", 2, 2, 8, 4, false, false, true, false, 531},
           KernelCase{"k2-v2 g32 float16 params (fused 2-bit)", 2, 2, 0, 0, false, false, false, false, 263},
           KernelCase{"k2-v2 reorder 16-aligned smooth (fused 2-bit)", 2, 2, 4, 1, false, true, true, false, 402, true},
       }) {
    auto cfg = skvq_config(kc.kb, kc.vb, 32, kc.window, kc.sink, kc.pre_rope);
    cfg.fp8 = kc.fp8;
    cfg.sym = kc.sym;
    if (kc.sym) cfg.clip_ratio = 1.0;
    cfg.reorder = kc.reorder;
    KVLayouts lay;
    const std::vector<int64_t> aligned = {32, 16, 48, 32, 64};
    lay.k.push_back(kc.reorder ? reordered_layout(C, kc.aligned16 ? aligned : ksizes, 3, true) : GroupLayout::contiguous(C, 32));
    lay.v.push_back(kc.reorder ? reordered_layout(C, kc.aligned16 ? aligned : vsizes, 4, kc.aligned16)
                               : GroupLayout::contiguous(C, 32));
    PackedKVCache cache(m, cfg, lay, B, false, 256);
    auto f = make_feed(m, rope, B, kc.tokens, 0, 21);
    cache.append_tokens(0, f.kpre, f.kpost, f.v);
    ASSERT_EQ(cache.packed_tokens(0), kc.tokens - kc.window - kc.sink) << kc.name;
    auto [k, v] = cache.dequantize(0, 0, kc.tokens);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
    auto q = at::randn({B, m.num_attention_heads, m.head_dim}, gen, at::kFloat) * 3;
    const auto want = reference_attention(m, q, k, v);
    const auto chosen = decode_with(cache, q, nullptr), tokens = decode_with(cache, q, "tokens"),
               groups = decode_with(cache, q, "groups");
    EXPECT_LT((chosen - want).abs().max().item<float>(), 1e-4f) << kc.name << ": automatic choice";
    EXPECT_LT((tokens - want).abs().max().item<float>(), 1e-4f) << kc.name << ": token-at-a-time kernel";
    EXPECT_LT((groups - want).abs().max().item<float>(), 1e-4f) << kc.name << ": group-at-a-time kernel";
    EXPECT_GT(want.abs().max().item<float>(), 0.1f) << kc.name;  // a real output, not zeros
    const bool fused = kc.kb == 2 && kc.vb == 2 && !kc.pre_rope && (!kc.reorder || kc.aligned16);
    EXPECT_EQ(packed_detail::use_fused2_kernel(cache.key_format(0), cache.value_format(0), kc.pre_rope), fused)
        << kc.name;
  }
}
