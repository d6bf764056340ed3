// Chat templates: family detection from template snippets, each family's single-turn format,
// SmolLM2's template (read from its GGUF) against transformers' apply_chat_template output in
// tests/reference/smollm2/greedy.json, and the template in the needle and LongBench prompts.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "skvq/chat_template.h"
#include "skvq/error.h"
#include "skvq/longbench.h"
#include "skvq/needle.h"
#include "skvq/tokenizer.h"
#include "test_util.h"

using namespace skvq;
namespace t = skvq::test;

namespace {

// Templates as the models ship them (abridged), with the newlines JSON-decoded.
const char* kSmolStyle =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' "
    "}}{% endif %}";
const char* kPlainChatML =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
// Qwen2.5 style: the system turn written from the message first, the default in the else branch,
// with Jinja-escaped newlines.
const char* kQwenStyle =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You "
    "are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";
const char* kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + "
    "messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}{% endif %}{% for message in messages %}"
    "{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}{% endfor %}";
const char* kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
const char* kLlama31 =
    "{%- if not date_string is defined %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: "
    "December 2023\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{{- system_message }}";
const char* kMistral =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] "
    "+ eos_token}}{% endif %}{% endfor %}";

// A byte-level tokenizer (one id per byte, no BOS) with a given chat template.
class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(std::string tmpl) : tmpl_(std::move(tmpl)) {}
  std::vector<int32_t> encode(const std::string& text, bool) const override {
    std::vector<int32_t> out;
    for (unsigned char c : text) out.push_back(c);
    return out;
  }
  std::string decode_token(int32_t, int32_t token) const override { return std::string(1, static_cast<char>(token)); }
  int32_t vocab_size() const override { return 256; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }
  std::string piece(int32_t token) const override { return decode_token(-1, token); }
  std::string chat_template() const override { return tmpl_; }

 private:
  std::string tmpl_;
};

nlohmann::json chat_capital() {
  std::ifstream in(t::reference("smollm2/greedy.json"));
  EXPECT_TRUE(in.good()) << t::reference("smollm2/greedy.json");
  const nlohmann::json all = nlohmann::json::parse(in);
  for (const auto& r : all["results"])
    if (r["name"] == "chat_capital") return r;
  ADD_FAILURE() << "greedy.json has no chat_capital result";
  return {};
}

}  // namespace

TEST(ChatTemplate, DetectsEachFamilyFromItsTemplate) {
  EXPECT_EQ(detect_chat_family(kSmolStyle), ChatFamily::ChatML);
  EXPECT_EQ(detect_chat_family(kPlainChatML), ChatFamily::ChatML);
  EXPECT_EQ(detect_chat_family(kQwenStyle), ChatFamily::ChatML);
  EXPECT_EQ(detect_chat_family(kLlama2), ChatFamily::Llama2);
  EXPECT_EQ(detect_chat_family(kLlama3), ChatFamily::Llama3);
  EXPECT_EQ(detect_chat_family(kLlama31), ChatFamily::Llama3);
  EXPECT_EQ(detect_chat_family(kMistral), ChatFamily::Mistral);
  EXPECT_EQ(detect_chat_family(""), ChatFamily::None);
  EXPECT_EQ(detect_chat_family("{% for m in messages %}{{ m['content'] }}{% endfor %}"), ChatFamily::None);
}

TEST(ChatTemplate, OptionNames) {
  EXPECT_EQ(parse_chat_template_option("auto", kLlama3), ChatFamily::Llama3);
  EXPECT_EQ(parse_chat_template_option("auto", ""), ChatFamily::None);
  EXPECT_EQ(parse_chat_template_option("none", kSmolStyle), ChatFamily::None);
  EXPECT_EQ(parse_chat_template_option("chatml", ""), ChatFamily::ChatML);
  EXPECT_EQ(parse_chat_template_option("llama2", ""), ChatFamily::Llama2);
  EXPECT_EQ(parse_chat_template_option("llama3", ""), ChatFamily::Llama3);
  EXPECT_EQ(parse_chat_template_option("mistral", kSmolStyle), ChatFamily::Mistral);
  for (ChatFamily f : {ChatFamily::None, ChatFamily::ChatML, ChatFamily::Llama2, ChatFamily::Llama3, ChatFamily::Mistral})
    EXPECT_EQ(parse_chat_template_option(chat_family_name(f), ""), f);
}

TEST(ChatTemplate, UnknownOptionNameThrows) {
  EXPECT_THROW(parse_chat_template_option("vicuna", kSmolStyle), ConfigError);
  EXPECT_THROW(parse_chat_template_option("", ""), ConfigError);
  EXPECT_THROW(parse_chat_template_option("ChatML", ""), ConfigError);
}

TEST(ChatTemplate, DefaultSystemMessageFromTheTemplateText) {
  EXPECT_EQ(chat_default_system(ChatFamily::ChatML, kSmolStyle),
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  EXPECT_EQ(chat_default_system(ChatFamily::ChatML, kQwenStyle),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(chat_default_system(ChatFamily::ChatML, kPlainChatML), "");
  EXPECT_EQ(chat_default_system(ChatFamily::ChatML, ""), "");
}

TEST(ChatTemplate, FormatsChatML) {
  EXPECT_EQ(apply_chat_template(ChatFamily::ChatML, kPlainChatML, "", "Hi"),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template(ChatFamily::ChatML, kSmolStyle, "Be brief.", "Hi"),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template(ChatFamily::ChatML, kQwenStyle, "", "Hi"),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, FormatsLlama2Llama3MistralAndPlain) {
  EXPECT_EQ(apply_chat_template(ChatFamily::Llama2, kLlama2, "", " Hi "), "[INST] Hi [/INST]");
  EXPECT_EQ(apply_chat_template(ChatFamily::Llama2, kLlama2, "Be brief.", "Hi"),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
  EXPECT_EQ(apply_chat_template(ChatFamily::Llama3, kLlama3, "", "Hi\n"),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(apply_chat_template(ChatFamily::Llama3, kLlama3, "Be brief.", "Hi"),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(apply_chat_template(ChatFamily::Llama3, kLlama31, "", "Hi"),
            "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(apply_chat_template(ChatFamily::Mistral, kMistral, "", "Hi"), "[INST] Hi [/INST]");
  EXPECT_EQ(apply_chat_template(ChatFamily::Mistral, kMistral, "Be brief.", "Hi"), "[INST] Be brief.\n\nHi [/INST]");
  EXPECT_EQ(apply_chat_template(ChatFamily::None, kSmolStyle, "", "Hi"), "Hi");
}

TEST(ChatTemplate, SmolLM2TemplateGivesTransformersPromptAndIds) {
  SKVQ_REQUIRE_SMOLLM2();
  auto tok = load_tokenizer_for(t::smollm2_model(), "", 0);
  const std::string tmpl = tok->chat_template();
  ASSERT_FALSE(tmpl.empty()) << "no tokenizer.chat_template in " << t::smollm2_model();
  EXPECT_EQ(detect_chat_family(tmpl), ChatFamily::ChatML);
  const auto ref = chat_capital();
  ASSERT_TRUE(ref.is_object());
  ASSERT_EQ(ref["chat_messages"].size(), 1u);
  const std::string user = ref["chat_messages"][0]["content"].get<std::string>();
  const std::string text = apply_chat_template(parse_chat_template_option("auto", tmpl), tmpl, "", user);
  EXPECT_EQ(text, ref["prompt_text"].get<std::string>());
  EXPECT_EQ(tok->encode(text, true), ref["prompt_ids"].get<std::vector<int32_t>>());
}

TEST(ChatTemplate, NeedlePromptAndParamsCarryTheTemplate) {
  ByteTokenizer tok(kSmolStyle);
  NeedleOptions opt;
  opt.prompt_template = "C: {context} Q: {question}";
  opt.question = "q?";
  EXPECT_EQ(opt.chat_family(tok), ChatFamily::ChatML);
  EXPECT_EQ(needle_prompt_text(opt, tok, "hay"),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nC: hay Q: q?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(opt.params(opt.chat_family(tok)).value("chat_template", ""), "chatml");
  opt.chat_template = "none";
  EXPECT_EQ(needle_prompt_text(opt, tok, "hay"), "C: hay Q: q?");
  EXPECT_FALSE(opt.params(opt.chat_family(tok)).contains("chat_template"));
  EXPECT_NE(NeedleOptions().params(ChatFamily::ChatML), NeedleOptions().params(ChatFamily::None));
  opt.chat_template = "bogus";
  opt.context_lengths = {256};
  opt.depth_percents = {50};
  EXPECT_THROW(opt.validate(), ConfigError);
}

TEST(ChatTemplate, LongBenchTruncatesTheTaskPromptAndKeepsTheTemplate) {
  ByteTokenizer tok(kPlainChatML);
  TaskSpec spec;
  spec.prompt_template = "Doc: {context}\nQ: {input}\nA:";
  EvalSample s;
  s.context = std::string(500, 'x');
  s.input = "why?";
  bool cut = false;
  auto ids = longbench_prompt_tokens(tok, ChatFamily::ChatML, spec, s, 120, &cut);
  EXPECT_TRUE(cut);
  ASSERT_LE(ids.size(), 120u);
  const std::string text = tok.decode(ids);
  EXPECT_EQ(text.rfind("<|im_start|>user\nDoc: x", 0), 0u) << text;
  const std::string tail = "\nQ: why?\nA:<|im_end|>\n<|im_start|>assistant\n";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail) << text;
  // Short prompts are wrapped whole; plain prompts are the filled task template.
  s.context = "short";
  ids = longbench_prompt_tokens(tok, ChatFamily::ChatML, spec, s, 120, &cut);
  EXPECT_FALSE(cut);
  EXPECT_EQ(tok.decode(ids), "<|im_start|>user\nDoc: short\nQ: why?\nA:<|im_end|>\n<|im_start|>assistant\n");
  ids = longbench_prompt_tokens(tok, ChatFamily::None, spec, s, 120, &cut);
  EXPECT_EQ(tok.decode(ids), "Doc: short\nQ: why?\nA:");
}
