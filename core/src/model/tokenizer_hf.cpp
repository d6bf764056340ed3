// Hugging Face tokenizer: encoding (added-token split, sentencepiece / byte-level segments), the
// BPE merge engine, decoding, and load_hf_tokenizer. Overview of the two BPE kinds: tokenizer_hf.h.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/bpe_merge.h"
#include "model/tokenizer_hf.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"

namespace skvq {
namespace hf {

std::vector<int32_t> HfTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && adds_bos()) out.push_back(bos_);
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

std::string HfTokenizer::decode_token(int32_t prev, int32_t token) const {
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

std::string HfTokenizer::piece(int32_t token) const {
  if (token < 0 || token >= static_cast<int32_t>(pieces_.size()))
    throw Error("token id " + std::to_string(token) + " outside the vocabulary");
  return pieces_[token];
}

void HfTokenizer::encode_segment(const std::string& raw, bool first, std::vector<int32_t>& out,
                                 std::unordered_map<std::string, std::vector<int32_t>>& cache) const {
  if (raw.empty()) return;
  if (byte_level_) {
    std::string text = raw;
    if (add_prefix_space_ && text[0] != ' ') text.insert(text.begin(), ' ');
    for (const auto& [from, to] : replaces_) text = replace_all(text, from, to);
    std::vector<std::string> words{text}, next;
    for (const auto& splitter : splitters_) {
      next.clear();
      for (const std::string& piece : words) splitter->split(piece, next);
      words.swap(next);
    }
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
std::vector<int32_t> HfTokenizer::bpe_word(const std::string& w) const {
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

void HfTokenizer::merge(std::vector<int32_t>& ids) const {
  if (merges_.empty()) return;
  bpe_merge(ids, [&](int32_t l, int32_t r, double* priority, int32_t* merged) {
    auto it = merges_.find(pair_key(l, r));
    if (it == merges_.end()) return false;
    *priority = -static_cast<double>(it->second.rank);  // lower rank merges first
    *merged = it->second.merged;
    return true;
  });
}

}  // namespace hf

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path) {
  return std::make_unique<hf::HfTokenizer>(tokenizer_json_path);
}

std::unique_ptr<Tokenizer> make_hf_tokenizer(const nlohmann::json& tokenizer_json,
                                             const nlohmann::json& tokenizer_config,
                                             const std::string& source) {
  return std::make_unique<hf::HfTokenizer>(tokenizer_json, tokenizer_config, source);
}

}  // namespace skvq
