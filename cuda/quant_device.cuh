#pragma once
// Device versions of the scalar quantizer pieces, bit-identical to core/src/quant/fake_quant.cpp
// (round half to even everywhere; explicit _rn intrinsics so nothing is contracted to fma).
#include <cuda_fp16.h>

#include <cstdint>

namespace skvq::cuda::detail {

/// FP8 E4M3 (max 448, subnormals down to 2^-9) round to nearest even, saturating; NaN stays NaN.
__device__ __forceinline__ float round_fp8_e4m3(float x) {
  if (isnan(x)) return x;
  const float a = fabsf(x);
  float r;
  if (a >= 448.0f) {
    r = 448.0f;
  } else if (a == 0.0f) {
    r = 0.0f;
  } else {
    int e2;
    frexpf(a, &e2);           // a = m * 2^e2, m in [0.5, 1)
    int e = e2 - 1;
    if (e < -6) e = -6;       // subnormal range: quantum 2^-9
    const float scaled = ldexpf(a, 3 - e);  // exact (power of two)
    r = ldexpf(rintf(scaled), e - 3);
    if (r > 448.0f) r = 448.0f;
  }
  return copysignf(r, x);
}

/// Round to the nearest float16 value (RNE), returned as float.
__device__ __forceinline__ float round_fp16(float x) { return __half2float(__float2half_rn(x)); }

/// FP8 E4M3 byte of a value that is already representable (output of round_fp8_e4m3).
__device__ __forceinline__ uint8_t fp8_bits_exact(float v) {
  if (isnan(v)) return 0x7F;
  const uint8_t sign = signbit(v) ? 0x80 : 0;
  const float a = fabsf(v);
  if (a == 0.0f) return sign;
  int e2;
  const float m = frexpf(a, &e2);
  const int e = e2 - 1;
  if (e < -6) return sign | static_cast<uint8_t>(ldexpf(a, 9));
  const int mant = static_cast<int>(ldexpf(m, 4)) - 8;
  return sign | static_cast<uint8_t>(((e + 7) << 3) | mant);
}

__device__ __forceinline__ float fp8_value(uint8_t b) {
  const int e = (b >> 3) & 0xF, m = b & 7;
  if (e == 0xF && m == 7) return __int_as_float(0x7fc00000);
  const float v = e == 0 ? ldexpf(static_cast<float>(m), -9) : ldexpf(static_cast<float>(8 + m), e - 10);
  return (b & 0x80) ? -v : v;
}

__device__ __forceinline__ uint16_t fp16_bits_of(float v) { return __half_as_ushort(__float2half_rn(v)); }
__device__ __forceinline__ float fp16_value(uint16_t b) { return __half2float(__ushort_as_half(b)); }

/// Scale and zero (rounded) of a group from its min and max (section 2).
__device__ __forceinline__ void group_scale_zero(float mn, float mx, int32_t qmax, float clip, bool fp8,
                                                 float* scale, float* zero) {
  const float lo = __fmul_rn(clip, mn), hi = __fmul_rn(clip, mx);
  float s = __fdiv_rn(__fsub_rn(hi, lo), static_cast<float>(qmax));
  s = fmaxf(s, 1e-5f);
  *scale = fp8 ? round_fp8_e4m3(s) : round_fp16(s);
  *zero = fp8 ? round_fp8_e4m3(lo) : round_fp16(lo);
}

/// Integer code of v: clamp(rint((v - zero) / scale), 0, qmax); 0 when scale == 0.
__device__ __forceinline__ int quant_code(float v, float scale, float zero, int32_t qmax) {
  if (scale == 0.0f) return 0;
  float q = rintf(__fdiv_rn(__fsub_rn(v, zero), scale));
  q = fminf(fmaxf(q, 0.0f), static_cast<float>(qmax));
  return static_cast<int>(q);
}

__device__ __forceinline__ float dequant(int code, float scale, float zero) {
  return __fadd_rn(__fmul_rn(static_cast<float>(code), scale), zero);
}

}  // namespace skvq::cuda::detail
