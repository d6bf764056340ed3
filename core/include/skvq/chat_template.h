#pragma once
// Chat templates of instruct models: recognise the template family from its Jinja text and
// format one exchange (optional system turn, one user turn, the assistant generation prompt)
// the way that family's template does. This is not a Jinja interpreter: only the common families
// are known, and only the single-turn case the evaluations need.
#include <string>

namespace skvq {

/// Template families. None = plain text (the prompt is used as it is).
enum class ChatFamily { None, ChatML, Llama2, Llama3, Mistral };

/// Lower-case name of a family: "none", "chatml", "llama2", "llama3", "mistral".
std::string chat_family_name(ChatFamily family);

/// The family of a chat template from its text (tokenizer_config.json "chat_template" or GGUF
/// tokenizer.chat_template): "<|im_start|>" -> ChatML, "<|start_header_id|>" -> Llama3,
/// "[INST]" with "<<SYS>>" -> Llama2, "[INST]" without it -> Mistral. An empty or unrecognised
/// template gives None.
ChatFamily detect_chat_family(const std::string& template_text);

/// The family chosen by a --chat-template option: "auto" = detect_chat_family(template_text)
/// (None when the model has no template), "none", "chatml", "llama2", "llama3" or "mistral"
/// (the model's template text is then only used for its default system message). Throws
/// ConfigError for another name.
ChatFamily parse_chat_template_option(const std::string& name, const std::string& template_text);

/// The default system message a template inserts when the conversation has none, read from the
/// template text: ChatML templates that write a literal "<|im_start|>system\n...<|im_end|>"
/// (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"; Qwen2.5).
/// "" when the template has none.
std::string chat_default_system(ChatFamily family, const std::string& template_text);

/// The prompt text of one exchange in `family`'s format, ending with the assistant generation
/// prompt (what the template gives with add_generation_prompt = true for the messages
/// [system (when non-empty), user]). An empty `system` means no system message: the template's
/// default system message is used where it has one (chat_default_system). BOS is not part of
/// the text: encode it with add_bos = true so that the tokenizer adds BOS where the model
/// expects it (the Llama-2/-3 and Mistral templates start with bos_token). Formats:
///   ChatML:  "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
///   Llama2:  "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]" (user and system trimmed)
///   Llama3:  "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
///            "<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>"
///            "<|start_header_id|>assistant<|end_header_id|>\n\n" (contents trimmed; Llama-3.1
///            templates always write the system turn, starting with their "Cutting Knowledge
///            Date" lines)
///   Mistral: "[INST] {system}\n\n{user} [/INST]"
///   None:    the user text (with "{system}\n\n" before it when a system text is given).
std::string apply_chat_template(ChatFamily family, const std::string& template_text,
                                const std::string& system, const std::string& user);

}  // namespace skvq
