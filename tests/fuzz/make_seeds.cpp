// fuzz_make_seeds OUT DATA_DIR REPO_DIR: writes the seed corpus of every fuzz target into
// OUT/<target>/, made by the engine itself: a tiny llama2.c checkpoint and its Hugging Face and
// GGUF forms (save_hf_model, GgufBuilder), stories260K's tokenizer and its tokenizer.json
// (convert_llama2c_tokenizer), a calibration of stories260K (calibrate, Calibration::save), batch
// files, configuration strings and chat templates. Every seed is a few KB at most.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "gguf_builder.h"
#include "model/safetensors.h"
#include "skvq/calibration.h"
#include "skvq/common.h"
#include "skvq/model.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_out;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / name, std::ios::binary | std::ios::trunc) << bytes;
}

std::string head(const std::string& path, size_t n) {
  std::string s = skvq::read_file(path);
  return s.substr(0, std::min(n, s.size()));
}

// A llama2.c checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 1 KV head, vocab 16, seq 4.
std::string tiny_llama2c(bool shared) {
  const int32_t D = 8, F = 16, L = 1, H = 2, KVH = 1, V = 16, S = 4, hd = D / H, KV = KVH * hd;
  std::string b;
  for (int32_t v : {D, F, L, H, KVH, shared ? V : -V, S}) skvq::test::GgufBuilder::put<int32_t>(b, v);
  const int64_t floats = V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D + 3 * L * F * D + D + S * hd +
                         (shared ? 0 : V * D);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.2f);
  for (int64_t i = 0; i < floats; ++i) skvq::test::GgufBuilder::put<float>(b, normal(rng));
  return b;
}

std::string f32_bytes(const at::Tensor& x) {
  auto c = x.to(at::kFloat).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * 4);
}

// `w` as a GGUF llama file with a tokenizer of model `tok_model` ("gpt2" or "llama").
std::string tiny_gguf(const skvq::ModelWeights& w, const std::string& tok_model) {
  const auto& c = w.config;
  skvq::test::GgufBuilder b;
  b.str("general.architecture", "llama");
  b.u32("llama.context_length", c.max_position_embeddings);
  b.u32("llama.embedding_length", c.hidden_size);
  b.u32("llama.block_count", c.num_hidden_layers);
  b.u32("llama.feed_forward_length", c.intermediate_size);
  b.u32("llama.attention.head_count", c.num_attention_heads);
  b.u32("llama.attention.head_count_kv", c.num_key_value_heads);
  b.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  b.f32("llama.rope.freq_base", 10000.f);
  b.u32("llama.vocab_size", c.vocab_size);
  std::vector<std::string> tokens{"<s>", "</s>", "a", "b", "c", " ", "ab", "abc", "Ġ", "Ġa", "<|im_start|>", "<|im_end|>", "1", "2", "x", "y"};
  b.str("tokenizer.ggml.model", tok_model);
  b.strs("tokenizer.ggml.tokens", tokens);
  std::vector<int32_t> types(tokens.size(), 1);
  types[0] = types[1] = types[10] = types[11] = 3;
  b.nums<int32_t>("tokenizer.ggml.token_type", skvq::test::GgufBuilder::I32, types);
  if (tok_model == "gpt2") {
    b.strs("tokenizer.ggml.merges", {"a b", "ab c", "Ġ a"});
    b.str("tokenizer.ggml.pre", "smollm");
  } else {
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
    b.nums<float>("tokenizer.ggml.scores", skvq::test::GgufBuilder::F32, scores);
  }
  b.u32("tokenizer.ggml.bos_token_id", 0);
  b.u32("tokenizer.ggml.eos_token_id", 1);
  b.boolean("tokenizer.ggml.add_bos_token", tok_model == "llama");
  b.str("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}");
  auto add = [&](const std::string& name, const at::Tensor& x) {
    std::vector<uint64_t> ne(x.sizes().rbegin(), x.sizes().rend());
    if (x.dim() == 2 && tok_model == "llama") {  // F16 for the 2-D weights in one of the two seeds
      auto h = x.to(at::kHalf).contiguous();
      b.tensor(name, ne, 1, std::string(static_cast<const char*>(h.data_ptr()), h.numel() * 2));
    } else {
      b.tensor(name, ne, 0, f32_bytes(x));
    }
  };
  add("token_embd.weight", w.embed_tokens);
  add("output_norm.weight", w.norm);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", l.input_layernorm);
    add(p + "ffn_norm.weight", l.post_attention_layernorm);
    add(p + "attn_q.weight", l.q_proj);
    add(p + "attn_k.weight", l.k_proj);
    add(p + "attn_v.weight", l.v_proj);
    add(p + "attn_output.weight", l.o_proj);
    add(p + "ffn_gate.weight", l.gate_proj);
    add(p + "ffn_up.weight", l.up_proj);
    add(p + "ffn_down.weight", l.down_proj);
  }
  return b.build();
}

// A small byte-level BPE tokenizer.json (GPT-2 style, ByteLevel + Digits pre-tokenizers).
json byte_level_tokenizer_json() {
  json vocab = json::object();
  int id = 0;
  for (const char* s : {"<|endoftext|>", "a", "b", "c", "Ġ", "1", "2", "ab", "abc", "Ġa", "x", "Ċ"}) vocab[s] = id++;
  return {{"version", "1.0"},
          {"added_tokens", json::array({{{"id", 0}, {"content", "<|endoftext|>"}, {"special", true}}})},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "Sequence"},
                             {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}})}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"a b", "ab c", "Ġ a"})}, {"byte_fallback", false}}}};
}

// `j` with every string that holds a path replaced by its last component (the batch target only
// reads files in its scratch folder).
json basenames(json j) {
  if (j.is_string() && j.get<std::string>().find('/') != std::string::npos)
    return fs::path(j.get<std::string>()).filename().string();
  if (j.is_object() || j.is_array())
    for (auto& v : j) v = basenames(v);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fuzz_make_seeds OUT DATA_DIR REPO_DIR\n";
    return 2;
  }
  g_out = argv[1];
  const fs::path data = argv[2], repo = argv[3];
  skvq::set_threads(1);
  try {
    const std::string stories = (data / "models/stories260K/stories260K.bin").string();
    const std::string tok512 = (data / "models/stories260K/tok512.bin").string();
    const fs::path work = g_out / "_work";
    fs::create_directories(work);

    // llama2.c checkpoints and tokenizer.
    seed("llama2c_model", "tiny_shared.bin", tiny_llama2c(true));
    seed("llama2c_model", "tiny_classifier.bin", tiny_llama2c(false));
    seed("llama2c_model", "stories260K_head.bin", head(stories, 2048));
    seed("llama2c_tokenizer", "tok512.bin", skvq::read_file(tok512));

    // Hugging Face forms of the tiny model; safetensors of a few tensors.
    std::ofstream((work / "tiny.bin").string(), std::ios::binary) << tiny_llama2c(true);
    const skvq::ModelWeights tiny = skvq::load_llama2c((work / "tiny.bin").string());
    skvq::save_hf_model(tiny, (work / "hf").string());
    seed("hf_config", "tiny_config.json", skvq::read_file((work / "hf/config.json").string()));
    for (const char* m : {"llama3_rope", "llama_bf16", "mistral", "qwen2_bias_tied"})
      seed("hf_config", std::string(m) + ".json", skvq::read_file((repo / "tests/reference/tiny" / m / "config.json").string()));
    seed("hf_config", "llama-2-7b.json", skvq::read_file((repo / "examples/llama-2-7b-config.json").string()));
    seed("safetensors", "tiny_model.safetensors", skvq::read_file((work / "hf/model.safetensors").string()));
    skvq::safetensors::write((work / "two.safetensors").string(),
                             {{"a", at::arange(6, at::kFloat).view({2, 3})}, {"b", at::ones({1}, at::kFloat)}},
                             {{"format", "pt"}});
    seed("safetensors", "two.safetensors", skvq::read_file((work / "two.safetensors").string()));
    seed("safetensors", "llama_bf16_head.safetensors", head((repo / "tests/reference/tiny/llama_bf16/model.safetensors").string(), 4096));

    // tokenizer.json: stories260K's converted tokenizer and a byte-level one.
    skvq::convert_llama2c_tokenizer(tok512, 512, (work / "tok").string());
    seed("hf_tokenizer", "stories260K_tokenizer.json", skvq::read_file((work / "tok/tokenizer.json").string()));
    seed("hf_tokenizer", "byte_level_tokenizer.json", byte_level_tokenizer_json().dump(1));

    // GGUF: the tiny model with a gpt2 (F32) and a llama (F16) tokenizer.
    seed("gguf", "tiny_gpt2.gguf", tiny_gguf(tiny, "gpt2"));
    seed("gguf", "tiny_llama_f16.gguf", tiny_gguf(tiny, "llama"));

    // Calibration of stories260K: 2 samples of 16 tokens, group sizes 8 and 16.
    {
      skvq::Model model(skvq::load_llama2c(stories));
      auto tok = skvq::load_llama2c_tokenizer(tok512, 512);
      const auto tokens = tok->encode(skvq::read_text((data / "text/tinystories/tinystories_val.txt").string(), 2000), true);
      skvq::CalibrationOptions opt;
      opt.samples = 2;
      opt.seq_len = 16;
      opt.group_sizes = {8, 16};
      opt.kmeans_restarts = 2;
      opt.kmeans_iterations = 10;
      skvq::Calibration cal = skvq::calibrate(model, tokens, opt);
      cal.save((work / "calib.json").string());
      seed("calibration", "stories260K.calib.json", skvq::read_file((work / "calib.json").string()));
      // The same with two layers only, to keep one seed small.
      cal.layers.resize(2);
      cal.num_layers = 2;
      cal.save((work / "calib2.json").string());
      seed("calibration", "two_layers.calib.json", skvq::read_file((work / "calib2.json").string()));
    }

    // Batch files: the examples with paths cut to file names, and one job with every field,
    // naming the batch target's scratch files (model.bin, text.txt).
    std::vector<std::string> configs;
    for (const auto& e : fs::directory_iterator(repo / "examples")) {
      if (e.path().extension() != ".json" || e.path().filename().string().find("config") != std::string::npos) continue;
      json j = json::parse(skvq::read_file(e.path().string()));
      seed("batch", e.path().filename().string(), basenames(j).dump(1));
      for (const auto& c : j.value("configs", json::array())) configs.push_back(c.get<std::string>());
    }
    json full = {{"model", "model.bin"}, {"tokenizer", "text.txt"}, {"device", "cpu"}, {"dtype", "float32"}, {"threads", 1},
                 {"calibration", {{"file", "c.calib.json"}, {"text", "text.txt"}, {"samples", 2}, {"seq_len", 16},
                                  {"group_sizes", {8, 16}}, {"seed", 3}, {"max_bytes", 1000}}},
                 {"ppl", {{"text", "text.txt"}, {"ctx_len", 16}, {"max_chunks", 2}, {"batch", 1}, {"max_bytes", 500}, {"skip_bytes", 10}}},
                 {"configs", {"fp16", "k2-v2-g8-reorder-clip-sink5-fp8"}}, {"db", "x.sqlite"}, {"comment", "seed"}};
    seed("batch", "full.json", full.dump(1));
    json minimal = {{"model", "model.bin"}, {"ppl", {{"text", "text.txt"}}}};
    seed("batch", "minimal.json", minimal.dump());

    // Configuration strings.
    for (const char* c : {"fp16", "fp32", "none", "k2-v2-g128-w128-reorder-pre_rope-clip-sink5-fp8", "k1.5-v2-g8-smooth-clip0.9",
                          "k4-v4-g32-KIVI", "k2-v2-g32-w64-rtn", "k3-v8-g16-w8-sink2", "k16-v2-g8-w4-sink1"})
      configs.push_back(c);
    for (size_t i = 0; i < configs.size(); ++i) seed("quant_config", "config" + std::to_string(i), configs[i]);

    // Chat templates: ChatML as SmolLM2 writes it (with its default system message) and one of
    // each other family.
    seed("chat_template", "chatml.jinja",
         "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
         "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
         "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}");
    seed("chat_template", "llama2.jinja", "{{ bos_token }}[INST] <<SYS>>\n{{ system }}\n<</SYS>>\n\n{{ user }} [/INST]");
    seed("chat_template", "llama3.jinja", "<|start_header_id|>system<|end_header_id|>\n\n{{ content }}<|eot_id|>");
    seed("chat_template", "mistral.jinja", "{{ bos_token }}[INST] {{ message['content'] }} [/INST]");
    fs::remove_all(work);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
