// Symmetric scale-only group quantizer (sym_quant.h): llama.cpp's q4_0 / q8_0 block rules.
// Built with -ffp-contract=off (core/CMakeLists.txt): x*id + 8.5 must round twice, as
// llama.cpp's reference does, not once in a fused multiply-add.
#include "skvq/sym_quant.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "skvq/error.h"
#include "skvq/fake_quant.h"

namespace skvq {

int32_t sym_code_offset(int32_t qmax) {
  if (qmax == 15) return 8;
  if (qmax == 255) return 128;
  throw ConfigError("sym quantization: no codec for qmax " + std::to_string(qmax) +
                    " (4 bits = q4_0, 8 bits = q8_0)");
}

namespace {

// q4_0: the signed extreme maps to level -8; levels -8..7 stored as 0..15.
float q4_0_group(const float* x, int64_t n, float clip, uint8_t* codes) {
  float amax = 0.0f, m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (amax < std::fabs(x[i])) {  // strict: the first of equal magnitudes wins
      amax = std::fabs(x[i]);
      m = x[i];
    }
  }
  const float d = clip * m / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * id + 8.5f;
    codes[i] = static_cast<uint8_t>(std::min(std::max(v, 0.0f), 15.0f));  // trunc of v >= 0
  }
  return d;
}

// q8_0: max |x| maps to level 127; levels -127..127 stored as 1..255.
float q8_0_group(const float* x, int64_t n, float clip, uint8_t* codes) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = clip * amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float level = std::min(std::max(std::round(x[i] * id), -127.0f), 127.0f);
    codes[i] = static_cast<uint8_t>(static_cast<int>(level) + 128);
  }
  return d;
}

}  // namespace

void quantize_group_sym(const float* x, int64_t n, int32_t qmax, float clip, uint8_t* codes,
                        float* scale, float* zero) {
  const int32_t offset = sym_code_offset(qmax);
  const float d = qmax == 15 ? q4_0_group(x, n, clip, codes) : q8_0_group(x, n, clip, codes);
  *scale = round_to_fp16(d);
  *zero = -static_cast<float>(offset) * *scale;
}

}  // namespace skvq
