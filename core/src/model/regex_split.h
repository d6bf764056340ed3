#pragma once
// Pre-tokenizer splitting with real Unicode regexes (PCRE2 with UTF and Unicode properties), as
// the Hugging Face tokenizers' Split / ByteLevel / Digits pre-tokenizers do: the text is cut into
// the regex's matches and the gaps between them ("Isolated" behaviour).
#include <memory>
#include <string>
#include <vector>

namespace skvq::hf {

/// One compiled pre-tokenizer regex. Patterns use \p{L}, \p{N}, \s etc. with Unicode meaning.
class RegexSplitter {
 public:
  /// Compiles `pattern` (UTF-8). Throws std::invalid_argument with PCRE2's message when the
  /// pattern does not compile.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  /// Appends to `out` the pieces of `text`: every match and every non-empty gap, in order.
  /// Invalid UTF-8 in `text` is matched byte by byte (PCRE2_MATCH_INVALID_UTF).
  void split(const std::string& text, std::vector<std::string>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

/// The GPT-2 pre-tokenizer regex (ByteLevel with use_regex).
extern const char* const kGpt2Pattern;

}  // namespace skvq::hf
