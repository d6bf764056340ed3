// safetensors reading/writing and its corruption errors, config.json parsing, Hugging Face model
// directories (single file and sharded), and the llama2.c -> HF conversion of stories260K.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/safetensors.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"
#include "test_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
namespace st = skvq::safetensors;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A safetensors file from a header object and raw data bytes.
std::string make_file(const json& header, const std::string& data) {
  std::string h = header.dump();
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + h + data;
}

std::string tensor_bytes(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

// Expects fn() to throw FileError for `path` whose message contains `needle`.
template <class F>
void expect_file_error(F&& fn, const std::string& path, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no FileError (wanted: " << needle << ")";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void expect_same_weights(const skvq::ModelWeights& a, const skvq::ModelWeights& b) {
  ASSERT_TRUE(at::equal(a.embed_tokens, b.embed_tokens));
  ASSERT_TRUE(at::equal(a.norm, b.norm));
  ASSERT_TRUE(at::equal(a.lm_head, b.lm_head));
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const auto &x = a.layers[i], &y = b.layers[i];
    EXPECT_TRUE(at::equal(x.input_layernorm, y.input_layernorm)) << i;
    EXPECT_TRUE(at::equal(x.q_proj, y.q_proj)) << i;
    EXPECT_TRUE(at::equal(x.k_proj, y.k_proj)) << i;
    EXPECT_TRUE(at::equal(x.v_proj, y.v_proj)) << i;
    EXPECT_TRUE(at::equal(x.o_proj, y.o_proj)) << i;
    EXPECT_TRUE(at::equal(x.post_attention_layernorm, y.post_attention_layernorm)) << i;
    EXPECT_TRUE(at::equal(x.gate_proj, y.gate_proj)) << i;
    EXPECT_TRUE(at::equal(x.up_proj, y.up_proj)) << i;
    EXPECT_TRUE(at::equal(x.down_proj, y.down_proj)) << i;
    EXPECT_EQ(x.q_bias.defined(), y.q_bias.defined());
    if (x.q_bias.defined()) {
      EXPECT_TRUE(at::equal(x.q_bias, y.q_bias));
      EXPECT_TRUE(at::equal(x.k_bias, y.k_bias));
      EXPECT_TRUE(at::equal(x.v_bias, y.v_bias));
    }
  }
}

json tiny_config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"hidden_size", 64},
          {"intermediate_size", 172},
          {"num_hidden_layers", 5},
          {"num_attention_heads", 8},
          {"num_key_value_heads", 4},
          {"vocab_size", 512},
          {"max_position_embeddings", 512},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", true}};
}

}  // namespace

// ---- safetensors -------------------------------------------------------------------------

TEST(Safetensors, RoundTripFloat32) {
  const std::string dir = skvq::test::temp_dir("st");
  at::manual_seed(7);
  at::Tensor a = at::randn({3, 5});
  at::Tensor b = at::randn({2, 3, 4}).to(at::kDouble);  // written as F32
  at::Tensor c = at::arange(6, at::kFloat);
  at::Tensor empty = at::empty({0, 4});
  st::write(dir + "/t.safetensors", {{"a", a}, {"b", b}, {"c", c}, {"e", empty}}, {{"format", "pt"}});
  const std::string bytes = skvq::read_file(dir + "/t.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 4 * (15 + 24 + 6));
  const st::Header h = st::read_header(dir + "/t.safetensors");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ(h.tensors.at("b").dtype, "F32");
  EXPECT_EQ(h.tensors.at("b").shape, (std::vector<int64_t>{2, 3, 4}));
  auto all = st::read_all(dir + "/t.safetensors");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(at::equal(all.at("a"), a));
  EXPECT_TRUE(at::equal(all.at("b"), b.to(at::kFloat)));
  EXPECT_EQ(all.at("c")[5].item<float>(), 5.0f);
  EXPECT_EQ(all.at("e").sizes().vec(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(all.at("a").scalar_type(), at::kFloat);
}

TEST(Safetensors, ReadsF16AndBF16AsFloat) {
  const std::string dir = skvq::test::temp_dir("st16");
  at::Tensor v = at::tensor({1.5f, -2.25f, 0.0f, 1024.0f, 0.125f, -7.0f}).view({2, 3});
  const std::string h16 = tensor_bytes(v.to(at::kHalf)), b16 = tensor_bytes(v.to(at::kBFloat16));
  json header = {{"h", {{"dtype", "F16"}, {"shape", {2, 3}}, {"data_offsets", {0, 12}}}},
                 {"b", {{"dtype", "BF16"}, {"shape", {2, 3}}, {"data_offsets", {12, 24}}}}};
  write_bytes(dir + "/x.safetensors", make_file(header, h16 + b16));
  auto all = st::read_all(dir + "/x.safetensors");
  EXPECT_EQ(all.at("h").scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(all.at("h"), v));  // all values are exact in both formats
  EXPECT_TRUE(at::equal(all.at("b"), v));
  EXPECT_EQ(all.at("b")[1][1].item<float>(), 0.125f);
}

TEST(Safetensors, CorruptFilesGiveFileErrors) {
  const std::string dir = skvq::test::temp_dir("stbad");
  const std::string data = tensor_bytes(at::arange(4, at::kFloat));
  json good = {{"w", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}};

  const std::string tiny = dir + "/tiny.safetensors";
  write_bytes(tiny, "abc");
  expect_file_error([&] { st::read_header(tiny); }, tiny, "truncated");

  const std::string big = dir + "/big.safetensors";
  std::string f = make_file(good, data);
  f[0] = '\xFF';
  f[1] = '\xFF';
  f[2] = '\x7F';  // header length ~8 MB in a ~100-byte file
  write_bytes(big, f);
  expect_file_error([&] { st::read_header(big); }, big, "larger than the file");

  const std::string dtype = dir + "/dtype.safetensors";
  json bad_dtype = good;
  bad_dtype["w"]["dtype"] = "Q4";
  write_bytes(dtype, make_file(bad_dtype, data));
  expect_file_error([&] { st::read_header(dtype); }, dtype, "unknown dtype 'Q4'");

  const std::string past = dir + "/past.safetensors";
  json bad_off = {{"w", {{"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {0, 32}}}}};
  write_bytes(past, make_file(bad_off, data));
  expect_file_error([&] { st::read_header(past); }, past, "past the end");

  const std::string cut = dir + "/cut.safetensors";
  std::string whole = make_file(good, data);
  write_bytes(cut, whole.substr(0, whole.size() - 5));  // data section cut short
  expect_file_error([&] { st::read_all(cut); }, cut, "truncated");

  const std::string mismatch = dir + "/mismatch.safetensors";
  json bad_size = {{"w", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 16}}}}};
  write_bytes(mismatch, make_file(bad_size, data));
  expect_file_error([&] { st::read_header(mismatch); }, mismatch, "needs 12");

  const std::string garbage = dir + "/garbage.safetensors";
  std::string g = make_file(good, data);
  g[8] = '[';
  g[9] = '!';
  write_bytes(garbage, g);
  expect_file_error([&] { st::read_header(garbage); }, garbage, "malformed");

  const std::string ints = dir + "/ints.safetensors";
  json i64 = {{"w", {{"dtype", "I64"}, {"shape", {2}}, {"data_offsets", {0, 16}}}}};
  write_bytes(ints, make_file(i64, data));
  expect_file_error([&] { st::read_all(ints); }, ints, "cannot be loaded as float");

  expect_file_error([&] { st::read_header(dir + "/none.safetensors"); }, dir + "/none.safetensors",
                    "no such file");
}

// ---- config.json -------------------------------------------------------------------------

TEST(HfConfig, ParsesFieldsAndDefaults) {
  const std::string dir = skvq::test::temp_dir("cfg");
  json j = tiny_config();
  j.erase("num_key_value_heads");
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  j["rope_theta"] = 500000.0;
  j["eos_token_id"] = {128001, 128009};
  j["bos_token_id"] = 128000;
  write_bytes(dir + "/config.json", j.dump());
  skvq::ModelConfig c = skvq::load_hf_config(dir + "/config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 8);  // default = heads
  EXPECT_EQ(c.head_dim, 8);             // default = hidden / heads
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling_factor, 4.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_id, 128001);

  json q = tiny_config();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["head_dim"] = 16;
  q["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2}};
  write_bytes(dir + "/qwen.json", q.dump());
  c = skvq::load_hf_config(dir + "/qwen.json");
  EXPECT_TRUE(c.attention_bias);  // Qwen2 has q/k/v biases even without the field
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rope_scaling_factor, 2.0);
}

TEST(HfConfig, MissingOrBadFieldsNamed) {
  const std::string dir = skvq::test::temp_dir("cfgbad");
  const std::string p = dir + "/config.json";
  json j = tiny_config();
  j.erase("hidden_size");
  write_bytes(p, j.dump());
  expect_file_error([&] { skvq::load_hf_config(p); }, p, "missing field 'hidden_size'");
  j = tiny_config();
  j["num_hidden_layers"] = "five";
  write_bytes(p, j.dump());
  expect_file_error([&] { skvq::load_hf_config(p); }, p, "'num_hidden_layers' must be an integer");
  j = tiny_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  write_bytes(p, j.dump());
  expect_file_error([&] { skvq::load_hf_config(p); }, p, "unsupported rope_scaling type 'yarn'");
  j = tiny_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  write_bytes(p, j.dump());
  expect_file_error([&] { skvq::load_hf_config(p); }, p, "unsupported architecture");
  write_bytes(p, "{\"hidden_size\": 64,");
  expect_file_error([&] { skvq::load_hf_config(p); }, p, "malformed JSON");
}

// ---- whole models ------------------------------------------------------------------------

TEST(HfModel, Stories260KConvertsAndLoadsBackExactly) {
  const skvq::ModelWeights ref = skvq::load_llama2c(skvq::test::stories_model());
  const std::string dir = skvq::test::temp_dir("hf260k") + "/stories260K";
  skvq::save_hf_model(ref, dir);
  ASSERT_TRUE(fs::exists(dir + "/config.json"));
  ASSERT_TRUE(fs::exists(dir + "/model.safetensors"));
  const json cfg = json::parse(skvq::read_file(dir + "/config.json"));
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  EXPECT_EQ(cfg["num_key_value_heads"], 4);
  const st::Header h = st::read_header(dir + "/model.safetensors");
  EXPECT_EQ(h.tensors.count("lm_head.weight"), 0u);  // tied: stored once
  EXPECT_EQ(h.tensors.size(), 2u + 9u * 5u);

  const skvq::ModelWeights w = skvq::load_hf_model(dir);
  EXPECT_EQ(w.config.hidden_size, 64);
  EXPECT_EQ(w.config.intermediate_size, 172);
  EXPECT_EQ(w.config.num_hidden_layers, 5);
  EXPECT_EQ(w.config.num_attention_heads, 8);
  EXPECT_EQ(w.config.num_key_value_heads, 4);
  EXPECT_EQ(w.config.head_dim, 8);
  EXPECT_EQ(w.config.vocab_size, 512);
  EXPECT_EQ(w.config.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(w.config.rms_norm_eps, ref.config.rms_norm_eps);
  EXPECT_TRUE(w.config.tie_word_embeddings);
  EXPECT_TRUE(w.lm_head.is_same(w.embed_tokens));
  EXPECT_EQ(w.name, "stories260K");
  EXPECT_EQ(w.source_path, dir);
  EXPECT_EQ(w.sha256, skvq::sha256_file(dir + "/model.safetensors"));
  EXPECT_EQ(w.num_parameters(), ref.num_parameters());
  expect_same_weights(ref, w);
  // load_model dispatches a directory to load_hf_model
  expect_same_weights(ref, skvq::load_model(dir));
}

TEST(HfModel, ShardedAndUntiedWithBiases) {
  skvq::ModelWeights m = skvq::load_llama2c(skvq::test::stories_model());
  // untie, and add q/k/v biases as Qwen2 has
  m.lm_head = m.embed_tokens.clone() * 0.5;
  m.config.tie_word_embeddings = false;
  m.config.attention_bias = true;
  at::manual_seed(3);
  for (auto& l : m.layers) {
    l.q_bias = at::randn({64});
    l.k_bias = at::randn({32});
    l.v_bias = at::randn({32});
  }
  const std::string base = skvq::test::temp_dir("hfshard");
  skvq::save_hf_model(m, base + "/single");
  const skvq::ModelWeights single = skvq::load_hf_model(base + "/single");
  EXPECT_FALSE(single.config.tie_word_embeddings);
  EXPECT_FALSE(single.lm_head.is_same(single.embed_tokens));
  expect_same_weights(m, single);

  // split the single file into two shards with an index
  const std::string dir = base + "/sharded";
  fs::create_directories(dir);
  fs::copy_file(base + "/single/config.json", dir + "/config.json");
  auto all = st::read_all(base + "/single/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> s1, s2;
  json map = json::object();
  for (auto& [name, t] : all) {
    const bool first = name.find("layers.0.") != std::string::npos ||
                       name.find("layers.1.") != std::string::npos || name.find("embed") != std::string::npos;
    (first ? s1 : s2).emplace_back(name, t);
    map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  st::write(dir + "/model-00001-of-00002.safetensors", s1);
  st::write(dir + "/model-00002-of-00002.safetensors", s2);
  write_bytes(dir + "/model.safetensors.index.json", json({{"metadata", json::object()}, {"weight_map", map}}).dump());
  const skvq::ModelWeights sharded = skvq::load_hf_model(dir);
  expect_same_weights(m, sharded);
  EXPECT_EQ(sharded.sha256, skvq::sha256_hex(skvq::sha256_file(dir + "/model.safetensors.index.json") +
                                             skvq::sha256_file(dir + "/model-00001-of-00002.safetensors") +
                                             skvq::sha256_file(dir + "/model-00002-of-00002.safetensors")));

  // a tensor listed nowhere
  map.erase("model.layers.3.mlp.up_proj.weight");
  write_bytes(dir + "/model.safetensors.index.json", json({{"weight_map", map}}).dump());
  expect_file_error([&] { skvq::load_hf_model(dir); }, dir, "missing tensor 'model.layers.3.mlp.up_proj.weight'");
}

TEST(HfModel, MissingFilesNamed) {
  const std::string dir = skvq::test::temp_dir("hfmiss");
  expect_file_error([&] { skvq::load_hf_model(dir); }, dir + "/config.json", "no such file");
  write_bytes(dir + "/config.json", tiny_config().dump());
  expect_file_error([&] { skvq::load_hf_model(dir); }, dir, "no model.safetensors");
  // wrong shape is caught
  skvq::ModelWeights m = skvq::load_llama2c(skvq::test::stories_model());
  m.layers[2].down_proj = m.layers[2].down_proj.t().contiguous();
  skvq::save_hf_model(m, dir);
  EXPECT_THROW(skvq::load_hf_model(dir), skvq::FileError);
}

TEST(HfModel, ConvertCommandWritesModelAndTokenizer) {
  const std::string skvq_bin = skvq::test::built("app/skvq");
  if (!fs::exists(skvq_bin)) GTEST_SKIP() << "the skvq program is not built (" << skvq_bin << ")";
  const std::string out = skvq::test::temp_dir("cliconv") + "/hf";
  const std::string log = out + ".log";
  const std::string cmd = "'" + skvq_bin + "' convert --model '" + skvq::test::stories_model() + "' --out '" +
                          out + "' > '" + log + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << skvq::read_file(log);
  const std::string printed = skvq::read_file(log);
  EXPECT_NE(printed.find("model.safetensors"), std::string::npos) << printed;
  EXPECT_NE(printed.find("tokenizer.json"), std::string::npos) << printed;
  expect_same_weights(skvq::load_llama2c(skvq::test::stories_model()), skvq::load_hf_model(out));
  auto tok = skvq::load_tokenizer_for(out, "", 512);
  EXPECT_EQ(tok->encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  // a missing input gives a clear error and exit status 1
  const std::string bad = "'" + skvq_bin + "' convert --model /nonexistent.bin --out '" + out + "2' > '" + log +
                          "' 2>&1";
  const int rc = std::system(bad.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  EXPECT_NE(skvq::read_file(log).find("/nonexistent.bin"), std::string::npos);
}
