// The packed KV cache in the engine (make_kv_cache, the forward pass's decode-attention path) on
// the demo model stories260K: the same greedy text and logits as the fake-quant cache, and
// measured cache bytes equal to the memory accounting.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "skvq/cache_factory.h"
#include "skvq/calibration.h"
#include "skvq/generate.h"
#include "skvq/fake_quant_cache.h"
#include "skvq/memory.h"
#include "skvq/model.h"
#include "skvq/packed_cache.h"
#include "skvq/session.h"
#include "skvq/tokenizer.h"
#include "test_util.h"

using namespace skvq;

namespace {

// A packed cache that counts the decode-attention calls the forward pass makes.
class CountingPackedCache : public PackedKVCache {
 public:
  using PackedKVCache::PackedKVCache;
  at::Tensor decode_attention(int64_t layer, const at::Tensor& q) const override {
    ++calls;
    return PackedKVCache::decode_attention(layer, q);
  }
  mutable int64_t calls = 0;
};

class PackedGenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lm_ = new LoadedModel(load_model_for_eval(test::stories_model(), test::stories_tokenizer()));
    const auto text = tokenize_text_file(*lm_->tokenizer, test::data("text/wikitext2/wiki.test.raw"), 100000);
    CalibrationOptions o;
    o.samples = 4;
    o.seq_len = 256;
    o.group_sizes = {8};
    o.kmeans_restarts = 3;
    calib_ = new Calibration(calibrate(*lm_->model, text, o));
  }
  static void TearDownTestSuite() {
    delete lm_;
    delete calib_;
  }
  static const Model& model() { return *lm_->model; }
  static KVLayouts layouts(const QuantConfig& qc) { return KVLayouts::build(qc, model().config(), calib_); }
  static LoadedModel* lm_;
  static Calibration* calib_;
};
LoadedModel* PackedGenerateTest::lm_ = nullptr;
Calibration* PackedGenerateTest::calib_ = nullptr;

const char* kPrompt = "Once upon a time, there was a little girl named Lily. She loved to play outside";

// Measured bytes of a packed cache: the bytes its blocks hold for the packed tokens (checked
// against tokens * token_bytes) plus the full-precision tokens at float16, as memory.h counts
// them; a raw (16-bit) middle tensor, stored as float32, is counted at float16 too.
int64_t measured_bytes(const PackedKVCache& c, const ModelConfig& mc) {
  const int64_t C = mc.kv_channels();
  int64_t packed = 0, raw = 0, full = 0;
  for (int64_t l = 0; l < mc.num_hidden_layers; ++l) {
    const int64_t n = c.packed_tokens(l);
    for (const PackedFormat* f : {&c.key_format(l), &c.value_format(l)}) {
      packed += n * f->token_bytes();
      if (f->raw()) raw += n * C * 4;
    }
    full += c.length(l) - n;
  }
  EXPECT_EQ(c.packed_bytes(), packed);
  return c.packed_bytes() - raw / 2 + full * C * 2 * 2;
}

}  // namespace

TEST_F(PackedGenerateTest, FactoryChoosesPackedWhereSupported) {
  const auto& mc = model().config();
  for (const char* cfg : {"k2-v2-g8-w16-sink5-fp8", "k4-v4-g8-rtn", "k16-v2-g8-w4", "k2-v2-g8-sink5-fp8"}) {
    auto qc = QuantConfig::parse(cfg);
    auto c = make_kv_cache(mc, qc, layouts(qc), 1, true, true);
    EXPECT_NE(dynamic_cast<PackedKVCache*>(c.get()), nullptr) << cfg;
    EXPECT_TRUE(c->has_decode_attention()) << cfg;
    auto f = make_kv_cache(mc, qc, layouts(qc), 1, true, false);
    EXPECT_NE(dynamic_cast<FakeQuantKVCache*>(f.get()), nullptr) << cfg;
    EXPECT_FALSE(f->has_decode_attention());
  }
  for (const char* cfg : {"k2-v2-g8-w16-KIVI", "fp16"}) {
    auto qc = QuantConfig::parse(cfg);
    auto c = make_kv_cache(mc, qc, layouts(qc), 1, true, true);
    EXPECT_NE(dynamic_cast<FakeQuantKVCache*>(c.get()), nullptr) << cfg;
  }
}

// Greedy generation at 2 bits: packed (decode attention over the packed bytes) == fake quant.
TEST_F(PackedGenerateTest, GreedyTextEqualsFakeQuant) {
  const auto& mc = model().config();
  const auto prompt = lm_->tokenizer->encode(kPrompt, true);
  for (const char* cfg : {"k2-v2-g8-w16-sink5-fp8", "k2-v2-g8-w16-reorder-clip-sink5-fp8",
                          "k2-v2-g8-w8-reorder-smooth-pre_rope-clip0.95-sink5-fp8", "k2-v1.5-g8-w16-reorder-sink5-fp8"}) {
    const auto qc = QuantConfig::parse(cfg);
    SamplingParams sp;
    sp.max_new_tokens = 200;
    sp.stop_at_eos = false;
    CountingPackedCache packed(mc, qc, layouts(qc), 1, /*full_prefill=*/true);
    FakeQuantKVCache fake(mc, qc, layouts(qc), 1, /*full_prefill=*/true);
    auto rp = generate_tokens(model(), *lm_->tokenizer, prompt, sp, packed);
    auto rf = generate_tokens(model(), *lm_->tokenizer, prompt, sp, fake);
    ASSERT_EQ(rf.tokens.size(), 200u) << cfg;
    EXPECT_EQ(rp.tokens, rf.tokens) << cfg;
    EXPECT_EQ(rp.text, rf.text) << cfg;
    // Every decode step of every layer went through the packed decode attention.
    EXPECT_EQ(packed.calls, 199 * mc.num_hidden_layers) << cfg;
    const int64_t L = static_cast<int64_t>(prompt.size()) + 199;
    EXPECT_EQ(packed.length(), L);
    EXPECT_EQ(packed.packed_tokens(0), L - qc.sink - qc.window) << cfg;
    if (std::string(cfg) == "k2-v2-g8-w16-sink5-fp8")
      std::printf("packed 2-bit greedy text: %s\n", rp.text.substr(0, 200).c_str());
  }
}

// Records every layer's k_pre_rope and v of a forward pass.
struct KvRecorder : ForwardObserver {
  std::vector<at::Tensor> k, v;
  void on_kv(int64_t layer, const at::Tensor& k_pre, const at::Tensor& vv) override {
    if (static_cast<int64_t>(k.size()) <= layer) k.resize(layer + 1), v.resize(layer + 1);
    k[layer] = k_pre.clone();
    v[layer] = vv.clone();
  }
};

// The cache contract, token by token: the packed cache and the fake-quant cache receive the
// same K/V (recorded from the model on real text), and the packed cache's own decode attention
// must equal exact softmax attention (float64) over the dense K/V the fake-quant cache hands
// back. Both caches quantize with the same quantize_group on identical inputs, so their codes
// and FP8/FP16 scale/zero are identical; what differs is float32 arithmetic: the dequantized
// values (a fused multiply-add may round once instead of twice: 1 ulp), the exp and the
// accumulation over T <= 160 tokens, each ~1e-7 relative, so |error| <= ~T * 2^-23 * max|v|
// = 2e-5 max|v|; the bound is 1e-4 * max|v|.
// (An end-to-end comparison of two forward passes cannot have a fixed bound: their float32
// attention sums differ by ~1e-7, and a value lying that close to a 2-bit rounding boundary
// gets the neighbouring code in one path, moving it by a whole quantization step; how often
// that happens depends on which SIMD kernels LibTorch dispatches to on the machine.)
TEST_F(PackedGenerateTest, DecodeAttentionEqualsExactAttentionOverTheFakeQuantCache) {
  const auto& mc = model().config();
  const auto prompt = lm_->tokenizer->encode(kPrompt, true);
  KvRecorder rec;
  {
    auto fp = make_kv_cache(mc, QuantConfig::parse("fp16"), {}, 1, true, false);
    const auto text = tokenize_text_file(*lm_->tokenizer, test::data("text/tinystories/tinystories_val.txt"), 2000);
    auto ids = at::tensor(std::vector<int64_t>(text.begin(), text.begin() + 160), at::kLong).unsqueeze(0);
    model().forward(ids, fp.get(), &rec);
  }
  const int64_t T = rec.k[0].size(1), H = mc.num_attention_heads, KVH = mc.num_key_value_heads, hd = mc.head_dim;
  const RotaryEmbedding& rope = model().rope();
  for (const char* cfg : {"k2-v2-g8-w16-sink5-fp8", "k2-v2-g8-w16-reorder-clip-sink5-fp8",
                          "k2-v2-g8-w8-reorder-smooth-pre_rope-clip0.95-sink5-fp8", "k2-v2-g8-sink5-fp8",
                          "k3-v4-g16-rtn", "k16-v2-g8-w4-sink1", "k2-v16-g8-w4-sink1-fp8"}) {
    const auto qc = QuantConfig::parse(cfg);
    auto packed = make_kv_cache(mc, qc, layouts(qc), 1, true, true);
    auto fake = make_kv_cache(mc, qc, layouts(qc), 1, true, false);
    ASSERT_TRUE(packed->has_decode_attention()) << cfg;
    at::manual_seed(7);
    float worst = 0, vmax = 0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t li = 0; li < mc.num_hidden_layers; ++li) {
        auto k_pre = rec.k[li].narrow(1, t, 1), v = rec.v[li].narrow(1, t, 1);
        auto k_post = rope.apply_flat(k_pre, t, KVH);
        packed->append_tokens(li, k_pre, k_post, v);
        auto [K, V] = fake->append(li, k_pre, k_post, v, rope);  // [1, t+1, C], as attention reads them
        auto q = rope.apply(at::randn({1, 1, H, hd}) * 2.0, t).view({1, H, hd});
        auto out = packed->decode_attention(li, q);  // [1, H, hd]
        // exact attention in float64 over the fake-quant cache's K/V
        auto Kd = K.to(at::kDouble).view({t + 1, KVH, hd}), Vd = V.to(at::kDouble).view({t + 1, KVH, hd});
        auto qd = q.to(at::kDouble).view({KVH, H / KVH, hd});
        auto scores = at::einsum("kgd,tkd->kgt", {qd, Kd}) / std::sqrt(static_cast<double>(hd));
        auto ref = at::einsum("kgt,tkd->kgd", {at::softmax(scores, -1), Vd}).reshape({1, H, hd});
        worst = std::max(worst, static_cast<float>((out.to(at::kDouble) - ref).abs().max().item<double>()));
        vmax = std::max(vmax, V.abs().max().item<float>());
      }
    }
    EXPECT_GT(vmax, 0.1f) << cfg;
    EXPECT_LT(worst, 1e-4f * vmax) << cfg;
    std::printf("%-56s max |packed - exact| over %lld steps x %lld layers: %.3g (max |v| %.3g)\n", cfg,
                static_cast<long long>(T), static_cast<long long>(mc.num_hidden_layers), worst, vmax);
  }
}

// The cache's measured bytes equal memory.h's kv_cache_bytes for the tokens it holds, at every
// length (prefill inside the sink/window, then the middle region growing).
TEST_F(PackedGenerateTest, MeasuredBytesEqualAccounting) {
  const auto& mc = model().config();
  const auto prompt = lm_->tokenizer->encode(kPrompt, true);
  for (const char* cfg : {"k2-v2-g8-w16-sink5-fp8", "k2-v2-g8-w16-reorder-clip-sink5-fp8", "k4-v2-g8-w4-sink2",
                          "k16-v2-g16-w4-sink1-fp8"}) {
    const auto qc = QuantConfig::parse(cfg);
    auto cache = make_kv_cache(mc, qc, layouts(qc), 1, true, true);
    auto* pc = dynamic_cast<PackedKVCache*>(cache.get());
    ASSERT_NE(pc, nullptr);
    FakeQuantKVCache fake(mc, qc, layouts(qc), 1, true);
    auto ids = at::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), at::kLong).unsqueeze(0);
    auto logits = model().forward(ids, cache.get(), nullptr, true);
    model().forward(ids, &fake, nullptr, true);
    int64_t checked_with_packed = 0;
    for (int step = 0; step <= 60; ++step) {
      const int64_t L = pc->length();
      const int64_t want = kv_cache_bytes(mc, qc, L);
      EXPECT_EQ(measured_bytes(*pc, mc), want) << cfg << " at " << L << " tokens";
      EXPECT_EQ(pc->stored_bytes(), want) << cfg << " at " << L << " tokens";
      EXPECT_EQ(fake.stored_bytes(), want) << cfg << " at " << L << " tokens";
      EXPECT_GE(pc->allocated_bytes(), pc->packed_bytes());
      if (pc->packed_tokens(0) > 0) ++checked_with_packed;
      auto tok = at::full({1, 1}, logits[0][-1].argmax().item<int64_t>(), at::kLong);
      logits = model().forward(tok, cache.get(), nullptr, true);
      model().forward(tok, &fake, nullptr, true);
    }
    EXPECT_GT(checked_with_packed, 40) << cfg;
  }
  // Hand-computed: k2-v2-g8-fp8 on C = 32 channels: 8 code bytes + 4 groups * 2 bytes = 16 bytes
  // per tensor per token and layer.
  const auto qc = QuantConfig::parse("k2-v2-g8-w16-sink5-fp8");
  PackedKVCache c(mc, qc, layouts(qc), 1, true);
  ASSERT_EQ(mc.kv_channels(), 32);
  EXPECT_EQ(c.key_format(0).token_bytes(), 16);
  EXPECT_EQ(c.value_format(0).token_bytes(), 16);
}
