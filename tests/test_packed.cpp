// Packed storage (packed.h) and the packed KV cache (packed_cache.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "skvq/error.h"
#include "skvq/fake_quant.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/memory.h"
#include "skvq/packed.h"
#include "skvq/packed_cache.h"
#include "skvq/rope.h"
#include "packed_fixtures.h"
#include "test_util.h"

using namespace skvq;
using namespace skvq::test;

namespace {

std::vector<float> random_tokens(int64_t rows, int64_t C, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(rows * C);
  for (int64_t i = 0; i < rows * C; ++i) x[i] = n(rng) * ((i % C) % 7 == 0 ? 8.0f : 1.0f);
  return x;
}

}  // namespace

TEST(PackedCodec, Fp8BytesRoundTripAndKnownValues) {
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(fp8_e4m3_value(static_cast<uint8_t>(b))));
      continue;
    }
    const float v = fp8_e4m3_value(static_cast<uint8_t>(b));
    EXPECT_EQ(fp8_e4m3_bits(v), b) << "byte " << b << " value " << v;
    EXPECT_EQ(round_to_fp8_e4m3(v), v);
  }
  EXPECT_EQ(fp8_e4m3_value(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_value(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_value(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_bits(1000.0f), 0x7E);   // saturates
  EXPECT_EQ(fp8_e4m3_bits(-1000.0f), 0xFE);
  EXPECT_EQ(fp8_e4m3_bits(1.0625f), 0x38);   // tie 1 / 1.125 -> even (1.0)
  EXPECT_EQ(fp8_e4m3_bits(1.1875f), 0x3A);   // tie 1.125 / 1.25 -> even (1.25)
}

TEST(PackedCodec, Fp16BitsRoundTrip) {
  EXPECT_EQ(fp16_bits(1.0f), 0x3C00);
  EXPECT_EQ(fp16_bits(-2.0f), 0xC000);
  EXPECT_EQ(fp16_bits(65504.0f), 0x7BFF);
  EXPECT_EQ(fp16_bits(std::ldexp(1.0f, -24)), 0x0001);
  for (uint32_t b = 0; b < 0x7C00; b += 7) {
    const float v = fp16_value(static_cast<uint16_t>(b));
    EXPECT_EQ(fp16_bits(v), b);
    EXPECT_EQ(fp16_bits(-v), b | 0x8000);
  }
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 10);
  for (int i = 0; i < 1000; ++i) {
    const float x = n(rng);
    EXPECT_EQ(fp16_value(fp16_bits(x)), round_to_fp16(x));
  }
}

TEST(PackedCodes, KnownBytes) {
  const uint8_t two[4] = {1, 2, 3, 0};
  uint8_t out[2] = {0xAA, 0xAA};
  pack_codes(two, 4, 3, out);
  EXPECT_EQ(out[0], 0x39);  // 01 | 10<<2 | 11<<4 | 00<<6
  const uint8_t tern[6] = {1, 2, 0, 1, 2, 2};
  pack_codes(tern, 6, 2, out);
  EXPECT_EQ(out[0], 1 + 2 * 3 + 0 + 1 * 27 + 2 * 81);
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(packed_code_bytes(128, 3), 32);
  EXPECT_EQ(packed_code_bytes(10, 7), 4);
  EXPECT_EQ(packed_code_bytes(11, 2), 3);
  EXPECT_EQ(packed_code_bytes(3, 255), 3);
  EXPECT_THROW(packed_code_bytes(3, 5), ConfigError);
}

TEST(PackedCodes, RoundTripEveryWidth) {
  std::mt19937 rng(11);
  for (int32_t qmax : {2, 3, 7, 15, 255}) {
    for (int64_t n : {1, 2, 5, 7, 13, 64, 100, 4096}) {
      std::vector<uint8_t> codes(n), back(n);
      for (auto& c : codes) c = static_cast<uint8_t>(rng() % (qmax + 1));
      std::vector<uint8_t> packed(packed_code_bytes(n, qmax) + 1, 0xCD);
      pack_codes(codes.data(), n, qmax, packed.data());
      EXPECT_EQ(packed.back(), 0xCD) << "wrote past the end";
      unpack_codes(packed.data(), 0, n, qmax, back.data());
      EXPECT_EQ(codes, back) << "qmax " << qmax << " n " << n;
      // An unaligned sub-range.
      if (n > 7) {
        std::vector<uint8_t> part(n - 5);
        unpack_codes(packed.data(), 3, n - 5, qmax, part.data());
        for (int64_t i = 0; i < n - 5; ++i) ASSERT_EQ(part[i], codes[3 + i]);
      }
    }
  }
}

// Packed dequantization reproduces the fake-quant reference bit for bit.
TEST(PackedToken, DequantEqualsFakeQuantExactly) {
  const int64_t C = 96, rows = 40;
  const std::vector<GroupLayout> layouts = {
      GroupLayout::contiguous(C, 32), GroupLayout::contiguous(C, 96),
      reordered_layout(C, {10, 30, 7, 25, 24}, 5, false), reordered_layout(C, {40, 13, 43}, 6, true)};
  for (double bits : {1.5, 2.0, 3.0, 4.0, 8.0}) {
    for (bool fp8 : {true, false}) {
      for (size_t li = 0; li < layouts.size(); ++li) {
        PackedFormat f{layouts[li], {qmax_for_bits(bits), 0.93f, fp8}};
        auto x = random_tokens(rows, C, 100 + li);
        auto ref = x;
        fake_quant_rows_cpu(ref.data(), rows, C, f.layout, f.params);
        std::vector<uint8_t> tok(f.token_bytes());
        std::vector<float> back(C);
        for (int64_t r = 0; r < rows; ++r) {
          pack_token(f, x.data() + r * C, tok.data());
          unpack_token(f, tok.data(), back.data());
          ASSERT_EQ(0, std::memcmp(back.data(), ref.data() + r * C, C * sizeof(float)))
              << "bits " << bits << " fp8 " << fp8 << " layout " << li << " row " << r;
        }
        const int64_t expect = packed_code_bytes(C, f.params.qmax) + f.layout.num_groups() * (fp8 ? 2 : 4);
        EXPECT_EQ(f.token_bytes(), expect);
      }
    }
  }
}

TEST(PackedToken, BlockStoreGrowsWithoutMoving) {
  TokenBlockStore s(10, 4);
  uint8_t* first = s.push();
  first[0] = 42;
  for (int i = 0; i < 20; ++i) s.push()[0] = static_cast<uint8_t>(i);
  EXPECT_EQ(s.token(0), first);
  EXPECT_EQ(s.token(0)[0], 42);
  EXPECT_EQ(s.token(20)[0], 19);
  EXPECT_EQ(s.size(), 21);
  EXPECT_EQ(s.allocated_bytes(), 6 * 4 * 10);
  EXPECT_EQ(s.used_bytes(), 210);
}

namespace {

ModelConfig tiny_model() {
  ModelConfig m;
  m.hidden_size = 128;
  m.intermediate_size = 256;
  m.num_hidden_layers = 2;
  m.num_attention_heads = 8;
  m.num_key_value_heads = 4;
  m.head_dim = 16;
  m.vocab_size = 32;
  m.max_position_embeddings = 256;
  return m;
}

KVLayouts layouts_for(const ModelConfig& m, int64_t g, bool reorder) {
  KVLayouts L;
  const int64_t C = m.kv_channels();
  for (int64_t l = 0; l < m.num_hidden_layers; ++l) {
    if (reorder) {
      L.k.push_back(reordered_layout(C, {12, 20, 8, 24}, 20 + l, true));
      L.v.push_back(reordered_layout(C, {16, 16, 30, 2}, 40 + l, false));
    } else {
      L.k.push_back(GroupLayout::contiguous(C, g));
      L.v.push_back(GroupLayout::contiguous(C, g));
    }
  }
  return L;
}

}  // namespace

struct CacheCase {
  double kb, vb;
  int64_t g, w, sink;
  bool pre_rope, reorder;
};

class PackedCacheTest : public ::testing::TestWithParam<CacheCase> {};

TEST_P(PackedCacheTest, RegionsDequantAttentionAndBytes) {
  const auto cc = GetParam();
  const auto m = tiny_model();
  const auto cfg = skvq_config(cc.kb, cc.vb, cc.g, cc.w, cc.sink, cc.pre_rope);
  const auto lay = layouts_for(m, cc.g, cc.reorder);
  RotaryEmbedding rope(m.head_dim, m.rope_theta);
  const int64_t B = 2, C = m.kv_channels(), T0 = 23;
  PackedKVCache cache(m, cfg, lay, B, false, 8);
  std::vector<Feed> feeds;
  feeds.push_back(make_feed(m, rope, B, T0, 0, 7));
  for (int i = 0; i < 6; ++i) feeds.push_back(make_feed(m, rope, B, 1, T0 + i, 100 + i));
  int64_t pos = 0;
  for (const auto& f : feeds) {
    for (int64_t l = 0; l < m.num_hidden_layers; ++l) {
      auto [k, v] = cache.append(l, f.kpre, f.kpost, f.v, rope);
      ASSERT_EQ(k.size(1), pos + f.kpre.size(1));
    }
    pos += f.kpre.size(1);
  }
  const int64_t L = pos;
  ASSERT_EQ(cache.length(), L);
  auto kpre = at::cat({feeds[0].kpre, feeds[1].kpre, feeds[2].kpre, feeds[3].kpre, feeds[4].kpre,
                       feeds[5].kpre, feeds[6].kpre}, 1);
  auto kpost = rope.apply_flat(kpre, 0, m.num_key_value_heads);
  auto vall = at::cat({feeds[0].v, feeds[1].v, feeds[2].v, feeds[3].v, feeds[4].v, feeds[5].v, feeds[6].v}, 1);
  const int64_t n_mid = std::max<int64_t>(0, L - cc.sink - cc.w);
  EXPECT_EQ(cache.packed_tokens(0), n_mid);
  for (int64_t l = 0; l < m.num_hidden_layers; ++l) {
    auto [k, v] = cache.dequantize(l, 0, L);
    // Expected: sink and window exact; middle = fake quant (keys before RoPE when pre_rope).
    auto ek = kpost.clone(), ev = vall.clone();
    const auto& kf = cache.key_format(l);
    const auto& vf = cache.value_format(l);
    auto mid = [&](at::Tensor t) { return t.narrow(1, cc.sink, n_mid).clone().contiguous(); };
    if (n_mid > 0) {
      auto vm = mid(vall);
      fake_quant_rows_cpu(vm.data_ptr<float>(), B * n_mid, C, vf.layout, vf.params);
      ev.narrow(1, cc.sink, n_mid).copy_(vm);
      if (!kf.raw()) {
        auto km = mid(cc.pre_rope ? kpre : kpost);
        fake_quant_rows_cpu(km.data_ptr<float>(), B * n_mid, C, kf.layout, kf.params);
        if (cc.pre_rope) km = rope.apply_flat(km, cc.sink, m.num_key_value_heads);
        ek.narrow(1, cc.sink, n_mid).copy_(km);
      }
    }
    EXPECT_TRUE(at::equal(v, ev)) << "values differ, layer " << l << " max " << (v - ev).abs().max().item<float>() << " at token " << (v - ev).abs().amax({0, 2}).nonzero();
    if (cc.pre_rope) {
      EXPECT_LT((k - ek).abs().max().item<float>(), 1e-5f) << "keys differ, layer " << l;
    } else {
      EXPECT_TRUE(at::equal(k, ek)) << "keys differ, layer " << l;
    }
    // Decode attention vs reference softmax attention over the dequantized K/V.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(99 + l);
    auto q = at::randn({B, m.num_attention_heads, m.head_dim}, gen, at::kFloat);
    auto got = cache.decode_attention(l, q);
    auto want = reference_attention(m, q, k, v);
    EXPECT_LT((got - want).abs().max().item<float>(), 1e-4f) << "attention, layer " << l;
  }
  // Bytes: packed middle = tokens * C * stored bits / 8 per tensor; accounting adds float16 regions.
  const double kbits = cfg.quantizes_keys() ? stored_bits_per_element(cfg, true) : 32.0;
  const double vbits = stored_bits_per_element(cfg, false);
  const int64_t tokens = m.num_hidden_layers * B * n_mid;
  EXPECT_EQ(cache.packed_bytes(), cache.key_format(0).token_bytes() * tokens + cache.value_format(0).token_bytes() * tokens);
  if (!cc.reorder && std::fmod(C * kbits, 8.0) == 0 && std::fmod(C * vbits, 8.0) == 0)
    EXPECT_EQ(cache.packed_bytes(), static_cast<int64_t>(tokens * C * (kbits + vbits) / 8));
  const int64_t full = m.num_hidden_layers * B * (L - n_mid);
  const int64_t raw_k = cache.key_format(0).raw() ? tokens * C * 2 : 0;  // raw keys: 4 stored, 2 accounted
  EXPECT_EQ(cache.accounted_bytes(), cache.packed_bytes() - raw_k + full * C * 2 * 2);
  // memory.h's accounting (group count C / g, so not for the test's hand-made reorder layouts).
  if (!cc.reorder && std::fmod(C * kbits, 8.0) == 0 && std::fmod(C * vbits, 8.0) == 0)
    EXPECT_EQ(cache.accounted_bytes(), B * kv_cache_bytes(m, cfg, L));
  EXPECT_EQ(cache.stored_bytes(), cache.accounted_bytes());
  const int64_t blocks = (n_mid + 7) / 8;
  const int64_t mid_alloc = m.num_hidden_layers * B * blocks * 8 *
                            (cache.key_format(0).token_bytes() + cache.value_format(0).token_bytes());
  EXPECT_GE(cache.allocated_bytes(), mid_alloc);
  cache.clear();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.packed_bytes(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Configs, PackedCacheTest,
    ::testing::Values(CacheCase{2, 2, 16, 4, 2, false, false}, CacheCase{2, 1.5, 16, 4, 2, true, false},
                      CacheCase{4, 3, 32, 0, 0, false, true}, CacheCase{2, 2, 16, 3, 1, true, true},
                      CacheCase{8, 2, 64, 30, 5, false, false}, CacheCase{16, 2, 16, 4, 2, false, false}));

// Same inputs as the fake-quant cache: the tensors attention reads are identical.
TEST(PackedCache, MatchesFakeQuantCache) {
  const auto m = tiny_model();
  for (bool pre : {false, true}) {
    const auto cfg = skvq_config(2, 2, 16, 4, 2, pre);
    const auto lay = layouts_for(m, 16, false);
    RotaryEmbedding rope(m.head_dim, m.rope_theta);
    PackedKVCache packed(m, cfg, lay, 1, false);
    FakeQuantKVCache fake(m, cfg, lay, 1, false);
    int64_t pos = 0;
    for (int step = 0; step < 5; ++step) {
      const int64_t T = step == 0 ? 12 : 1;
      auto f = make_feed(m, rope, 1, T, pos, 300 + step);
      auto [pk, pv] = packed.append(0, f.kpre, f.kpost, f.v, rope);
      auto [fk, fv] = fake.append(0, f.kpre, f.kpost, f.v, rope);
      pos += T;
      ASSERT_EQ(pk.sizes(), fk.sizes());
      EXPECT_TRUE(at::equal(pv, fv.to(at::kFloat))) << "values, step " << step << " pre_rope " << pre;
      EXPECT_LT((pk - fk.to(at::kFloat)).abs().max().item<float>(), 1e-5f) << "keys, step " << step;
    }
  }
}

// Long caches: the decode attention splits the middle into chunks of 256 tokens per sequence
// plus the sink/window item and merges them with a log-sum-exp combine.
TEST(PackedCache, DecodeAttentionAcrossChunks) {
  const auto m = tiny_model();
  RotaryEmbedding rope(m.head_dim, m.rope_theta);
  struct Case {
    double kb, vb;
    int64_t w, sink;
    bool pre_rope, reorder;
    int64_t tokens;
    bool full_prefill;  // with window 0: the decode step's token is read exactly
  };
  for (const Case& cs : {Case{2, 2, 4, 2, false, false, 700, false}, Case{2, 2, 0, 0, false, false, 512, false},
                         Case{2, 1.5, 9, 3, true, true, 600, true}, Case{4, 2, 0, 0, false, true, 257, false},
                         Case{2, 2, 0, 5, true, false, 300, true}, Case{3, 2, 0, 0, false, true, 513, true}}) {
    const auto cfg = skvq_config(cs.kb, cs.vb, 16, cs.w, cs.sink, cs.pre_rope);
    const auto lay = layouts_for(m, 16, cs.reorder);
    const int64_t B = 2;
    PackedKVCache cache(m, cfg, lay, B, cs.full_prefill, 100);
    auto f = make_feed(m, rope, B, cs.tokens - 1, 0, 11);
    cache.append_tokens(1, f.kpre, f.kpost, f.v);
    auto g = make_feed(m, rope, B, 1, cs.tokens - 1, 12);
    cache.append_tokens(1, g.kpre, g.kpost, g.v);
    ASSERT_EQ(cache.length(1), cs.tokens);
    EXPECT_EQ(cache.packed_tokens(1), cs.tokens - cs.w - cs.sink);
    auto [k, v] = cache.dequantize(1, 0, cs.tokens);
    if (cs.full_prefill && cs.w == 0) {
      // What append() would hand back for this step: its token exact.
      k.narrow(1, cs.tokens - 1, 1).copy_(g.kpost);
      v.narrow(1, cs.tokens - 1, 1).copy_(g.v);
    }
    auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
    auto q = at::randn({B, m.num_attention_heads, m.head_dim}, gen, at::kFloat) * 3;
    auto got = cache.decode_attention(1, q);
    auto want = reference_attention(m, q, k, v);
    EXPECT_LT((got - want).abs().max().item<float>(), 1e-4f)
        << "kb " << cs.kb << " vb " << cs.vb << " pre_rope " << cs.pre_rope << " reorder " << cs.reorder
        << " full_prefill " << cs.full_prefill;
  }
}

TEST(PackedCache, RejectsKivi) {
  const auto m = tiny_model();
  auto cfg = skvq_config(2, 2, 16, 4, 0, false);
  cfg.method = QuantMethod::KIVI;
  EXPECT_THROW(PackedKVCache(m, cfg, layouts_for(m, 16, false), 1), ConfigError);
}

TEST(DenseAttention, Float32AndFloat16MatchReference) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const int64_t H = 8, KVH = 2, D = 32, T = 77;
  auto q = at::randn({H, D}, gen);
  auto k = at::randn({T, KVH * D}, gen), v = at::randn({T, KVH * D}, gen);
  ModelConfig m = tiny_model();
  m.num_key_value_heads = KVH;
  auto want = reference_attention(m, q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0);
  EXPECT_LT((dense_decode_attention(q, k, v, KVH) - want).abs().max().item<float>(), 1e-5f);
  auto kh = k.to(at::kHalf), vh = v.to(at::kHalf);
  auto want_h = reference_attention(m, q.unsqueeze(0), kh.to(at::kFloat).unsqueeze(0), vh.to(at::kFloat).unsqueeze(0)).squeeze(0);
  EXPECT_LT((dense_decode_attention(q, kh, vh, KVH) - want_h).abs().max().item<float>(), 1e-5f);
}
