// Fused causal attention for float32 on the CPU: per (batch, head), keys and values are
// transposed once to [hd, Tk] so the loops over keys vectorize; scores live in a row buffer
// (no [T, Tk] matrix in memory); exp uses a polynomial that vectorizes (max rel. error ~2e-7).
#include "attention_cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

namespace skvq {

namespace {

// exp(x) for x <= 0 (scores minus their maximum): x = n*ln2 + r, |r| <= ln2/2, degree-6 Taylor
// polynomial of e^r, times 2^n built in the exponent bits. Branch-free so the loop vectorizes.
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
  return p * std::bit_cast<float>(bits);
}

__attribute__((target_clones("avx2", "default")))
void attend_head(const float* q, int64_t q_stride, const float* kt, const float* vt, float* out,
                 int64_t out_stride, int64_t T, int64_t Tk, int64_t hd, int64_t pos0, float scale,
                 const KeySpan& span, float* scores) {
  for (int64_t t = 0; t < T; ++t) {
    const float* qt = q + t * q_stride;
    const int64_t p = pos0 + t;  // keys [0, n) are at positions <= p; [sink, lo) are outside the window
    const int64_t n = std::min<int64_t>(Tk, p >= span.sink + span.evicted ? p - span.evicted + 1 : std::min(p + 1, span.sink));
    const int64_t lo = span.window > 0 ? std::clamp<int64_t>(p - span.window + 1 - span.evicted, span.sink, n) : 0;
    for (int64_t j = 0; j < n; ++j) scores[j] = 0.0f;
    for (int64_t d = 0; d < hd; ++d) {
      const float qd = qt[d] * scale;
      const float* __restrict row = kt + d * Tk;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) scores[j] += qd * row[j];
    }
    for (int64_t j = span.sink; j < lo; ++j) scores[j] = -INFINITY;
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; ++j) mx = scores[j] > mx ? scores[j] : mx;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) scores[j] = exp_nonpositive(scores[j] - mx);
    for (int64_t j = span.sink; j < lo; ++j) scores[j] = 0.0f;  // exp_nonpositive clamps, so zero exactly
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) sum += scores[j];
    const float inv = 1.0f / sum;
    float* o = out + t * out_stride;
    for (int64_t d = 0; d < hd; ++d) {
      const float* row = vt + d * Tk;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < n; ++j) acc += scores[j] * row[j];
      o[d] = acc * inv;
    }
  }
}

}  // namespace

void causal_attention_cpu(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                          int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                          const KeySpan& span) {
  const int64_t G = H / KVH, C = KVH * hd;
  at::parallel_for(0, B * KVH, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> kt(hd * Tk), vt(hd * Tk), scores(Tk);
    for (int64_t bk = begin; bk < end; ++bk) {
      const int64_t b = bk / KVH, kv = bk % KVH;
      for (int64_t j = 0; j < Tk; ++j) {
        const float* kr = k + (b * Tk + j) * C + kv * hd;
        const float* vr = v + (b * Tk + j) * C + kv * hd;
        for (int64_t d = 0; d < hd; ++d) {
          kt[d * Tk + j] = kr[d];
          vt[d * Tk + j] = vr[d];
        }
      }
      for (int64_t g = 0; g < G; ++g) {
        const int64_t h = kv * G + g;
        attend_head(q + (b * T * H + h) * hd, H * hd, kt.data(), vt.data(), out + (b * T * H + h) * hd, H * hd, T, Tk,
                    hd, pos0, scale, span, scores.data());
      }
    }
  });
}

}  // namespace skvq
