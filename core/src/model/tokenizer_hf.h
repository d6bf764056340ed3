#pragma once
// Hugging Face tokenizer.json BPE tokenizer (private): the HfTokenizer class and the UTF-8 and
// pre-tokenizer helpers shared by tokenizer_hf.cpp, tokenizer_hf_load.cpp, tokenizer_hf_utf8.cpp.
//
// BPE models of two kinds:
//  - sentencepiece-style BPE with byte_fallback (Llama-2, Mistral): spaces become "▁" (normalizer
//    Prepend + Replace, or a Metaspace pre-tokenizer), characters missing from the vocabulary
//    become <0xXX> byte tokens.
//  - byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM): text is split by the pre-tokenizer's
//    regexes (Split, ByteLevel use_regex, Digits; PCRE2 with Unicode properties), each byte is
//    mapped to a printable character (GPT-2 bytes_to_unicode) and the words are merged.
// Merges apply lowest rank first, leftmost first among equal ranks. Byte-level BPE ranks each pair
// by its own position in "merges" (as Hugging Face tokenizers and GPT-2 do); for sentencepiece-style
// BPE, merges that produce the same token share the rank of the best of them (sentencepiece's
// rule: the merged piece's score decides).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/regex_split.h"
#include "skvq/tokenizer.h"

namespace skvq::hf {
using json = nlohmann::json;

const char* const kMeta = "\xE2\x96\x81";  // U+2581 "▁"

// ---- UTF-8 (tokenizer_hf_utf8.cpp; decode_cp inline: it runs once per code point) --------

// Decodes the code point at s[i]; sets len to its byte length. Invalid bytes decode to
// 0xFFFFFFFF with length 1.
inline uint32_t decode_cp(const std::string& s, size_t i, size_t& len) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  uint32_t cp;
  if (c < 0x80) {
    len = 1;
    return c;
  } else if ((c >> 5) == 6) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c >> 4) == 14) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c >> 3) == 30) {
    len = 4;
    cp = c & 0x07;
  } else {
    len = 1;
    return 0xFFFFFFFFu;
  }
  if (i + len > s.size()) {
    len = 1;
    return 0xFFFFFFFFu;
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) {
      len = 1;
      return 0xFFFFFFFFu;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  return cp;
}

void append_utf8(std::string& out, uint32_t cp);
std::string replace_all(const std::string& s, const std::string& from, const std::string& to);

// ---- the tokenizer -------------------------------------------------------------------------

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Merge {
  int32_t rank;
  int32_t merged;
};

struct AddedToken {
  std::string content;
  int32_t id;
  bool special;
};

// Loading (tokenizer.json parsing): tokenizer_hf_load.cpp; encoding, the BPE merge engine and
// decoding: tokenizer_hf.cpp.
class HfTokenizer final : public Tokenizer {
 public:
  /// Reads tokenizer.json at `path` (and tokenizer_config.json beside it, when present).
  explicit HfTokenizer(const std::string& path);
  /// From an in-memory tokenizer.json object and tokenizer_config.json object (null: none);
  /// `source` names the file they came from in errors (e.g. a GGUF file).
  HfTokenizer(const json& root, const json& config, const std::string& source);

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  std::string decode_token(int32_t prev, int32_t token) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  bool adds_bos() const override { return add_bos_token_ && bos_ >= 0; }
  int32_t eos_id() const override { return eos_; }
  std::string piece(int32_t token) const override;
  std::string chat_template() const override { return chat_template_; }

 private:
  void load(const json& root);
  void read_normalizer(const json& n);
  void read_pre_tokenizer(const json& p);
  void load_special_tokens(const json& config, const std::string& config_path);
  void guess_special_tokens();
  void add_splitter(const std::string& pattern);
  void encode_segment(const std::string& raw, bool first, std::vector<int32_t>& out,
                      std::unordered_map<std::string, std::vector<int32_t>>& cache) const;
  // BPE over one word: initial symbols are code points (vocab id, else byte tokens, else unk).
  std::vector<int32_t> bpe_word(const std::string& w) const;
  void merge(std::vector<int32_t>& ids) const;

  std::string path_;
  std::vector<std::string> pieces_;
  std::vector<char> is_added_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<AddedToken> added_;
  std::unordered_multimap<unsigned char, size_t> added_by_byte_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t unk_ = -1, bos_ = -1, eos_ = -1;
  bool add_bos_token_ = true;
  int post_processor_bos_ = -1;  // 1: tokenizer.json's post-processor adds BOS, 0: it does not, -1: none
  static int template_adds_first_special(const json& post_processor);
  std::string chat_template_;  // tokenizer_config.json "add_bos_token" (GGUF tokenizer.ggml.add_bos_token)
  bool byte_fallback_ = false, ignore_merges_ = false, fuse_unk_ = false;
  // sentencepiece style
  std::string prepend_;
  std::vector<std::pair<std::string, std::string>> replaces_;
  bool metaspace_ = false, meta_split_ = true;
  std::string meta_repl_ = kMeta, meta_scheme_ = "always";
  int32_t byte_id_[256];
  std::vector<int> byte_value_;
  // byte level
  bool byte_level_ = false, add_prefix_space_ = false;
  std::vector<std::shared_ptr<RegexSplitter>> splitters_;  // applied in order, each to every piece
  std::string byte_char_[256];
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;
};

}  // namespace skvq::hf
