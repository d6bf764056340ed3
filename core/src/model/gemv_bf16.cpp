// bfloat16-weight GEMV (gemv_bf16.h): AVX-512, AVX2 and portable row kernels.
#include "gemv_bf16.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <cstdint>
#include <string>

#include "skvq/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12 warns "__Y may be used uninitialized" inside avx512fintrin.h (_mm512_undefined_* in the
// reduce/cvt intrinsics): a known false positive of the header, as in packed_kernels.h.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace skvq {
namespace {

// c10's bfloat16 -> float32 widening (exact), for the scalar tails.
inline float bf16_to_float(uint16_t b) { return c10::detail::f32_from_bits(b); }

float row_portable(const uint16_t* w, const float* x, int64_t K) {
  float acc[16] = {0};
  int64_t k = 0;
  for (; k + 16 <= K; k += 16)
    for (int j = 0; j < 16; ++j) acc[j] += bf16_to_float(w[k + j]) * x[k + j];
  float s = 0;
  for (; k < K; ++k) s += bf16_to_float(w[k]) * x[k];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

#if defined(__x86_64__)
// 16 / 8 bfloat16 values widened to float32 (the upper halves of their bits).
__attribute__((target("avx512f"))) inline __m512 widen16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx2"))) inline __m256 widen8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f"))) float row_avx512(const uint16_t* w, const float* x, int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    a0 = _mm512_fmadd_ps(widen16(w + k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(widen16(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
  }
  for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(widen16(w + k), _mm512_loadu_ps(x + k), a0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; k < K; ++k) s += bf16_to_float(w[k]) * x[k];
  return s;
}

__attribute__((target("avx2,fma"))) float row_avx2(const uint16_t* w, const float* x, int64_t K) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    a0 = _mm256_fmadd_ps(widen8(w + k), _mm256_loadu_ps(x + k), a0);
    a1 = _mm256_fmadd_ps(widen8(w + k + 8), _mm256_loadu_ps(x + k + 8), a1);
  }
  const __m256 a = _mm256_add_ps(a0, a1);
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  r = _mm_hadd_ps(r, r);
  r = _mm_hadd_ps(r, r);
  float s = _mm_cvtss_f32(r);
  for (; k < K; ++k) s += bf16_to_float(w[k]) * x[k];
  return s;
}
#endif

using RowFn = float (*)(const uint16_t*, const float*, int64_t);

RowFn pick_row() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return row_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return row_avx2;
#endif
  return row_portable;
}

}  // namespace

at::Tensor gemv_bf16(const at::Tensor& w, const at::Tensor& x) {
  if (w.scalar_type() != at::kBFloat16 || x.scalar_type() != at::kFloat || !w.is_cpu() || !x.is_cpu() ||
      w.dim() != 2 || x.dim() != 1 || w.size(1) != x.size(0) || !w.is_contiguous() || !x.is_contiguous())
    throw Error("gemv_bf16: needs contiguous CPU bfloat16 w [N, K] and float32 x [K], got w " +
                std::string(c10::toString(w.scalar_type())) + " " + std::to_string(w.dim()) + "-d, x " +
                std::string(c10::toString(x.scalar_type())) + " " + std::to_string(x.dim()) + "-d");
  static const RowFn row = pick_row();
  const int64_t N = w.size(0), K = w.size(1);
  auto y = at::empty({N}, x.options());
  const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  // Grain: about 64 K elements per task, so small matrices stay on one thread.
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(K, 1));
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) yp[n] = row(wp + n * K, xp, K);
  });
  return y;
}

}  // namespace skvq
