// CPU decode attention over the packed cache (dequantize on the fly, never materialize the
// cache) and the dense float32 / float16 baselines. The loop bodies are written once as
// always-inline functions and compiled twice: for AVX2+FMA (chosen at run time with
// __builtin_cpu_supports) and portable.
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

// Scale/zero of group g: FP8 through a table (no ldexp in the hot loop).
SKVQ_INLINE void params_fast(const PackedFormat& f, const uint8_t* tok, int64_t g, const float* fp8_lut,
                             float* s, float* z) {
  if (f.params.fp8) {
    const uint8_t* p = tok + f.code_bytes() + 2 * g;
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

struct TaskCtx {
  // shapes
  int64_t D, C, S, W, L, n_mid, kh;
  const float* q;      // [D] scaled by 1/sqrt(D)
  float* out;          // [D]
  const std::vector<float>* sink_k;
  const std::vector<float>* sink_v;
  const std::vector<float>* win_k;
  const std::vector<float>* win_v;
  const TokenBlockStore* mid_k;
  const TokenBlockStore* mid_v;
  const PackedFormat* kf;
  const PackedFormat* vf;
  const PackedKVCache::HeadPlan* kp;
  const PackedKVCache::HeadPlan* vp;
  bool pre_rope;
  const float* rope_cos;
  const float* rope_sin;
};

template <bool AVX>
SKVQ_INLINE void attend_body(const TaskCtx& c) {
  const float* lut = fp8_table();
  const int64_t kcb = c.kf->raw() ? 0 : c.kf->code_bytes();
  const int64_t vcb = c.vf->raw() ? 0 : c.vf->code_bytes();
  (void)kcb;
  (void)vcb;
  const int64_t D = c.D, C = c.C, L = c.L, half = D / 2;
  std::vector<float> scores(L);
  const int64_t n_sink = std::min(c.S, L);
  const int64_t win_begin = n_sink + c.n_mid;
  // Buffers for the packed paths.
  const int64_t kpn = static_cast<int64_t>(c.kp->dim.size()), vpn = static_cast<int64_t>(c.vp->dim.size());
  std::vector<float> qp(kpn), qsum(c.kp->groups.size()), buf(std::max({kpn, vpn, D})), kbuf(D);
  std::vector<uint8_t> scratch(std::max({kpn, vpn, D}));
  const GroupLayout& KL = c.kf->layout;
  const GroupLayout& VL = c.vf->layout;
  const bool k_smooth = !KL.smooth.empty(), v_smooth = !VL.smooth.empty();
  {
    int64_t pos = 0;
    for (size_t gi = 0; gi < c.kp->groups.size(); ++gi) {
      const int64_t g = c.kp->groups[gi], n = KL.offsets[g + 1] - KL.offsets[g];
      float s = 0;
      for (int64_t i = 0; i < n; ++i, ++pos) {
        const int32_t d = c.kp->dim[pos];
        float v = d >= 0 ? c.q[d] : 0.0f;
        if (d >= 0 && k_smooth) v /= KL.smooth[c.kp->channel[pos]];
        qp[pos] = v;
        s += v;
      }
      qsum[gi] = s;
    }
  }
  const int64_t off = c.kh * D;
  for (int64_t t = 0; t < n_sink; ++t) scores[t] = dot(c.q, c.sink_k->data() + t * C + off, D);
  for (int64_t t = win_begin; t < L; ++t)
    scores[t] = dot(c.q, c.win_k->data() + (t % c.W) * C + off, D);
  const bool k_raw = c.kf->raw();
  for (int64_t i = 0; i < c.n_mid; ++i) {
    const uint8_t* tok = c.mid_k->token(i);
    float sc = 0;
    if (k_raw) {
      sc = dot(c.q, reinterpret_cast<const float*>(tok) + off, D);
    } else if (!c.pre_rope) {
      int64_t pos = 0;
      for (size_t gi = 0; gi < c.kp->groups.size(); ++gi) {
        const int64_t g = c.kp->groups[gi], a = KL.offsets[g], n = KL.offsets[g + 1] - a;
        float s, z;
        params_fast(*c.kf, tok, g, lut, &s, &z);
        float dq;
#ifdef SKVQ_X86
        if (AVX && c.kf->params.qmax == 3 && a % 16 == 0 && n % 16 == 0) {
          dq = dot2_avx2(tok + a / 4, qp.data() + pos, n);
        } else
#endif
        {
          codes_to_float(tok, a, n, c.kf->params.qmax, buf.data(), scratch.data());
          dq = dot(qp.data() + pos, buf.data(), n);
        }
        sc += s * dq + z * qsum[gi];
        pos += n;
      }
    } else {
      int64_t pos = 0;
      for (size_t gi = 0; gi < c.kp->groups.size(); ++gi) {
        const int64_t g = c.kp->groups[gi], a = KL.offsets[g], n = KL.offsets[g + 1] - a;
        float s, z;
        params_fast(*c.kf, tok, g, lut, &s, &z);
        codes_to_float(tok, a, n, c.kf->params.qmax, buf.data(), scratch.data());
        for (int64_t j = 0; j < n; ++j, ++pos) {
          const int32_t d = c.kp->dim[pos];
          if (d < 0) continue;
          float v = buf[j] * s + z;
          if (k_smooth) v /= KL.smooth[c.kp->channel[pos]];
          kbuf[d] = v;
        }
      }
      const int64_t p = n_sink + i;
      const float* cs = c.rope_cos + p * half;
      const float* sn = c.rope_sin + p * half;
      float acc = 0;
      for (int64_t j = 0; j < half; ++j) {
        const float x1 = kbuf[j], x2 = kbuf[j + half];
        acc += c.q[j] * (x1 * cs[j] - x2 * sn[j]) + c.q[j + half] * (x2 * cs[j] + x1 * sn[j]);
      }
      sc = acc;
    }
    scores[n_sink + i] = sc;
  }
  // Softmax.
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < L; ++t) m = std::max(m, scores[t]);
  float denom = 0;
  for (int64_t t = 0; t < L; ++t) {
    scores[t] = std::exp(scores[t] - m);
    denom += scores[t];
  }
  // Values.
  std::vector<float> acc(D, 0.0f), accp(vpn, 0.0f), zacc(c.vp->groups.size(), 0.0f);
  for (int64_t t = 0; t < n_sink; ++t) axpy(acc.data(), scores[t], c.sink_v->data() + t * C + off, D);
  for (int64_t t = win_begin; t < L; ++t)
    axpy(acc.data(), scores[t], c.win_v->data() + (t % c.W) * C + off, D);
  const bool v_raw = c.vf->raw();
  for (int64_t i = 0; i < c.n_mid; ++i) {
    const float p = scores[n_sink + i];
    const uint8_t* tok = c.mid_v->token(i);
    if (v_raw) {
      axpy(acc.data(), p, reinterpret_cast<const float*>(tok) + off, D);
      continue;
    }
    int64_t pos = 0;
    for (size_t gi = 0; gi < c.vp->groups.size(); ++gi) {
      const int64_t g = c.vp->groups[gi], a = VL.offsets[g], n = VL.offsets[g + 1] - a;
      float s, z;
      params_fast(*c.vf, tok, g, lut, &s, &z);
#ifdef SKVQ_X86
      if (AVX && c.vf->params.qmax == 3 && a % 16 == 0 && n % 16 == 0) {
        axpy2_avx2(accp.data() + pos, p * s, tok + a / 4, n);
      } else
#endif
      {
        codes_to_float(tok, a, n, c.vf->params.qmax, buf.data(), scratch.data());
        axpy(accp.data() + pos, p * s, buf.data(), n);
      }
      zacc[gi] += p * z;
      pos += n;
    }
  }
  if (!v_raw && c.n_mid > 0) {
    int64_t pos = 0;
    for (size_t gi = 0; gi < c.vp->groups.size(); ++gi) {
      const int64_t g = c.vp->groups[gi], n = VL.offsets[g + 1] - VL.offsets[g];
      for (int64_t j = 0; j < n; ++j, ++pos) {
        const int32_t d = c.vp->dim[pos];
        if (d < 0) continue;
        float v = accp[pos] + zacc[gi];
        if (v_smooth) v /= VL.smooth[c.vp->channel[pos]];
        acc[d] += v;
      }
    }
  }
  const float inv = 1.0f / denom;
  for (int64_t d = 0; d < D; ++d) c.out[d] = acc[d] * inv;
}

#ifdef SKVQ_X86
__attribute__((target("avx2,fma,f16c"))) void attend_avx2(const TaskCtx& c) { attend_body<true>(c); }
#endif
void attend_portable(const TaskCtx& c) { attend_body<false>(c); }

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
  auto out = at::empty({batch_, H, D}, at::kFloat);
  const float* qd = q.data_ptr<float>();
  float* od = out.data_ptr<float>();
  const int64_t n_mid = packed_tokens(layer);
  const bool avx2 = cpu_has_avx2();
  at::parallel_for(0, batch_ * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / H, h = i % H, kh = h / (H / KVH);
      const Seq& s = Ly.seqs[b];
      TaskCtx c{D, C_, config_.sink, config_.window, L, n_mid, kh, qd + i * D, od + i * D,
                &s.sink_k, &s.sink_v, &s.win_k, &s.win_v, s.mid_k.get(), s.mid_v.get(),
                &kfmt_[layer], &vfmt_[layer], &kplan_[layer][kh], &vplan_[layer][kh], pre,
                pre ? rope_cos_.data() : nullptr, pre ? rope_sin_.data() : nullptr};
#ifdef SKVQ_X86
      if (avx2) {
        attend_avx2(c);
        continue;
      }
#endif
      attend_portable(c);
    }
  });
  (void)avx2;
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
