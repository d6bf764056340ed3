// The packed decode item for 2-bit codes in 16-aligned groups with keys after RoPE (AVX-512),
// four tokens at a time. Same arithmetic as the group-at-a-time item's fused path
// (packed_decode_items.cpp: score = sum over groups of s * (codes . qp) + z * sum(qp); values
// accumulated as p*s*code per position plus p*z per group), but each 16-channel block of q is
// loaded once for four tokens, the four dot products are reduced together, the value
// accumulator block stays in a register across the four tokens, and the per-group bookkeeping
// (plan lookups, offsets, parameter decoding) is done once per call into a flat segment list
// instead of per token and group.
#include <algorithm>

#include "kernels/packed_decode.h"
#include "kernels/packed_kernels.h"

namespace skvq::packed_detail {

bool use_fused2_kernel(const PackedFormat& kf, const PackedFormat& vf, bool pre_rope) {
  return !pre_rope && two_bit_blocks(kf) && two_bit_blocks(vf);
}

void build_segments(const std::vector<PackedKVCache::HeadPlan>& plans, const PackedFormat& f,
                    std::vector<FusedSegment>* out) {
  out->clear();
  const int64_t cb = f.code_bytes();
  for (size_t kh = 0; kh < plans.size(); ++kh) {
    int64_t pos = 0;
    for (size_t gi = 0; gi < plans[kh].groups.size(); ++gi) {
      const int64_t g = plans[kh].groups[gi], a = f.layout.offsets[g], gn = f.layout.offsets[g + 1] - a;
      out->push_back({a / 4, gn / 16, f.params.fp8 ? cb + 2 * g : g, pos, static_cast<int64_t>(kh),
                      static_cast<int64_t>(gi)});
      pos += gn;
    }
  }
}

#ifdef SKVQ_X86
namespace {

#define SKVQ_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

constexpr int kTile = 4;  // tokens per tile (a multiple of 4)

SKVQ_AVX512 SKVQ_INLINE __m256 half(__m512 a) {
  return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

// Horizontal sums of four vectors: {sum a0, sum a1, sum a2, sum a3}.
SKVQ_AVX512 SKVQ_INLINE __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(half(a0), half(a1)), _mm256_hadd_ps(half(a2), half(a3)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

SKVQ_AVX512 SKVQ_INLINE void seg_params(const PackedFormat& f, const uint8_t* tok, const FusedSegment& s,
                                        const float* lut, float* sc, float* z) {
  if (f.params.fp8) {
    *sc = lut[tok[s.param]];
    *z = lut[tok[s.param + 1]];
  } else {
    f.group_params(tok, s.param, sc, z);
  }
}

// Scores of tokens [i, i + T) (T = kTile or 1) into scores[h * n + col].
template <int T>
SKVQ_AVX512 SKVQ_INLINE void score_tile(const DecodeCtx& c, const TokenBlockStore& mid_k,
                                        const std::vector<FusedSegment>& segs, int64_t b, int64_t i, int64_t col,
                                        int64_t n, float* scores) {
  const float* lut = fp8_table();
  const int64_t H = c.H, G = c.G;
  const uint8_t* tok[T];
  for (int t = 0; t < T; ++t) tok[t] = mid_k.token(i + t);
  for (int64_t h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) scores[h * n + col + t] = 0.0f;
  for (const FusedSegment& sg : segs) {
    float s[T], z[T];
    for (int t = 0; t < T; ++t) seg_params(*c.kf, tok[t], sg, lut, s + t, z + t);
    for (int64_t gq = 0; gq < G; ++gq) {
      const int64_t h = sg.kh * G + gq, bh = b * H + h;
      const float* qp = c.qp + bh * c.kp_stride + sg.pos;
      __m512 acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
      for (int64_t k = 0; k < sg.n16; ++k) {
        const __m512 qv = _mm512_loadu_ps(qp + 16 * k);
        for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(codes2x16_avx512(tok[t] + sg.code + 4 * k), qv, acc[t]);
      }
      const float qs = c.qsum[bh * c.kg_stride + sg.gi];
      float* row = scores + h * n + col;
      if constexpr (T % 4 == 0) {
        alignas(16) float d[T];
        for (int t = 0; t < T; t += 4) _mm_store_ps(d + t, reduce4(acc[t], acc[t + 1], acc[t + 2], acc[t + 3]));
        for (int t = 0; t < T; ++t) row[t] += s[t] * d[t] + z[t] * qs;
      } else {
        row[0] += s[0] * _mm512_reduce_add_ps(acc[0]) + z[0] * qs;
      }
    }
  }
}

// Values of tokens [i, i + T): accp[h][pos] += p*s*code, zacc[h][gi] += p*z.
template <int T>
SKVQ_AVX512 SKVQ_INLINE void value_tile(const DecodeCtx& c, const TokenBlockStore& mid_v,
                                        const std::vector<FusedSegment>& segs, int64_t i, int64_t col, int64_t n,
                                        const float* scores, float* accp, float* zacc) {
  const float* lut = fp8_table();
  const int64_t G = c.G;
  const uint8_t* tok[T];
  for (int t = 0; t < T; ++t) tok[t] = mid_v.token(i + t);
  for (const FusedSegment& sg : segs) {
    float s[T], z[T];
    for (int t = 0; t < T; ++t) seg_params(*c.vf, tok[t], sg, lut, s + t, z + t);
    for (int64_t gq = 0; gq < G; ++gq) {
      const int64_t h = sg.kh * G + gq;
      const float* p = scores + h * n + col;
      __m512 a[T];
      float zs = 0;
      for (int t = 0; t < T; ++t) {
        a[t] = _mm512_set1_ps(p[t] * s[t]);
        zs += p[t] * z[t];
      }
      zacc[h * c.vg_stride + sg.gi] += zs;
      float* y = accp + h * c.vp_stride + sg.pos;
      for (int64_t k = 0; k < sg.n16; ++k) {
        __m512 yv = _mm512_loadu_ps(y + 16 * k);
        for (int t = 0; t < T; ++t) yv = _mm512_fmadd_ps(a[t], codes2x16_avx512(tok[t] + sg.code + 4 * k), yv);
        _mm512_storeu_ps(y + 16 * k, yv);
      }
    }
  }
}

}  // namespace

SKVQ_AVX512 void run_packed_item_fused2_avx512(const ItemArgs& a) {
  const DecodeCtx& c = *a.c;
  ItemScratch& sc = *a.scratch;
  const int64_t H = c.H, D = c.D, n = a.i1 - a.i0;
  sc.scores.resize(static_cast<size_t>(H * n));
  float* scores = sc.scores.data();
  const int64_t kb = a.mid_k->token_bytes(), vb = a.mid_v->token_bytes();
  int64_t i = a.i0;
  for (; i + kTile <= a.i1; i += kTile) {
    if (i + kTile + kPrefetchTokens <= a.i1)
      for (int t = 0; t < kTile; ++t) prefetch_token(a.mid_k->token(i + kPrefetchTokens + t), kb);
    score_tile<kTile>(c, *a.mid_k, *c.ksegs, a.b, i, i - a.i0, n, scores);
  }
  for (; i < a.i1; ++i) score_tile<1>(c, *a.mid_k, *c.ksegs, a.b, i, i - a.i0, n, scores);
  chunk_softmax(scores, H, n, a.ws, D);
  for (int64_t h = 0; h < H; ++h) std::fill_n(a.ws + h * (D + 2) + 2, D, 0.0f);
  sc.accp.assign(static_cast<size_t>(H * c.vp_stride), 0.0f);
  sc.zacc.assign(static_cast<size_t>(H * c.vg_stride), 0.0f);
  float* accp = sc.accp.data();
  float* zacc = sc.zacc.data();
  for (i = a.i0; i + kTile <= a.i1; i += kTile) {
    if (i + kTile + kPrefetchTokens <= a.i1)
      for (int t = 0; t < kTile; ++t) prefetch_token(a.mid_v->token(i + kPrefetchTokens + t), vb);
    value_tile<kTile>(c, *a.mid_v, *c.vsegs, i, i - a.i0, n, scores, accp, zacc);
  }
  for (; i < a.i1; ++i) value_tile<1>(c, *a.mid_v, *c.vsegs, i, i - a.i0, n, scores, accp, zacc);
  fold_value_accumulators(c, accp, zacc, a.ws);
}
#endif

}  // namespace skvq::packed_detail
