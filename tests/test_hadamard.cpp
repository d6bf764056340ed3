// The "had" option: the fast Walsh-Hadamard transform (hadamard.h), its grammar and refusals,
// its hook in the fake-quant path (x_hat = H Q(H x) per KV head) and its effect on the
// quantization error of real SmolLM2 keys and values.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/fake_quant.h"
#include "skvq/hadamard.h"
#include "skvq/kv_cache.h"
#include "skvq/memory.h"
#include "skvq/model.h"
#include "skvq/model_config.h"
#include "skvq/packed_cache.h"
#include "skvq/quant_config.h"
#include "skvq/rope.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "config_error.h"
#include "test_util.h"

using namespace skvq;
namespace t = skvq::test;
using skvq::test::config_error;

namespace {

ModelConfig tiny_model(int64_t head_dim) {  // 4 KV heads
  ModelConfig m;
  m.hidden_size = 8 * head_dim;
  m.intermediate_size = 256;
  m.num_hidden_layers = 2;
  m.num_attention_heads = 8;
  m.num_key_value_heads = 4;
  m.head_dim = head_dim;
  m.vocab_size = 32;
  m.max_position_embeddings = 256;
  return m;
}

// Sylvester-Hadamard entry H_n[i][j] = (-1)^popcount(i & j) / sqrt(n), in double.
double hadamard_entry(int64_t i, int64_t j, int64_t n) {
  return (__builtin_popcountll(static_cast<unsigned long long>(i & j)) % 2 ? -1.0 : 1.0) / std::sqrt(double(n));
}

}  // namespace

TEST(Hadamard, Size4IsTheHandMatrix) {
  // [[1,1,1,1],[1,-1,1,-1],[1,1,-1,-1],[1,-1,-1,1]] / 2 times (1, 2, 3, 4):
  // (10, -2, -4, 0) / 2, every step exact in float32.
  std::vector<float> x = {1, 2, 3, 4};
  fwht(x.data(), 4);
  EXPECT_EQ(x, (std::vector<float>{5, -1, -2, 0}));
  std::vector<float> y = {0.5f, -3, 0, 7};  // (0.5-3+0+7, 0.5+3+0-7, 0.5-3-0-7, 0.5+3-0+7) / 2
  fwht(y.data(), 4);
  EXPECT_EQ(y, (std::vector<float>{2.25f, -1.75f, -4.75f, 5.25f}));
}

TEST(Hadamard, MatchesTheSylvesterMatrix) {
  // Against H x in double with the closed-form entries. Each output of the float transform is
  // a signed sum of the 128 inputs built in log2(128) = 7 additions, each rounding with relative
  // error <= 2^-24 of a partial sum bounded by ||x||_1, plus one rounding of the scaling:
  // |error| <= (7 + 1) 2^-24 ||x||_1 / sqrt(128) (first order).
  const int64_t n = 128;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto xt = at::randn({n}, gen, at::kFloat);
  std::vector<float> x(xt.data_ptr<float>(), xt.data_ptr<float>() + n), y = x;
  fwht(y.data(), n);
  double l1 = 0;
  for (float v : x) l1 += std::fabs(v);
  const double bound = 8 * std::ldexp(1.0, -24) * l1 / std::sqrt(double(n));
  for (int64_t i = 0; i < n; ++i) {
    double want = 0;
    for (int64_t j = 0; j < n; ++j) want += hadamard_entry(i, j, n) * x[j];
    EXPECT_LE(std::fabs(y[i] - want), bound) << i;
  }
}

TEST(Hadamard, IsItsOwnInverse) {
  // head_dim 64 with integer inputs: every partial sum is an integer below 2^24 and the scale
  // 1/8 a power of two, so H H x == x exactly.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = static_cast<float>((i * 37) % 19) - 9.0f;
  auto y = x;
  fwht(y.data(), 64);
  EXPECT_NE(y, x);
  fwht(y.data(), 64);
  EXPECT_EQ(y, x);
  // 128 (scale 1/sqrt(128) inexact), random inputs. Per the bound of MatchesTheSylvesterMatrix,
  // the first pass errs by e1 <= 8u ||x||_1 / sqrt(n) per element (u = 2^-24); H is orthogonal,
  // so the second pass carries that over as ||H e||_inf <= ||e||_2 <= sqrt(n) e1 = 8u ||x||_1,
  // and adds its own 8u ||Hx||_1 / sqrt(n) <= 8u ||x||_2 <= 8u ||x||_1. Total <= 16u ||x||_1.
  const int64_t n = 128;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto xt = at::randn({n}, gen, at::kFloat) * 3;
  std::vector<float> a(xt.data_ptr<float>(), xt.data_ptr<float>() + n), b = a;
  fwht(b.data(), n);
  double n2a = 0, n2b = 0, l1 = 0;
  for (int64_t i = 0; i < n; ++i) {
    n2a += double(a[i]) * a[i];
    n2b += double(b[i]) * b[i];
    l1 += std::fabs(a[i]);
  }
  EXPECT_NEAR(std::sqrt(n2b), std::sqrt(n2a), 8 * std::ldexp(1.0, -24) * l1);  // a rotation
  fwht(b.data(), n);
  const double bound = 16 * std::ldexp(1.0, -24) * l1;
  for (int64_t i = 0; i < n; ++i) EXPECT_LE(std::fabs(b[i] - a[i]), bound) << i;
}

TEST(Hadamard, RefusesOtherSizes) {
  std::vector<float> x(12, 1.0f);
  EXPECT_NE(config_error([&] { fwht(x.data(), 12); }).find("size 12 is not a power of two"), std::string::npos);
  EXPECT_NE(config_error([&] { fwht(x.data(), 0); }).find("size 0"), std::string::npos);
  EXPECT_NE(config_error([&] { fwht_blocks(x.data(), 12, 8); }).find("block 8"), std::string::npos);
  EXPECT_TRUE(is_power_of_two(1) && is_power_of_two(64) && !is_power_of_two(48) && !is_power_of_two(-4));
}

TEST(HadamardConfig, GrammarRoundTrip) {
  auto c = QuantConfig::parse("k4-v4-g32-had-rtn");
  EXPECT_TRUE(c.had);
  EXPECT_EQ(c.method, QuantMethod::RTN);
  EXPECT_EQ(c.to_string(), "k4-v4-g32-had-rtn");
  auto s = QuantConfig::parse("k4-v4-g32-had-sym-rtn");
  EXPECT_EQ(s.to_string(), "k4-v4-g32-sym-had-rtn");  // canonical: had after sym
  EXPECT_EQ(QuantConfig::parse(s.to_string()), s);
  auto all = QuantConfig::parse("k2-v2-g32-had-fp8-sink4-clip-pre_rope-w16");
  EXPECT_EQ(all.to_string(), "k2-v2-g32-w16-pre_rope-clip-sink4-fp8-had");
  EXPECT_EQ(QuantConfig::parse(all.to_string()), all);
  EXPECT_FALSE(QuantConfig::parse("k4-v4-g32").had);
  // Bits per element are those without the rotation.
  for (const char* base : {"k4-v4-g32-rtn", "k4-v4-g32-sym", "k2-v2-g128-fp8"}) {
    auto a = QuantConfig::parse(base), b = a;
    b.had = true;
    EXPECT_EQ(stored_bits_per_element(a, true), stored_bits_per_element(b, true)) << base;
    EXPECT_EQ(kv_cache_bytes(tiny_model(64), a, 100), kv_cache_bytes(tiny_model(64), b, 100)) << base;
  }
}

TEST(HadamardConfig, Refusals) {
  auto parse_error = [](const char* s) { return config_error([&] { QuantConfig::parse(s); }); };
  EXPECT_NE(parse_error("k4-v4-g32-had-reorder").find("had: does not combine with reorder or smooth"), std::string::npos);
  EXPECT_NE(parse_error("k4-v4-g32-smooth-had").find("had: does not combine with reorder or smooth"), std::string::npos);
  EXPECT_NE(parse_error("k4-v4-g32-w32-KIVI-had").find("had: does not combine with KIVI"), std::string::npos);
  EXPECT_NE(parse_error("k4-v4-g32-had-had").find("given twice"), std::string::npos);
  // head_dim 48: not a power of two (groups of 16 fit its 192 channels).
  const auto c = QuantConfig::parse("k4-v4-g16-had");
  const std::string m = config_error([&] { c.validate_for(tiny_model(48)); });
  EXPECT_NE(m.find("had: head_dim 48 is not a power of two"), std::string::npos) << m;
  EXPECT_NE(config_error([&] { FakeQuantKVCache(tiny_model(48), c, KVLayouts::build(c, tiny_model(48), nullptr), 1, false); })
                .find("head_dim 48"), std::string::npos);
  EXPECT_EQ(config_error([&] { c.validate_for(tiny_model(64)); }), "(accepted)");
  // The packed cache has no rotation: make_kv_cache falls back, PackedKVCache refuses.
  EXPECT_FALSE(packed_cache_supported(c));
  EXPECT_TRUE(packed_cache_supported(QuantConfig::parse("k4-v4-g16")));
  auto m16 = tiny_model(16);
  auto cache = make_kv_cache(m16, c, KVLayouts::build(c, m16, nullptr), 1, false, /*packed=*/true);
  EXPECT_NE(dynamic_cast<FakeQuantKVCache*>(cache.get()), nullptr);
  EXPECT_NE(config_error([&] { PackedKVCache(m16, c, KVLayouts::build(c, m16, nullptr), 1, false); })
                .find("packed cache: had"), std::string::npos);
}

// fake_quant_tokens with hadamard_dim = H Q(H x) per head, built from the parts; the cache
// rotates only the quantized tokens (sinks and window exact), pre_rope keys included.
TEST(HadamardFakeQuant, RotatesEachHeadOfTheQuantizedTokens) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = at::randn({5, 64}, gen, at::kFloat);
  const auto L = GroupLayout::contiguous(64, 8);
  GroupQuantParams plain{3, 1.0f, false, false, 0}, had = plain;
  had.hadamard_dim = 16;  // four heads of 16
  auto rot = x.clone();
  for (int64_t r = 0; r < 5; ++r) fwht_blocks(rot.data_ptr<float>() + r * 64, 64, 16);
  auto want = fake_quant_tokens(rot, L, plain);
  for (int64_t r = 0; r < 5; ++r) fwht_blocks(want.data_ptr<float>() + r * 64, 64, 16);
  auto got = fake_quant_tokens(x, L, had);
  EXPECT_TRUE(at::equal(got, want));
  EXPECT_FALSE(at::equal(got, fake_quant_tokens(x, L, plain)));
  GroupQuantParams bad = had;
  bad.hadamard_dim = 12;
  EXPECT_NE(config_error([&] { fake_quant_tokens(x, L, bad); }).find("head_dim 12"), std::string::npos);

  const auto m = tiny_model(16);
  for (const char* text : {"k2-v4-g8-w3-sink2-had", "k4-v2-g16-w2-sink1-pre_rope-clip-had"}) {
    SCOPED_TRACE(text);
    const auto c = QuantConfig::parse(text);
    RotaryEmbedding rope(m.head_dim, m.rope_theta);
    FakeQuantKVCache cache(m, c, KVLayouts::build(c, m, nullptr), 1, false);
    auto kpre = at::randn({1, 12, 64}, gen, at::kFloat), v = at::randn({1, 12, 64}, gen, at::kFloat);
    auto kpost = rope.apply_flat(kpre, 0, m.num_key_value_heads);
    auto [k, vv] = cache.append(0, kpre, kpost, v, rope);
    const int64_t S = c.sink, W = c.window, Q = 12 - S - W;
    EXPECT_TRUE(at::equal(vv.narrow(1, 0, S), v.narrow(1, 0, S)));
    EXPECT_TRUE(at::equal(vv.narrow(1, 12 - W, W), v.narrow(1, 12 - W, W)));
    EXPECT_TRUE(at::equal(k.narrow(1, 0, S), kpost.narrow(1, 0, S)));
    GroupQuantParams pv{qmax_for_bits(c.v_bits), static_cast<float>(c.clip_ratio), false, false, 16};
    EXPECT_TRUE(at::equal(vv.narrow(1, S, Q), fake_quant_tokens(v.narrow(1, S, Q), GroupLayout::contiguous(64, c.group_size), pv)));
    GroupQuantParams pk = pv;
    pk.qmax = qmax_for_bits(c.k_bits);
    auto kin = c.pre_rope ? kpre : kpost;
    auto kq = fake_quant_tokens(kin.narrow(1, S, Q), GroupLayout::contiguous(64, c.group_size), pk);
    if (c.pre_rope) kq = rope.apply_flat(kq, S, m.num_key_value_heads);
    EXPECT_TRUE(at::allclose(k.narrow(1, S, Q), kq, 0, 1e-6));
  }
}

// Real post-RoPE keys and values of SmolLM2 (head_dim 64, 3 KV heads) on a wikitext slice:
// mean squared group quantization error without and with the rotation, all 30 layers.
TEST(HadamardSmolLM2, RotationReducesTheQuantizationError) {
  SKVQ_REQUIRE_SMOLLM2();
  Model model(load_model(t::smollm2_model()));
  auto tok = load_tokenizer_for(t::smollm2_model(), "", 0);
  std::ifstream in(t::data("text/wikitext2/wiki.test.raw"), std::ios::binary);
  ASSERT_TRUE(in.good()) << t::data("text/wikitext2/wiki.test.raw");
  in.seekg(700000);
  std::string text(3000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  auto ids = tok->encode(text, false);
  ids.resize(std::min<size_t>(ids.size(), 512));
  ASSERT_GE(ids.size(), 400u);
  struct Capture : ForwardObserver {
    std::vector<at::Tensor> k, v;
    void on_kv(int64_t, const at::Tensor& kp, const at::Tensor& vv) override {
      k.push_back(kp.detach().to(at::kFloat).cpu().clone());
      v.push_back(vv.detach().to(at::kFloat).cpu().clone());
    }
  } cap;
  auto x = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
  model.forward(x, nullptr, &cap, true);
  const auto& mc = model.config();
  ASSERT_EQ(static_cast<int64_t>(cap.k.size()), mc.num_hidden_layers);
  const int64_t C = mc.kv_channels();
  auto mse = [&](const std::vector<at::Tensor>& xs, bool keys, int32_t qmax, bool had) {
    GroupQuantParams p{qmax, 1.0f, false, false, had ? mc.head_dim : 0};
    double sum = 0;
    for (const auto& layer : xs) {
      auto a = keys ? model.rope().apply_flat(layer, 0, mc.num_key_value_heads) : layer;
      a = a.reshape({-1, C}).contiguous();
      auto q = a.clone();
      fake_quant_rows_cpu(q.data_ptr<float>(), q.size(0), C, GroupLayout::contiguous(C, 32), p);
      sum += (q - a).to(at::kDouble).pow(2).mean().item<double>();
    }
    return sum / static_cast<double>(xs.size());
  };
  for (int bits : {4, 2}) {
    const int32_t qmax = (1 << bits) - 1;
    const double k0 = mse(cap.k, true, qmax, false), k1 = mse(cap.k, true, qmax, true);
    const double v0 = mse(cap.v, false, qmax, false), v1 = mse(cap.v, false, qmax, true);
    std::printf("SmolLM2 %zu tokens, k%d-v%d-g32-rtn: key MSE %.6g -> %.6g with had (x%.3f), value MSE %.6g -> %.6g (x%.3f)\n",
                ids.size(), bits, bits, k0, k1, k1 / k0, v0, v1, v1 / v0);
    // Measured (512 tokens from byte 700000): keys x0.571 (4 bits) and x0.566 (2 bits), values
    // x0.908 and x0.909: the rotation spreads the keys' outlier channels; values have few.
    EXPECT_LT(k1, 0.7 * k0) << bits << " bits";
    EXPECT_LT(v1, v0) << bits << " bits";
  }
}
