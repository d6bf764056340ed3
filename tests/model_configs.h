#pragma once
// Model shapes the tests share (config.json fields of the published models).
#include "skvq/model_config.h"

namespace skvq::test {

/// Llama-2-7B: 32 layers, 32 heads (no GQA) of head_dim 128, hidden 4096.
inline ModelConfig llama2_7b() {
  ModelConfig m;
  m.hidden_size = 4096;
  m.intermediate_size = 11008;
  m.num_hidden_layers = 32;
  m.num_attention_heads = 32;
  m.num_key_value_heads = 32;
  m.head_dim = 128;
  m.vocab_size = 32000;
  m.max_position_embeddings = 4096;
  return m;
}

}  // namespace skvq::test
