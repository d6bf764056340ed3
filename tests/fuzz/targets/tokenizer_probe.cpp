// probe_tokenizer (tokenizer_probe.h).
#include "targets/tokenizer_probe.h"

#include "fuzz_util.h"

namespace skvq::fuzz {

void probe_tokenizer(const Tokenizer& tok, const std::string& extra_text) {
  const int32_t n = tok.vocab_size();
  for (const std::string& text : {std::string("Once upon a time, 12 cats said \"hi\" <0x41>\n\xC3\xA9\xF0\x9F\x98\x80 <s></s>"),
                                  extra_text}) {
    for (bool bos : {true, false}) {
      const auto ids = tok.encode(text, bos);
      for (int32_t id : ids) fuzz_check(id >= 0 && id < n, "encode gave id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(n));
      (void)tok.decode(ids);
    }
  }
  const int32_t limit = n < 64 ? n : 64;
  for (int32_t i = 0; i < limit; ++i) {
    (void)tok.piece(i);
    (void)tok.decode_token(tok.bos_id(), i);
  }
  (void)tok.chat_template();
}

}  // namespace skvq::fuzz
