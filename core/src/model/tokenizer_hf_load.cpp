// Hugging Face tokenizer: tokenizer.json parsing (vocabulary, added tokens, merges, normalizer and
// pre-tokenizer settings, byte tokens / GPT-2 byte mapping) and tokenizer_config.json specials.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tokenizer_hf.h"
#include "skvq/common.h"
#include "skvq/error.h"

namespace skvq::hf {
namespace {

std::string token_string(const json& j, const std::string& path, const std::string& field) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string())
    return j["content"].get<std::string>();
  throw FileError(path, "field '" + field + "' must be a string or an object with \"content\"");
}


}  // namespace

HfTokenizer::HfTokenizer(const std::string& path) : path_(path) {
  const json root = parse_json_file(path);
  try {
    load(root);
  } catch (const json::exception& e) {
    throw FileError(path, std::string("unexpected tokenizer.json content: ") + e.what());
  }
  namespace fs = std::filesystem;
  const fs::path cfg = fs::path(path_).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  json config;
  if (fs::is_regular_file(cfg, ec)) {
    config = parse_json_file(cfg.string());
    load_special_tokens(config, cfg.string());
  } else {
    guess_special_tokens();
  }
  content_sha256_ = sha256_hex("tokenizer.json\n" + root.dump() + "\ntokenizer_config.json\n" + config.dump());
  const fs::path jinja = fs::path(path_).parent_path() / "chat_template.jinja";
  if (chat_template_.empty() && fs::is_regular_file(jinja, ec)) chat_template_ = read_file(jinja.string());
}

HfTokenizer::HfTokenizer(const json& root, const json& config, const std::string& source) : path_(source) {
  try {
    load(root);
  } catch (const json::exception& e) {
    throw FileError(source, std::string("unexpected tokenizer content: ") + e.what());
  }
  if (config.is_object())
    load_special_tokens(config, source);
  else
    guess_special_tokens();
  content_sha256_ = sha256_hex("tokenizer.json\n" + root.dump() + "\ntokenizer_config.json\n" +
                               (config.is_object() ? config.dump() : std::string("null")));
}

void HfTokenizer::load(const json& root) {
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
      // get<int32_t>() of a float id such as 1e300 is undefined behaviour (found by fuzzing).
      if (!a.at("id").is_number_integer() || a.at("id").get<int64_t>() < 0 || a.at("id").get<int64_t>() > (1 << 24))
        throw FileError(path_, "added token id " + a.at("id").dump() + " is not an integer in range");
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

  // BOS: Hugging Face adds it through the post-processor (TemplateProcessing with a special token
  // before $A); without one, the old default (BOS when the vocabulary has one) holds.
  if (root.contains("post_processor") && root["post_processor"].is_object()) post_processor_bos_ = template_adds_first_special(root["post_processor"]);

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
      Merge eff{byte_level_ ? m.rank : best_rank.at(m.merged), m.merged};
      merges_.emplace(key, eff);  // the first (best) rank of a pair wins
    }
  }
}

void HfTokenizer::read_normalizer(const json& n) {
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

void HfTokenizer::read_pre_tokenizer(const json& p) {
  if (p.is_null()) return;
  const std::string type = p.value("type", std::string());
  if (type == "Sequence") {
    for (const json& s : p.at("pretokenizers")) read_pre_tokenizer(s);
  } else if (type == "Split") {
    const json& pat = p.at("pattern");
    std::string re;
    if (pat.contains("Regex")) {
      re = pat["Regex"].get<std::string>();
    } else if (pat.contains("String")) {
      for (char ch : pat["String"].get<std::string>()) {  // a literal: escape every ASCII punctuation
        if (std::ispunct(static_cast<unsigned char>(ch))) re += '\\';
        re += ch;
      }
    }
    if (re.empty()) throw FileError(path_, "Split pre-tokenizer without a pattern");
    const std::string behavior = p.value("behavior", std::string("Isolated"));
    if (behavior != "Isolated" || p.value("invert", false))
      throw FileError(path_, "Split pre-tokenizer behaviour '" + behavior + "'" +
                                 (p.value("invert", false) ? " (inverted)" : "") + " is not supported (Isolated only)");
    add_splitter(re);
  } else if (type == "ByteLevel") {
    byte_level_ = true;
    add_prefix_space_ = p.value("add_prefix_space", false);
    if (p.value("use_regex", true)) add_splitter(kGpt2Pattern);
  } else if (type == "Digits") {
    // Hugging Face splits off numeric characters (Rust char::is_numeric, Unicode N): one by
    // one, or runs of them.
    add_splitter(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
  } else if (type == "Metaspace") {
    metaspace_ = true;
    meta_repl_ = p.value("replacement", std::string(kMeta));
    std::string scheme = p.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = p.value("add_prefix_space", true) ? "always" : "never";
    meta_scheme_ = scheme;
    meta_split_ = p.value("split", true);
  } else {
    throw FileError(path_, "unsupported pre-tokenizer type '" + type + "'");
  }
}

// Whether a post-processor puts a special token before the sequence ($A): TemplateProcessing
// (possibly inside a Sequence). Other processors (ByteLevel, ...) add nothing.
int HfTokenizer::template_adds_first_special(const json& p) {
  const std::string type = p.value("type", std::string());
  if (type == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
    for (const json& s : p["processors"])
      if (template_adds_first_special(s) == 1) return 1;
    return 0;
  }
  if (type != "TemplateProcessing") return 0;
  if (!p.contains("single") || !p["single"].is_array() || p["single"].empty()) return 0;
  return p["single"][0].is_object() && p["single"][0].contains("SpecialToken") ? 1 : 0;
}

void HfTokenizer::add_splitter(const std::string& pattern) {
  try {
    splitters_.push_back(std::make_shared<RegexSplitter>(pattern));
  } catch (const std::invalid_argument& e) {
    throw FileError(path_, std::string("pre-tokenizer ") + e.what());
  }
}

void HfTokenizer::load_special_tokens(const json& c, const std::string& cfg) {
  std::string bos, eos;
  if (c.contains("bos_token") && !c["bos_token"].is_null()) bos = token_string(c["bos_token"], cfg, "bos_token");
  if (c.contains("eos_token") && !c["eos_token"].is_null()) eos = token_string(c["eos_token"], cfg, "eos_token");
  auto find = [&](const std::string& s, const char* what) {
    if (s.empty()) return -1;
    auto it = vocab_.find(s);
    if (it == vocab_.end()) throw FileError(cfg, std::string(what) + " \"" + s + "\" is not in " + path_);
    return it->second;
  };
  bos_ = find(bos, "bos_token");
  eos_ = find(eos, "eos_token");
  if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean())
    add_bos_token_ = c["add_bos_token"].get<bool>();
  else if (post_processor_bos_ >= 0)
    add_bos_token_ = post_processor_bos_ == 1;
  if (c.contains("chat_template") && c["chat_template"].is_string()) chat_template_ = c["chat_template"].get<std::string>();
}

void HfTokenizer::guess_special_tokens() {
  auto first_of = [&](std::initializer_list<const char*> names) {
    for (const char* s : names) {
      auto it = vocab_.find(s);
      if (it != vocab_.end()) return it->second;
    }
    return -1;
  };
  bos_ = first_of({"<s>", "<|begin_of_text|>", "<bos>"});
  eos_ = first_of({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
  if (post_processor_bos_ >= 0) add_bos_token_ = post_processor_bos_ == 1;
}

}  // namespace skvq::hf
