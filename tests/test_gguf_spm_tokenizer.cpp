// The GGUF "llama" (SentencePiece BPE, byte fallback) tokenizer against the SentencePiece library
// and transformers' GGUF conversion (tests/reference/spm_stories/tokens.json, made by
// tests/reference/make_spm_reference.py). The vocabulary is stories260K's own SentencePiece
// model (tok512.bin), written here as GGUF metadata the way llama.cpp's converter writes a
// Llama-2 tokenizer: pieces with U+2581 for spaces, scores, token types, special ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf_builder.h"
#include "skvq/common.h"
#include "skvq/tokenizer.h"
#include "test_util.h"

namespace {

// tok512.bin: int32 max_token_length, then per token float32 score, int32 length, bytes.
void read_vocab(std::vector<std::string>& pieces, std::vector<float>& scores) {
  const std::string d = skvq::read_file(skvq::test::stories_tokenizer());
  size_t off = 4;
  while (off + 8 <= d.size()) {
    float s;
    int32_t n;
    std::memcpy(&s, d.data() + off, 4);
    std::memcpy(&n, d.data() + off + 4, 4);
    off += 8;
    pieces.push_back(d.substr(off, static_cast<size_t>(n)));
    scores.push_back(s);
    off += static_cast<size_t>(n);
  }
}

std::string replace_spaces(std::string s) {
  std::string out;
  for (char c : s) out += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  return out;
}

std::string stories_spm_gguf() {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  read_vocab(pieces, scores);
  std::vector<int32_t> types;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string& p = pieces[i];
    const bool byte = p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>';
    if (i == 1 || i == 2) p = i == 1 ? "<s>" : "</s>";  // llama2.c exports them as "\n<s>\n"
    types.push_back(i == 0 ? 2 : i <= 2 ? 3 : byte ? 6 : 1);
    if (!byte && i > 2) p = replace_spaces(p);
  }
  skvq::test::GgufBuilder b;
  b.str("general.architecture", "llama");
  b.str("tokenizer.ggml.model", "llama");
  b.strs("tokenizer.ggml.tokens", pieces);
  b.nums("tokenizer.ggml.scores", skvq::test::GgufBuilder::F32, scores);
  b.nums("tokenizer.ggml.token_type", skvq::test::GgufBuilder::I32, types);
  b.u32("tokenizer.ggml.bos_token_id", 1);
  b.u32("tokenizer.ggml.eos_token_id", 2);
  b.u32("tokenizer.ggml.unknown_token_id", 0);
  b.boolean("tokenizer.ggml.add_bos_token", true);
  return b.build();
}

}  // namespace

TEST(GgufSpmTokenizer, TokenIdsMatchSentencepieceAndTransformers) {
  const auto ref = skvq::parse_json_file(skvq::test::reference("spm_stories/tokens.json"));
  const std::string path = skvq::test::temp_dir("spm") + "/stories_tok.gguf";
  std::ofstream(path, std::ios::binary) << stories_spm_gguf();
  const auto tok = skvq::load_gguf_tokenizer(path);
  const auto& texts = ref.at("texts");
  ASSERT_GE(texts.size(), 12u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto ids = tok->encode(text, false);
    const auto sp = ref.at("sentencepiece")[i].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, sp) << "text " << i << ": '" << text << "' (SentencePiece library)";
    // transformers' conversion drops one of several leading spaces (its Metaspace rule); there
    // the SentencePiece library, the model's own tokenizer, decides (llama.cpp follows it too).
    const auto& disagree = ref.at("disagree");
    if (std::find(disagree.begin(), disagree.end(), i) == disagree.end())
      EXPECT_EQ(ids, ref.at("transformers")[i].get<std::vector<int32_t>>()) << "text " << i << " (transformers)";
    // BOS is added by the file's add_bos_token, and decoding gives the text back.
    const auto with_bos = tok->encode(text, true);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos[0], 1);
    EXPECT_EQ(tok->decode(ids), text) << "text " << i;
  }
}
