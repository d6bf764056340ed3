#pragma once
// Tokenizers: llama2.c tokenizer files and Hugging Face tokenizer.json (BPE).
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace skvq {

/// Text <-> token ids. Implementations: llama2.c tokenizer.bin (sentencepiece-style BPE with
/// scores and byte fallback) and tokenizer.json (BPE with byte_fallback as in Llama-2/Mistral,
/// or byte-level BPE as in Llama-3/Qwen2).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// Token ids of `text`; with `add_bos` the BOS id comes first when the model's own tokenizer
  /// starts a text with BOS (adds_bos(); SmolLM2 and Qwen2 do not). Never throws on valid UTF-8;
  /// invalid bytes go through byte fallback.
  virtual std::vector<int32_t> encode(const std::string& text, bool add_bos) const = 0;
  /// The text of one token given the previous token (llama2.c drops the leading space after
  /// BOS; byte tokens <0xXX> become raw bytes).
  virtual std::string decode_token(int32_t prev, int32_t token) const = 0;
  /// The text of a sequence of tokens (BOS/EOS omitted).
  virtual std::string decode(const std::vector<int32_t>& tokens) const;
  /// Number of tokens in the vocabulary; BOS and EOS ids (-1 when the tokenizer has none).
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
  /// Whether the model's tokenizer prepends BOS to a text (tokenizer_config.json add_bos_token,
  /// GGUF tokenizer.ggml.add_bos_token; llama2.c: always).
  virtual bool adds_bos() const { return bos_id() >= 0; }
  /// The token's string as stored in the vocabulary (for display).
  virtual std::string piece(int32_t token) const = 0;
  /// The model's chat template (Jinja text from tokenizer_config.json "chat_template", a
  /// chat_template.jinja file beside it, or GGUF tokenizer.chat_template); "" when it has none.
  virtual std::string chat_template() const { return {}; }
  /// sha256 (hex) of what defines this tokenizer's output: the canonical tokenizer.json and
  /// tokenizer_config.json objects (HF, GGUF metadata) or the pieces and scores read from a
  /// llama2.c tokenizer file. Part of a model's identity in the run store.
  const std::string& content_sha256() const { return content_sha256_; }

 protected:
  std::string content_sha256_;
};

/// Loads a llama2.c tokenizer file (int32 max_token_length, then per token: float32 score,
/// int32 length, bytes). `vocab_size` tokens are read. Throws FileError.
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int32_t vocab_size);

/// Loads tokenizer.json (+ tokenizer_config.json beside it for special tokens, when present).
/// Throws FileError for a missing file or an unsupported model type.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path);

/// Builds a tokenizer.json-style tokenizer from in-memory objects (the schema of tokenizer.json
/// and tokenizer_config.json; `tokenizer_config` may be null), e.g. converted from GGUF
/// metadata. `source` names the originating file in errors. Throws FileError.
std::unique_ptr<Tokenizer> make_hf_tokenizer(const nlohmann::json& tokenizer_json,
                                             const nlohmann::json& tokenizer_config,
                                             const std::string& source);

/// The tokenizer stored in a GGUF file's metadata: tokenizer.ggml.model "gpt2" (byte-level BPE
/// with merges; pre-tokenizer by tokenizer.ggml.pre: smollm, gpt-2, llama-bpe, qwen2, ...) or
/// "llama" (sentencepiece scores, byte fallback); token types (control and user-defined tokens
/// such as <|im_start|> are matched whole), BOS/EOS ids and add_bos_token. Throws FileError.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& gguf_path);

/// Finds the tokenizer of a model: `explicit_path` if non-empty; else tokenizer.json in a HF
/// directory; the metadata of a GGUF file; else tok<vocab>.bin or tokenizer.bin beside a
/// llama2.c file. Throws FileError saying where it looked.
std::unique_ptr<Tokenizer> load_tokenizer_for(const std::string& model_path,
                                              const std::string& explicit_path, int32_t vocab_size);

/// Writes a tokenizer.json (BPE, byte_fallback, merges ranked by llama2.c score) and a
/// tokenizer_config.json for a llama2.c tokenizer file, so the HF path tokenizes identically.
void convert_llama2c_tokenizer(const std::string& llama2c_path, int32_t vocab_size,
                               const std::string& out_dir);

}  // namespace skvq
