#pragma once
// exp(x) for x <= 0 (softmax scores minus their maximum), shared by the float32 attention of
// the forward pass and the packed-cache decode kernels (private to the engine).
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace skvq {

// x = n*ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial of e^r, times 2^n built in the
// exponent bits: relative error below 2e-7 (float32 rounding of the terms); x < -87 gives
// exp(-87) ~ 1.6e-38 instead of a denormal. Branch-free so that a loop of it vectorizes (the
// file needs -fno-trapping-math for the float->int conversion to vectorize).
__attribute__((always_inline)) inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  // round to nearest by the 1.5*2^23 trick (|x*log2e| < 2^22): vectorizes, unlike nearbyint
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;  // the bits as a float (memcpy, not std::bit_cast: clang 14's libstdc++ <bit> lacks it)
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace skvq
