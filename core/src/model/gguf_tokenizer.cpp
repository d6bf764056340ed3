// The tokenizer stored in a GGUF file's metadata (tokenizer.ggml.*), rebuilt as the equivalent
// tokenizer.json object so that one BPE implementation serves both formats.
//   tokenizer.ggml.model "gpt2": byte-level BPE with tokenizer.ggml.merges; the pre-tokenizer
//     regexes are chosen by tokenizer.ggml.pre (the names llama.cpp's converter writes).
//   tokenizer.ggml.model "llama": sentencepiece BPE with byte fallback, merges ranked by the
//     merged piece's score (tokenizer.ggml.scores).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "model/gguf_file.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"

namespace skvq {
namespace {
using json = nlohmann::json;

// ggml token types (llama.cpp's llama_token_type).
enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

const char* const kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json split(const char* pattern) {
  return {{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
}
json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// The pre-tokenizer of a byte-level BPE vocabulary named by tokenizer.ggml.pre.
json gpt2_pre_tokenizer(const std::string& pre, const std::string& path) {
  if (pre == "smollm" || pre == "starcoder" || pre == "refact")
    return {{"type", "Sequence"},
            {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}};
  if (pre == "default" || pre == "gpt-2" || pre == "gpt2") return byte_level(true);
  if (pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe")
    return {{"type", "Sequence"}, {"pretokenizers", {split(kLlama3Pattern), byte_level(false)}}};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen")
    return {{"type", "Sequence"}, {"pretokenizers", {split(kQwen2Pattern), byte_level(false)}}};
  throw FileError(path, "unsupported tokenizer.ggml.pre '" + pre +
                            "' (supported: smollm, starcoder, gpt-2, default, llama-bpe, qwen2)");
}

const json& array_of(const gguf::File& f, const std::string& key, size_t n) {
  if (!f.has(key) || !f.metadata()[key].is_array())
    throw FileError(f.path(), "missing metadata array '" + key + "'");
  const json& a = f.metadata()[key];
  if (n && a.size() != n)
    throw FileError(f.path(), "'" + key + "' has " + std::to_string(a.size()) + " entries, expected " + std::to_string(n));
  return a;
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  const gguf::File f(path);
  const std::string model = f.get_string("tokenizer.ggml.model");
  const json& tokens = array_of(f, "tokenizer.ggml.tokens", 0);
  const size_t n = tokens.size();
  if (n == 0) throw FileError(path, "tokenizer.ggml.tokens is empty");
  std::vector<int64_t> types(n, kNormal);
  if (f.has("tokenizer.ggml.token_type")) {
    const json& t = array_of(f, "tokenizer.ggml.token_type", n);
    for (size_t i = 0; i < n; ++i) {
      if (!t[i].is_number_integer()) throw FileError(path, "tokenizer.ggml.token_type entries must be integers");
      types[i] = t[i].get<int64_t>();
    }
  }
  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < n; ++i) {
    if (!tokens[i].is_string()) throw FileError(path, "tokenizer.ggml.tokens entry " + std::to_string(i) + " is not a string");
    const std::string& s = tokens[i].get_ref<const std::string&>();
    vocab[s] = i;
    if (types[i] == kControl || types[i] == kUserDefined)
      added.push_back({{"id", i}, {"content", s}, {"special", types[i] == kControl}});
  }
  json tj = {{"added_tokens", added}, {"normalizer", nullptr}};
  if (model == "gpt2") {
    const json& merges = array_of(f, "tokenizer.ggml.merges", 0);
    if (merges.empty()) throw FileError(path, "tokenizer.ggml.merges is empty: a gpt2 tokenizer needs its merges");
    tj["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", false}};
    tj["pre_tokenizer"] = gpt2_pre_tokenizer(f.has("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "default", path);
    tj["decoder"] = {{"type", "ByteLevel"}};
  } else if (model == "llama") {
    // Sentencepiece: merge (a, b) exists when a + b is a piece; the piece's score ranks it.
    const json& scores = array_of(f, "tokenizer.ggml.scores", n);
    for (const json& s : scores)  // found by fuzzing: strings here threw json::type_error
      if (!s.is_number()) throw FileError(path, "tokenizer.ggml.scores entries must be numbers");
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a].get<double>() > scores[b].get<double>(); });
    json merges = json::array();
    for (size_t id : order) {
      if (types[id] != kNormal && types[id] != kUserDefined) continue;
      const std::string& s = tokens[id].get_ref<const std::string&>();
      for (size_t cut = 1; cut < s.size(); ++cut) {
        if ((static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) continue;  // inside a code point
        const std::string a = s.substr(0, cut), b = s.substr(cut);
        if (vocab.contains(a) && vocab.contains(b)) merges.push_back(json::array({a, b}));
      }
    }
    const int64_t unk = f.has("tokenizer.ggml.unknown_token_id") ? f.get_int("tokenizer.ggml.unknown_token_id") : 0;
    tj["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"byte_fallback", true}, {"fuse_unk", true},
                   {"unk_token", unk >= 0 && static_cast<size_t>(unk) < n ? tokens[unk] : json(nullptr)}};
    const bool prefix = f.get_bool("tokenizer.ggml.add_space_prefix", true);
    tj["normalizer"] = {{"type", "Sequence"},
                        {"normalizers", prefix ? json::array({{{"type", "Prepend"}, {"prepend", "\u2581"}},
                                                              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}})
                                               : json::array({{{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}})}};
  } else {
    throw FileError(path, "unsupported tokenizer.ggml.model '" + model + "' (supported: gpt2, llama)");
  }
  json config = json::object();
  auto special = [&](const char* key, const char* field) {
    if (!f.has(key)) return;
    const int64_t id = f.get_int(key);
    if (id < 0 || static_cast<size_t>(id) >= n) throw FileError(path, std::string(key) + " " + std::to_string(id) + " is outside the vocabulary");
    config[field] = tokens[id];
  };
  special("tokenizer.ggml.bos_token_id", "bos_token");
  special("tokenizer.ggml.eos_token_id", "eos_token");
  config["add_bos_token"] = f.get_bool("tokenizer.ggml.add_bos_token", model == "llama");
  if (f.has("tokenizer.chat_template")) config["chat_template"] = f.get_string("tokenizer.chat_template");
  try {
    return make_hf_tokenizer(tj, config, path);
  } catch (const json::exception& e) {
    // e.g. token strings that are not UTF-8 (found by fuzzing): a bad file, not a bug.
    throw FileError(path, std::string("tokenizer metadata cannot be used: ") + e.what());
  }
}

}  // namespace skvq
