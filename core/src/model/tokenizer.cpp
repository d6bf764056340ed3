// Tokenizer base class (sequence decode) and load_tokenizer_for (where a model's tokenizer is).
#include <filesystem>
#include <string>
#include <vector>

#include "skvq/error.h"
#include "skvq/tokenizer.h"
#include "skvq/weights.h"

namespace skvq {
namespace fs = std::filesystem;

// The first token is decoded as if it followed BOS, so a sentencepiece-style leading space
// ("▁Once" / " Once") is dropped as llama2.c and Hugging Face do at the start of a text.
std::string Tokenizer::decode(const std::vector<int32_t>& tokens) const {
  std::string out;
  int32_t prev = bos_id();
  for (int32_t t : tokens) {
    if (t == bos_id() || t == eos_id()) {
      prev = t;
      continue;
    }
    out += decode_token(prev, t);
    prev = t;
  }
  return out;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::unique_ptr<Tokenizer> load_by_kind(const std::string& path, int32_t vocab_size) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path json = fs::path(path) / "tokenizer.json";
    if (!fs::exists(json, ec))
      throw FileError(path, "directory has no tokenizer.json");
    return load_hf_tokenizer(json.string());
  }
  if (ends_with(path, ".json")) return load_hf_tokenizer(path);
  if (is_gguf_file(path)) return load_gguf_tokenizer(path);
  return load_llama2c_tokenizer(path, vocab_size);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_for(const std::string& model_path,
                                              const std::string& explicit_path, int32_t vocab_size) {
  if (!explicit_path.empty()) {
    std::error_code ec;
    if (!fs::exists(explicit_path, ec)) throw FileError(explicit_path, "tokenizer file not found");
    return load_by_kind(explicit_path, vocab_size);
  }
  std::error_code ec;
  fs::path model(model_path);
  std::vector<fs::path> candidates;
  if (fs::is_directory(model, ec)) {
    candidates.push_back(model / "tokenizer.json");
  } else if (is_gguf_file(model_path)) {
    return load_gguf_tokenizer(model_path);
  } else {
    fs::path dir = model.parent_path();
    if (dir.empty()) dir = ".";
    if (vocab_size > 0) candidates.push_back(dir / ("tok" + std::to_string(vocab_size) + ".bin"));
    candidates.push_back(dir / "tokenizer.bin");
    candidates.push_back(dir / "tokenizer.json");
  }
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return load_by_kind(c.string(), vocab_size);
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  throw FileError(model_path, "no tokenizer found (looked for " + looked +
                                  "); pass the tokenizer file explicitly");
}

}  // namespace skvq
