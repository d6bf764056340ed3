// Hugging Face tokenizer: UTF-8 helpers, code-point classes and the GPT-2 / Llama-3 pre-tokenizer
// split (an approximation of their regexes).
#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer_hf.h"

namespace skvq::hf {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  std::string out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(from, i);
    if (j == std::string::npos) break;
    out.append(s, i, j - i);
    out += to;
    i = j + from.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

namespace {

// ---- code-point classes for the pre-tokenizer regexes --------------------------------------

enum class Cls { Letter, Digit, Space, Punct };

bool is_space_cp(uint32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// An approximation of \p{L}, \p{N}, \s: ASCII exactly; common non-ASCII punctuation, symbol and
// number blocks by range; every other non-ASCII code point counts as a letter.
Cls classify(uint32_t c) {
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return Cls::Letter;
    if (c >= '0' && c <= '9') return Cls::Digit;
    if (is_space_cp(c)) return Cls::Space;
    return Cls::Punct;
  }
  if (is_space_cp(c)) return Cls::Space;
  if (c == 0xFFFFFFFFu) return Cls::Punct;  // invalid byte
  if (c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE)) return Cls::Digit;
  if (c == 0xAA || c == 0xB5 || c == 0xBA) return Cls::Letter;
  if ((c >= 0x80 && c <= 0xBF) || c == 0xD7 || c == 0xF7) return Cls::Punct;
  if (c >= 0x2000 && c <= 0x2BFF) {                         // punctuation, symbols, arrows...
    if ((c >= 0x2070 && c <= 0x2089) || (c >= 0x2150 && c <= 0x218B) ||
        (c >= 0x2460 && c <= 0x249B) || (c >= 0x2776 && c <= 0x2793))
      return Cls::Digit;
    if (c >= 0x2100 && c <= 0x214F) return Cls::Letter;    // letterlike symbols (mostly L)
    return Cls::Punct;
  }
  if (c >= 0x3000 && c <= 0x303F) return Cls::Punct;       // CJK punctuation
  if (c >= 0xFF10 && c <= 0xFF19) return Cls::Digit;       // fullwidth digits
  if ((c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
      (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65))
    return Cls::Punct;
  if (c >= 0x1F000 && c <= 0x1FAFF) return Cls::Punct;     // emoji and pictographs
  if (c >= 0x0660 && c <= 0x0669) return Cls::Digit;       // Arabic-Indic digits
  if (c >= 0x0966 && c <= 0x096F) return Cls::Digit;       // Devanagari digits
  return Cls::Letter;
}

struct Cp {
  uint32_t cp;
  Cls cls;
  size_t begin, end;  // byte range in the text
};

}  // namespace

std::vector<std::string> pre_split(const std::string& text, Split mode, int max_digits) {
  std::vector<Cp> cps;
  for (size_t i = 0; i < text.size();) {
    size_t len;
    uint32_t c = decode_cp(text, i, len);
    cps.push_back({c, classify(c), i, i + len});
    i += len;
  }
  const size_t n = cps.size();
  auto cls = [&](size_t k) { return cps[k].cls; };
  auto is_nl = [&](size_t k) { return cps[k].cp == '\r' || cps[k].cp == '\n'; };
  auto lower = [&](size_t k) {
    uint32_t c = cps[k].cp;
    return mode == Split::Llama3 && c >= 'A' && c <= 'Z' ? c + 32 : c;
  };
  std::vector<std::string> words;
  size_t i = 0;
  while (i < n) {
    size_t end = 0;  // exclusive code-point index of the match
    // contractions
    if (cps[i].cp == '\'' && i + 1 < n) {
      uint32_t a = lower(i + 1);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        end = i + 2;
      } else if (i + 2 < n) {
        uint32_t b = lower(i + 2);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) end = i + 3;
      }
    }
    if (!end && mode == Split::Llama3) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      size_t j = i;
      if (cls(j) != Cls::Letter && cls(j) != Cls::Digit && !is_nl(j) && j + 1 < n &&
          cls(j + 1) == Cls::Letter)
        ++j;
      if (cls(j) == Cls::Letter) {
        while (j < n && cls(j) == Cls::Letter) ++j;
        end = j;
      }
      // \p{N}{1,D}
      if (!end && cls(i) == Cls::Digit) {
        size_t k = i;
        while (k < n && cls(k) == Cls::Digit && static_cast<int>(k - i) < max_digits) ++k;
        end = k;
      }
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      if (!end) {
        size_t k = i;
        if (cps[k].cp == ' ' && k + 1 < n && cls(k + 1) == Cls::Punct) ++k;
        if (cls(k) == Cls::Punct) {
          while (k < n && cls(k) == Cls::Punct) ++k;
          while (k < n && is_nl(k)) ++k;
          end = k;
        }
      }
      // \s*[\r\n]+
      if (!end && cls(i) == Cls::Space) {
        size_t k = i, last_nl = n;
        while (k < n && cls(k) == Cls::Space) {
          if (is_nl(k)) last_nl = k;
          ++k;
        }
        if (last_nl != n) end = last_nl + 1;
      }
    } else if (!end) {
      //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
      size_t k = i;
      if (cps[k].cp == ' ' && k + 1 < n && cls(k + 1) != Cls::Space) ++k;
      Cls c = cls(k);
      if (c != Cls::Space) {
        while (k < n && cls(k) == c) ++k;
        end = k;
      }
    }
    // \s+(?!\S) | \s+
    if (!end && cls(i) == Cls::Space) {
      size_t k = i;
      while (k < n && cls(k) == Cls::Space) ++k;
      end = (k == n || k - 1 == i) ? k : k - 1;
    }
    if (!end) end = i + 1;
    words.push_back(text.substr(cps[i].begin, cps[end - 1].end - cps[i].begin));
    i = end;
  }
  return words;
}

}  // namespace skvq::hf
