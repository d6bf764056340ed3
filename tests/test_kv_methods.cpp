// The KV method registry (kv_method.h): what each method file declares is what the grammar,
// the printing, the model check and the bit accounting use.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "skvq/error.h"
#include "skvq/kv_method.h"
#include "skvq/model_config.h"
#include "skvq/quant_config.h"

using namespace skvq;

namespace {
std::string message(const std::string& s) {
  try {
    QuantConfig::parse(s);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(KVMethods, RegistryListsEachMethodOnceInPrintingOrder) {
  std::vector<std::string> tokens;
  for (const KVMethod& m : kv_methods()) tokens.emplace_back(m.token);
  EXPECT_EQ(tokens, (std::vector<std::string>{"sym", "had", "KIVI", "rtn", ""}));  // "": k0-v0 eviction
  EXPECT_EQ(find_kv_method("kivi"), find_kv_method("KIVI"));
  EXPECT_EQ(find_kv_method("RTN")->token, "rtn");
  EXPECT_EQ(find_kv_method("fp8"), nullptr);  // an SKVQ option, not a method
  EXPECT_EQ(find_kv_method(""), nullptr);     // eviction has no token
  EXPECT_EQ(find_kv_method("Sym"), nullptr);  // tokens are case-sensitive
}

// Each token selects exactly its method, prints where the registry puts it, and parses back.
TEST(KVMethods, TokensSelectPrintAndRoundTrip) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"k4-v4-g32-sym", "sym"}, {"k2-v2-g32-had", "had"}, {"k2-v2-g32-w32-kivi", "KIVI"},
      {"k2-v2-g32-RTN", "rtn"}, {"k4-v8-g32-had-sym", "sym had"}, {"k0-v0-w64-sink4", ""}};
  for (const auto& [text, want] : cases) {
    const QuantConfig c = QuantConfig::parse(text);
    std::string got;
    for (const KVMethod& m : kv_methods())
      if (m.selected(c)) got += (got.empty() ? "" : " ") + std::string(m.token);
    EXPECT_EQ(got, want) << text;
    EXPECT_EQ(QuantConfig::parse(c.to_string()), c) << text;
  }
  EXPECT_EQ(QuantConfig::parse("k4-v8-g32-had-sym").to_string(), "k4-v8-g32-sym-had");
  EXPECT_EQ(QuantConfig::parse("k2-v2-g32-w32-kivi").to_string(), "k2-v2-g32-w32-KIVI");
  EXPECT_FALSE(kv_methods().back().selected(QuantConfig{}));  // fp16 selects nothing
}

// Group parameters per method, by hand: code bits + parameter bits / g.
TEST(KVMethods, ParameterBitsComeFromTheMethod) {
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k4-v4-g32-sym"), true), 4 + 16.0 / 32);  // q4_0
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k8-v8-g32-sym"), false), 8 + 16.0 / 32);  // q8_0
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k4-v4-g32"), true), 4 + 32.0 / 32);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v2-g128-fp8"), true), 2 + 16.0 / 128);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v2-g64-had"), true), 2 + 32.0 / 64);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k2-v1.5-g64-rtn"), false), 1.6 + 32.0 / 64);
  EXPECT_DOUBLE_EQ(stored_bits_per_element(QuantConfig::parse("k0-v0-w64-sink4"), true), 0.0);
}

TEST(KVMethods, ChecksRunFromTheRegistry) {
  EXPECT_EQ(message("k2-v2-g8-KIVI-rtn"), "configuration 'k2-v2-g8-KIVI-rtn': KIVI and rtn are different methods; give one");
  EXPECT_EQ(message("k2-v2-g8-rtn-kivi"), "configuration 'k2-v2-g8-rtn-kivi': KIVI and rtn are different methods; give one");
  EXPECT_EQ(message("k2-v2-g8-w8-sink2-KIVI"), "configuration 'k2-v2-g8-w8-sink2-KIVI': KIVI: has no sink tokens (its residual is the window)");
  EXPECT_EQ(message("k2-v2-g8-clip-rtn"), "configuration 'k2-v2-g8-clip-rtn': rtn: does not combine with reorder, smooth, clip or pre_rope");
  EXPECT_EQ(message("k2-v2-g8-sym"), "configuration 'k2-v2-g8-sym': sym: bits must be 4 (q4_0), 8 (q8_0) or 16 (unquantized), got 2");
  EXPECT_EQ(message("k2-v2-g8-rod-had"), "configuration 'k2-v2-g8-rod-had': had: does not combine with reorder or smooth (their calibration is for unrotated channels)");
  EXPECT_EQ(message("k0-v0-g8"), "configuration 'k0-v0-g8': k0: eviction needs a window w>0 (StreamingLLM keeps the most recent tokens)");
  EXPECT_EQ(message("k2-v2-g8-turbo"), "configuration 'k2-v2-g8-turbo': turbo: unknown option (known: k<bits>, v<bits>, "
                                       "g<group>, w<window>, reorder|rod, smooth, pre_rope, clip[<ratio>], sink<S>, fp8, "
                                       "sym, had, KIVI, rtn)");
  ModelConfig m;
  m.num_key_value_heads = 4;
  m.head_dim = 48;  // 192 channels: g16 fits, the rotation does not
  EXPECT_NO_THROW(QuantConfig::parse("k2-v2-g16").validate_for(m));
  try {
    QuantConfig::parse("k2-v2-g16-had").validate_for(m);
    ADD_FAILURE() << "head_dim 48 accepted for had";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "configuration 'k2-v2-g16-had': had: head_dim 48 is not a power of two (the Walsh-Hadamard "
                           "rotation needs one)");
  }
}

// The codec parameters each cache builds its quantizer from, by hand.
TEST(KVMethods, GroupQuantParamsComeFromTheMethods) {
  ModelConfig m;
  m.num_key_value_heads = 3;
  m.head_dim = 64;
  const GroupQuantParams skvq = group_quant_params(QuantConfig::parse("k2-v1.5-g32-clip-fp8"), m, true);
  EXPECT_EQ(skvq.qmax, 3);
  EXPECT_FLOAT_EQ(skvq.clip_ratio, 0.92f);
  EXPECT_TRUE(skvq.fp8);
  EXPECT_FALSE(skvq.sym);
  EXPECT_EQ(skvq.hadamard_dim, 0);
  EXPECT_EQ(group_quant_params(QuantConfig::parse("k2-v1.5-g32-clip-fp8"), m, false).qmax, 2);  // ternary
  const auto sym = QuantConfig::parse("k4-v8-g32-sym");
  EXPECT_EQ(group_quant_params(sym, m, true).qmax, 15);
  EXPECT_EQ(group_quant_params(sym, m, false).qmax, 255);
  EXPECT_TRUE(group_quant_params(sym, m, false).sym);
  EXPECT_EQ(group_quant_params(QuantConfig::parse("k2-v2-g32-had"), m, true).hadamard_dim, 64);
  QuantConfig rtn = QuantConfig::parse("k2-v2-g32-rtn");
  rtn.clip_ratio = 0.5;  // not in the grammar for rtn; the quantizer ignores it anyway
  EXPECT_FLOAT_EQ(group_quant_params(rtn, m, true).clip_ratio, 1.0f);
  EXPECT_THROW(group_quant_params(QuantConfig::parse("k16-v2-g32"), m, true), ConfigError);  // no integer codes
}

// Which configurations the packed cache stores is the methods' say (no_packed_codec), and the
// fake-quant cache's per-channel key path is the method's (key_block_tokens, fake_quant_keys).
TEST(KVMethods, PackedCodecRefusalsAndTokenGroupedKeysComeFromTheMethods) {
  auto why = [](const char* s) { return packed_codec_refusal(QuantConfig::parse(s)); };
  EXPECT_EQ(why("k2-v2-g32-w16-sink4"), "");
  EXPECT_EQ(why("k4-v4-g32-sym-had"), "");
  EXPECT_EQ(why("k2-v2-g32-rtn"), "");
  EXPECT_EQ(why("fp16"), "unquantized");
  EXPECT_EQ(why("k2-v2-g32-w32-KIVI"), "KIVI (per-channel key groups) is not supported");
  EXPECT_EQ(why("k2-v2-g32-had-pre_rope"), "had with pre_rope (RoPE between the rotation and attention) is not supported");
  EXPECT_EQ(why("k0-v0-w64-sink4"), "eviction (k0-v0) keeps no packed middle");
  EXPECT_EQ(token_grouped_keys(QuantConfig::parse("k4-v4-g32-sym")), nullptr);
  const auto kivi = QuantConfig::parse("k2-v2-g16-w32-KIVI");
  const KVMethod* m = token_grouped_keys(kivi);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->token, "KIVI");
  EXPECT_EQ(m->key_block_tokens(kivi), 16);
  // Channel 0 holds t, channel 1 holds -t over tokens t = 0..15: per channel over the 16
  // tokens, 2-bit min-max gives scale 5 and zero-points 0 and -15, codes round(|t - min| / 5)
  // (no ties: (t mod 5) / 5 is never 1/2).
  auto seg = at::arange(16, at::kFloat).view({1, 16, 1}).repeat({1, 1, 2}).contiguous();
  seg.select(2, 1).mul_(-1);
  auto q = m->fake_quant_keys(seg, kivi);
  for (int t = 0; t < 16; ++t) {
    EXPECT_FLOAT_EQ(q[0][t][0].item<float>(), 5.0f * ((t + 2) / 5)) << t;
    EXPECT_FLOAT_EQ(q[0][t][1].item<float>(), -15.0f + 5.0f * ((15 - t + 2) / 5)) << t;
  }
}
