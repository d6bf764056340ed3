// llama2.c checkpoint reader (karpathy/llama2.c run.c format, "version 0").
#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>

#include "model/qk_layout.h"
#include "model/weights_check.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/weights.h"

namespace skvq {

ModelWeights load_llama2c(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 28) throw FileError(path, "truncated llama2.c checkpoint: " + std::to_string(bytes.size()) + " bytes, the header alone needs 28");
  int32_t h[7];
  std::memcpy(h, bytes.data(), sizeof h);
  ModelWeights w;
  auto& c = w.config;
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = h[0];
  c.intermediate_size = h[1];
  c.num_hidden_layers = h[2];
  c.num_attention_heads = h[3];
  c.num_key_value_heads = h[4];
  const bool shared = h[5] > 0;
  c.vocab_size = h[5] > 0 ? h[5] : -static_cast<int64_t>(h[5]);
  c.max_position_embeddings = h[6];
  for (int i = 0; i < 7; ++i)
    if (h[i] == 0 || (i != 5 && h[i] < 0) || std::abs(static_cast<int64_t>(h[i])) > (1 << 24))
      throw FileError(path, "not a llama2.c checkpoint: implausible header value " + std::to_string(h[i]) + " in field " + std::to_string(i));
  if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
    throw FileError(path, "hidden size is not a multiple of the number of heads");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = shared;
  c.validate(path);

  const int64_t D = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers,
                V = c.vocab_size, KV = c.kv_channels(), S = c.max_position_embeddings,
                hd = c.head_dim;
  // Each field is at most 2^24, so products of three fields overflow int64: count the floats
  // with overflow checks and compare against the file size before touching the payload.
  const int64_t payload = static_cast<int64_t>(bytes.size()) - 28;
  int64_t expected_floats = 0;
  bool overflow = false;
  auto add = [&](std::initializer_list<int64_t> factors) {
    int64_t prod = 1;
    for (int64_t f : factors) overflow = overflow || __builtin_mul_overflow(prod, f, &prod);
    overflow = overflow || __builtin_add_overflow(expected_floats, prod, &expected_floats);
  };
  add({V, D});                     // token embedding
  add({L, D});                     // rms_att
  add({L, D, D});                  // wq
  add({2, L, KV, D});              // wk, wv
  add({L, D, D});                  // wo
  add({L, D});                     // rms_ffn
  add({3, L, F, D});               // w1, w2, w3
  add({D});                        // final norm
  add({S, hd});                    // freq_cis_real + freq_cis_imag (hd/2 each)
  if (!shared) add({V, D});        // classifier
  int64_t expected_bytes = 0;
  overflow = overflow || __builtin_mul_overflow(expected_floats, int64_t{4}, &expected_bytes) ||
             __builtin_add_overflow(expected_bytes, int64_t{28}, &expected_bytes);
  if (overflow)
    throw FileError(path, "not a llama2.c checkpoint: the header (dim " + std::to_string(D) + ", hidden " +
                              std::to_string(F) + ", layers " + std::to_string(L) + ", vocab " + std::to_string(V) +
                              ", seq_len " + std::to_string(S) + ") implies more weights than int64 can count");
  const int64_t have = payload / 4;
  if (have < expected_floats)
    throw FileError(path, "truncated llama2.c checkpoint: " + std::to_string(bytes.size()) +
                              " bytes, the header implies " + std::to_string(expected_bytes));
  if (have > expected_floats || payload % 4 != 0)
    throw FileError(path, "llama2.c checkpoint is " + std::to_string(bytes.size()) +
                              " bytes, the header implies " + std::to_string(expected_bytes) +
                              " (wrong format or version?)");

  const float* p = reinterpret_cast<const float*>(bytes.data() + 28);
  auto take = [&](std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    auto t = at::from_blob(const_cast<float*>(p), shape, at::kFloat).clone();
    p += n;
    return t;
  };
  w.embed_tokens = take({V, D});
  auto rms_att = take({L, D});
  auto wq = take({L, D, D});
  auto wk = take({L, KV, D});
  auto wv = take({L, KV, D});
  auto wo = take({L, D, D});
  auto rms_ffn = take({L, D});
  auto w1 = take({L, F, D});
  auto w2 = take({L, D, F});
  auto w3 = take({L, F, D});
  w.norm = take({D});
  p += S * hd;  // freq_cis_real and freq_cis_imag (recomputed, not stored)
  w.lm_head = shared ? w.embed_tokens : take({V, D});
  for (int64_t i = 0; i < L; ++i) {
    LayerWeights l;
    l.input_layernorm = rms_att[i].clone();
    l.q_proj = interleaved_to_rotate_half(wq[i], c.num_attention_heads, hd);
    l.k_proj = interleaved_to_rotate_half(wk[i], c.num_key_value_heads, hd);
    l.v_proj = wv[i].clone();
    l.o_proj = wo[i].clone();
    l.post_attention_layernorm = rms_ffn[i].clone();
    l.gate_proj = w1[i].clone();
    l.down_proj = w2[i].clone();
    l.up_proj = w3[i].clone();
    w.layers.push_back(std::move(l));
  }
  w.source_path = path;
  w.sha256 = sha256_hex(bytes);
  w.name = std::filesystem::path(path).stem().string();
  w.check_shapes();
  check_finite(w);
  return w;
}

}  // namespace skvq
