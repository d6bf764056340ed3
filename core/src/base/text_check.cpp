// Text files that are not UTF-8 text: binary (NUL bytes), UTF-16, or invalid UTF-8 (Latin-1).
#include <cstdio>
#include <mutex>
#include <set>
#include <string>

#include "skvq/common.h"
#include "skvq/error.h"

namespace skvq {
namespace {

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlongs, surrogates or code
// points past U+10FFFF), or 0 when the bytes there are not one.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else return 0;
  if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

TextCheck inspect_text(std::string_view bytes) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  if (bytes.size() >= 2 && ((b(0) == 0xFF && b(1) == 0xFE) || (b(0) == 0xFE && b(1) == 0xFF)))
    return {TextCheck::Utf16Bom, 0};
  size_t nuls = 0, first_nul = bytes.size();
  for (size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] == '\0' && nuls++ == 0) first_nul = i;
  // UTF-16 text without a byte-order mark has a NUL in about every other byte (ASCII letters).
  if (nuls > 0) return {nuls * 4 >= bytes.size() ? TextCheck::Utf16 : TextCheck::Binary, static_cast<int64_t>(first_nul)};
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8_sequence(bytes, i);
    if (n == 0) return {TextCheck::InvalidUtf8, static_cast<int64_t>(i)};
    i += n;
  }
  return {};
}

void check_text(std::string_view bytes, const std::string& path) {
  const TextCheck t = inspect_text(bytes);
  const std::string at = " at byte " + std::to_string(t.offset);
  switch (t.kind) {
    case TextCheck::Ok:
      return;
    case TextCheck::Utf16Bom:
      throw FileError(path, "is UTF-16 text (byte-order mark), expected UTF-8; convert it (iconv -f UTF-16 -t UTF-8)");
    case TextCheck::Utf16:
      throw FileError(path, "looks like UTF-16 text (NUL bytes in many places, the first" + at +
                                "), expected UTF-8; convert it (iconv -f UTF-16 -t UTF-8)");
    case TextCheck::Binary:
      throw FileError(path, "is binary, not text (NUL byte" + at + ")");
    case TextCheck::InvalidUtf8: {
      static std::mutex mu;
      static std::set<std::string> warned;  // one warning per file and process
      std::lock_guard<std::mutex> lock(mu);
      if (warned.insert(path).second)
        std::fprintf(stderr,
                     "skvq: warning: %s: not valid UTF-8 (first bad byte 0x%02X%s; Latin-1?); its bytes are "
                     "tokenized as they are\n",
                     path.c_str(), static_cast<unsigned char>(bytes[t.offset]), at.c_str());
      return;
    }
  }
}

}  // namespace skvq
