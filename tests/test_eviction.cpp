// k0-v0 (StreamingLLM eviction, eviction.h): grammar, memory accounting, the key span
// (positions apart from storage indices), the evicting cache, and what eviction does to real
// models: prefill with the band equals token-by-token decoding with the evicting cache, a window
// that covers the text changes nothing, and SmolLM2 loses a needle outside the window that it
// keeps at 2 bits.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "model_configs.h"
#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/error.h"
#include "skvq/eviction.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/memory.h"
#include "skvq/model.h"
#include "skvq/needle.h"
#include "skvq/perplexity.h"
#include "skvq/quant_config.h"
#include "skvq/rope.h"
#include "skvq/run_store.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "config_error.h"
#include "test_util.h"

using namespace skvq;
namespace t = skvq::test;
using skvq::test::config_error;

namespace {

at::Tensor positions_tensor(int64_t rows, int64_t C) {  // row r holds r + 0.25 * channel
  return (at::arange(rows, at::kFloat).view({1, rows, 1}) + at::arange(C, at::kFloat).view({1, 1, C}) * 0.25).contiguous();
}

std::vector<int32_t> tinystories_tokens(const Tokenizer& tok, size_t n) {
  auto ids = tokenize_text_file(tok, t::data("text/tinystories/tinystories_val.txt"), 4000);
  ids.resize(std::min(ids.size(), n));
  return ids;
}

at::Tensor as_batch(const std::vector<int32_t>& ids) {
  return at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
}

}  // namespace

TEST(EvictionConfig, GrammarRoundTrip) {
  auto c = QuantConfig::parse("k0-v0-w64-sink4");
  EXPECT_TRUE(c.evicts());
  EXPECT_FALSE(c.is_unquantized());
  EXPECT_EQ(c.window, 64);
  EXPECT_EQ(c.sink, 4);
  EXPECT_EQ(c.group_size, 0);
  EXPECT_EQ(c.to_string(), "k0-v0-w64-sink4");
  EXPECT_EQ(QuantConfig::parse(c.to_string()), c);
  EXPECT_EQ(QuantConfig::parse("sink4-w64-k0-v0"), c);
  auto g = QuantConfig::parse("k0-v0-g32-w8");  // a group size may be given; it is kept
  EXPECT_EQ(g.to_string(), "k0-v0-g32-w8");
  EXPECT_FALSE(QuantConfig::parse("k2-v2-g32-w64-sink4").evicts());
  EXPECT_EQ(stored_bits_per_element(c, true), 0.0);
  EXPECT_EQ(stored_bits_per_element(c, false), 0.0);
  EXPECT_EQ(stored_code_bits(0), 0.0);
}

TEST(EvictionConfig, Refusals) {
  EXPECT_NE(config_error([] { QuantConfig::parse("k0-v2-g32-w64"); }).find("give k0-v0"), std::string::npos);
  EXPECT_NE(config_error([] { QuantConfig::parse("k2-v0-g32-w64"); }).find("give k0-v0"), std::string::npos);
  EXPECT_NE(config_error([] { QuantConfig::parse("k0-v0-sink4"); }).find("needs a window"), std::string::npos);
  for (const char* s : {"k0-v0-w64-fp8", "k0-v0-w64-clip", "k0-v0-w64-reorder", "k0-v0-w64-pre_rope", "k0-v0-g32-w64-rtn",
                        "k0-v0-g32-w64-KIVI", "k0-v0-w64-had"})
    EXPECT_NE(config_error([&] { QuantConfig::parse(s); }).find("do not apply"), std::string::npos) << s;
  EXPECT_NE(config_error([] { QuantConfig::parse("k2-v2-w64"); }).find("missing group size"), std::string::npos);
  EXPECT_NE(config_error([] { QuantConfig::parse("k0.5-v0-w4"); }).find("0 (evicted)"), std::string::npos);
}

// Llama-2-7B: 32 layers x 4096 channels; a token costs 2 x 32 x 4096 x 2 bytes = 512 KiB in float16.
TEST(EvictionMemory, OnlySinksAndWindowCost) {
  const ModelConfig m = t::llama2_7b();
  const auto c = QuantConfig::parse("k0-v0-w64-sink4");
  const int64_t fp16_token = 2 * 32 * 4096 * 2;
  for (int64_t T : {0, 1, 67, 68, 69, 4096, 1000000})
    EXPECT_EQ(kv_cache_bytes(m, c, T), std::min<int64_t>(T, 68) * fp16_token) << T;
  const KVMemory km = kv_memory(m, c);
  EXPECT_EQ(km.bits_k, 0.0);
  EXPECT_EQ(km.bits_v, 0.0);
  EXPECT_EQ(km.kv_bytes_per_token, 0.0);
  EXPECT_EQ(km.full_precision_tokens, 68);
  EXPECT_EQ(km.sink_window_bytes, 68 * fp16_token);
}

TEST(EvictionSpan, PositionsAndVisibilityByHand) {
  const KeySpan span{2, 10, 3};  // keys 0,1 at positions 0,1; key j >= 2 at position j + 10
  EXPECT_EQ(span.position(1), 1);
  EXPECT_EQ(span.position(2), 12);
  EXPECT_TRUE(span.visible(15, 0));    // sink
  EXPECT_TRUE(span.visible(15, 13));   // 15 - 13 = 2 < 3
  EXPECT_FALSE(span.visible(15, 12));  // 3 back: outside the window
  EXPECT_FALSE(span.visible(15, 16));  // the future
  const KeySpan causal;
  EXPECT_TRUE(causal.visible(5, 0));
  EXPECT_TRUE(causal.visible(5, 5));
  EXPECT_FALSE(causal.visible(5, 6));
}

TEST(EvictionCache, EvictMiddleMovesTheWindowDown) {
  for (auto [used, sink, window, dropped] : std::vector<std::array<int64_t, 4>>{{8, 2, 3, 3}, {6, 2, 3, 1}, {5, 2, 3, 0}, {9, 0, 4, 5}}) {
    auto k = positions_tensor(10, 4), v = positions_tensor(10, 4) * -1.0;
    ASSERT_EQ(evict_middle(k, v, used, sink, window), dropped) << used;
    std::vector<int64_t> want;
    for (int64_t r = 0; r < std::min(used, sink); ++r) want.push_back(r);
    for (int64_t r = std::max(sink, used - window); r < used; ++r) want.push_back(r);
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(at::equal(k[0][i], positions_tensor(10, 4)[0][want[i]])) << used << " row " << i;
      EXPECT_TRUE(at::equal(v[0][i], positions_tensor(10, 4)[0][want[i]] * -1.0)) << used << " row " << i;
    }
  }
  auto k = positions_tensor(4, 2), v = positions_tensor(4, 3);
  EXPECT_THROW(evict_middle(k, v, 4, 1, 1), Error);
}

// The cache's measured bytes equal memory.h's accounting at every length: it holds only sinks
// and window, whatever it has seen; length() counts every token (the next position).
TEST(EvictionCache, MeasuredBytesEqualAccounting) {
  ModelConfig m;
  m.hidden_size = 32;
  m.num_hidden_layers = 2;
  m.num_attention_heads = 4;
  m.num_key_value_heads = 2;
  m.head_dim = 8;
  m.vocab_size = 16;
  m.max_position_embeddings = 256;
  const auto c = QuantConfig::parse("k0-v0-w5-sink2");
  auto cache = make_kv_cache(m, c, KVLayouts::build(c, m, nullptr), 1, true, true);
  ASSERT_NE(dynamic_cast<FakeQuantKVCache*>(cache.get()), nullptr);
  RotaryEmbedding rope(m);
  int64_t seen = 0;
  for (int64_t n : {1, 3, 1, 4, 1, 1, 9, 2}) {
    auto x = at::randn({1, n, 16});
    for (int64_t li = 0; li < 2; ++li) {
      auto [K, V] = cache->append(li, x, x, x, rope);
      const KeySpan span = cache->key_span(li);
      EXPECT_EQ(span.sink, 2);
      EXPECT_EQ(span.window, 5);
      EXPECT_EQ(K.size(1), std::min<int64_t>(seen, 7) + n);      // kept tokens + this call's
      EXPECT_EQ(span.position(K.size(1) - 1), seen + n - 1);    // the newest key is at the newest position
      EXPECT_TRUE(at::equal(K.narrow(1, K.size(1) - n, n), x));  // stored exactly
    }
    seen += n;
    EXPECT_EQ(cache->length(), seen);
    EXPECT_EQ(cache->stored_bytes(), kv_cache_bytes(m, c, seen)) << seen;
  }
}

// stories260K: one forward over 160 tokens (the band cut by loop bounds in the fused attention)
// gives the logits of decoding them one by one with the evicting cache (middle physically
// dropped, positions shifted by the evicted count). Both are float32 with the same operations per
// query except the summation order of BLAS and of the softmax sums over different key counts, so
// they agree to float32 rounding amplified through 5 layers: 1e-4 of the largest logit is ~10^3
// float32 epsilons. The observer path (LibTorch matmuls, mask built by at::where) gives
// probabilities that are zero exactly outside sinks + window.
TEST(EvictionStories, PrefillBandEqualsDecodingWithTheEvictingCache) {
  Model model(load_model(t::stories_model()));
  auto tok = load_tokenizer_for(t::stories_model(), "", 512);
  const auto ids = tinystories_tokens(*tok, 160);
  ASSERT_EQ(ids.size(), 160u);
  const auto& mc = model.config();
  const auto c = QuantConfig::parse("k0-v0-w16-sink4");
  auto prefill_cache = make_kv_cache(mc, c, {}, 1, false, true);
  auto prefill = model.forward(as_batch(ids), prefill_cache.get());  // [1, 160, vocab]
  auto decode_cache = make_kv_cache(mc, c, {}, 1, true, true);
  float worst = 0;
  const float scale = prefill.abs().max().item<float>();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto step = model.forward(as_batch({ids[i]}), decode_cache.get());  // [1, 1, vocab]
    worst = std::max(worst, (step[0][0] - prefill[0][static_cast<int64_t>(i)]).abs().max().item<float>());
  }
  EXPECT_EQ(decode_cache->length(), 160);
  EXPECT_EQ(decode_cache->stored_bytes(), kv_cache_bytes(mc, c, 160));
  EXPECT_LT(worst, 1e-4f * scale);
  std::printf("k0-v0-w16-sink4 on stories260K: max |prefill - decode| logit %.3g (max |logit| %.3g)\n", worst, scale);
  // Eviction changes the model's output: the same text without a cache differs beyond rounding.
  auto full = model.forward(as_batch(ids), nullptr);
  EXPECT_GT((full - prefill).abs().max().item<float>(), 100 * worst);

  struct Probs : ForwardObserver {
    at::Tensor first;  // layer 0, [B, H, T, Tk]
    bool wants_attention() const override { return true; }
    void on_attention(int64_t layer, const at::Tensor& p) override {
      if (layer == 0) first = p.detach().clone();
    }
  } probs;
  auto observed_cache = make_kv_cache(mc, c, {}, 1, false, true);
  auto observed = model.forward(as_batch(ids), observed_cache.get(), &probs);
  EXPECT_LT((observed - prefill).abs().max().item<float>(), 1e-4f * scale);
  ASSERT_TRUE(probs.first.defined());
  const KeySpan span{4, 0, 16};
  auto p = probs.first[0];  // [H, T, T]
  for (int64_t q : {0, 3, 10, 19, 20, 21, 100, 159})
    for (int64_t k = 0; k < 160; ++k) {
      const float mass = p.select(1, q).select(1, k).max().item<float>();
      if (span.visible(q, k)) {
        EXPECT_GT(mass, 0.0f) << q << "," << k;
      } else {
        EXPECT_EQ(mass, 0.0f) << q << "," << k;
      }
    }
}

// A window that covers every chunk evicts nothing: perplexity equals the unquantized run's
// bit for bit (the band's bounds leave every key in).
TEST(EvictionStories, WindowCoveringTheChunkIsTheFpReference) {
  Model model(load_model(t::stories_model()));
  auto tok = load_tokenizer_for(t::stories_model(), "", 512);
  const auto ids = tinystories_tokens(*tok, 600);
  PerplexityOptions opt;
  opt.ctx_len = 128;
  opt.max_chunks = 4;
  const auto fp = evaluate_perplexity(model, ids, QuantConfig::parse("fp16"), {}, opt);
  const auto wide = evaluate_perplexity(model, ids, QuantConfig::parse("k0-v0-w128-sink4"), {}, opt);
  const auto narrow = evaluate_perplexity(model, ids, QuantConfig::parse("k0-v0-w16-sink4"), {}, opt);
  EXPECT_EQ(wide.ppl, fp.ppl);
  EXPECT_GT(narrow.ppl, fp.ppl * 1.01);
  std::printf("stories260K ppl 4x128: fp16 %.4f, k0-v0-w128-sink4 %.4f, k0-v0-w16-sink4 %.4f\n", fp.ppl, wide.ppl, narrow.ppl);
}

// SmolLM2 on a 512-token WikiText-2 chunk: eviction to 4 sinks + 64 recent tokens costs
// perplexity (more than SKVQ's 2-bit middle would) but stays a language model, not noise.
TEST(EvictionSmolLM2, PerplexityBetweenFpAndNoise) {
  SKVQ_REQUIRE_SMOLLM2();
  Model model(load_model(t::smollm2_model()));
  auto tok = load_tokenizer_for(t::smollm2_model(), "", 0);
  std::ifstream in(t::data("text/wikitext2/wiki.test.raw"), std::ios::binary);
  ASSERT_TRUE(in.good());
  in.seekg(700000);
  std::string text(12000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  auto ids = tok->encode(text, true);
  PerplexityOptions opt;
  opt.ctx_len = 512;
  opt.max_chunks = 2;
  opt.batch = 2;
  const double fp = evaluate_perplexity(model, ids, QuantConfig::parse("fp16"), {}, opt).ppl;
  const double ev = evaluate_perplexity(model, ids, QuantConfig::parse("k0-v0-w64-sink4"), {}, opt).ppl;
  std::printf("SmolLM2 ppl 2x512: fp16 %.4f, k0-v0-w64-sink4 %.4f\n", fp, ev);
  EXPECT_GT(ev, fp * 1.02);
  EXPECT_LT(ev, fp * 5);
}

// The locality claim's baseline: with the needle a quarter and three quarters into a 1K-token
// context (far outside a 64-token window), SmolLM2 repeats it with an fp16 cache; with SKVQ's
// 2-bit middle (reorder from a calibration on WikiText-2, clip, fp8 scales) it keeps what the
// needle says (eat a sandwich); with the middle evicted it answers without it. (Measured
// 2026-12-03: fp16 "...eat a sandwich and sit in Dolores Park on a sunny day." at both depths,
// 2-bit "...eat a sandwich and sit in a park...", evicted "...enjoy the city's vibrant
// atmosphere and culture.") Scored on the needle's own words: ROUGE-1 also counts the question
// the model echoes ("The best thing to do in San Francisco is"), 0.51 for the evicted answer.
TEST(EvictionSmolLM2, NeedleOutsideTheWindowIsLostButSurvivesAt2Bits) {
  SKVQ_REQUIRE_SMOLLM2();
  ModelWeights w = load_model(t::smollm2_model());
  auto tok = load_tokenizer_for(t::smollm2_model(), "", 0);
  const std::string dir = t::temp_dir("eviction-needle");
  RunStore store(dir + "/runs.sqlite");
  const int64_t model_id = register_model(store, w, *tok);
  Model model(std::move(w));
  CalibrationOptions co;
  co.samples = 4;
  co.group_sizes = {16};
  const Calibration cal = calibrate(model, tokenize_text_file(*tok, t::data("text/wikitext2/wiki.test.raw"), 300000), co);
  NeedleOptions opt;
  opt.haystack_dir = t::data("text/needle/PaulGrahamEssays");
  opt.context_lengths = {1024};
  opt.depth_percents = {25, 75};
  opt.max_new_tokens = 24;
  const std::vector<QuantConfig> configs{QuantConfig::parse("k2-v2-g16-w64-reorder-clip-sink4-fp8"),
                                         QuantConfig::parse("k0-v0-w64-sink4")};
  auto runs = run_needle(model, *tok, configs, &cal, store, model_id, std::nullopt, opt);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].config, "fp16");
  for (double depth : opt.depth_percents) {
    std::vector<std::string> said;
    for (const auto& r : runs) {
      said.push_back(store.item(r.run_id, needle_cell_key(1024, depth))->data["response"].get<std::string>());
      std::printf("SmolLM2 needle 1024 tokens, depth %.0f: %-38s '%s'\n", depth, r.config.c_str(), said.back().c_str());
    }
    EXPECT_NE(said[0].find("sandwich and sit in Dolores Park"), std::string::npos) << depth;
    EXPECT_NE(said[1].find("eat a sandwich"), std::string::npos) << depth;
    EXPECT_EQ(said[2].find("sandwich"), std::string::npos) << depth;
    EXPECT_EQ(said[2].find("Dolores"), std::string::npos) << depth;
  }
}
