#pragma once
// Runs a loaded tokenizer over a fixed text and over bytes of the input: every id must lie in
// the vocabulary and decode (what the evaluations do right after loading).
#include <string>

#include "skvq/tokenizer.h"

namespace skvq::fuzz {

void probe_tokenizer(const Tokenizer& tok, const std::string& extra_text);

}  // namespace skvq::fuzz
