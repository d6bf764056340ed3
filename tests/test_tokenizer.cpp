// Tokenizers: llama2.c tok512.bin on real text, hand-made tokenizer.json files of both BPE kinds,
// and the llama2.c -> tokenizer.json conversion (the HF path must tokenize identically).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "skvq/common.h"
#include "skvq/error.h"
#include "skvq/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using skvq::Tokenizer;
using Ids = std::vector<int32_t>;

namespace {

std::unique_ptr<Tokenizer> stories_tok() {
  return skvq::load_llama2c_tokenizer(skvq::test::stories_tokenizer(), 512);
}

// A straight port of llama2.c run.c encode (quadratic merge loop), as the reference.
Ids naive_encode(const Tokenizer& t, const std::string& text) {
  std::unordered_map<std::string, int32_t> lookup;
  std::vector<std::string> pieces;
  for (int32_t i = 0; i < t.vocab_size(); ++i) {
    pieces.push_back(t.piece(i));
    lookup.emplace(pieces.back(), i);
  }
  // scores are not exposed; llama2.c tok512 merge scores decrease with the id for ids >= 259,
  // but single characters have scores too, so read them from the file directly.
  std::string data = skvq::read_file(skvq::test::stories_tokenizer());
  std::vector<float> scores;
  size_t off = 4;
  for (int i = 0; i < t.vocab_size(); ++i) {
    float s;
    int32_t len;
    std::memcpy(&s, data.data() + off, 4);
    std::memcpy(&len, data.data() + off + 4, 4);
    scores.push_back(s);
    off += 8 + len;
  }
  Ids toks;
  if (text.empty()) return toks;
  toks.push_back(lookup.at(" "));
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if ((c & 0xC0) != 0x80) buf.clear();
    buf += static_cast<char>(c);
    if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 && buf.size() < 4)
      continue;
    auto it = lookup.find(buf);
    if (it != lookup.end())
      toks.push_back(it->second);
    else
      for (unsigned char b : buf) toks.push_back(b + 3);
    buf.clear();
  }
  while (true) {
    float best = -1e10f;
    int best_i = -1, best_id = -1;
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
      auto it = lookup.find(pieces[toks[i]] + pieces[toks[i + 1]]);
      if (it != lookup.end() && scores[it->second] > best) {
        best = scores[it->second];
        best_i = static_cast<int>(i);
        best_id = it->second;
      }
    }
    if (best_i < 0) break;
    toks[best_i] = best_id;
    toks.erase(toks.begin() + best_i + 1);
  }
  return toks;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// GPT-2 bytes_to_unicode: the printable character standing for byte b, as UTF-8.
std::string byte_char(int b) {
  static std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int n = 0;
    for (int x = 0; x < 256; ++x) {
      bool printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
      uint32_t cp = printable ? x : 256 + n++;
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      t[x] = s;
    }
    return t;
  }();
  return table[b];
}

}  // namespace

// ---- llama2.c tokenizer -------------------------------------------------------------------

TEST(Llama2cTokenizer, OnceUponATimeHandChecked) {
  auto tok = stories_tok();
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  // tok512.bin holds " Once" = 403, " upon" = 407, " a" = 261, " time" = 378.
  EXPECT_EQ(tok->piece(403), " Once");
  EXPECT_EQ(tok->piece(407), " upon");
  EXPECT_EQ(tok->piece(261), " a");
  EXPECT_EQ(tok->piece(378), " time");
  EXPECT_EQ(tok->encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("Once upon a time", false), (Ids{403, 407, 261, 378}));
  EXPECT_EQ(tok->decode_token(1, 403), "Once");  // leading space dropped after BOS
  EXPECT_EQ(tok->decode_token(403, 407), " upon");
  EXPECT_EQ(tok->decode({1, 403, 407, 261, 378, 2}), "Once upon a time");
}

TEST(Llama2cTokenizer, ByteFallbackForNonAsciiAndNewline) {
  auto tok = stories_tok();
  // "é" is a vocabulary token (485); "ü" (C3 BC) is not: bytes + 3 = 198, 191; "€" is 503.
  EXPECT_EQ(tok->piece(485), "\xC3\xA9");
  EXPECT_EQ(tok->encode("caf\xC3\xA9 \xC3\xBC\xE2\x82\xAC", false),
            (Ids{280, 412, 431, 485, 410, 198, 191, 503}));
  EXPECT_EQ(tok->piece(198), "<0xC3>");
  EXPECT_EQ(tok->decode_token(410, 198), "\xC3");
  EXPECT_EQ(tok->decode({280, 412, 431, 485, 410, 198, 191, 503}), "caf\xC3\xA9 \xC3\xBC\xE2\x82\xAC");
  // "\n" has no token: byte 0x0A -> 13.
  EXPECT_EQ(tok->encode("Hello world!\nBye.", false),
            (Ids{346, 306, 414, 263, 304, 341, 443, 13, 445, 422, 411, 426}));
  EXPECT_EQ(tok->decode_token(443, 13), "\n");
  // invalid UTF-8 goes through byte fallback without throwing
  EXPECT_EQ(tok->encode("\xFF", false), (Ids{410, 0xFF + 3}));
}

TEST(Llama2cTokenizer, EmptyText) {
  auto tok = stories_tok();
  EXPECT_TRUE(tok->encode("", false).empty());
  EXPECT_EQ(tok->encode("", true), (Ids{1}));
}

TEST(Llama2cTokenizer, HeapMergeEqualsRunCLoopOnRealText) {
  auto tok = stories_tok();
  const std::string story = skvq::read_text(skvq::test::data("text/tinystories/tinystories_val.txt"), 4000);
  EXPECT_EQ(tok->encode(story, false), naive_encode(*tok, story));
  const std::string essay =
      skvq::read_text(skvq::test::data("text/needle/PaulGrahamEssays/addiction.txt"), 4000);
  EXPECT_EQ(tok->encode(essay, false), naive_encode(*tok, essay));
}

// (Its speed is not asserted here: timings belong in benchmarks; a loaded machine took 2.8 s.)
TEST(Llama2cTokenizer, WholeTinyStoriesRoundTrips) {
  auto tok = stories_tok();
  const std::string text = skvq::read_text(skvq::test::data("text/tinystories/tinystories_val.txt"));
  ASSERT_EQ(text.size(), 794375u);
  Ids ids = tok->encode(text, true);
  // The reference perplexity run cuts this file (tokenized once with BOS) into 767 chunks of 512.
  EXPECT_EQ(static_cast<int64_t>(ids.size()) / 512, 767) << ids.size() << " tokens";
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(Llama2cTokenizer, ErrorsNameTheFile) {
  const std::string dir = skvq::test::temp_dir("tok");
  EXPECT_THROW(skvq::load_llama2c_tokenizer(dir + "/missing.bin", 512), skvq::FileError);
  const std::string cut = dir + "/cut.bin";
  write_text(cut, skvq::read_file(skvq::test::stories_tokenizer()).substr(0, 3000));
  try {
    skvq::load_llama2c_tokenizer(cut, 512);
    FAIL() << "truncated file accepted";
  } catch (const skvq::FileError& e) {
    EXPECT_EQ(e.path(), cut);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Llama2cTokenizer, LoadTokenizerForFindsTokBesideModel) {
  auto tok = skvq::load_tokenizer_for(skvq::test::stories_model(), "", 512);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->encode("Once upon a time", false), (Ids{403, 407, 261, 378}));
  auto tok2 = skvq::load_tokenizer_for("/nonexistent/model.bin", skvq::test::stories_tokenizer(), 512);
  EXPECT_EQ(tok2->piece(403), " Once");
  const std::string dir = skvq::test::temp_dir("tokfor");
  write_text(dir + "/m.bin", "x");
  try {
    skvq::load_tokenizer_for(dir + "/m.bin", "", 512);
    FAIL() << "no tokenizer but no error";
  } catch (const skvq::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tok512.bin"), std::string::npos) << e.what();
  }
}

// ---- conversion to tokenizer.json ----------------------------------------------------------

TEST(ConvertTokenizer, HfPathTokenizesLikeLlama2c) {
  const std::string dir = skvq::test::temp_dir("convtok");
  skvq::convert_llama2c_tokenizer(skvq::test::stories_tokenizer(), 512, dir);
  ASSERT_TRUE(fs::exists(dir + "/tokenizer.json"));
  ASSERT_TRUE(fs::exists(dir + "/tokenizer_config.json"));
  auto ref = stories_tok();
  auto hf = skvq::load_hf_tokenizer(dir + "/tokenizer.json");
  EXPECT_EQ(hf->vocab_size(), 512);
  EXPECT_EQ(hf->bos_id(), 1);
  EXPECT_EQ(hf->eos_id(), 2);
  EXPECT_EQ(hf->piece(403), "\xE2\x96\x81Once");
  EXPECT_EQ(hf->encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));

  const std::string story = skvq::read_text(skvq::test::data("text/tinystories/tinystories_val.txt"), 100000);
  Ids a = ref->encode(story, true), b = hf->encode(story, true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a, b);
  EXPECT_EQ(hf->decode(b), story);
  int essays = 0;
  for (const char* name : {"addiction.txt", "apple.txt", "avg.txt", "bias.txt", "copy.txt"}) {
    const std::string e = skvq::read_text(skvq::test::data(std::string("text/needle/PaulGrahamEssays/") + name));
    EXPECT_EQ(ref->encode(e, false), hf->encode(e, false)) << name;
    EXPECT_EQ(hf->decode(hf->encode(e, true)), e) << name;
    ++essays;
  }
  EXPECT_EQ(essays, 5);
  // non-ASCII and byte fallback agree too
  const std::string odd = "na\xC3\xAFve caf\xC3\xA9 \xE2\x80\x9Cquote\xE2\x80\x9D \xF0\x9F\x98\x80 \xFF end";
  EXPECT_EQ(ref->encode(odd, true), hf->encode(odd, true));
  EXPECT_EQ(hf->decode(hf->encode("caf\xC3\xA9 \xC3\xBC", true)), "caf\xC3\xA9 \xC3\xBC");

  const json cfg = json::parse(skvq::read_file(dir + "/tokenizer_config.json"));
  EXPECT_EQ(cfg["bos_token"], "<s>");
  EXPECT_EQ(cfg["eos_token"], "</s>");
}

// ---- hand-made tokenizer.json files --------------------------------------------------------

namespace {

const std::string kU = "\xE2\x96\x81";  // ▁

// sentencepiece-style BPE with byte_fallback (Llama-2 layout)
json sp_tokenizer(bool merges_as_arrays) {
  json vocab = {{"<unk>", 0}, {"<s>", 1},        {"</s>", 2},      {"<0xC3>", 3},
                {"<0xBC>", 4}, {kU, 5},          {"a", 6},         {"b", 7},
                {"c", 8},      {kU + "a", 9},    {"ab", 10},       {kU + "ab", 11},
                {"bc", 12},    {"abc", 13}};
  std::vector<std::pair<std::string, std::string>> m = {
      {kU, "a"}, {"a", "b"}, {kU + "a", "b"}, {"b", "c"}, {"ab", "c"}};
  json merges = json::array();
  for (auto& [a, b] : m) merges.push_back(merges_as_arrays ? json::array({a, b}) : json(a + " " + b));
  json added = json::array();
  for (int i = 0; i < 3; ++i)
    added.push_back({{"id", i}, {"content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>"}, {"special", true}});
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", kU}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kU}}}}}},
          {"pre_tokenizer", nullptr},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"byte_fallback", true},
            {"vocab", vocab},
            {"merges", merges}}}};
}

std::unique_ptr<Tokenizer> write_and_load(const std::string& name, const json& tok,
                                          const json& cfg = json()) {
  const std::string dir = skvq::test::temp_dir(name);
  write_text(dir + "/tokenizer.json", tok.dump());
  if (!cfg.is_null()) write_text(dir + "/tokenizer_config.json", cfg.dump());
  return skvq::load_hf_tokenizer(dir + "/tokenizer.json");
}

}  // namespace

TEST(HfTokenizer, SentencePieceBpeHandMade) {
  for (bool arrays : {false, true}) {
    auto t = write_and_load("sp", sp_tokenizer(arrays));
    EXPECT_EQ(t->vocab_size(), 14);
    EXPECT_EQ(t->bos_id(), 1);  // no tokenizer_config.json: "<s>" / "</s>" by name
    EXPECT_EQ(t->eos_id(), 2);
    // "▁ab▁abc": ▁+a (rank 0) twice, then ▁a+b (rank 2) twice; c stays.
    EXPECT_EQ(t->encode("ab abc", false), (Ids{11, 11, 8})) << "arrays " << arrays;
    EXPECT_EQ(t->encode("ab abc", true), (Ids{1, 11, 11, 8}));
    // "c" merges with nothing; "ü" is not in the vocabulary -> <0xC3> <0xBC>
    EXPECT_EQ(t->encode("c\xC3\xBC", false), (Ids{5, 8, 3, 4}));
    EXPECT_EQ(t->decode({5, 8, 3, 4}), "c\xC3\xBC");
    // unknown characters without byte tokens -> <unk>, consecutive ones fused
    EXPECT_EQ(t->encode("dd", false), (Ids{5, 0}));
    // special tokens are split out of the text first; each segment is normalized
    EXPECT_EQ(t->encode("a</s>a", false), (Ids{9, 2, 9}));
    EXPECT_EQ(t->decode({11, 11, 8}), "ab abc");
    EXPECT_EQ(t->decode_token(11, 11), " ab");
  }
}

TEST(HfTokenizer, MetaspacePreTokenizer) {
  json tok = sp_tokenizer(false);
  tok["normalizer"] = nullptr;
  tok["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kU}, {"prepend_scheme", "first"}, {"split", false}};
  auto t = write_and_load("meta", tok);
  EXPECT_EQ(t->encode("ab abc", false), (Ids{11, 11, 8}));
  EXPECT_EQ(t->encode("abc", false), (Ids{11, 8}));
}

TEST(HfTokenizer, SpecialTokensFromTokenizerConfig) {
  json tok = sp_tokenizer(false);
  tok["added_tokens"].push_back({{"id", 14}, {"content", "<|eot|>"}, {"special", true}});
  json cfg = {{"bos_token", {{"content", "</s>"}, {"lstrip", false}}}, {"eos_token", "<|eot|>"}};
  auto t = write_and_load("spcfg", tok, cfg);
  EXPECT_EQ(t->vocab_size(), 15);
  EXPECT_EQ(t->bos_id(), 2);
  EXPECT_EQ(t->eos_id(), 14);
  EXPECT_EQ(t->encode("a<|eot|>", true), (Ids{2, 9, 14}));
  json bad = {{"bos_token", "<nope>"}};
  EXPECT_THROW(write_and_load("spbad", tok, bad), skvq::FileError);
}

namespace {

// byte-level BPE (Llama-3 layout): ids 0..255 are the bytes, merges above.
json byte_level_tokenizer(const std::string& regex) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  const std::string G = byte_char(' '), C = byte_char('\n');
  const std::string e_hi = byte_char(0xC3), e_lo = byte_char(0xA9);
  // cross-boundary merges first: they must never apply
  std::vector<std::tuple<std::string, std::string, int>> m = {
      {"t", "'", 261}, {G, "1", 262}, {"a", C, 265}, {"o", G, 267},
      {"i", "t", 256}, {"'", "s", 257}, {"1", "2", 258}, {"12", "3", 259},
      {"4", "5", 260}, {e_hi, e_lo, 263}, {C, C, 264}};
  json merges = json::array();
  for (auto& [a, b, id] : m) {
    vocab[a + b] = id;
    merges.push_back(json::array({a, b}));
  }
  vocab[G + "world"] = 266;  // reachable only through ignore_merges
  json added = json::array({{{"id", 300}, {"content", "<|begin_of_text|>"}, {"special", true}},
                            {{"id", 301}, {"content", "<|end_of_text|>"}, {"special", true}}});
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"},
            {"byte_fallback", false},
            {"ignore_merges", true},
            {"vocab", vocab},
            {"merges", merges}}}};
}

const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace

TEST(HfTokenizer, ByteLevelLlama3HandMade) {
  json cfg = {{"bos_token", {{"content", "<|begin_of_text|>"}, {"special", true}}},
              {"eos_token", "<|end_of_text|>"}};
  auto t = write_and_load("bl3", byte_level_tokenizer(kLlama3Regex), cfg);
  EXPECT_EQ(t->bos_id(), 300);
  EXPECT_EQ(t->eos_id(), 301);
  EXPECT_EQ(t->vocab_size(), 302);
  // words: "it" "'s" " " "123" "45"
  EXPECT_EQ(t->encode("it's 12345", false), (Ids{256, 257, 32, 259, 260}));
  // "café" is one word (é is a letter): c a f + (C3 A9 merged)
  EXPECT_EQ(t->encode("caf\xC3\xA9", false), (Ids{'c', 'a', 'f', 263}));
  // words: "a" "\n\n" "b"
  EXPECT_EQ(t->encode("a\n\nb", false), (Ids{'a', 264, 'b'}));
  // ignore_merges: the word " world" is a vocabulary token
  EXPECT_EQ(t->encode("hello world", false), (Ids{'h', 'e', 'l', 'l', 'o', 266}));
  // special tokens and BOS
  EXPECT_EQ(t->encode("hi<|end_of_text|>", true), (Ids{300, 'h', 'i', 301}));
  EXPECT_EQ(t->decode({300, 256, 257, 32, 259, 260, 301}), "it's 12345");
  EXPECT_EQ(t->decode_token(0, 266), " world");
  EXPECT_EQ(t->decode(t->encode("caf\xC3\xA9 it's\n\n 42!", false)), "caf\xC3\xA9 it's\n\n 42!");
  EXPECT_EQ(t->piece(264), byte_char('\n') + byte_char('\n'));
}

TEST(HfTokenizer, ByteLevelQwen2SingleDigits) {
  auto t = write_and_load("blq", byte_level_tokenizer(kQwen2Regex));
  EXPECT_EQ(t->encode("it's 12345", false), (Ids{256, 257, 32, '1', '2', '3', '4', '5'}));
  EXPECT_EQ(t->bos_id(), 300);  // by name: no tokenizer_config.json
}

TEST(HfTokenizer, Errors) {
  const std::string dir = skvq::test::temp_dir("hferr");
  EXPECT_THROW(skvq::load_hf_tokenizer(dir + "/tokenizer.json"), skvq::FileError);
  write_text(dir + "/bad.json", "{\"model\": {\"type\": \"BPE\", ");
  try {
    skvq::load_hf_tokenizer(dir + "/bad.json");
    FAIL();
  } catch (const skvq::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos) << e.what();
    EXPECT_EQ(e.path(), dir + "/bad.json");
  }
  write_text(dir + "/wp.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  try {
    skvq::load_hf_tokenizer(dir + "/wp.json");
    FAIL();
  } catch (const skvq::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported tokenizer model type 'WordPiece'"), std::string::npos)
        << e.what();
  }
  write_text(dir + "/merge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  EXPECT_THROW(skvq::load_hf_tokenizer(dir + "/merge.json"), skvq::FileError);
  // load_tokenizer_for on a HF directory without tokenizer.json
  try {
    skvq::load_tokenizer_for(dir, "", 0);
    FAIL();
  } catch (const skvq::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}
