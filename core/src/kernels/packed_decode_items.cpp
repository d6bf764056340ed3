// Work items of the packed decode attention: the dense (sink + window) item, the packed item
// that dequantizes a chunk of middle tokens on the fly, and their AVX-512/AVX2/portable builds.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/packed_decode.h"
#include "kernels/packed_kernels.h"
#include "skvq/packed_cache.h"

namespace skvq::packed_detail {
namespace {

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

}  // namespace

void fold_value_accumulators(const DecodeCtx& c, const float* accp, const float* zacc, float* ws) {
  const GroupLayout& VL = c.vf->layout;
  const bool v_smooth = !VL.smooth.empty();
  for (int64_t h = 0; h < c.H; ++h) {
    const auto& plan = (*c.vplan)[h / c.G];
    float* acc = ws + h * (c.D + 2) + 2;
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

namespace {

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
  const bool k_smooth = !KL.smooth.empty();
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
        const float* cs = c.rope_cos + p * c.D;  // rows of head_dim (halves equal)
        const float* sn = c.rope_sin + p * c.D;
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
  fold_value_accumulators(c, accp, zacc, ws);
}

template <int ISA>
SKVQ_INLINE void run_item(const ItemArgs& a) {
  if (a.i0 < 0)
    dense_item<ISA>(*a.c, a.sink_k, a.sink_v, a.win_k, a.win_v, a.last_k, a.last_v, a.b, a.ws, *a.scratch);
  else packed_item<ISA>(*a.c, *a.mid_k, *a.mid_v, a.b, a.i0, a.i1, a.ws, *a.scratch);
}

}  // namespace

#ifdef SKVQ_X86
__attribute__((target("avx512f,avx2,fma,f16c"))) void run_item_avx512(const ItemArgs& a) { run_item<kAvx512>(a); }
__attribute__((target("avx2,fma,f16c"))) void run_item_avx2(const ItemArgs& a) { run_item<kAvx2>(a); }
#endif
void run_item_portable(const ItemArgs& a) { run_item<kPortable>(a); }

}  // namespace skvq::packed_detail
