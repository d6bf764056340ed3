// GGUF: the reader's validation of every count, length and offset (hand-made bad files, every
// truncation of a valid one), and the model loader on stories260K written as GGUF by the test
// (F32 and F16 tensors, llama.cpp's interleaved Q/K row order), which must reproduce the
// llama2.c loader's logits.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>

#include "gguf_builder.h"
#include "model/gguf_file.h"
#include "skvq/error.h"
#include "skvq/model.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "test_util.h"

using skvq::test::GgufBuilder;
namespace t = skvq::test;

namespace {

std::string write(const std::string& name, const std::string& bytes) {
  static const std::string dir = t::temp_dir("gguf");
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

// FileError naming `path` whose message contains `needle`.
template <class F>
void expect_error(F&& fn, const std::string& path, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no FileError (wanted: " << needle << ")";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// llama.cpp's converter order: HF row h*hd + s*hd/2 + j goes to row h*hd + 2j + s.
at::Tensor rotate_half_to_interleaved(const at::Tensor& w, int64_t heads, int64_t hd) {
  return w.view({heads, 2, hd / 2, -1}).transpose(1, 2).reshape(w.sizes()).contiguous();
}

std::string half_bytes(const at::Tensor& x) {
  auto h = x.to(at::kHalf).contiguous();
  return std::string(static_cast<const char*>(h.data_ptr()), h.numel() * 2);
}

// stories260K as a GGUF `llama` file; `half` stores the 2-D weights as F16.
std::string stories_gguf(const skvq::ModelWeights& w, bool half, const std::string& arch = "llama") {
  const auto& c = w.config;
  GgufBuilder b;
  b.str("general.architecture", arch);
  b.str("general.name", "stories260K");
  b.u32(arch + ".context_length", c.max_position_embeddings);
  b.u32(arch + ".embedding_length", c.hidden_size);
  b.u32(arch + ".block_count", c.num_hidden_layers);
  b.u32(arch + ".feed_forward_length", c.intermediate_size);
  b.u32(arch + ".attention.head_count", c.num_attention_heads);
  b.u32(arch + ".attention.head_count_kv", c.num_key_value_heads);
  b.f32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  b.f32(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  b.u32(arch + ".rope.dimension_count", c.head_dim);
  b.u32(arch + ".vocab_size", c.vocab_size);
  auto add = [&](const std::string& name, const at::Tensor& x) {
    auto xc = x.contiguous();
    std::vector<uint64_t> ne(xc.sizes().rbegin(), xc.sizes().rend());
    if (half && xc.dim() == 2)
      b.tensor(name, ne, 1, half_bytes(xc));
    else
      b.tensor_f32(name, ne, xc.data_ptr<float>(), xc.numel());
  };
  add("token_embd.weight", w.embed_tokens);
  add("output_norm.weight", w.norm);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", l.input_layernorm);
    add(p + "ffn_norm.weight", l.post_attention_layernorm);
    add(p + "attn_q.weight", rotate_half_to_interleaved(l.q_proj, c.num_attention_heads, c.head_dim));
    add(p + "attn_k.weight", rotate_half_to_interleaved(l.k_proj, c.num_key_value_heads, c.head_dim));
    add(p + "attn_v.weight", l.v_proj);
    add(p + "attn_output.weight", l.o_proj);
    add(p + "ffn_gate.weight", l.gate_proj);
    add(p + "ffn_up.weight", l.up_proj);
    add(p + "ffn_down.weight", l.down_proj);
  }
  return b.build();
}

at::Tensor logits_of(const skvq::ModelWeights& w) {
  skvq::Model m(w);
  auto ids = at::tensor(std::vector<int64_t>{1, 403, 407, 261, 378, 19, 95, 32, 8, 500}, at::kLong).unsqueeze(0);
  return m.forward(ids, nullptr);
}

TEST(Gguf, StoriesModelGivesTheLlama2cLogits) {
  const auto ref = skvq::load_model(t::stories_model());
  const std::string path = write("stories.gguf", stories_gguf(ref, false));
  EXPECT_TRUE(skvq::is_gguf_file(path));
  auto w = skvq::load_model(path);
  EXPECT_EQ(w.config.num_key_value_heads, 4);
  EXPECT_TRUE(w.config.tie_word_embeddings);  // no output.weight
  EXPECT_TRUE(at::equal(w.layers[2].q_proj, ref.layers[2].q_proj));  // the permutation is undone exactly
  EXPECT_TRUE(at::equal(w.layers[2].k_proj, ref.layers[2].k_proj));
  EXPECT_EQ((logits_of(w) - logits_of(ref)).abs().max().item<float>(), 0.0f);
}

TEST(Gguf, F16TensorsDequantizeExactly) {
  auto ref = skvq::load_model(t::stories_model());
  const std::string path = write("stories16.gguf", stories_gguf(ref, true));
  auto w = skvq::load_model(path);
  // Every F16 value converts exactly: equal to the reference rounded to float16.
  EXPECT_TRUE(at::equal(w.layers[0].up_proj, ref.layers[0].up_proj.to(at::kHalf).to(at::kFloat)));
  EXPECT_FALSE(at::equal(w.layers[0].up_proj, ref.layers[0].up_proj));
  auto bf = skvq::load_model(path, at::kBFloat16);
  EXPECT_EQ(bf.layers[0].up_proj.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(bf.layers[0].up_proj, w.layers[0].up_proj.to(at::kBFloat16)));
}

TEST(Gguf, EveryTruncationIsAClearError) {
  auto ref = skvq::load_model(t::stories_model());
  const std::string full = stories_gguf(ref, false);
  // Every cut inside the header and tensor infos, then coarser steps through the data.
  const size_t header = 4096;
  for (size_t n = 0; n < full.size(); n += n < header ? 1 : 4093) {
    const std::string path = write("cut.gguf", full.substr(0, n));
    EXPECT_THROW(skvq::gguf::File f(path), skvq::FileError) << n << " bytes";
  }
}

TEST(Gguf, MalformedHeadersNameTheProblem) {
  auto file = [](const GgufBuilder& b) { return write("bad.gguf", b.build()); };
  auto open = [](const std::string& p) { return [p] { skvq::gguf::File f(p); }; };
  {
    std::string p = write("magic.gguf", "GGUX" + std::string(60, '\0'));
    expect_error(open(p), p, "not a GGUF file (wrong magic)");
  }
  for (uint32_t v : {1u, 4u}) {
    GgufBuilder b;
    b.version = v;
    std::string p = file(b);
    expect_error(open(p), p, "unsupported GGUF version " + std::to_string(v));
  }
  {
    std::string bytes = "GGUF";
    GgufBuilder::put<uint32_t>(bytes, 3);
    GgufBuilder::put<uint64_t>(bytes, uint64_t(1) << 60);  // tensor count
    GgufBuilder::put<uint64_t>(bytes, 0);
    std::string p = write("count.gguf", bytes + std::string(64, '\0'));
    expect_error(open(p), p, "tensor count");
  }
  {
    GgufBuilder b;
    std::string v;
    GgufBuilder::put<uint64_t>(v, 1000);  // string length past the end
    v += "abc";
    b.kv_raw("general.name", GgufBuilder::STR, v);
    std::string p = file(b);
    expect_error(open(p), p, "runs past the end");
  }
  {
    GgufBuilder b;
    std::string v;
    GgufBuilder::put<uint32_t>(v, GgufBuilder::U64);
    GgufBuilder::put<uint64_t>(v, uint64_t(1) << 62);  // array count
    b.kv_raw("x.arr", GgufBuilder::ARR, v);
    std::string p = file(b);
    expect_error(open(p), p, "array of 4611686018427387904 uint64 elements runs past the end");
  }
  {
    GgufBuilder b;
    std::string v;
    for (int d = 0; d < 9; ++d) {
      GgufBuilder::put<uint32_t>(v, GgufBuilder::ARR);
      GgufBuilder::put<uint64_t>(v, 1);
    }
    GgufBuilder::put<uint32_t>(v, GgufBuilder::U8);
    GgufBuilder::put<uint64_t>(v, 0);
    b.kv_raw("x.nested", GgufBuilder::ARR, v);
    std::string p = file(b);
    expect_error(open(p), p, "nested deeper than 8");
  }
  {
    GgufBuilder b;
    b.kv_raw("x.t", 13, std::string(8, '\0'));
    std::string p = file(b);
    expect_error(open(p), p, "metadata value type 13 is unknown");
  }
  {
    GgufBuilder b;
    b.kv_raw("x.b", GgufBuilder::BOOL, std::string(1, 2));
    std::string p = file(b);
    expect_error(open(p), p, "bool value 2");
  }
  {
    GgufBuilder b;
    b.u32("x.a", 1);
    b.u32("x.a", 2);
    std::string p = file(b);
    expect_error(open(p), p, "'x.a' appears twice");
  }
  const float data[32] = {};
  {
    GgufBuilder b;
    b.tensor("t", {32}, 99, std::string(128, '\0'));
    std::string p = file(b);
    expect_error(open(p), p, "unknown ggml type 99");
  }
  {
    GgufBuilder b;
    b.tensor_f32("t", {2, 2, 2, 2, 2}, data, 32);
    std::string p = file(b);
    expect_error(open(p), p, "has 5 dimensions");
  }
  {
    GgufBuilder b;
    b.tensor_f32("t", {uint64_t(1) << 40, uint64_t(1) << 40}, data, 32);
    std::string p = file(b);
    expect_error(open(p), p, "absurd shape");
  }
  {
    GgufBuilder b;
    b.tensor_f32("t", {64, 64}, data, 32);  // claims 16 KiB, holds 128 bytes
    std::string p = file(b);
    expect_error(open(p), p, "lies beyond the end of the file");
  }
  {
    GgufBuilder b;
    b.tensor("t", {33}, 8, std::string(34, '\0'));  // Q8_0 rows are multiples of 32
    std::string p = file(b);
    expect_error(open(p), p, "not a multiple of the Q8_0 block size 32");
  }
  {
    GgufBuilder b;
    b.tensor_f32("t", {32}, data, 32);
    b.tensor_f32("t", {32}, data, 32);
    std::string p = file(b);
    expect_error(open(p), p, "tensor name 't' appears twice");
  }
}

TEST(Gguf, ModelErrorsNameTheTensorOrKey) {
  auto ref = skvq::load_model(t::stories_model());
  {
    std::string p = write("arch.gguf", stories_gguf(ref, false, "gptneox"));
    expect_error([&] { skvq::load_model(p); }, p, "unsupported architecture 'gptneox'");
  }
  {
    auto bad = ref;
    bad.layers[1].v_proj = bad.layers[1].v_proj.narrow(0, 0, 16).contiguous();
    std::string p = write("shape.gguf", stories_gguf(bad, false));
    expect_error([&] { skvq::load_model(p); }, p, "layers.1.v_proj has shape");
  }
  {
    GgufBuilder b;
    b.str("general.architecture", "llama");
    std::string p = write("nokeys.gguf", b.build());
    expect_error([&] { skvq::load_model(p); }, p, "missing metadata key 'llama.embedding_length'");
  }
  {
    // An IQ2_XXS tensor: the type is known, its dequantization is not supported.
    GgufBuilder b;
    b.str("general.architecture", "llama");
    b.tensor("token_embd.weight", {256, 1}, 16, std::string(66, '\0'));
    std::string p = write("iq.gguf", b.build());
    EXPECT_THROW(skvq::load_model(p), skvq::FileError);
  }
  {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "gpt2");
    b.strs("tokenizer.ggml.tokens", {"a", "b", "ab"});
    std::string p = write("nomerges.gguf", b.build());
    expect_error([&] { skvq::load_gguf_tokenizer(p); }, p, "missing metadata array 'tokenizer.ggml.merges'");
    GgufBuilder c = b;
    c.strs("tokenizer.ggml.merges", {"a b"});
    c.str("tokenizer.ggml.pre", "klingon");
    std::string q = write("pre.gguf", c.build());
    expect_error([&] { skvq::load_gguf_tokenizer(q); }, q, "unsupported tokenizer.ggml.pre 'klingon'");
    GgufBuilder d = b;
    d.strs("tokenizer.ggml.merges", {"a b"});
    std::string r = write("ok.gguf", d.build());
    auto tok = skvq::load_gguf_tokenizer(r);
    EXPECT_EQ(tok->encode("ab", false), (std::vector<int32_t>{2}));
  }
}

}  // namespace
