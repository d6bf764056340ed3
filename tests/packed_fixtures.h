#pragma once
// Shared inputs of the packed-cache tests (test_packed.cpp, test_packed_decode_kernels.cpp):
// reordered group layouts, SKVQ configurations, random K/V feeds and a float64 reference
// attention over a dequantized cache.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "skvq/fake_quant.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"
#include "skvq/rope.h"

namespace skvq::test {

// A random channel permutation with groups of the given sizes (summing to C); smooth scales in
// [0.2, 3) when asked.
inline GroupLayout reordered_layout(int64_t C, std::vector<int64_t> sizes, uint32_t seed, bool smooth) {
  GroupLayout L;
  L.perm.resize(C);
  for (int64_t i = 0; i < C; ++i) L.perm[i] = i;
  std::mt19937 rng(seed);
  std::shuffle(L.perm.begin(), L.perm.end(), rng);
  L.offsets = {0};
  for (auto s : sizes) L.offsets.push_back(L.offsets.back() + s);
  EXPECT_EQ(L.offsets.back(), C);
  if (smooth) {
    std::uniform_real_distribution<float> u(0.2f, 3.0f);
    for (int64_t i = 0; i < C; ++i) L.smooth.push_back(u(rng));
  }
  L.validate();
  return L;
}

// SKVQ with clip 0.95 and FP8 scale/zero-point.
inline QuantConfig skvq_config(double kb, double vb, int64_t g, int64_t w, int64_t sink, bool pre_rope) {
  QuantConfig c;
  c.method = QuantMethod::SKVQ;
  c.k_bits = kb;
  c.v_bits = vb;
  c.group_size = g;
  c.window = w;
  c.sink = sink;
  c.pre_rope = pre_rope;
  c.clip_ratio = 0.95;
  c.fp8 = true;
  return c;
}

struct Feed {
  at::Tensor kpre, kpost, v;
};
inline Feed make_feed(const ModelConfig& m, const RotaryEmbedding& rope, int64_t B, int64_t T, int64_t pos0,
               uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Feed f;
  f.kpre = at::randn({B, T, m.kv_channels()}, gen, at::kFloat) * 2;
  f.v = at::randn({B, T, m.kv_channels()}, gen, at::kFloat);
  f.kpost = rope.apply_flat(f.kpre, pos0, m.num_key_value_heads);
  return f;
}

// Reference: softmax(q k^T / sqrt(D)) v over the dequantized cache, grouped-query heads.
inline at::Tensor reference_attention(const ModelConfig& m, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v) {
  const int64_t B = q.size(0), H = q.size(1), D = q.size(2), T = k.size(1), KVH = m.num_key_value_heads;
  auto kk = k.view({B, T, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1);  // [B,H,T,D]
  auto vv = v.view({B, T, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1);
  auto s = at::matmul(q.unsqueeze(2).to(at::kDouble), kk.transpose(2, 3).to(at::kDouble)) / std::sqrt(double(D));
  return at::matmul(at::softmax(s, -1), vv.to(at::kDouble)).squeeze(2).to(at::kFloat);
}

}  // namespace skvq::test
