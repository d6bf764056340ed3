#pragma once
// The two RoPE channel layouts of Q/K projection rows (internal to the loaders).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace skvq {

/// llama2.c and GGUF `llama` files pair RoPE channels (2i, 2i+1) within each head ("interleaved",
/// llama.cpp's converter permutes the rows that way); Hugging Face pairs (i, i + head_dim/2).
/// Returns the rows of a [heads*head_dim, in] (or [heads*head_dim] bias) tensor in HF order: new
/// row h*hd + j takes old row h*hd + 2j for j < hd/2 and h*hd + 2(j - hd/2) + 1 otherwise.
at::Tensor interleaved_to_rotate_half(const at::Tensor& w, int64_t heads, int64_t head_dim);

}  // namespace skvq
