// Fuzz target: chat template recognition (detect_chat_family, chat_default_system) and the
// prompt formatting that follows, on the input as template text.
#include <string>

#include "fuzz_util.h"
#include "skvq/chat_template.h"
#include "targets/targets.h"

void skvq::fuzz::chat_template(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  expect_only_engine_errors([&] {
    const ChatFamily detected = detect_chat_family(text);
    fuzz_check(parse_chat_template_option("auto", text) == detected, "--chat-template auto differs from detection");
    for (ChatFamily f : {detected, ChatFamily::None, ChatFamily::ChatML, ChatFamily::Llama2, ChatFamily::Llama3,
                         ChatFamily::Mistral}) {
      (void)chat_default_system(f, text);
      (void)apply_chat_template(f, text, "", " What is 2+2? ");
      (void)apply_chat_template(f, text, "Be brief.", "hi");
    }
  });
}
