// Dense float32 / float16 decode attention baseline (dense_decode_attention): one head per
// task, AVX2+F16C build chosen at run time, portable otherwise.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/packed_kernels.h"
#include "skvq/error.h"
#include "skvq/packed_cache.h"

namespace skvq {
using namespace packed_detail;
namespace {

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
