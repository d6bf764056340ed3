// The "sym" option: llama.cpp's q4_0 / q8_0 block rules (ggml-quants.c quantize_row_q4_0_ref,
// quantize_row_q8_0_ref, dequantize_row_q4_0 / _q8_0) as per-token groups, through the grammar,
// the bit accounting, the fake-quant path and the packed cache.
//
// Expected codes and scales below were worked out by hand from those definitions (each step
// rounded to float32, the scale rounded to float16 at the end) and cross-checked with a small
// float32 emulation of the two rules; the derivation of the non-obvious entries is in comments.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "model_configs.h"
#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/fake_quant.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/memory.h"
#include "skvq/model_config.h"
#include "skvq/packed.h"
#include "skvq/packed_cache.h"
#include "skvq/quant_config.h"
#include "skvq/rope.h"
#include "skvq/sym_quant.h"

using namespace skvq;

namespace {

struct Block {
  std::vector<uint8_t> codes;
  float scale = 0, zero = 0;
};

Block quantize(const std::vector<float>& x, int32_t qmax, float clip = 1.0f) {
  Block b;
  b.codes.resize(x.size());
  quantize_group_sym(x.data(), static_cast<int64_t>(x.size()), qmax, clip, b.codes.data(), &b.scale, &b.zero);
  return b;
}

std::vector<float> pad32(std::vector<float> x) {
  x.resize(32, 0.0f);
  return x;
}

// q8_0 levels (-127..127) from our stored codes (level + 128).
std::vector<int> levels(const Block& b) {
  std::vector<int> l;
  for (uint8_t c : b.codes) l.push_back(static_cast<int>(c) - 128);
  return l;
}

using skvq::test::llama2_7b;

ModelConfig tiny_model() {  // C = 4 KV heads x 16 = 64 channels: two groups of 32 per token
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

}  // namespace

TEST(SymQuantConfig, GrammarRoundTrip) {
  auto c = QuantConfig::parse("k4-v4-g32-sym");
  EXPECT_TRUE(c.sym);
  EXPECT_EQ(c.method, QuantMethod::SKVQ);
  EXPECT_EQ(c.to_string(), "k4-v4-g32-sym");
  EXPECT_EQ(QuantConfig::parse(c.to_string()), c);
  auto r = QuantConfig::parse("k8-v8-g32-rtn-sym");
  EXPECT_EQ(r.method, QuantMethod::RTN);
  EXPECT_EQ(r.to_string(), "k8-v8-g32-sym-rtn");
  // Sink, window, reorder, clip and smooth keep working; canonical order puts sym after fp8's place.
  auto s = QuantConfig::parse("k4-v8-g32-sym-sink4-w16-reorder-clip0.95-smooth");
  EXPECT_EQ(s.to_string(), "k4-v8-g32-w16-reorder-smooth-clip0.95-sink4-sym");
  EXPECT_EQ(QuantConfig::parse(s.to_string()), s);
  EXPECT_TRUE(QuantConfig::parse("k16-v4-g32-sym").sym);  // keys unquantized
  EXPECT_FALSE(QuantConfig::parse("k4-v4-g32").sym);
}

TEST(SymQuantConfig, RefusesWhatItCannotStore) {
  auto message = [](const char* text) {
    try {
      QuantConfig::parse(text);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("k2-v4-g32-sym").find("sym: bits must be 4 (q4_0), 8 (q8_0) or 16"), std::string::npos);
  EXPECT_NE(message("k4-v1.5-g32-sym").find("got 1.5"), std::string::npos);
  EXPECT_NE(message("k4-v4-g32-sym-fp8").find("does not combine with fp8"), std::string::npos);
  EXPECT_NE(message("k4-v4-g32-w32-KIVI-sym").find("does not combine with KIVI"), std::string::npos);
  EXPECT_NE(message("k4-v4-g32-sym-sym").find("given twice"), std::string::npos);
}

TEST(SymQuantConfig, StoredBitsAndMemory) {
  // One float16 scale per 32 codes and no zero-point: 4 + 16/32 and 8 + 16/32.
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k4-v4-g32-sym"), true), 4.5);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k8-v8-g32-sym"), false), 8.5);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k4-v4-g32"), true), 5.0);  // asym: +zero
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k16-v4-g32-sym"), true), 16.0);
  auto m4 = kv_memory(llama2_7b(), QuantConfig::parse("k4-v4-g32-sym"));
  EXPECT_DOUBLE_EQ(m4.bits_k, 4.5);
  EXPECT_DOUBLE_EQ(m4.bits_v, 4.5);
  EXPECT_DOUBLE_EQ(m4.codes_bytes_per_token, 131072.0);      // 2 (K,V) * 32 layers * 4096 * 4 / 8
  EXPECT_DOUBLE_EQ(m4.scale_zero_bytes_per_token, 16384.0);  // 2 * 32 * (4096 / 32) * 2 bytes
  EXPECT_DOUBLE_EQ(m4.kv_bytes_per_token, 147456.0);
  auto m8 = kv_memory(llama2_7b(), QuantConfig::parse("k8-v8-g32-w128-sink4-sym"));
  EXPECT_DOUBLE_EQ(m8.bits_k, 8.5);
  EXPECT_DOUBLE_EQ(m8.kv_bytes_per_token, 278528.0);  // 262144 codes + 16384 scales
  EXPECT_EQ(m8.full_precision_tokens, 132);
  // 1000 tokens: 132 at float16 (524288 bytes each), 868 at 278528 bytes.
  EXPECT_EQ(kv_cache_bytes(llama2_7b(), QuantConfig::parse("k8-v8-g32-w128-sink4-sym"), 1000),
            132LL * 524288 + 868LL * 278528);
  auto report = memory_report(llama2_7b(), "llama2", {QuantConfig::parse("k4-v4-g32-sym")});
  EXPECT_DOUBLE_EQ(report["configs"][0]["bits_k"].get<double>(), 4.5);
}

// q4_0 with a negative extreme: m = -8, d = m / -8 = 1, id = 1, code = min(15, trunc(x + 8.5)).
TEST(SymQuant, Q4_0NegativeExtremeTiesAndClamp) {
  const std::vector<float> x = {1, -8, 0, 7, 7.9f, 0.5f, -0.5f, -1.5f, 1.5f, -7.5f, -0.25f, 3.7f, -3.7f, 2, -2, 6.49f,
                                6.5f, -6.5f, -7.99f, 0.49f, -0.51f, 5, -5, 4.5f, -4.5f, 2.5f, -2.5f, 0.125f, -0.125f, 3, -3, -7.51f};
  // Ties: x + 8.5 exact on an integer goes up (0.5 -> 9 = level 1, -0.5 -> 8 = level 0, 2.5 -> 11,
  // -2.5 -> 6 = level -2), i.e. round half up, not to even. 7.9 -> 16.4 -> 16, clamped to 15
  // (level 7); 6.49 -> 14.99 -> 14; -7.99 -> 0.51 -> 0; -0.51 -> 7.99 -> 7.
  const std::vector<uint8_t> want = {9, 0, 8, 15, 15, 9, 8, 7, 10, 1, 8, 12, 4, 10, 6, 14,
                                     15, 2, 0, 8, 7, 13, 3, 13, 4, 11, 6, 8, 8, 11, 5, 0};
  auto b = quantize(x, 15);
  EXPECT_EQ(b.codes, want);
  EXPECT_EQ(fp16_bits(b.scale), 0x3C00);  // 1.0
  EXPECT_EQ(b.zero, -8.0f);
  EXPECT_EQ(sym_code_offset(15), 8);
}

// A positive extreme gives a negative scale: m = 8, d = -1, id = -1, code = trunc(8.5 - x); the
// clamp at 15 now hits the most negative value (-8 -> 16.5 -> 16 -> 15, dequantized to -7).
TEST(SymQuant, Q4_0PositiveExtremeNegativeScale) {
  auto b = quantize(pad32({8, -8, 2, -2, 0, 3.5f, -3.5f, 7.49f}), 15);
  const std::vector<uint8_t> head = {0, 15, 6, 10, 8, 5, 12, 1};
  EXPECT_EQ(std::vector<uint8_t>(b.codes.begin(), b.codes.begin() + 8), head);
  for (int i = 8; i < 32; ++i) EXPECT_EQ(b.codes[i], 8) << i;  // zeros: trunc(8.5)
  EXPECT_EQ(fp16_bits(b.scale), 0xBC00);                          // -1.0
  EXPECT_EQ(static_cast<float>(b.codes[1]) * b.scale + b.zero, -7.0f);
}

// Equal magnitudes: the first one sets the sign of d (llama.cpp's strict amax < |x|).
TEST(SymQuant, Q4_0FirstExtremeWinsAndZeros) {
  auto a = quantize(pad32({3, -3}), 15), b = quantize(pad32({-3, 3}), 15);
  EXPECT_EQ(fp16_bits(a.scale), 0xB600);  // -0.375 = 3 / -8
  EXPECT_EQ(fp16_bits(b.scale), 0x3600);  // +0.375
  EXPECT_EQ(a.codes[0], 0);               // 3 * (1 / -0.375) = -8 -> 0.5 -> 0
  EXPECT_EQ(a.codes[1], 15);              // 16.5 -> 16 -> 15
  EXPECT_EQ(b.codes[0], 0);
  EXPECT_EQ(b.codes[1], 15);
  // All zeros: m = 0, d = 0 / -8 = -0.0 (stored as float16 0x8000), id = 0, every code 8.
  auto z = quantize(std::vector<float>(32, 0.0f), 15);
  EXPECT_EQ(fp16_bits(z.scale), 0x8000);
  EXPECT_EQ(z.codes, std::vector<uint8_t>(32, 8));
  EXPECT_EQ(static_cast<float>(z.codes[0]) * z.scale + z.zero, 0.0f);
}

// A scale that float16 changes: m = -1.1 -> d = 0.1375 (float32 0.13750000298), stored as float16
// 0x3066 = 0.137451171875. The codes use id = 1/d of the float32 d (7.2727270), as llama.cpp:
// 0.4811 * id + 8.5 = 11.9989 -> 11 (with 1/fp16(d) = 7.2753 it would be 12.0002 -> 12);
// -0.4811 -> 5.0011 -> 5 (4 with the float16 d); 0.55 -> 12.4999 -> 12; 1.0 -> 15.77 -> 15.
TEST(SymQuant, Q4_0IdComesFromFloat32Scale) {
  auto b = quantize(pad32({-1.1f, 0.4811f, -0.4811f, 1.0f, 0.55f, -0.0687f, 0.0687f, 0.9f}), 15);
  const std::vector<uint8_t> head = {0, 11, 5, 15, 12, 8, 8, 15};
  EXPECT_EQ(std::vector<uint8_t>(b.codes.begin(), b.codes.begin() + 8), head);
  EXPECT_EQ(fp16_bits(b.scale), 0x3066);
  EXPECT_EQ(b.scale, 0.137451171875f);
}

// q8_0: a = max |x| = 127 -> d = 1, id = 1, level = roundf(x): halves away from zero
// (0.5 -> 1, 2.5 -> 3, -2.5 -> -3, 126.5 -> 127), unlike round-half-even (0.5 -> 0, 2.5 -> 2).
TEST(SymQuant, Q8_0RoundfTiesAndExtremes) {
  std::vector<float> x = {-127, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -126.5f, 0.49f, -0.49f, 126.49f, 3.5f, -3.5f, 64, -64};
  for (int i = 0; i < 16; ++i) x.push_back(static_cast<float>(i - 8));
  const std::vector<int> want = {-127, 1, -1, 2, -2, 3, -3, 127, -127, 0, 0, 126, 4, -4, 64, -64,
                                 -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
  auto b = quantize(x, 255);
  EXPECT_EQ(levels(b), want);
  EXPECT_EQ(fp16_bits(b.scale), 0x3C00);
  EXPECT_EQ(b.zero, -128.0f);
  EXPECT_EQ(sym_code_offset(255), 128);
  // All zeros: d = 0 (+0.0, amax starts at 0), id = 0, levels 0.
  auto z = quantize(std::vector<float>(32, 0.0f), 255);
  EXPECT_EQ(fp16_bits(z.scale), 0x0000);
  EXPECT_EQ(levels(z), std::vector<int>(32, 0));
}

// a = 1 -> d = 1/127 = 0.0078740157 (float32), float16 0x2008 = 0.00787353515625; id = 1/d = 127.0.
// 0.7913 * 127 = 100.495 -> 100 (with 1/fp16(d) = 127.0078: 100.5045 -> 101); 0.5 -> 63.5 -> 64.
TEST(SymQuant, Q8_0IdComesFromFloat32Scale) {
  auto b = quantize(pad32({1.0f, 0.7913f, -0.7913f, 0.5f, -1.0f, 0.25f, 0.0039f, -0.0039f}), 255);
  const std::vector<int> head = {127, 100, -100, 64, -127, 32, 0, 0};
  auto l = levels(b);
  EXPECT_EQ(std::vector<int>(l.begin(), l.begin() + 8), head);
  EXPECT_EQ(fp16_bits(b.scale), 0x2008);
}

// clip < 1 (SKVQ's clip option) shrinks d, so codes reach both clamps, which llama.cpp never does.
// q4_0, clip 0.5: m = -8, d = 0.5 * -8 / -8 = 0.5, id = 2; -8 -> -7.5 -> 0, 8 -> 24.5 -> 15,
// 4 -> 16.5 -> 15, -4 -> 0.5 -> 0, 1 -> 10.5 -> 10, -1 -> 6.5 -> 6, 0.25 -> 9.0 -> 9.
// q8_0, clip 0.5: a = 127, d = 0.5, id = 2; 127 -> 254 -> 127, -127 -> -127, 10 -> 20,
// -63.5 -> -127, 0.25 -> 0.5 -> 1, -0.25 -> -1.
TEST(SymQuant, ClipReachesBothClamps) {
  auto b4 = quantize(pad32({-8, 8, 4, -4, 1, -1, 0.25f}), 15, 0.5f);
  EXPECT_EQ(std::vector<uint8_t>(b4.codes.begin(), b4.codes.begin() + 7), (std::vector<uint8_t>{0, 15, 15, 0, 10, 6, 9}));
  EXPECT_EQ(b4.scale, 0.5f);
  auto b8 = quantize(pad32({127, -127, 10, -63.5f, 0.25f, -0.25f}), 255, 0.5f);
  auto l = levels(b8);
  EXPECT_EQ(std::vector<int>(l.begin(), l.begin() + 6), (std::vector<int>{127, -127, 20, -127, 1, -1}));
  EXPECT_EQ(b8.scale, 0.5f);
}

TEST(SymQuant, OtherWidthsAreRefused) {
  EXPECT_THROW(quantize(pad32({1}), 3), ConfigError);
  EXPECT_THROW(sym_code_offset(7), ConfigError);
}

// Round-trip error of q8_0 for |x| <= a = max|x| (no clamp is reached: |x * id| <= 127 up to
// float rounding, and roundf of that stays within [-127, 127]). With l = roundf(fl(x * id)):
//   |x - l * d16| <= |x - l * d| + |l| |d - d16| <= d (1/2 + |x/d - fl(x id)|) + 127 |d - d16|.
// When d is a power of two (a = 127 * 2^-4: d = 2^-4, id = 16, both exact, and x * id exact)
// the last two terms vanish and |x - x_hat| <= d / 2 holds exactly. In general fl(1/d) and
// fl(x id) add at most 2 ulp(127) relative error (<= 127 * 2^-22 in units of d).
TEST(SymQuant, Q8_0RoundTripWithinHalfAStep) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  for (float a : {127.0f / 16.0f, 0.3717f, 42.123f}) {
    auto t = (at::rand({32 * 64}, gen, at::kFloat) * 2 - 1) * a;
    std::vector<float> x(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    for (size_t blk = 0; blk < x.size(); blk += 32) x[blk + blk / 32 % 32] = (blk / 32 % 2 ? -a : a);  // the extreme
    for (size_t blk = 0; blk < x.size(); blk += 32) {
      std::vector<float> g(x.begin() + blk, x.begin() + blk + 32);
      auto b = quantize(g, 255);
      const double d = static_cast<double>(a) / 127.0;  // float32 d differs from this by <= 2^-24 d
      const double bound = d / 2 + 127.0 * std::fabs(d - b.scale) + 127.0 * std::ldexp(d, -22);
      const double exact_bound = d / 2;
      for (int i = 0; i < 32; ++i) {
        const double err = std::fabs(static_cast<double>(g[i]) - (static_cast<double>(b.codes[i]) - 128.0) * b.scale);
        EXPECT_LE(err, a == 127.0f / 16.0f ? exact_bound : bound) << "a " << a << " x " << g[i];
      }
    }
  }
}

// The fake-quant path dequantizes (code - offset) * d per group of 32 channels of a token.
TEST(SymQuant, FakeQuantRowsMatchTheBlocks) {
  const std::vector<float> x = {1, -8, 0, 7, 7.9f, 0.5f, -0.5f, -1.5f, 1.5f, -7.5f, -0.25f, 3.7f, -3.7f, 2, -2, 6.49f,
                                6.5f, -6.5f, -7.99f, 0.49f, -0.51f, 5, -5, 4.5f, -4.5f, 2.5f, -2.5f, 0.125f, -0.125f, 3, -3, -7.51f};
  // d = 1: the dequantized values are the levels code - 8 of Q4_0NegativeExtremeTiesAndClamp.
  const std::vector<float> want = {1, -8, 0, 7, 7, 1, 0, -1, 2, -7, 0, 4, -4, 2, -2, 6,
                                   7, -6, -8, 0, -1, 5, -5, 5, -4, 3, -2, 0, 0, 3, -3, -8};
  std::vector<float> row = x;
  row.insert(row.end(), x.begin(), x.end());
  auto t = at::tensor(row, at::kFloat).view({1, 64});
  auto q = fake_quant_tokens(t, GroupLayout::contiguous(64, 32), {15, 1.0f, false, true});
  for (int i = 0; i < 64; ++i) EXPECT_EQ(q[0][i].item<float>(), want[i % 32]) << i;
  // The second group scaled by 1/16: d = 1/16 is exact in float16, so the values scale exactly.
  auto t2 = t.clone();
  t2.narrow(1, 32, 32).mul_(0.0625f);
  auto q2 = fake_quant_tokens(t2, GroupLayout::contiguous(64, 32), {15, 1.0f, false, true});
  for (int i = 32; i < 64; ++i) EXPECT_EQ(q2[0][i].item<float>(), want[i - 32] * 0.0625f) << i;
}

// Packed storage of sym: codes + one float16 scale per group (4-bit: 32 + 2 * 2 = 36 bytes per
// 64-channel token = 4.5 bits; 8-bit: 64 + 4 = 68 = 8.5 bits), dequantized bit-identical to the
// fake-quant cache (pre_rope keys: RoPE after dequantization, equal within float rounding), with
// sink and window regions, a reordered layout of unequal groups with smooth scales, and a decode
// attention over it.
TEST(SymQuant, PackedCacheMatchesFakeQuantCache) {
  const auto m = tiny_model();
  struct Case {
    const char* config;
    bool reorder;
    int64_t k_token_bytes, v_token_bytes, sink, window;
  };
  for (const Case& cs : {Case{"k4-v8-g32-w4-sink2-sym", false, 36, 68, 2, 4},
                         Case{"k8-v4-g16-w3-sink1-reorder-smooth-clip0.9-pre_rope-sym", true, 64 + 8, 32 + 8, 1, 3}}) {
    SCOPED_TRACE(cs.config);
    const auto cfg = QuantConfig::parse(cs.config);
    ASSERT_TRUE(packed_cache_supported(cfg));
    GroupLayout L = GroupLayout::contiguous(64, cfg.group_size);
    if (cs.reorder) {  // perm j -> 37 j mod 64 (37 is odd: a permutation), groups 12/20/8/24
      for (int64_t j = 0; j < 64; ++j) L.perm[j] = (37 * j) % 64;
      L.offsets = {0, 12, 32, 40, 64};
      for (int64_t c = 0; c < 64; ++c) L.smooth.push_back(0.5f + 0.25f * static_cast<float>(c % 7));
      L.validate();
    }
    KVLayouts lay;
    for (int64_t l = 0; l < m.num_hidden_layers; ++l) {
      lay.k.push_back(L);
      lay.v.push_back(L);
    }
    RotaryEmbedding rope(m.head_dim, m.rope_theta);
    const int64_t B = 2;
    auto cache = make_kv_cache(m, cfg, lay, B, false, true);
    auto* packed = dynamic_cast<PackedKVCache*>(cache.get());
    ASSERT_NE(packed, nullptr);
    EXPECT_EQ(packed->key_format(0).token_bytes(), cs.k_token_bytes);
    EXPECT_EQ(packed->value_format(0).token_bytes(), cs.v_token_bytes);
    FakeQuantKVCache fake(m, cfg, lay, B, false);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
    int64_t pos = 0;
    for (int step = 0; step < 6; ++step) {
      const int64_t T = step == 0 ? 19 : 1;
      auto kpre = at::randn({B, T, 64}, gen, at::kFloat) * 2;
      auto v = at::randn({B, T, 64}, gen, at::kFloat);
      auto kpost = rope.apply_flat(kpre, pos, m.num_key_value_heads);
      for (int64_t l = 0; l < m.num_hidden_layers; ++l) {
        auto [pk, pv] = packed->append(l, kpre, kpost, v, rope);
        auto [fk, fv] = fake.append(l, kpre, kpost, v, rope);
        if (cfg.pre_rope) {
          EXPECT_LT((pk - fk.to(at::kFloat)).abs().max().item<float>(), 1e-5f) << "keys, step " << step;
        } else {
          EXPECT_TRUE(at::equal(pk, fk.to(at::kFloat))) << "keys, step " << step;
        }
        EXPECT_TRUE(at::equal(pv, fv.to(at::kFloat))) << "values, step " << step;
        if (step == 0) {  // token `sink` left for the middle: stored quantized, the sinks exact
          EXPECT_FALSE(at::allclose(pv.narrow(1, cs.sink, 1), v.narrow(1, cs.sink, 1)));
          EXPECT_TRUE(at::equal(pv.narrow(1, 0, cs.sink), v.narrow(1, 0, cs.sink)));
        }
      }
      pos += T;
    }
    ASSERT_EQ(packed->packed_tokens(0), pos - cs.sink - cs.window);
    auto [k, v] = packed->dequantize(1, 0, pos);
    EXPECT_EQ(packed->accounted_bytes(), kv_cache_bytes(m, cfg, pos) * B);
    EXPECT_EQ(fake.stored_bytes(), kv_cache_bytes(m, cfg, pos) * B);
    auto q = at::randn({B, m.num_attention_heads, m.head_dim}, gen, at::kFloat);
    auto got = packed->decode_attention(1, q);
    const int64_t H = m.num_attention_heads, KVH = m.num_key_value_heads, D = m.head_dim;
    auto kk = k.view({B, pos, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1).to(at::kDouble);
    auto vv = v.view({B, pos, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1).to(at::kDouble);
    auto s = at::matmul(q.unsqueeze(2).to(at::kDouble), kk.transpose(2, 3)) / std::sqrt(double(D));
    auto want = at::matmul(at::softmax(s, -1), vv).squeeze(2).to(at::kFloat);
    EXPECT_LT((got - want).abs().max().item<float>(), 1e-4f);
  }
}
