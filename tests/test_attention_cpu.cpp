// The forward pass's fused float32 attention (core/src/model/attention_cpu.cpp) against attention
// computed in float64 with explicit masks: prefill (short chunks: transposed tiles; T >= 64: BLAS
// blocks of 128 queries) and decode (T == 1,
// keys read in place in blocks merged by log-sum-exp), plain causal and with an eviction span.
// And the shared RoPE table (rope.h) against the angles computed directly.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "model/attention_cpu.h"
#include "skvq/key_span.h"
#include "skvq/rope.h"

using namespace skvq;

namespace {

// q [B, T, H, hd], k/v [B, Tk, KVH*hd] float32 -> [B, T, H*hd] in float64 with span.visible().
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t pos0, const KeySpan& span) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), hd = q.size(3), Tk = k.size(1), KVH = k.size(2) / hd;
  auto out = at::zeros({B, T, H * hd}, at::kDouble);
  std::vector<uint8_t> hidden(static_cast<size_t>(T * Tk));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < Tk; ++j) hidden[t * Tk + j] = !span.visible(pos0 + t, span.position(j));
  auto mask = at::from_blob(hidden.data(), {T, Tk}, at::kByte).to(at::kBool);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kv = h / (H / KVH);
      auto qh = q[b].select(1, h).to(at::kDouble);                      // [T, hd]
      auto kh = k[b].narrow(1, kv * hd, hd).to(at::kDouble);            // [Tk, hd]
      auto vh = v[b].narrow(1, kv * hd, hd).to(at::kDouble);
      auto s = at::matmul(qh, kh.t()) / std::sqrt(static_cast<double>(hd));
      s.masked_fill_(mask, -INFINITY);
      out[b].narrow(1, h * hd, hd).copy_(at::matmul(at::softmax(s, -1), vh));
    }
  return out;
}

void expect_matches(int64_t B, int64_t T, int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, const KeySpan& span) {
  at::manual_seed(11);
  auto q = at::randn({B, T, H, hd}) * 1.5, k = at::randn({B, Tk, KVH * hd}) * 1.5, v = at::randn({B, Tk, KVH * hd});
  auto out = at::empty({B, T, H * hd});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  causal_attention_cpu(q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), out.data_ptr<float>(), B, T, Tk, H,
                       KVH, hd, pos0, scale, span);
  // float32 sums of up to Tk products of O(1) terms with the polynomial exp (2e-7 relative):
  // errors ~1e-6; 2e-5 leaves an order of magnitude for the block merge's rescaling.
  const double err = (out.to(at::kDouble) - reference(q, k, v, pos0, span)).abs().max().item<double>();
  EXPECT_LT(err, 2e-5) << "B" << B << " T" << T << " Tk" << Tk << " pos0 " << pos0 << " span " << span.sink << "/"
                       << span.evicted << "/" << span.window;
}

}  // namespace

TEST(AttentionCpu, PrefillMatchesFloat64) {
  expect_matches(2, 37, 37, 6, 2, 16, 0, {});
  expect_matches(1, 20, 50, 4, 4, 8, 30, {});          // a chunk after 30 cached tokens
  expect_matches(1, 40, 40, 6, 3, 16, 0, {4, 0, 8});   // StreamingLLM band inside one call
  expect_matches(1, 12, 30, 6, 3, 16, 118, {4, 100, 16});  // after eviction: positions shifted
  // T >= 64: the BLAS blocks of 128 queries (a partial last block, GQA, band, shifted positions)
  expect_matches(2, 300, 300, 6, 2, 16, 0, {});
  expect_matches(1, 200, 260, 9, 3, 64, 60, {});
  expect_matches(1, 300, 300, 6, 3, 16, 0, {4, 0, 40});
  expect_matches(1, 130, 150, 6, 3, 16, 1000, {4, 980, 64});
}

// Decode: one query over many keys, in several blocks of the kernel (more than 512 keys), with
// grouped-query heads sharing a KV head, plain causal and with sink + window after eviction.
TEST(AttentionCpu, DecodeMatchesFloat64) {
  expect_matches(1, 1, 1, 4, 2, 8, 0, {});
  expect_matches(2, 1, 1300, 9, 3, 64, 1299, {});
  expect_matches(1, 1, 2100, 8, 2, 128, 2099, {});
  expect_matches(1, 1, 69, 9, 3, 64, 5000, {4, 4932, 64});  // 4 sinks + 64 window + the new token
  expect_matches(1, 1, 700, 4, 2, 16, 699, {4, 0, 300});     // band cuts the middle of the keys
}

TEST(RopeTable, RowsAreTheDirectAnglesAndShared) {
  const std::vector<float> inv{1.0f, 0.1f, 0.01f, 0.001f};
  auto table = RopeTable::shared(inv);
  EXPECT_EQ(table, RopeTable::shared(inv));  // one table per frequency vector
  auto [c, s] = table->rows(5000, at::kCPU);
  ASSERT_GE(c.size(0), 5000);
  ASSERT_EQ(c.size(1), 8);
  for (int64_t t : {0, 1, 7, 4095, 4999})
    for (int64_t i = 0; i < 4; ++i) {
      const float angle = static_cast<float>(t) * inv[i];
      EXPECT_EQ(c[t][i].item<float>(), std::cos(angle));
      EXPECT_EQ(c[t][i + 4].item<float>(), std::cos(angle));
      EXPECT_EQ(s[t][i].item<float>(), std::sin(angle));
      EXPECT_EQ(s[t][i + 4].item<float>(), std::sin(angle));
    }
  auto [c2, s2] = table->rows(20000, at::kCPU);  // growth keeps the rows handed out before
  EXPECT_TRUE(at::equal(c2.narrow(0, 0, 5000), c.narrow(0, 0, 5000)));
  EXPECT_EQ(c[4999][0].item<float>(), std::cos(4999.0f));
}
