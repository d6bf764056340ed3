#pragma once
// Symmetric per-token group quantization, scale only, no zero-point: llama.cpp's q4_0 and q8_0
// block rules (ggml-quants.c, quantize_row_q4_0_ref / quantize_row_q8_0_ref) applied to the
// channel groups of GroupLayout. With group_size 32 (and no reorder/clip) a group is exactly one
// q4_0 / q8_0 block of llama.cpp's KV cache types. Configuration option "sym" (quant_config.h).
#include <cstdint>

namespace skvq {

/// Offset between the stored unsigned code and the signed level: 8 for 4 bits (qmax 15, q4_0),
/// 128 for 8 bits (qmax 255, q8_0: levels -127..127 stored as level + 128). Dequantization is
/// x_hat = (code - offset) * scale. Throws ConfigError for another qmax.
int32_t sym_code_offset(int32_t qmax);

/// Quantizes one group x[n] (float32) by llama.cpp's block rule and writes the stored codes, the
/// stored float16 scale d (as float) and the equivalent zero-point -offset * d (exact in float32),
/// so that code * scale + zero == (code - offset) * d, bit for bit.
///   qmax 15 (q4_0): m = the signed value of largest |x| (first one on ties), d = clip*m / -8,
///     id = 1/d (0 when d == 0), code = min(15, trunc(x*id + 8.5)), clamped below at 0 (only
///     reachable with clip < 1).
///   qmax 255 (q8_0): a = clip*max|x|, d = a / 127, id = 1/d (0 when d == 0),
///     level = roundf(x*id) (halves away from zero), clamped to [-127, 127] (only reachable with
///     clip < 1), code = level + 128.
/// As in llama.cpp, id comes from the float32 d; the stored scale is d rounded to float16.
/// clip = 1 is llama.cpp's reference rule exactly. (Its CPU backend writes q4_0 cache rows with
/// that rule; its x86 AVX q8_0 writer takes id = 127/a and rounds ties to even, so rare ties and
/// 1-ulp products can differ there.) Throws ConfigError for another qmax.
void quantize_group_sym(const float* x, int64_t n, int32_t qmax, float clip, uint8_t* codes,
                        float* scale, float* zero);

}  // namespace skvq
