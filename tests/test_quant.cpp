// Configuration grammar, FP8 rounding and the group quantizers, against hand-computed values.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "skvq/error.h"
#include "skvq/fake_quant.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"

using namespace skvq;

TEST(QuantConfig, ParsesTheReferenceExamples) {
  auto c = QuantConfig::parse("k2-v2-g128-w128-reorder-pre_rope-clip-sink5-fp8");
  EXPECT_EQ(c.method, QuantMethod::SKVQ);
  EXPECT_EQ(c.k_bits, 2);
  EXPECT_EQ(c.v_bits, 2);
  EXPECT_EQ(c.group_size, 128);
  EXPECT_EQ(c.window, 128);
  EXPECT_TRUE(c.reorder);
  EXPECT_TRUE(c.pre_rope);
  EXPECT_DOUBLE_EQ(c.clip_ratio, 0.92);
  EXPECT_EQ(c.sink, 5);
  EXPECT_TRUE(c.fp8);
  EXPECT_EQ(c.to_string(), "k2-v2-g128-w128-reorder-pre_rope-clip-sink5-fp8");

  auto t = QuantConfig::parse("k2-v1.5-g128-w128-reorder-clip0.95");
  EXPECT_EQ(t.v_bits, 1.5);
  EXPECT_DOUBLE_EQ(t.clip_ratio, 0.95);
  EXPECT_EQ(t.to_string(), "k2-v1.5-g128-w128-reorder-clip0.95");

  auto kivi = QuantConfig::parse("k2-v2-g128-w128-KIVI");
  EXPECT_EQ(kivi.method, QuantMethod::KIVI);
  EXPECT_EQ(kivi.to_string(), "k2-v2-g128-w128-KIVI");
  auto rtn = QuantConfig::parse("k4-v4-g128-rtn");
  EXPECT_EQ(rtn.method, QuantMethod::RTN);
  EXPECT_EQ(rtn.to_string(), "k4-v4-g128-rtn");
  // Order-insensitive, alias "rod", window before group as in the reference README.
  auto r = QuantConfig::parse("k2-v2-w128-g128-rod-sink5-clip");
  EXPECT_EQ(r.to_string(), "k2-v2-g128-w128-reorder-clip-sink5");
  EXPECT_TRUE(QuantConfig::parse("fp16").is_unquantized());
  EXPECT_TRUE(QuantConfig::parse("fp32").is_unquantized());
}

TEST(QuantConfig, RoundTripsEveryOption) {
  for (const char* s : {"k2-v2-g8", "k3-v4-g16-w32-smooth", "k8-v8-g32-reorder-clip0.97-sink5-fp8",
                        "k1.5-v1.5-g8-w16-reorder-pre_rope-clip-sink2", "k16-v2-g8-rtn", "k4-v2-g16-w64-KIVI"}) {
    auto c = QuantConfig::parse(s);
    EXPECT_EQ(c.to_string(), s);
    EXPECT_EQ(QuantConfig::parse(c.to_string()), c);
  }
  // A ratio with more digits than the default 6 prints with as many as it needs (fuzz finding).
  const auto many = QuantConfig::parse("k1.5-v2-g9-smooth-clip0.944444444444444444444444444444");
  EXPECT_EQ(many.to_string(), "k1.5-v2-g9-smooth-clip0.9444444444444444");
  EXPECT_EQ(QuantConfig::parse(many.to_string()), many);
}

TEST(QuantConfig, RejectsMalformedStrings) {
  auto message = [](const char* s) {
    try {
      QuantConfig::parse(s);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("k9-v2-g128").find("k9: bits must be one of"), std::string::npos);
  EXPECT_NE(message("k2-v2-g0").find("g0: group size must be positive"), std::string::npos);
  EXPECT_NE(message("k2-v2-g128-turbo").find("turbo: unknown option"), std::string::npos);
  EXPECT_NE(message("k2-v2").find("missing group size"), std::string::npos);
  EXPECT_NE(message("k2-v2-g128-clip1.5").find("clip ratio"), std::string::npos);
  EXPECT_NE(message("k2-v2-g128--fp8").find("empty field"), std::string::npos);
  EXPECT_NE(message("k2-v2-g128-KIVI-reorder").find("does not combine"), std::string::npos);
  EXPECT_NE(message("k2-k4-v2-g8").find("given twice"), std::string::npos);
  EXPECT_EQ(message(""), "configuration '': empty configuration string");
}

// Issue 9: repeated options were accepted for some flags (KIVI, rtn) but not others, "k0x2"
// parsed as 2 bits through strtod's hex, and -w999999999999 reached the cache allocator (exit 3).
TEST(QuantConfig, RefusesRepeatsNonDecimalNumbersAndHugeCounts) {
  auto message = [](const char* s) {
    try {
      QuantConfig::parse(s);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("k2-v2-g8-KIVI-KIVI"), "configuration 'k2-v2-g8-KIVI-KIVI': KIVI: given twice (option 'KIVI' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-rtn-rtn"), "configuration 'k2-v2-g8-rtn-rtn': rtn: given twice (option 'rtn' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-kivi-KIVI"), "configuration 'k2-v2-g8-kivi-KIVI': KIVI: given twice (option 'KIVI' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-reorder-rod"), "configuration 'k2-v2-g8-reorder-rod': rod: given twice (option 'reorder' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-w4-w8"), "configuration 'k2-v2-g8-w4-w8': w8: given twice (option 'w' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-fp8-fp8"), "configuration 'k2-v2-g8-fp8-fp8': fp8: given twice (option 'fp8' may appear once)");
  EXPECT_EQ(message("k2-v2-g8-clip-clip0.9"), "configuration 'k2-v2-g8-clip-clip0.9': clip0.9: given twice (option 'clip' may appear once)");
  EXPECT_EQ(message("k0x2-v2-g8"), "configuration 'k0x2-v2-g8': k0x2: bits must be one of 0 (evicted), 1.5, 2, 3, 4, 8, 16");
  EXPECT_EQ(message("k2-v2e0-g8"), "configuration 'k2-v2e0-g8': v2e0: bits must be one of 0 (evicted), 1.5, 2, 3, 4, 8, 16");
  EXPECT_EQ(message("k2-v2-g8-clip0x.8"), "configuration 'k2-v2-g8-clip0x.8': clip0x.8: clip ratio must be in (0, 1], e.g. clip0.95");
  EXPECT_EQ(message("k2-v2-g8-clip+.9"), "configuration 'k2-v2-g8-clip+.9': clip+.9: clip ratio must be in (0, 1], e.g. clip0.95");
  EXPECT_EQ(message("k2-v2-g8-w999999999999"), "configuration 'k2-v2-g8-w999999999999': w999999999999: window out of range (at most 1048576 tokens)");
  EXPECT_EQ(message("k2-v2-g8-sink99999999999999999999"),
            "configuration 'k2-v2-g8-sink99999999999999999999': sink99999999999999999999: sink out of range (at most 1048576 tokens)");
  EXPECT_EQ(message("k2-v2-g2097152"), "configuration 'k2-v2-g2097152': g2097152: group size out of range (at most 1048576)");
  // The limits themselves and plain decimals still parse.
  auto c = QuantConfig::parse("k1.5-v2.0-g8-w1048576-sink1048576-clip.95");
  EXPECT_EQ(c.k_bits, 1.5);
  EXPECT_EQ(c.v_bits, 2.0);
  EXPECT_EQ(c.window, 1048576);
  EXPECT_EQ(c.sink, 1048576);
  EXPECT_DOUBLE_EQ(c.clip_ratio, 0.95);
}

TEST(QuantConfig, GroupMustFitTheChannels) {
  ModelConfig m;
  m.num_key_value_heads = 4;
  m.head_dim = 8;  // 32 channels, as stories260K
  EXPECT_NO_THROW(QuantConfig::parse("k2-v2-g8").validate_for(m));
  EXPECT_NO_THROW(QuantConfig::parse("k2-v2-g32").validate_for(m));
  try {
    QuantConfig::parse("k2-v2-g128").validate_for(m);
    FAIL() << "g128 accepted for 32 channels";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit the 32 K/V channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(QuantConfig::parse("k2-v2-g12").validate_for(m), ConfigError);
}

TEST(QuantConfig, StoredBitsPerElement) {
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v2-g128-fp8"), true), 2.125);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v2-g128"), true), 2.25);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v1.5-g128-fp8"), false), 1.725);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k16-v2-g8"), true), 16.0);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("fp16"), false), 16.0);
  EXPECT_EQ(qmax_for_bits(1.5), 2);
  EXPECT_EQ(qmax_for_bits(2), 3);
  EXPECT_EQ(qmax_for_bits(3), 7);
  EXPECT_EQ(qmax_for_bits(8), 255);
}

TEST(Fp8, RoundsToNearestEvenAndSaturates) {
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(1.0f), 1.0f);
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(0.3f), 0.3125f);      // 1.2 * 2^-2 -> 10 steps of 2^-5
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(1.0625f), 1.0f);      // halfway between 1 and 1.125: even
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(1.1875f), 1.25f);     // halfway between 1.125 and 1.25: even
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(-2.9f), -3.0f);
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(500.0f), 448.0f);     // saturate
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(-1e6f), -448.0f);
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(0.001f), 0.001953125f);  // subnormal: 1 * 2^-9
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(0.0009f), 0.0f);          // below half of 2^-9
  EXPECT_FLOAT_EQ(round_to_fp8_e4m3(0.0175f), 0.017578125f);  // 2^-6 * 1.125
  EXPECT_FLOAT_EQ(round_to_fp16(1.0f + 1.0f / 4096), 1.0f);   // below fp16 resolution
}

TEST(GroupQuant, HandComputedTwoBitGroup) {
  const float x[4] = {0.f, 1.f, 2.f, 3.f};
  uint8_t q[4];
  float s, z;
  quantize_group(x, 4, {3, 1.0f, false}, q, &s, &z);
  EXPECT_FLOAT_EQ(s, 1.0f);
  EXPECT_FLOAT_EQ(z, 0.0f);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{0, 1, 2, 3}));
  // clip 0.5: lo = 0, hi = 1.5, scale 0.5; 2 -> 4 clamps to 3, 3 -> 6 clamps to 3.
  quantize_group(x, 4, {3, 0.5f, false}, q, &s, &z);
  EXPECT_FLOAT_EQ(s, 0.5f);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{0, 2, 3, 3}));
  // Ternary with a negative minimum: lo = -1, hi = 1, scale 1; x = 0.5 -> 1.5 rounds to 2 (even).
  const float y[3] = {-1.f, 0.5f, 1.f};
  quantize_group(y, 3, {2, 1.0f, false}, q, &s, &z);
  EXPECT_FLOAT_EQ(s, 1.0f);
  EXPECT_FLOAT_EQ(z, -1.0f);
  EXPECT_EQ(std::vector<int>(q, q + 3), (std::vector<int>{0, 2, 2}));
  // fp8: scale (0.7 - 0.1)/3 = 0.2 -> 0.203125, zero 0.1 -> 0.1015625
  const float w[2] = {0.1f, 0.7f};
  quantize_group(w, 2, {3, 1.0f, true}, q, &s, &z);
  EXPECT_FLOAT_EQ(s, 0.203125f);
  EXPECT_FLOAT_EQ(z, 0.1015625f);
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 3);  // (0.7 - 0.1015625) / 0.203125 = 2.946 -> 3
  // A constant group: scale floor 1e-5 keeps codes at 0 and x_hat = x.
  const float c[3] = {2.f, 2.f, 2.f};
  quantize_group(c, 3, {3, 1.0f, false}, q, &s, &z);
  EXPECT_FLOAT_EQ(z, 2.0f);
  EXPECT_EQ(q[2], 0);
}

TEST(GroupQuant, ReorderedVariableGroupsQuantizeTheRightChannels) {
  // Small channels (0.1..0.4) interleaved with large ones (10..13). Contiguous groups of 4 mix
  // them and the small values lose 0.1; groups reordered by range keep them (step 0.1, 2 bits).
  const std::vector<float> orig{0.1f, 10.f, 0.2f, 11.f, 0.3f, 12.f, 0.4f, 13.f};
  GroupLayout reorder;
  reorder.perm = {0, 2, 4, 6, 1, 3, 5, 7};
  reorder.offsets = {0, 4, 8};
  reorder.validate();
  auto x = orig;
  fake_quant_rows_cpu(x.data(), 1, 8, reorder, {3, 1.0f, false});
  for (int c = 0; c < 8; ++c) EXPECT_NEAR(x[c], orig[c], 1e-3 * std::max(1.0f, orig[c])) << "channel " << c;
  auto y = orig;
  fake_quant_rows_cpu(y.data(), 1, 8, GroupLayout::contiguous(8, 4), {3, 1.0f, false});
  EXPECT_NEAR(y[2], 0.1f, 1e-3);  // 0.2 -> code 0 of the group {0.1, 10, 0.2, 11}
  EXPECT_NEAR(y[6], 0.3f, 1e-3);  // 0.4 -> code 0 of the group {0.3, 12, 0.4, 13}
  // Variable sizes 1 + 3.
  GroupLayout var;
  var.perm = {2, 0, 1, 3};
  var.offsets = {0, 1, 4};
  var.validate();
  float v[4] = {0.f, 3.f, 100.f, 1.f};
  fake_quant_rows_cpu(v, 1, 4, var, {3, 1.0f, false});
  EXPECT_FLOAT_EQ(v[2], 100.f);  // alone in its group
  EXPECT_NEAR(v[0], 0.f, 1e-6);
  EXPECT_NEAR(v[1], 3.f, 1e-3);
  EXPECT_NEAR(v[3], 1.f, 1e-3);
  GroupLayout bad;
  bad.perm = {0, 0, 1, 2};
  bad.offsets = {0, 4};
  EXPECT_THROW(bad.validate(), ConfigError);
}

TEST(GroupQuant, SmoothScalesDivideOutAgain) {
  GroupLayout g = GroupLayout::contiguous(2, 2);
  g.smooth = {1.0f / 4.0f, 1.0f / 0.5f};  // 1/absmax
  float x[2] = {4.f, -0.5f};
  fake_quant_rows_cpu(x, 1, 2, g, {3, 1.0f, false});
  // smoothed: {1, -1} -> exact at the ends of the range -> divided back.
  // scale 2/3 rounds to float16 0.66650390625: 3 * 0.6665 - 1 = 0.99951 -> 3.99805 after / 0.25
  EXPECT_NEAR(x[0], 3.998046875f, 1e-6);
  EXPECT_FLOAT_EQ(x[1], -0.5f);
}

TEST(GroupQuant, TensorPathEqualsRowLoopAndErrorShrinksWithBits) {
  auto x = at::randn({3, 5, 32}, at::TensorOptions().dtype(at::kFloat)).mul_(2.0);
  auto layout = GroupLayout::contiguous(32, 8);
  double last_err = 1e9;
  for (int bits : {2, 3, 4, 8}) {
    GroupQuantParams p{qmax_for_bits(bits), 1.0f, false};
    auto y = fake_quant_tokens(x, layout, p);
    auto ref = x.clone().contiguous();
    fake_quant_rows_cpu(ref.data_ptr<float>(), 15, 32, layout, p);
    EXPECT_TRUE(at::equal(y, ref));
    const double err = (y - x).abs().max().item<double>();
    // min-max rounding error is at most half a step: (max-min)/qmax/2 per group
    auto g = x.view({15, 4, 8});
    const double bound = ((std::get<0>(g.max(-1)) - std::get<0>(g.min(-1))) / p.qmax / 2).max().item<double>();
    EXPECT_LE(err, bound * 1.001 + 1e-3);
    EXPECT_LT(err, last_err);
    last_err = err;
  }
}

TEST(GroupQuant, KiviKeysQuantizePerChannelOverTokenGroups) {
  // One channel rising 0..3 over 4 tokens, another constant: 2-bit codes reproduce both exactly.
  auto x = at::zeros({1, 5, 2});
  for (int t = 0; t < 5; ++t) {
    x[0][t][0] = static_cast<float>(t);
    x[0][t][1] = 7.0f;
  }
  auto y = fake_quant_channels_kivi(x, 4, 4, 3);
  EXPECT_TRUE(at::allclose(y, x));
  x[0][1][0] = 0.4f;  // 0.4 -> code 0 with scale 1 (min 0, max 3)
  y = fake_quant_channels_kivi(x, 4, 4, 3);
  EXPECT_FLOAT_EQ(y[0][1][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(y[0][4][0].item<float>(), 4.0f);  // token 4 is outside the quantized groups
  EXPECT_THROW(fake_quant_channels_kivi(x, 3, 4, 3), ConfigError);
}
