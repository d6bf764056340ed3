// llama2.c tokenizer files (tokenizer.bin / tok<N>.bin): reading, encode exactly as
// karpathy/llama2.c run.c, decode, and conversion to a Hugging Face tokenizer.json.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/bpe_merge.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"

namespace skvq {
namespace {

struct Llama2cVocab {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

// Format: int32 max_token_length, then per token: float32 score, int32 length, `length` bytes.
// vocab_size <= 0 reads tokens until the end of the file.
Llama2cVocab read_llama2c_vocab(const std::string& path, int32_t vocab_size) {
  const std::string data = read_file(path);
  Llama2cVocab v;
  size_t off = 0;
  auto need = [&](size_t n, const std::string& what) {
    if (data.size() - off < n)
      throw FileError(path, "truncated llama2.c tokenizer: " + what + " at byte " +
                                std::to_string(off) + " runs past the end (" +
                                std::to_string(data.size()) + " bytes)");
  };
  need(4, "header");
  std::memcpy(&v.max_token_length, data.data(), 4);
  off = 4;
  if (v.max_token_length <= 0 || v.max_token_length > 1 << 16)
    throw FileError(path, "not a llama2.c tokenizer: max_token_length " +
                              std::to_string(v.max_token_length));
  for (int32_t i = 0; vocab_size <= 0 ? off < data.size() : i < vocab_size; ++i) {
    float score;
    int32_t len;
    need(8, "token " + std::to_string(i));
    std::memcpy(&score, data.data() + off, 4);
    std::memcpy(&len, data.data() + off + 4, 4);
    off += 8;
    if (len < 0 || len > v.max_token_length)
      throw FileError(path, "token " + std::to_string(i) + " has length " + std::to_string(len) +
                                " (max_token_length " + std::to_string(v.max_token_length) + ")");
    need(static_cast<size_t>(len), "token " + std::to_string(i) + " bytes");
    v.pieces.emplace_back(data.data() + off, static_cast<size_t>(len));
    v.scores.push_back(score);
    off += static_cast<size_t>(len);
  }
  // Byte fallback encodes byte b as token b + 3, so ids 0..258 must exist (found by fuzzing:
  // a smaller vocabulary gave token ids outside it).
  if (v.pieces.size() < 259)
    throw FileError(path, "llama2.c tokenizer has only " + std::to_string(v.pieces.size()) +
                              " tokens: the format needs <unk>, <s>, </s> and the 256 byte tokens (ids 3..258)");
  return v;
}

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Returns the byte value if `piece` is exactly "<0xXX>" (hex digits, either case), else -1.
int byte_piece_value(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    char c = piece[i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

class Llama2cTokenizer final : public Tokenizer {
 public:
  Llama2cTokenizer(const std::string& path, int32_t vocab_size) {
    Llama2cVocab v = read_llama2c_vocab(path, vocab_size);
    pieces_ = std::move(v.pieces);
    scores_ = std::move(v.scores);
    std::string canon = "llama2c\n";
    for (size_t i = 0; i < pieces_.size(); ++i) {
      canon.append(reinterpret_cast<const char*>(&scores_[i]), sizeof(float));
      const uint32_t len = static_cast<uint32_t>(pieces_[i].size());
      canon.append(reinterpret_cast<const char*>(&len), sizeof len);
      canon += pieces_[i];
    }
    content_sha256_ = sha256_hex(canon);
    const int32_t n = static_cast<int32_t>(pieces_.size());
    for (int32_t i = 0; i < n; ++i) lookup_.emplace(pieces_[i], i);  // first id wins
    // Every pair (a, b) whose concatenation is a vocabulary piece: split each piece.
    for (int32_t t = 0; t < n; ++t) {
      const std::string& s = pieces_[t];
      for (size_t k = 1; k < s.size(); ++k) {
        auto a = lookup_.find(s.substr(0, k));
        if (a == lookup_.end()) continue;
        auto b = lookup_.find(s.substr(k));
        if (b == lookup_.end()) continue;
        int32_t merged = lookup_.at(s);  // the id llama2.c's lookup would return
        merges_.emplace(pair_key(a->second, b->second), merged);
      }
    }
    auto sp = lookup_.find(" ");
    space_id_ = sp == lookup_.end() ? -1 : sp->second;
  }

  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos) out.push_back(kBos);
    if (text.empty()) return out;
    std::vector<int32_t> ids;
    ids.reserve(text.size() + 1);
    if (space_id_ >= 0) ids.push_back(space_id_);  // dummy prefix
    // UTF-8 code points (at most 4 bytes, as run.c groups them) -> token, else bytes + 3.
    const size_t n = text.size();
    std::string buf;
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if ((c & 0xC0) != 0x80) buf.clear();
      buf.push_back(static_cast<char>(c));
      const bool next_cont =
          i + 1 < n && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
      if (next_cont && buf.size() < 4) continue;
      auto it = lookup_.find(buf);
      if (it != lookup_.end()) {
        ids.push_back(it->second);
      } else {
        for (char b : buf) ids.push_back(static_cast<int32_t>(static_cast<unsigned char>(b)) + 3);
      }
      buf.clear();
    }
    merge(ids);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string decode_token(int32_t prev, int32_t token) const override {
    check(token);
    const std::string& p = pieces_[token];
    const int bv = byte_piece_value(p);
    if (bv >= 0) return std::string(1, static_cast<char>(bv));
    if (prev == kBos && !p.empty() && p[0] == ' ') return p.substr(1);
    return p;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return kBos; }
  int32_t eos_id() const override { return kEos; }
  std::string piece(int32_t token) const override {
    check(token);
    return pieces_[token];
  }

 private:
  static constexpr int32_t kBos = 1, kEos = 2;

  void check(int32_t token) const {
    if (token < 0 || token >= static_cast<int32_t>(pieces_.size()))
      throw Error("token id " + std::to_string(token) + " outside the vocabulary of " +
                  std::to_string(pieces_.size()));
  }

  // Repeatedly merges the adjacent pair whose merged piece has the highest score, leftmost
  // first (run.c's loop), using a heap of candidate pairs over a linked list of symbols.
  void merge(std::vector<int32_t>& ids) const {
    bpe_merge(ids, [&](int32_t l, int32_t r, double* priority, int32_t* merged) {
      auto it = merges_.find(pair_key(l, r));
      if (it == merges_.end()) return false;
      *priority = scores_[it->second];
      *merged = it->second;
      return true;
    });
  }

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> lookup_;
  std::unordered_map<uint64_t, int32_t> merges_;
  int32_t space_id_ = -1;
};

std::string replace_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ')
      out += "\xE2\x96\x81";  // U+2581 "▁"
    else
      out += c;
  }
  return out;
}

// Lengths of the UTF-8 code points of s (1 for bytes that do not start a valid sequence).
std::vector<size_t> code_point_boundaries(const std::string& s) {
  std::vector<size_t> cuts;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    i += len;
    cuts.push_back(i);
  }
  return cuts;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw FileError(path, "cannot be written");
  out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) << "\n";
  out.flush();
  if (!out) throw FileError(path, "write failed");
}

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int32_t vocab_size) {
  return std::make_unique<Llama2cTokenizer>(path, vocab_size);
}

void convert_llama2c_tokenizer(const std::string& llama2c_path, int32_t vocab_size,
                               const std::string& out_dir) {
  const Llama2cVocab v = read_llama2c_vocab(llama2c_path, vocab_size);
  const int32_t n = static_cast<int32_t>(v.pieces.size());
  std::unordered_map<std::string, int32_t> lookup;
  for (int32_t i = 0; i < n; ++i) lookup.emplace(v.pieces[i], i);

  // Vocabulary: special tokens 0..2 as in Llama-2, every other piece with " " -> "▁".
  static const char* kSpecial[3] = {"<unk>", "<s>", "</s>"};
  nlohmann::json vocab = nlohmann::json::object();
  std::vector<std::string> hf(n);
  for (int32_t i = 0; i < n; ++i) {
    hf[i] = i < 3 ? std::string(kSpecial[i]) : replace_spaces(v.pieces[i]);
    if (vocab.contains(hf[i]))
      throw FileError(llama2c_path, "token " + std::to_string(i) + " (\"" + hf[i] +
                                        "\") occurs twice after replacing spaces by U+2581");
    try {
      vocab[hf[i]] = i;
    } catch (const nlohmann::json::exception&) {
      throw FileError(llama2c_path, "token " + std::to_string(i) + " is not valid UTF-8");
    }
  }

  // Merges: every split of a piece into two pieces, ranked by the merged piece's score
  // (descending; ties by id), so rank order equals llama2.c's merge order.
  struct M {
    float score;
    int32_t merged;
    int32_t a, b;
  };
  std::vector<M> merges;
  for (int32_t t = 3; t < n; ++t) {
    const std::string& s = v.pieces[t];
    if (lookup.at(s) != t) continue;  // duplicate piece: llama2.c uses the first id
    for (size_t cut : code_point_boundaries(s)) {
      if (cut >= s.size()) break;
      auto a = lookup.find(s.substr(0, cut));
      auto b = lookup.find(s.substr(cut));
      if (a == lookup.end() || b == lookup.end() || a->second < 3 || b->second < 3) continue;
      merges.push_back({v.scores[t], t, a->second, b->second});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const M& x, const M& y) {
    if (x.score != y.score) return x.score > y.score;
    return x.merged < y.merged;
  });
  nlohmann::json jmerges = nlohmann::json::array();
  for (const M& m : merges) jmerges.push_back(hf[m.a] + " " + hf[m.b]);

  nlohmann::json added = nlohmann::json::array();
  for (int i = 0; i < 3; ++i)
    added.push_back({{"id", i},
                     {"content", kSpecial[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});

  nlohmann::json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                  {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
                  {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens",
         {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", jmerges}}}};

  nlohmann::json cfg = {{"tokenizer_class", "LlamaTokenizerFast"},
                        {"bos_token", "<s>"},
                        {"eos_token", "</s>"},
                        {"unk_token", "<unk>"},
                        {"add_bos_token", true},
                        {"add_eos_token", false},
                        {"clean_up_tokenization_spaces", false},
                        {"legacy", true}};

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw FileError(out_dir, "cannot create directory: " + ec.message());
  write_json((std::filesystem::path(out_dir) / "tokenizer.json").string(), tok);
  write_json((std::filesystem::path(out_dir) / "tokenizer_config.json").string(), cfg);
}

}  // namespace skvq
