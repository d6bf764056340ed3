// CPU decode attention over the packed cache (dequantize on the fly, never materialize the
// cache, split along the sequence with a log-sum-exp combine) and the dense float32 / float16
// baselines. The packed loop bodies are written once as always-inline templates and compiled
// three times: AVX-512, AVX2+FMA (chosen at run time with __builtin_cpu_supports) and portable.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "skvq/error.h"
#include "skvq/packed_cache.h"

#if defined(__x86_64__) || defined(__i386__)
#define SKVQ_X86 1
#include <immintrin.h>
#endif

#define SKVQ_INLINE inline __attribute__((always_inline))

// GCC 12 warns "__Y may be used uninitialized" inside avx512fintrin.h (_mm512_undefined_* in
// the reduce/cvt intrinsics): a known false positive of the header, not of this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace skvq {
namespace {

bool cpu_has_avx2() {
#ifdef SKVQ_X86
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                         __builtin_cpu_supports("f16c");
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
const Luts& luts() {
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
__attribute__((target("avx2,fma"))) float dot2_avx2(const uint8_t* p, const float* q, int64_t n) {
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
__attribute__((target("avx2,fma"))) void axpy2_avx2(float* y, float a, const uint8_t* p, int64_t n) {
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

const float* fp8_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(256);
    for (int b = 0; b < 256; ++b) v[b] = fp8_e4m3_value(static_cast<uint8_t>(b));
    return v;
  }();
  return t.data();
}

#ifdef SKVQ_X86
// AVX-512 versions of dot2/axpy2: one 32-bit word = 16 codes = one zmm. n % 16 == 0.
__attribute__((target("avx512f,fma"))) float dot2_avx512(const uint8_t* p, const float* q, int64_t n) {
  const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i three = _mm512_set1_epi32(3);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint32_t w0, w1;
    std::memcpy(&w0, p + i / 4, 4);
    std::memcpy(&w1, p + i / 4 + 4, 4);
    const __m512 c0 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w0)), sh), three));
    const __m512 c1 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w1)), sh), three));
    a0 = _mm512_fmadd_ps(c0, _mm512_loadu_ps(q + i), a0);
    a1 = _mm512_fmadd_ps(c1, _mm512_loadu_ps(q + i + 16), a1);
  }
  for (; i < n; i += 16) {
    uint32_t w;
    std::memcpy(&w, p + i / 4, 4);
    const __m512 c = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w)), sh), three));
    a0 = _mm512_fmadd_ps(c, _mm512_loadu_ps(q + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}
__attribute__((target("avx512f,fma"))) void axpy2_avx512(float* y, float a, const uint8_t* p, int64_t n) {
  const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i three = _mm512_set1_epi32(3);
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    uint32_t w;
    std::memcpy(&w, p + i / 4, 4);
    const __m512 c = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w)), sh), three));
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, c, _mm512_loadu_ps(y + i)));
  }
}
#endif

bool cpu_has_avx512() {
#ifdef SKVQ_X86
  static const bool ok = cpu_has_avx2() && __builtin_cpu_supports("avx512f");
  return ok;
#else
  return false;
#endif
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

// Decode attention is split along the sequence: work item = (sequence b, a chunk of tokens);
// every item reads each of its tokens' packed records once, front to back, for all heads (the
// record stays in L1 while the heads use it), and leaves per head a partial softmax
// (max m, sum l, unnormalized sum acc[D]). A log-sum-exp combine merges the items, as the CUDA
// kernel does. Item 0 of a sequence holds the full-precision tokens (sink + window).
constexpr int64_t kChunkTokens = 256;
// A token's record is read once, front to back; asking for the record a few tokens ahead keeps
// several cache-line fetches in flight (the loop is otherwise bound by memory latency).
constexpr int64_t kPrefetchTokens = 4;
SKVQ_INLINE void prefetch_token(const uint8_t* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

struct DecodeCtx {
  int64_t H, KVH, G, D, C, S, W, L, n_sink, n_mid, win_begin;
  const PackedFormat* kf;
  const PackedFormat* vf;
  const std::vector<PackedKVCache::HeadPlan>* kplan;  // [KVH]
  const std::vector<PackedKVCache::HeadPlan>* vplan;  // [KVH]
  bool pre_rope;
  const float* rope_cos;
  const float* rope_sin;
  const float* q;     // [B, H, D], scaled by 1/sqrt(D)
  const float* qp;    // [B, H, kp_stride]: q in the key plan's positions (smooth divided), 0 elsewhere
  const float* qsum;  // [B, H, kg_stride]: sum of qp over each touched group
  int64_t kp_stride, kg_stride, vp_stride, vg_stride;
};

struct ItemScratch {
  std::vector<float> scores, buf, kbuf, accp, zacc, sacc;
  std::vector<uint8_t> codes;
};

// Writes the partial softmax of heads 0..H-1 for `n` scores per head into ws: [H][D + 2] =
// (m, l, acc[D]) with acc filled by the caller; returns the weights in place of the scores.
SKVQ_INLINE void chunk_softmax(float* scores, int64_t H, int64_t n, float* ws, int64_t D) {
  for (int64_t h = 0; h < H; ++h) {
    float* sc = scores + h * n;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < n; ++t) m = std::max(m, sc[t]);
    float l = 0;
    for (int64_t t = 0; t < n; ++t) {
      sc[t] = std::exp(sc[t] - m);
      l += sc[t];
    }
    ws[h * (D + 2)] = m;
    ws[h * (D + 2) + 1] = l;
  }
}

// Sink + window tokens of sequence b (all float32), and the exact last token when given.
template <int ISA>
SKVQ_INLINE void dense_item(const DecodeCtx& c, const float* sink_k, const float* sink_v, const float* win_k,
                            const float* win_v, const float* last_k, const float* last_v, int64_t b, float* ws,
                            ItemScratch& sc) {
  const int64_t H = c.H, D = c.D, C = c.C;
  const int64_t n_win = c.L - c.win_begin, n = c.n_sink + n_win + (last_k ? 1 : 0);
  auto row = [&](const float* sink, const float* win, const float* last, int64_t i) {
    if (i < c.n_sink) return sink + i * C;
    if (i < c.n_sink + n_win) return win + ((c.win_begin + i - c.n_sink) % c.W) * C;
    return last;
  };
  sc.scores.resize(static_cast<size_t>(H * n));
  for (int64_t i = 0; i < n; ++i) {
    const float* k = row(sink_k, win_k, last_k, i);
    for (int64_t h = 0; h < H; ++h)
      sc.scores[h * n + i] = dot(c.q + (b * H + h) * D, k + (h / c.G) * D, D);
  }
  chunk_softmax(sc.scores.data(), H, n, ws, D);
  for (int64_t h = 0; h < H; ++h) std::fill_n(ws + h * (D + 2) + 2, D, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float* v = row(sink_v, win_v, last_v, i);
    for (int64_t h = 0; h < H; ++h) axpy(ws + h * (D + 2) + 2, sc.scores[h * n + i], v + (h / c.G) * D, D);
  }
}

// Middle tokens [i0, i1) of sequence b, dequantized on the fly.
template <int ISA>
SKVQ_INLINE void packed_item(const DecodeCtx& c, const TokenBlockStore& mid_k, const TokenBlockStore& mid_v,
                             int64_t b, int64_t i0, int64_t i1, float* ws, ItemScratch& sc) {
  const float* lut = fp8_table();
  const int64_t H = c.H, G = c.G, D = c.D, half = D / 2, n = i1 - i0;
  const PackedFormat& kf = *c.kf;
  const PackedFormat& vf = *c.vf;
  const GroupLayout& KL = kf.layout;
  const GroupLayout& VL = vf.layout;
  const bool k_raw = kf.raw(), v_raw = vf.raw();
  const bool k_smooth = !KL.smooth.empty(), v_smooth = !VL.smooth.empty();
  const bool k_fast = ISA != kPortable && kf.params.qmax == 3, v_fast = ISA != kPortable && vf.params.qmax == 3;
  const int64_t kcb = k_raw ? 0 : kf.code_bytes(), vcb = v_raw ? 0 : vf.code_bytes();
  const int64_t bufn = std::max({c.kp_stride, c.vp_stride, D});
  sc.scores.resize(static_cast<size_t>(H * n));
  sc.buf.resize(static_cast<size_t>(bufn));
  sc.codes.resize(static_cast<size_t>(bufn));
  sc.kbuf.resize(static_cast<size_t>(D));
  sc.sacc.resize(static_cast<size_t>(G));
  float* scores = sc.scores.data();
  float* buf = sc.buf.data();
  // Scores.
  for (int64_t i = i0; i < i1; ++i) {
    const uint8_t* tok = mid_k.token(i);
    if (i + kPrefetchTokens < i1) prefetch_token(mid_k.token(i + kPrefetchTokens), mid_k.token_bytes());
    const int64_t col = i - i0;
    if (k_raw) {
      const float* kt = reinterpret_cast<const float*>(tok);
      for (int64_t h = 0; h < H; ++h) scores[h * n + col] = dot(c.q + (b * H + h) * D, kt + (h / G) * D, D);
      continue;
    }
    for (int64_t kh = 0; kh < c.KVH; ++kh) {
      const auto& plan = (*c.kplan)[kh];
      if (!c.pre_rope) {
        float* sacc = sc.sacc.data();
        std::fill_n(sacc, G, 0.0f);
        int64_t pos = 0;
        for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
          const int64_t g = plan.groups[gi], a = KL.offsets[g], gn = KL.offsets[g + 1] - a;
          float s, z;
          params_fast(kf, kcb, tok, g, lut, &s, &z);
          const bool fused = k_fast && a % 16 == 0 && gn % 16 == 0;
          if (!fused) codes_to_float(tok, a, gn, kf.params.qmax, buf, sc.codes.data());
          for (int64_t gq = 0; gq < G; ++gq) {
            const int64_t bh = b * H + kh * G + gq;
            const float* qp = c.qp + bh * c.kp_stride + pos;
            const float dq = fused ? dot2<ISA>(tok + a / 4, qp, gn) : dot(qp, buf, gn);
            sacc[gq] += s * dq + z * c.qsum[bh * c.kg_stride + gi];
          }
          pos += gn;
        }
        for (int64_t gq = 0; gq < G; ++gq) scores[(kh * G + gq) * n + col] = sacc[gq];
      } else {
        // pre-RoPE keys: dequantize the head, rotate to the token's position, then dot.
        float* kb = sc.kbuf.data();
        int64_t pos = 0;
        for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
          const int64_t g = plan.groups[gi], a = KL.offsets[g], gn = KL.offsets[g + 1] - a;
          float s, z;
          params_fast(kf, kcb, tok, g, lut, &s, &z);
          codes_to_float(tok, a, gn, kf.params.qmax, buf, sc.codes.data());
          for (int64_t j = 0; j < gn; ++j, ++pos) {
            const int32_t d = plan.dim[pos];
            if (d < 0) continue;
            float v = buf[j] * s + z;
            if (k_smooth) v /= KL.smooth[plan.channel[pos]];
            kb[d] = v;
          }
        }
        const int64_t p = c.n_sink + i;
        const float* cs = c.rope_cos + p * half;
        const float* sn = c.rope_sin + p * half;
        float* rot = buf;  // the codes of the last group are no longer needed
        for (int64_t j = 0; j < half; ++j) {
          const float x1 = kb[j], x2 = kb[j + half];
          rot[j] = x1 * cs[j] - x2 * sn[j];
          rot[j + half] = x2 * cs[j] + x1 * sn[j];
        }
        for (int64_t gq = 0; gq < G; ++gq) {
          const int64_t h = kh * G + gq;
          scores[h * n + col] = dot(c.q + (b * H + h) * D, rot, D);
        }
      }
    }
  }
  chunk_softmax(scores, H, n, ws, D);
  for (int64_t h = 0; h < H; ++h) std::fill_n(ws + h * (D + 2) + 2, D, 0.0f);
  // Values: raw tensors straight into acc; packed ones into per-head accumulators in the plan's
  // positions (sum of p*s*code) and per-group sums of p*z, folded into acc at the end.
  if (v_raw) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* vt = reinterpret_cast<const float*>(mid_v.token(i));
      for (int64_t h = 0; h < H; ++h) axpy(ws + h * (D + 2) + 2, scores[h * n + i - i0], vt + (h / G) * D, D);
    }
    return;
  }
  sc.accp.assign(static_cast<size_t>(H * c.vp_stride), 0.0f);
  sc.zacc.assign(static_cast<size_t>(H * c.vg_stride), 0.0f);
  float* accp = sc.accp.data();
  float* zacc = sc.zacc.data();
  for (int64_t i = i0; i < i1; ++i) {
    const uint8_t* tok = mid_v.token(i);
    if (i + kPrefetchTokens < i1) prefetch_token(mid_v.token(i + kPrefetchTokens), mid_v.token_bytes());
    const int64_t col = i - i0;
    for (int64_t kh = 0; kh < c.KVH; ++kh) {
      const auto& plan = (*c.vplan)[kh];
      int64_t pos = 0;
      for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
        const int64_t g = plan.groups[gi], a = VL.offsets[g], gn = VL.offsets[g + 1] - a;
        float s, z;
        params_fast(vf, vcb, tok, g, lut, &s, &z);
        const bool fused = v_fast && a % 16 == 0 && gn % 16 == 0;
        if (!fused) codes_to_float(tok, a, gn, vf.params.qmax, buf, sc.codes.data());
        for (int64_t gq = 0; gq < G; ++gq) {
          const int64_t h = kh * G + gq;
          const float p = scores[h * n + col];
          float* y = accp + h * c.vp_stride + pos;
          if (fused) axpy2<ISA>(y, p * s, tok + a / 4, gn);
          else axpy(y, p * s, buf, gn);
          zacc[h * c.vg_stride + gi] += p * z;
        }
        pos += gn;
      }
    }
  }
  for (int64_t h = 0; h < H; ++h) {
    const auto& plan = (*c.vplan)[h / G];
    float* acc = ws + h * (D + 2) + 2;
    int64_t pos = 0;
    for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
      const int64_t g = plan.groups[gi], gn = VL.offsets[g + 1] - VL.offsets[g];
      const float zs = zacc[h * c.vg_stride + gi];
      for (int64_t j = 0; j < gn; ++j, ++pos) {
        const int32_t d = plan.dim[pos];
        if (d < 0) continue;
        float v = accp[h * c.vp_stride + pos] + zs;
        if (v_smooth) v /= VL.smooth[plan.channel[pos]];
        acc[d] += v;
      }
    }
  }
}

struct ItemArgs {
  const DecodeCtx* c;
  const float *sink_k, *sink_v, *win_k, *win_v, *last_k, *last_v;  // last: nullptr when not used
  const TokenBlockStore *mid_k, *mid_v;
  int64_t b, i0, i1;  // i0 < 0: the dense item
  float* ws;
  ItemScratch* scratch;
};

template <int ISA>
SKVQ_INLINE void run_item(const ItemArgs& a) {
  if (a.i0 < 0)
    dense_item<ISA>(*a.c, a.sink_k, a.sink_v, a.win_k, a.win_v, a.last_k, a.last_v, a.b, a.ws, *a.scratch);
  else packed_item<ISA>(*a.c, *a.mid_k, *a.mid_v, a.b, a.i0, a.i1, a.ws, *a.scratch);
}

#ifdef SKVQ_X86
__attribute__((target("avx512f,avx2,fma,f16c"))) void run_item_avx512(const ItemArgs& a) { run_item<kAvx512>(a); }
__attribute__((target("avx2,fma,f16c"))) void run_item_avx2(const ItemArgs& a) { run_item<kAvx2>(a); }
#endif
void run_item_portable(const ItemArgs& a) { run_item<kPortable>(a); }

// Dense baseline: one head over [T, C] storage (float or half).
template <typename T>
SKVQ_INLINE void to_float(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

struct DenseCtx {
  const float* q;
  const void* k;
  const void* v;
  bool half;
  int64_t T, C, D, off;
  float* out;
};

SKVQ_INLINE void dense_body(const DenseCtx& c) {
  std::vector<float> scores(c.T), tmp(c.D), acc(c.D, 0.0f);
  const float* kf = static_cast<const float*>(c.k);
  const float* vf = static_cast<const float*>(c.v);
  const c10::Half* kh = static_cast<const c10::Half*>(c.k);
  const c10::Half* vh = static_cast<const c10::Half*>(c.v);
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < c.T; ++t) {
    float s;
    if (c.half) {
#ifdef __F16C__
      for (int64_t i = 0; i < c.D; i += 8)
        _mm256_storeu_ps(tmp.data() + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                             reinterpret_cast<const __m128i*>(kh + t * c.C + c.off + i))));
#else
      to_float(kh + t * c.C + c.off, tmp.data(), c.D);
#endif
      s = dot(c.q, tmp.data(), c.D);
    } else {
      s = dot(c.q, kf + t * c.C + c.off, c.D);
    }
    scores[t] = s;
    m = std::max(m, s);
  }
  float denom = 0;
  for (int64_t t = 0; t < c.T; ++t) {
    scores[t] = std::exp(scores[t] - m);
    denom += scores[t];
  }
  for (int64_t t = 0; t < c.T; ++t) {
    if (c.half) {
#ifdef __F16C__
      for (int64_t i = 0; i < c.D; i += 8)
        _mm256_storeu_ps(tmp.data() + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                             reinterpret_cast<const __m128i*>(vh + t * c.C + c.off + i))));
#else
      to_float(vh + t * c.C + c.off, tmp.data(), c.D);
#endif
      axpy(acc.data(), scores[t], tmp.data(), c.D);
    } else {
      axpy(acc.data(), scores[t], vf + t * c.C + c.off, c.D);
    }
  }
  for (int64_t d = 0; d < c.D; ++d) c.out[d] = acc[d] / denom;
}

#ifdef SKVQ_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
void dense_avx2_f16c(const DenseCtx& c) {
  // F16C path compiled with the intrinsics visible (__F16C__ is not defined by the pragma, so
  // the conversion is written here directly).
  std::vector<float> scores(c.T), tmp(c.D), acc(c.D, 0.0f);
  const float* kf = static_cast<const float*>(c.k);
  const float* vf = static_cast<const float*>(c.v);
  const uint16_t* kh = static_cast<const uint16_t*>(c.k);
  const uint16_t* vh = static_cast<const uint16_t*>(c.v);
  auto cvt = [&](const uint16_t* src) {
    int64_t i = 0;
    for (; i + 8 <= c.D; i += 8)
      _mm256_storeu_ps(tmp.data() + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < c.D; ++i) tmp[i] = _cvtsh_ss(src[i]);
  };
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < c.T; ++t) {
    float s;
    if (c.half) {
      cvt(kh + t * c.C + c.off);
      s = dot(c.q, tmp.data(), c.D);
    } else {
      s = dot(c.q, kf + t * c.C + c.off, c.D);
    }
    scores[t] = s;
    m = std::max(m, s);
  }
  float denom = 0;
  for (int64_t t = 0; t < c.T; ++t) {
    scores[t] = std::exp(scores[t] - m);
    denom += scores[t];
  }
  for (int64_t t = 0; t < c.T; ++t) {
    if (c.half) {
      cvt(vh + t * c.C + c.off);
      axpy(acc.data(), scores[t], tmp.data(), c.D);
    } else {
      axpy(acc.data(), scores[t], vf + t * c.C + c.off, c.D);
    }
  }
  for (int64_t d = 0; d < c.D; ++d) c.out[d] = acc[d] / denom;
}
#pragma GCC pop_options
#endif

}  // namespace

at::Tensor PackedKVCache::decode_attention(int64_t layer, const at::Tensor& q_in) const {
  const int64_t H = model_.num_attention_heads, D = model_.head_dim, KVH = model_.num_key_value_heads;
  if (layer < 0 || layer >= model_.num_hidden_layers) throw Error("decode_attention: layer out of range");
  if (q_in.dim() != 3 || q_in.size(0) != batch_ || q_in.size(1) != H || q_in.size(2) != D)
    throw Error("decode_attention: q must be [" + std::to_string(batch_) + ", " + std::to_string(H) + ", " +
                std::to_string(D) + "]");
  const auto& Ly = layers_[layer];
  const int64_t L = Ly.length;
  if (L == 0) throw Error("decode_attention: layer " + std::to_string(layer) + " is empty");
  const bool pre = config_.pre_rope && !kfmt_[layer].raw();
  if (pre) ensure_rope(L);
  auto q = (q_in.to(at::kCPU, at::kFloat) * (1.0 / std::sqrt(static_cast<double>(D)))).contiguous();
  const float* qd = q.data_ptr<float>();
  const int64_t n_packed = packed_tokens(layer), n_sink = std::min(config_.sink, L);
  // full_prefill with window 0: the token of the last one-token append is read exactly (it is the
  // last packed token; the same for every sequence).
  const bool exact_last = full_prefill_ && config_.window == 0 && n_packed > 0 && Ly.seqs[0].last_pos == L - 1;
  const int64_t n_mid = n_packed - (exact_last ? 1 : 0);
  const auto& kplan = kplan_[layer];
  const auto& vplan = vplan_[layer];
  const PackedFormat& kf = kfmt_[layer];
  const PackedFormat& vf = vfmt_[layer];

  DecodeCtx c{H, KVH, H / KVH, D, C_, config_.sink, config_.window, L, n_sink, n_mid, n_sink + n_packed,
              &kf, &vf, &kplan, &vplan, pre, pre ? rope_cos_.data() : nullptr,
              pre ? rope_sin_.data() : nullptr, qd, nullptr, nullptr, 0, 0, 0, 0};
  for (int64_t kh = 0; kh < KVH; ++kh) {
    c.kp_stride = std::max<int64_t>(c.kp_stride, static_cast<int64_t>(kplan[kh].dim.size()));
    c.kg_stride = std::max<int64_t>(c.kg_stride, static_cast<int64_t>(kplan[kh].groups.size()));
    c.vp_stride = std::max<int64_t>(c.vp_stride, static_cast<int64_t>(vplan[kh].dim.size()));
    c.vg_stride = std::max<int64_t>(c.vg_stride, static_cast<int64_t>(vplan[kh].groups.size()));
  }
  // q in each head's key-plan positions (divided by the smooth scale) and its group sums, once
  // per call: the score of a packed key is sum over groups of s * (codes . qp) + z * sum(qp).
  std::vector<float> qp(static_cast<size_t>(batch_ * H * c.kp_stride), 0.0f);
  std::vector<float> qsum(static_cast<size_t>(batch_ * H * c.kg_stride), 0.0f);
  if (!kf.raw() && !pre) {
    for (int64_t bh = 0; bh < batch_ * H; ++bh) {
      const auto& plan = kplan[(bh % H) / (H / KVH)];
      const float* qh = qd + bh * D;
      int64_t pos = 0;
      for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
        const int64_t g = plan.groups[gi], n = kf.layout.offsets[g + 1] - kf.layout.offsets[g];
        float s = 0;
        for (int64_t i = 0; i < n; ++i, ++pos) {
          const int32_t d = plan.dim[pos];
          float v = d >= 0 ? qh[d] : 0.0f;
          if (d >= 0 && !kf.layout.smooth.empty()) v /= kf.layout.smooth[plan.channel[pos]];
          qp[bh * c.kp_stride + pos] = v;
          s += v;
        }
        qsum[bh * c.kg_stride + gi] = s;
      }
    }
  }
  c.qp = qp.data();
  c.qsum = qsum.data();

  // Work items per sequence: [dense (sink + window) when any] + chunks of the middle.
  const bool has_dense = n_sink + (L - n_sink - n_mid) > 0;  // sink, window or the exact last token
  const int64_t n_chunks = (n_mid + kChunkTokens - 1) / kChunkTokens;
  const int64_t items = (has_dense ? 1 : 0) + n_chunks;
  const int64_t stride = H * (D + 2);
  std::vector<float> ws(static_cast<size_t>(batch_ * items * stride));
  const int isa = cpu_has_avx512() ? kAvx512 : cpu_has_avx2() ? kAvx2 : kPortable;
  at::parallel_for(0, batch_ * items, 1, [&](int64_t begin, int64_t end) {
    ItemScratch scratch;
    for (int64_t it = begin; it < end; ++it) {
      const int64_t b = it / items, j = it % items - (has_dense ? 1 : 0);
      const Seq& s = Ly.seqs[b];
      ItemArgs a{&c, s.sink_k.data(), s.sink_v.data(), s.win_k.data(), s.win_v.data(),
                 exact_last ? s.last_k.data() : nullptr, exact_last ? s.last_v.data() : nullptr, s.mid_k.get(),
                 s.mid_v.get(), b, j < 0 ? -1 : j * kChunkTokens, std::min(n_mid, (j + 1) * kChunkTokens),
                 ws.data() + it * stride, &scratch};
#ifdef SKVQ_X86
      if (isa == kAvx512) {
        run_item_avx512(a);
        continue;
      }
      if (isa == kAvx2) {
        run_item_avx2(a);
        continue;
      }
#endif
      run_item_portable(a);
    }
  });
  // Log-sum-exp combine of the items' partial softmaxes.
  auto out = at::empty({batch_, H, D}, at::kFloat);
  float* od = out.data_ptr<float>();
  for (int64_t b = 0; b < batch_; ++b)
    for (int64_t h = 0; h < H; ++h) {
      float M = -std::numeric_limits<float>::infinity();
      for (int64_t it = 0; it < items; ++it) M = std::max(M, ws[(b * items + it) * stride + h * (D + 2)]);
      float den = 0;
      float* o = od + (b * H + h) * D;
      std::fill_n(o, D, 0.0f);
      for (int64_t it = 0; it < items; ++it) {
        const float* w = ws.data() + (b * items + it) * stride + h * (D + 2);
        const float e = std::exp(w[0] - M);
        den += e * w[1];
        for (int64_t d = 0; d < D; ++d) o[d] += e * w[2 + d];
      }
      const float inv = 1.0f / den;
      for (int64_t d = 0; d < D; ++d) o[d] *= inv;
    }
  return out;
}

at::Tensor dense_decode_attention(const at::Tensor& q_in, const at::Tensor& k, const at::Tensor& v,
                                  int64_t kv_heads) {
  if (q_in.dim() != 2 || k.dim() != 2 || v.sizes() != k.sizes() || k.size(1) != kv_heads * q_in.size(1))
    throw Error("dense_decode_attention: expected q [H, D] and k, v [T, KVH*D]");
  if (k.scalar_type() != v.scalar_type() || (k.scalar_type() != at::kFloat && k.scalar_type() != at::kHalf))
    throw Error("dense_decode_attention: k and v must both be float32 or float16");
  const int64_t H = q_in.size(0), D = q_in.size(1), T = k.size(0), C = k.size(1);
  auto q = (q_in.to(at::kFloat) * (1.0 / std::sqrt(static_cast<double>(D)))).contiguous();
  auto kc = k.contiguous(), vc = v.contiguous();
  auto out = at::empty({H, D}, at::kFloat);
  const bool half = k.scalar_type() == at::kHalf;
  const bool avx2 = cpu_has_avx2();
  at::parallel_for(0, H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) {
      const int64_t kh = h / (H / kv_heads);
      DenseCtx c{q.data_ptr<float>() + h * D, kc.data_ptr(), vc.data_ptr(), half, T, C, D, kh * D,
                 out.data_ptr<float>() + h * D};
#ifdef SKVQ_X86
      if (avx2) {
        dense_avx2_f16c(c);
        continue;
      }
#endif
      dense_body(c);
    }
  });
  (void)avx2;
  return out;
}

}  // namespace skvq
