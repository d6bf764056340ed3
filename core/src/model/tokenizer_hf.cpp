// Hugging Face tokenizer.json: BPE models of two kinds.
//  - sentencepiece-style BPE with byte_fallback (Llama-2, Mistral): spaces become "▁" (normalizer
//    Prepend + Replace, or a Metaspace pre-tokenizer), characters missing from the vocabulary
//    become <0xXX> byte tokens.
//  - byte-level BPE (GPT-2, Llama-3, Qwen2): text is split by (an approximation of) the
//    pre-tokenizer regex, each byte is mapped to a printable character (GPT-2 bytes_to_unicode)
//    and the words are merged.
// Merges apply lowest rank first, leftmost first among equal ranks; merges that produce the same
// token share the rank of the best of them (sentencepiece's rule: the merged piece decides).
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"

namespace skvq {
namespace {
using json = nlohmann::json;

const char* const kMeta = "\xE2\x96\x81";  // U+2581 "▁"

// ---- UTF-8 -------------------------------------------------------------------------------

// Decodes the code point at s[i]; sets len to its byte length. Invalid bytes decode to
// 0xFFFFFFFF with length 1.
uint32_t decode_cp(const std::string& s, size_t i, size_t& len) {
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

enum class Split { None, Gpt2, Llama3 };

struct Cp {
  uint32_t cp;
  Cls cls;
  size_t begin, end;  // byte range in the text
};

// Splits `text` as the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// or the Llama-3 / Qwen2 regex
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// would (D = max_digits), with the code-point classes above.
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

std::string token_string(const json& j, const std::string& path, const std::string& field) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string())
    return j["content"].get<std::string>();
  throw FileError(path, "field '" + field + "' must be a string or an object with \"content\"");
}

json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw FileError(path, std::string("malformed JSON: ") + e.what());
  }
}

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(const std::string& path) : path_(path) {
    const json root = parse_json_file(path);
    try {
      load(root);
    } catch (const json::exception& e) {
      throw FileError(path, std::string("unexpected tokenizer.json content: ") + e.what());
    }
    load_special_tokens();
  }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    std::unordered_map<std::string, std::vector<int32_t>> cache;
    bool first = true;
    size_t seg = 0;
    // Split the text at added tokens (longest match at each position).
    for (size_t i = 0; i < text.size();) {
      const AddedToken* hit = nullptr;
      auto range = added_by_byte_.equal_range(static_cast<unsigned char>(text[i]));
      for (auto it = range.first; it != range.second; ++it) {
        const AddedToken& t = added_[it->second];
        if (text.compare(i, t.content.size(), t.content) == 0 &&
            (!hit || t.content.size() > hit->content.size()))
          hit = &t;
      }
      if (!hit) {
        ++i;
        continue;
      }
      if (i > seg) encode_segment(text.substr(seg, i - seg), first, out, cache);
      first = false;
      out.push_back(hit->id);
      i += hit->content.size();
      seg = i;
    }
    if (seg < text.size()) encode_segment(text.substr(seg), first, out, cache);
    return out;
  }

  std::string decode_token(int32_t prev, int32_t token) const override {
    if (token < 0 || token >= static_cast<int32_t>(pieces_.size()))
      throw Error("token id " + std::to_string(token) + " outside the vocabulary of " +
                  std::to_string(pieces_.size()) + " (" + path_ + ")");
    const std::string& p = pieces_[token];
    if (is_added_[token]) return p;
    if (byte_level_) {
      std::string out;
      for (size_t i = 0; i < p.size();) {
        size_t len;
        uint32_t c = decode_cp(p, i, len);
        auto it = unicode_to_byte_.find(c);
        if (it != unicode_to_byte_.end())
          out += static_cast<char>(it->second);
        else
          out.append(p, i, len);
        i += len;
      }
      return out;
    }
    if (byte_value_[token] >= 0) return std::string(1, static_cast<char>(byte_value_[token]));
    std::string s = replace_all(p, kMeta, " ");
    if (prev == bos_ && !s.empty() && s[0] == ' ') s.erase(0, 1);
    return s;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  std::string piece(int32_t token) const override {
    if (token < 0 || token >= static_cast<int32_t>(pieces_.size()))
      throw Error("token id " + std::to_string(token) + " outside the vocabulary");
    return pieces_[token];
  }

 private:
  void load(const json& root) {
    if (!root.is_object()) throw FileError(path_, "not a tokenizer.json (top level is not an object)");
    if (!root.contains("model") || !root["model"].is_object())
      throw FileError(path_, "no \"model\" object");
    const json& model = root["model"];
    const std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE")
      throw FileError(path_, "unsupported tokenizer model type '" + type +
                                 "' (supported: BPE with byte_fallback, byte-level BPE)");
    if (model.contains("continuing_subword_prefix") && !model["continuing_subword_prefix"].is_null() &&
        !model["continuing_subword_prefix"].get<std::string>().empty())
      throw FileError(path_, "BPE continuing_subword_prefix is not supported");
    if (model.contains("end_of_word_suffix") && !model["end_of_word_suffix"].is_null() &&
        !model["end_of_word_suffix"].get<std::string>().empty())
      throw FileError(path_, "BPE end_of_word_suffix is not supported");
    if (!model.contains("vocab") || !model["vocab"].is_object())
      throw FileError(path_, "model.vocab missing or not an object");
    byte_fallback_ = model.contains("byte_fallback") && model["byte_fallback"].is_boolean() &&
                     model["byte_fallback"].get<bool>();
    ignore_merges_ = model.contains("ignore_merges") && model["ignore_merges"].is_boolean() &&
                     model["ignore_merges"].get<bool>();
    fuse_unk_ = model.contains("fuse_unk") && model["fuse_unk"].is_boolean() &&
                model["fuse_unk"].get<bool>();

    // vocabulary and added tokens
    int32_t max_id = -1;
    std::vector<std::pair<std::string, int32_t>> entries;
    for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
      if (!it.value().is_number_integer())
        throw FileError(path_, "vocab entry '" + it.key() + "' has no integer id");
      int64_t id = it.value().get<int64_t>();
      if (id < 0 || id > (1 << 24)) throw FileError(path_, "vocab id " + std::to_string(id) + " out of range");
      entries.emplace_back(it.key(), static_cast<int32_t>(id));
      max_id = std::max(max_id, static_cast<int32_t>(id));
    }
    if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
      for (const json& a : root["added_tokens"]) {
        AddedToken t{a.at("content").get<std::string>(), a.at("id").get<int32_t>(),
                     a.value("special", false)};
        if (t.id < 0 || t.id > (1 << 24)) throw FileError(path_, "added token id out of range");
        if (t.content.empty()) continue;
        max_id = std::max(max_id, t.id);
        added_.push_back(t);
      }
    }
    if (max_id < 0) throw FileError(path_, "empty vocabulary");
    pieces_.assign(max_id + 1, std::string());
    is_added_.assign(max_id + 1, 0);
    for (auto& [s, id] : entries) {
      pieces_[id] = s;
      vocab_.emplace(s, id);
    }
    for (size_t k = 0; k < added_.size(); ++k) {
      const AddedToken& t = added_[k];
      pieces_[t.id] = t.content;
      is_added_[t.id] = 1;
      vocab_.emplace(t.content, t.id);
      added_by_byte_.emplace(static_cast<unsigned char>(t.content[0]), k);
    }

    const std::string unk = model.contains("unk_token") && model["unk_token"].is_string()
                                ? model["unk_token"].get<std::string>()
                                : std::string();
    if (!unk.empty()) {
      auto u = vocab_.find(unk);
      if (u != vocab_.end()) unk_ = u->second;
    }

    // pre-processing: decide the kind
    const json& pre = root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json();
    const json& norm = root.contains("normalizer") ? root["normalizer"] : json();
    read_normalizer(norm);
    read_pre_tokenizer(pre);
    if (byte_level_ && byte_fallback_)
      throw FileError(path_, "byte-level BPE with byte_fallback is not supported");

    // byte tokens
    byte_value_.assign(pieces_.size(), -1);
    for (int b = 0; b < 256; ++b) byte_id_[b] = -1;
    if (!byte_level_) {
      static const char* hex = "0123456789ABCDEF";
      for (int b = 0; b < 256; ++b) {
        std::string s = "<0x";
        s += hex[b >> 4];
        s += hex[b & 15];
        s += ">";
        auto it = vocab_.find(s);
        if (it != vocab_.end()) {
          byte_id_[b] = it->second;
          byte_value_[it->second] = b;
        }
      }
    } else {
      // GPT-2 bytes_to_unicode
      int n = 0;
      for (int b = 0; b < 256; ++b) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
        byte_char_[b].clear();
        append_utf8(byte_char_[b], cp);
        unicode_to_byte_[cp] = static_cast<uint8_t>(b);
      }
    }

    // merges: "a b" strings or ["a", "b"] arrays; rank = position
    if (model.contains("merges") && model["merges"].is_array()) {
      int32_t rank = 0;
      std::unordered_map<int32_t, int32_t> best_rank;  // merged id -> smallest rank
      std::vector<std::pair<uint64_t, Merge>> list;
      for (const json& m : model["merges"]) {
        std::string a, b;
        if (m.is_string()) {
          const std::string s = m.get<std::string>();
          size_t sp = s.find(' ', 1);
          if (sp == std::string::npos)
            throw FileError(path_, "merge \"" + s + "\" is not two tokens separated by a space");
          a = s.substr(0, sp);
          b = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          a = m[0].get<std::string>();
          b = m[1].get<std::string>();
        } else {
          throw FileError(path_, "merge #" + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
        auto ia = vocab_.find(a), ib = vocab_.find(b), im = vocab_.find(a + b);
        if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
          throw FileError(path_, "merge #" + std::to_string(rank) + " (\"" + a + "\", \"" + b +
                                     "\") uses a token missing from the vocabulary");
        list.push_back({pair_key(ia->second, ib->second), {rank, im->second}});
        auto br = best_rank.find(im->second);
        if (br == best_rank.end()) best_rank.emplace(im->second, rank);
        ++rank;
      }
      for (auto& [key, m] : list) {
        Merge eff{best_rank.at(m.merged), m.merged};
        merges_.emplace(key, eff);  // the first (best) rank of a pair wins
      }
    }
  }

  void read_normalizer(const json& n) {
    if (n.is_null()) return;
    const std::string type = n.value("type", std::string());
    if (type == "Sequence") {
      for (const json& s : n.at("normalizers")) read_normalizer(s);
    } else if (type == "Prepend") {
      prepend_ = n.at("prepend").get<std::string>();
    } else if (type == "Replace") {
      const json& p = n.at("pattern");
      if (!p.contains("String"))
        throw FileError(path_, "normalizer Replace with a regex pattern is not supported");
      replaces_.emplace_back(p["String"].get<std::string>(), n.at("content").get<std::string>());
    } else if (type == "NFC" || type == "NFKC") {
      // Unicode normalization is not applied; inputs are expected to be normalized already.
    } else {
      throw FileError(path_, "unsupported normalizer type '" + type + "'");
    }
  }

  void read_pre_tokenizer(const json& p) {
    if (p.is_null()) return;
    const std::string type = p.value("type", std::string());
    if (type == "Sequence") {
      for (const json& s : p.at("pretokenizers")) read_pre_tokenizer(s);
    } else if (type == "Split") {
      const json& pat = p.at("pattern");
      std::string re = pat.contains("Regex") ? pat["Regex"].get<std::string>() : std::string();
      if (re.empty()) throw FileError(path_, "Split pre-tokenizer without a regex is not supported");
      if (re.find(" ?\\p{L}+") != std::string::npos) {  // the GPT-2 pattern itself
        split_ = Split::Gpt2;
      } else {
        split_ = Split::Llama3;
        max_digits_ = re.find("\\p{N}{1,3}") != std::string::npos ? 3
                      : re.find("\\p{N}+") != std::string::npos   ? (1 << 30)
                                                                    : 1;
      }
    } else if (type == "ByteLevel") {
      byte_level_ = true;
      add_prefix_space_ = p.value("add_prefix_space", false);
      if (p.value("use_regex", true) && split_ == Split::None) split_ = Split::Gpt2;
    } else if (type == "Metaspace") {
      metaspace_ = true;
      meta_repl_ = p.value("replacement", std::string(kMeta));
      std::string scheme = p.value("prepend_scheme", std::string());
      if (scheme.empty()) scheme = p.value("add_prefix_space", true) ? "always" : "never";
      meta_scheme_ = scheme;
      meta_split_ = p.value("split", true);
    } else if (type == "Digits" || type == "Punctuation" || type == "Whitespace" ||
               type == "WhitespaceSplit") {
      throw FileError(path_, "unsupported pre-tokenizer type '" + type + "'");
    } else {
      throw FileError(path_, "unsupported pre-tokenizer type '" + type + "'");
    }
  }

  void load_special_tokens() {
    namespace fs = std::filesystem;
    const fs::path cfg = fs::path(path_).parent_path() / "tokenizer_config.json";
    std::string bos, eos;
    bool have_cfg = false;
    std::error_code ec;
    if (fs::is_regular_file(cfg, ec)) {
      const json c = parse_json_file(cfg.string());
      have_cfg = true;
      if (c.contains("bos_token") && !c["bos_token"].is_null())
        bos = token_string(c["bos_token"], cfg.string(), "bos_token");
      if (c.contains("eos_token") && !c["eos_token"].is_null())
        eos = token_string(c["eos_token"], cfg.string(), "eos_token");
      auto find = [&](const std::string& s, const char* what) {
        if (s.empty()) return -1;
        auto it = vocab_.find(s);
        if (it == vocab_.end())
          throw FileError(cfg.string(), std::string(what) + " \"" + s + "\" is not in " + path_);
        return it->second;
      };
      bos_ = find(bos, "bos_token");
      eos_ = find(eos, "eos_token");
    }
    if (!have_cfg) {
      auto first_of = [&](std::initializer_list<const char*> names) {
        for (const char* s : names) {
          auto it = vocab_.find(s);
          if (it != vocab_.end()) return it->second;
        }
        return -1;
      };
      bos_ = first_of({"<s>", "<|begin_of_text|>", "<bos>"});
      eos_ = first_of({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
    }
  }

  void encode_segment(const std::string& raw, bool first, std::vector<int32_t>& out,
                      std::unordered_map<std::string, std::vector<int32_t>>& cache) const {
    if (raw.empty()) return;
    if (byte_level_) {
      std::string text = raw;
      if (add_prefix_space_ && text[0] != ' ') text.insert(text.begin(), ' ');
      for (const auto& [from, to] : replaces_) text = replace_all(text, from, to);
      std::vector<std::string> words;
      if (split_ == Split::None)
        words.push_back(text);
      else
        words = pre_split(text, split_, max_digits_);
      for (const std::string& w : words) {
        auto c = cache.find(w);
        if (c == cache.end()) {
          std::string mapped;
          for (unsigned char b : w) mapped += byte_char_[b];
          c = cache.emplace(w, bpe_word(mapped)).first;
        }
        out.insert(out.end(), c->second.begin(), c->second.end());
      }
      return;
    }
    // sentencepiece style
    std::string text = raw;
    if (!prepend_.empty()) text = prepend_ + text;
    for (const auto& [from, to] : replaces_) text = replace_all(text, from, to);
    if (metaspace_) {
      text = replace_all(text, " ", meta_repl_);
      const bool pre = meta_scheme_ == "always" || (meta_scheme_ == "first" && first);
      if (pre && text.compare(0, meta_repl_.size(), meta_repl_) != 0) text = meta_repl_ + text;
      if (meta_split_) {
        size_t start = 0;
        while (start < text.size()) {
          size_t nxt = text.find(meta_repl_, start + 1);
          if (nxt == std::string::npos) nxt = text.size();
          const std::string w = text.substr(start, nxt - start);
          auto c = cache.find(w);
          if (c == cache.end()) c = cache.emplace(w, bpe_word(w)).first;
          out.insert(out.end(), c->second.begin(), c->second.end());
          start = nxt;
        }
        return;
      }
    }
    std::vector<int32_t> ids = bpe_word(text);
    out.insert(out.end(), ids.begin(), ids.end());
  }

  // BPE over one word: initial symbols are code points (vocab id, else byte tokens, else unk).
  std::vector<int32_t> bpe_word(const std::string& w) const {
    if (ignore_merges_) {
      auto it = vocab_.find(w);
      if (it != vocab_.end()) return {it->second};
    }
    std::vector<int32_t> ids;
    ids.reserve(w.size());
    for (size_t i = 0; i < w.size();) {
      size_t len;
      decode_cp(w, i, len);
      auto it = vocab_.find(w.substr(i, len));
      if (it != vocab_.end()) {
        ids.push_back(it->second);
      } else {
        bool bytes_ok = byte_fallback_;
        for (size_t k = 0; bytes_ok && k < len; ++k)
          bytes_ok = byte_id_[static_cast<unsigned char>(w[i + k])] >= 0;
        if (bytes_ok) {
          for (size_t k = 0; k < len; ++k) ids.push_back(byte_id_[static_cast<unsigned char>(w[i + k])]);
        } else if (unk_ >= 0) {
          if (!(fuse_unk_ && !ids.empty() && ids.back() == unk_)) ids.push_back(unk_);
        }
      }
      i += len;
    }
    merge(ids);
    return ids;
  }

  void merge(std::vector<int32_t>& ids) const {
    const int n = static_cast<int>(ids.size());
    if (n < 2 || merges_.empty()) return;
    std::vector<int> next(n), prev(n);
    for (int i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    struct Cand {
      int32_t rank;
      int left, right;
      int32_t left_id, right_id, merged;
    };
    auto worse = [](const Cand& x, const Cand& y) {
      if (x.rank != y.rank) return x.rank > y.rank;
      return x.left > y.left;
    };
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
    auto push = [&](int l) {
      if (l < 0) return;
      const int r = next[l];
      if (r < 0) return;
      auto it = merges_.find(pair_key(ids[l], ids[r]));
      if (it == merges_.end()) return;
      heap.push({it->second.rank, l, r, ids[l], ids[r], it->second.merged});
    };
    for (int i = 0; i + 1 < n; ++i) push(i);
    std::vector<char> alive(n, 1);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
          ids[c.left] != c.left_id || ids[c.right] != c.right_id)
        continue;
      ids[c.left] = c.merged;
      alive[c.right] = 0;
      next[c.left] = next[c.right];
      if (next[c.right] >= 0) prev[next[c.right]] = c.left;
      push(prev[c.left]);
      push(c.left);
    }
    int w = 0;
    for (int i = 0; i >= 0; i = next[i]) ids[w++] = ids[i];
    ids.resize(w);
  }

  std::string path_;
  std::vector<std::string> pieces_;
  std::vector<char> is_added_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<AddedToken> added_;
  std::unordered_multimap<unsigned char, size_t> added_by_byte_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t unk_ = -1, bos_ = -1, eos_ = -1;
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
  Split split_ = Split::None;
  int max_digits_ = 3;
  std::string byte_char_[256];
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path) {
  return std::make_unique<HfTokenizer>(tokenizer_json_path);
}

}  // namespace skvq
