// Fused causal attention for float32 on the CPU. Prefill of a long chunk (T >= 64): blocks of
// 128 queries per (sequence, KV head), scores and output by BLAS matmuls over the keys in place.
// Short chunks (1 < T < 64): per (batch, head), keys and values transposed once to [hd, Tk] so
// the loops over keys vectorize; scores in a row buffer. Decode (T == 1): keys and values read in
// place, split in blocks across threads, merged by log-sum-exp. exp uses a polynomial that
// vectorizes (max rel. error ~2e-7).
#include "attention_cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/exp_nonpositive.h"

namespace skvq {

namespace {

__attribute__((target_clones("avx2", "default")))
void attend_head(const float* q, int64_t q_stride, const float* kt, const float* vt, float* out,
                 int64_t out_stride, int64_t T, int64_t Tk, int64_t hd, int64_t pos0, float scale,
                 const KeySpan& span, float* scores) {
  for (int64_t t = 0; t < T; ++t) {
    const float* qt = q + t * q_stride;
    const VisibleKeys vis = visible_keys(Tk, pos0 + t, span);  // keys [0, n), minus [a, lo) outside the window
    const int64_t n = vis.n;
    for (int64_t j = 0; j < n; ++j) scores[j] = 0.0f;
    for (int64_t d = 0; d < hd; ++d) {
      const float qd = qt[d] * scale;
      const float* __restrict row = kt + d * Tk;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) scores[j] += qd * row[j];
    }
    for (int64_t j = vis.a; j < vis.lo; ++j) scores[j] = -INFINITY;
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; ++j) mx = scores[j] > mx ? scores[j] : mx;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) scores[j] = exp_nonpositive(scores[j] - mx);
    for (int64_t j = vis.a; j < vis.lo; ++j) scores[j] = 0.0f;  // exp_nonpositive clamps, so zero exactly
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

constexpr int64_t kDecodeBlock = 512;  // keys per work item of the decode kernel

// Partial softmax of the G query heads of one KV head over the visible keys [v0, v1): per head
// the block maximum, the sum of exp(score - max) and sum of exp(score - max) * v, written to
// part[g * (hd + 2) ...]. Keys and values are read in place (row stride C floats).
__attribute__((target_clones("avx2", "default")))
void decode_block(const float* q, int64_t G, const float* k, const float* v, int64_t C, int64_t hd,
                  const VisibleKeys& vis, int64_t v0, int64_t v1, float scale, float* scores, float* part) {
  const int64_t n = v1 - v0;
  for (int64_t i = 0; i < n; ++i) {
    const float* kr = k + vis.index(v0 + i) * C;
    for (int64_t g = 0; g < G; ++g) {
      const float* qg = q + g * hd;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < hd; ++d) dot += qg[d] * kr[d];
      scores[g * n + i] = dot * scale;
    }
  }
  for (int64_t g = 0; g < G; ++g) {
    float* sg = scores + g * n;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, sg[i]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) {
      sg[i] = exp_nonpositive(sg[i] - mx);
      sum += sg[i];
    }
    float* pg = part + g * (hd + 2);
    pg[0] = mx;
    pg[1] = sum;
    std::fill_n(pg + 2, hd, 0.0f);
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* vr = v + vis.index(v0 + i) * C;
    for (int64_t g = 0; g < G; ++g) {
      const float w = scores[g * n + i];
      float* acc = part + g * (hd + 2) + 2;
#pragma omp simd
      for (int64_t d = 0; d < hd; ++d) acc[d] += w * vr[d];
    }
  }
}

// T == 1: work items (sequence, KV head, block of kDecodeBlock visible keys) in parallel, then a
// log-sum-exp merge of the blocks per head. No transposed copy of the cache and no allocation per
// call beyond per-thread scratch that grows to the largest block seen.
void decode_attention_cpu(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t Tk, int64_t H,
                          int64_t KVH, int64_t hd, int64_t pos0, float scale, const KeySpan& span) {
  const int64_t G = H / KVH, C = KVH * hd;
  const VisibleKeys vis = visible_keys(Tk, pos0, span);
  const int64_t nv = vis.count(), blocks = std::max<int64_t>(1, (nv + kDecodeBlock - 1) / kDecodeBlock);
  const int64_t part_floats = G * (hd + 2);
  thread_local std::vector<float> ws;  // the calling thread's: the workers below write through wsd
  ws.resize(static_cast<size_t>(B * KVH * blocks * part_floats));
  float* wsd = ws.data();
  at::parallel_for(0, B * KVH * blocks, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    scores.resize(static_cast<size_t>(G * kDecodeBlock));
    for (int64_t it = begin; it < end; ++it) {
      const int64_t bk = it / blocks, blk = it % blocks, b = bk / KVH, kv = bk % KVH;
      const int64_t v0 = blk * kDecodeBlock, v1 = std::min(nv, v0 + kDecodeBlock);
      float* part = wsd + it * part_floats;
      if (v1 <= v0) {  // no visible key in this block (only when nv == 0)
        for (int64_t g = 0; g < G; ++g) part[g * (hd + 2)] = -INFINITY, part[g * (hd + 2) + 1] = 0.0f;
        continue;
      }
      decode_block(q + (b * H + kv * G) * hd, G, k + b * Tk * C + kv * hd, v + b * Tk * C + kv * hd, C, hd, vis, v0,
                   v1, scale, scores.data(), part);
    }
  });
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kv = h / G, g = h % G;
      const float* first = wsd + (b * KVH + kv) * blocks * part_floats + g * (hd + 2);
      float M = -INFINITY;
      for (int64_t blk = 0; blk < blocks; ++blk) M = std::max(M, first[blk * part_floats]);
      float den = 0.0f;
      float* o = out + (b * H + h) * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const float* pb = first + blk * part_floats;
        if (pb[1] == 0.0f) continue;
        const float e = std::exp(pb[0] - M);
        den += e * pb[1];
        for (int64_t d = 0; d < hd; ++d) o[d] += e * pb[2 + d];
      }
      const float inv = den > 0 ? 1.0f / den : 0.0f;
      for (int64_t d = 0; d < hd; ++d) o[d] *= inv;
    }
}

}  // namespace

void causal_attention_cpu(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                          int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                          const KeySpan& span) {
  if (T == 1) return decode_attention_cpu(q, k, v, out, B, Tk, H, KVH, hd, pos0, scale, span);
  if (T >= kBlasPrefillMinTokens) return prefill_attention_blas(q, k, v, out, B, T, Tk, H, KVH, hd, pos0, scale, span);
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
