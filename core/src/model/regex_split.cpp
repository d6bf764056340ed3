// RegexSplitter over PCRE2 (8-bit code units, UTF + UCP, JIT when available).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/regex_split.h"

#include <pcre2.h>

#include <stdexcept>

namespace skvq::hf {

const char* const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {
pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }
}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::invalid_argument("regex '" + pattern + "' does not compile at offset " + std::to_string(offset) +
                                ": " + reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  code_ = code;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(as_code(code_)); }

void RegexSplitter::split(const std::string& text, std::vector<std::string>& out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(as_code(code_), nullptr);
  if (!md) throw std::bad_alloc();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, gap = 0;
  while (pos < text.size()) {
    const int rc = pcre2_match(as_code(code_), subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;  // no further match (or an error): the rest is one gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (b > gap) out.push_back(text.substr(gap, b - gap));
    if (e > b) {
      out.push_back(text.substr(b, e - b));
      pos = gap = e;
    } else {
      // An empty match: step over one code point without emitting it (it stays in the gap).
      size_t step = 1;
      while (b + step < text.size() && (static_cast<unsigned char>(text[b + step]) & 0xC0) == 0x80) ++step;
      pos = b + step;
    }
  }
  if (gap < text.size()) out.push_back(text.substr(gap));
  pcre2_match_data_free(md);
}

}  // namespace skvq::hf
