#pragma once
// Packed-cache SIMD kernels (private): ISA detection, float dot/axpy, code unpacking, FP8 scale
// table and the 2-bit dot/axpy kernels in AVX-512, AVX2+FMA and portable forms. Inline in this
// header so that the always-inline decode loops that use them can inline them, as before.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/exp_nonpositive.h"
#include "skvq/packed_cache.h"

#if defined(__x86_64__) || defined(__i386__)
#define SKVQ_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define SKVQ_INLINE inline __attribute__((always_inline))

// GCC 12 warns "__Y may be used uninitialized" inside avx512fintrin.h (_mm512_undefined_* in
// the reduce/cvt intrinsics): a known false positive of the header, not of this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace skvq::packed_detail {

inline bool cpu_has_avx2() {
#ifdef SKVQ_X86
  // F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
  }();
  return ok;
#else
  return false;
#endif
}

inline bool cpu_has_avx512() {
#ifdef SKVQ_X86
  static const bool ok = cpu_has_avx2() && __builtin_cpu_supports("avx512f");
  return ok;
#else
  return false;
#endif
}

// Lookup tables: byte -> 4 two-bit codes / 2 four-bit codes as floats.
struct Luts {
  float two[256][4];
  float four[256][2];
  Luts() {
    for (int b = 0; b < 256; ++b) {
      for (int i = 0; i < 4; ++i) two[b][i] = static_cast<float>((b >> (2 * i)) & 3);
      for (int i = 0; i < 2; ++i) four[b][i] = static_cast<float>((b >> (4 * i)) & 15);
    }
  }
};
inline const Luts& luts() {
  static const Luts l;
  return l;
}

SKVQ_INLINE float dot(const float* __restrict__ a, const float* __restrict__ b, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

SKVQ_INLINE void axpy(float* __restrict__ y, float a, const float* __restrict__ x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Codes [first, first + n) of a packed token as floats.
SKVQ_INLINE void codes_to_float(const uint8_t* __restrict__ t, int64_t first, int64_t n, int32_t qmax,
                                float* __restrict__ out, uint8_t* scratch) {
  if (qmax == 3 && first % 4 == 0 && n % 4 == 0) {
    const auto& T = luts().two;
    const uint8_t* p = t + first / 4;
    for (int64_t k = 0; k < n / 4; ++k) std::memcpy(out + 4 * k, T[p[k]], 16);
  } else if (qmax == 15 && first % 2 == 0 && n % 2 == 0) {
    const auto& T = luts().four;
    const uint8_t* p = t + first / 2;
    for (int64_t k = 0; k < n / 2; ++k) std::memcpy(out + 2 * k, T[p[k]], 8);
  } else if (qmax == 255) {
    for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(t[first + k]);
  } else {
    unpack_codes(t, first, n, qmax, scratch);
    for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(scratch[k]);
  }
}

#ifdef SKVQ_X86
// 2-bit codes, 16 per little-endian 32-bit word (code i at bits 2i). n % 16 == 0.
__attribute__((target("avx2,fma"))) inline float dot2_avx2(const uint8_t* p, const float* q, int64_t n) {
  const __m256i sh_lo = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i sh_hi = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
  const __m256i three = _mm256_set1_epi32(3);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    uint32_t w;
    std::memcpy(&w, p + i / 4, 4);
    const __m256i b = _mm256_set1_epi32(static_cast<int>(w));
    const __m256 c0 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(b, sh_lo), three));
    const __m256 c1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(b, sh_hi), three));
    a0 = _mm256_fmadd_ps(c0, _mm256_loadu_ps(q + i), a0);
    a1 = _mm256_fmadd_ps(c1, _mm256_loadu_ps(q + i + 8), a1);
  }
  const __m256 a = _mm256_add_ps(a0, a1);
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  r = _mm_hadd_ps(r, r);
  r = _mm_hadd_ps(r, r);
  return _mm_cvtss_f32(r);
}
// y[i] += a * code_i for 2-bit codes. n % 16 == 0.
__attribute__((target("avx2,fma"))) inline void axpy2_avx2(float* y, float a, const uint8_t* p, int64_t n) {
  const __m256i sh_lo = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i sh_hi = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
  const __m256i three = _mm256_set1_epi32(3);
  const __m256 av = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    uint32_t w;
    std::memcpy(&w, p + i / 4, 4);
    const __m256i b = _mm256_set1_epi32(static_cast<int>(w));
    const __m256 c0 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(b, sh_lo), three));
    const __m256 c1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(b, sh_hi), three));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, c0, _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(av, c1, _mm256_loadu_ps(y + i + 8)));
  }
}
#endif

// Scale/zero of group g: FP8 through a table (no ldexp in the hot loop). code_bytes =
// f.code_bytes(), passed in so that the hot loop does not recompute it.
SKVQ_INLINE void params_fast(const PackedFormat& f, int64_t code_bytes, const uint8_t* tok, int64_t g,
                             const float* fp8_lut, float* s, float* z) {
  if (f.params.fp8) {
    const uint8_t* p = tok + code_bytes + 2 * g;
    *s = fp8_lut[p[0]];
    *z = fp8_lut[p[1]];
  } else {
    f.group_params(tok, g, s, z);
  }
}

inline const float* fp8_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(256);
    for (int b = 0; b < 256; ++b) v[b] = fp8_e4m3_value(static_cast<uint8_t>(b));
    return v;
  }();
  return t.data();
}

#ifdef SKVQ_X86
// 16 two-bit codes as floats: one little-endian 32-bit word at p, code i at bits 2i.
__attribute__((target("avx512f"))) SKVQ_INLINE __m512 codes2x16_avx512(const uint8_t* p) {
  const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  uint32_t w;
  std::memcpy(&w, p, 4);
  return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w)), sh),
                                             _mm512_set1_epi32(3)));
}

// AVX-512 versions of dot2/axpy2: one 32-bit word = 16 codes = one zmm. n % 16 == 0.
__attribute__((target("avx512f,fma"))) inline float dot2_avx512(const uint8_t* p, const float* q, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(codes2x16_avx512(p + i / 4), _mm512_loadu_ps(q + i), a0);
    a1 = _mm512_fmadd_ps(codes2x16_avx512(p + i / 4 + 4), _mm512_loadu_ps(q + i + 16), a1);
  }
  for (; i < n; i += 16) a0 = _mm512_fmadd_ps(codes2x16_avx512(p + i / 4), _mm512_loadu_ps(q + i), a0);
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}
__attribute__((target("avx512f,fma"))) inline void axpy2_avx512(float* y, float a, const uint8_t* p, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, codes2x16_avx512(p + i / 4), _mm512_loadu_ps(y + i)));
}
#endif

// Writes the partial softmax of heads 0..H-1 for `n` scores per head into ws: [H][D + 2] =
// (m, l, acc[D]) with acc filled by the caller; returns the weights in place of the scores.
// exp_nonpositive in a loop that vectorizes; max and sum over 16 partial lanes (no chain of
// dependent scalar operations).
SKVQ_INLINE void chunk_softmax(float* scores, int64_t H, int64_t n, float* ws, int64_t D) {
  for (int64_t h = 0; h < H; ++h) {
    float* sc = scores + h * n;
    float mp[16], lp[16] = {0};
    std::fill_n(mp, 16, -std::numeric_limits<float>::infinity());
    int64_t t = 0;
    for (; t + 16 <= n; t += 16)
      for (int k = 0; k < 16; ++k) mp[k] = std::max(mp[k], sc[t + k]);
    float m = -std::numeric_limits<float>::infinity();
    for (; t < n; ++t) m = std::max(m, sc[t]);
    for (int k = 0; k < 16; ++k) m = std::max(m, mp[k]);
    for (t = 0; t < n; ++t) sc[t] = exp_nonpositive(sc[t] - m);
    for (t = 0; t + 16 <= n; t += 16)
      for (int k = 0; k < 16; ++k) lp[k] += sc[t + k];
    float l = 0;
    for (; t < n; ++t) l += sc[t];
    for (int k = 0; k < 16; ++k) l += lp[k];
    ws[h * (D + 2)] = m;
    ws[h * (D + 2) + 1] = l;
  }
}

// A token's record is read once, front to back; asking for the record a few tokens ahead keeps
// several cache-line fetches in flight (the loop is otherwise bound by memory latency).
constexpr int64_t kPrefetchTokens = 4;
SKVQ_INLINE void prefetch_token(const uint8_t* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

// Instruction sets of the decode-attention loops.
enum Isa : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

template <int ISA>
SKVQ_INLINE float dot2(const uint8_t* p, const float* q, int64_t n) {
#ifdef SKVQ_X86
  if constexpr (ISA == kAvx512) return dot2_avx512(p, q, n);
  if constexpr (ISA == kAvx2) return dot2_avx2(p, q, n);
#endif
  (void)p, (void)q, (void)n;
  return 0.0f;  // not reached: callers use the fused path only when ISA != kPortable
}
template <int ISA>
SKVQ_INLINE void axpy2(float* y, float a, const uint8_t* p, int64_t n) {
#ifdef SKVQ_X86
  if constexpr (ISA == kAvx512) return axpy2_avx512(y, a, p, n);
  if constexpr (ISA == kAvx2) return axpy2_avx2(y, a, p, n);
#endif
  (void)y, (void)a, (void)p, (void)n;
}

}  // namespace skvq::packed_detail
