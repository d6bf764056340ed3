// Prefill attention by BLAS blocks for the fused CPU attention (attention_cpu.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "attention_cpu.h"

namespace skvq {

constexpr int64_t kPrefillBlock = 128;  // query rows per work item

// Per work item (sequence, KV head, block of kPrefillBlock queries) the G heads' scores against
// the keys the block may read come from one BLAS matmul, the entries outside each query's span
// are set to -inf, softmax, and a second matmul with the values. Keys and values are read in
// place (row stride C). The work items run in parallel (BLAS single-threaded inside).
void prefill_attention_blas(const float* q, const float* k, const float* v, float* out, int64_t B, int64_t T,
                            int64_t Tk, int64_t H, int64_t KVH, int64_t hd, int64_t pos0, float scale,
                            const KeySpan& span) {
  const int64_t G = H / KVH, C = KVH * hd, blocks = (T + kPrefillBlock - 1) / kPrefillBlock;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  auto qt = at::from_blob(const_cast<float*>(q), {B, T, H, hd}, f32);
  auto kt = at::from_blob(const_cast<float*>(k), {B, Tk, C}, f32);
  auto vt = at::from_blob(const_cast<float*>(v), {B, Tk, C}, f32);
  auto ot = at::from_blob(out, {B, T, H, hd}, f32);
  at::parallel_for(0, B * KVH * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) {
      const int64_t blk = it % blocks, bk = it / blocks, b = bk / KVH, kv = bk % KVH;
      const int64_t t0 = blk * kPrefillBlock, tb = std::min(kPrefillBlock, T - t0);
      const int64_t n = visible_keys(Tk, pos0 + t0 + tb - 1, span).n;  // what the block's last query reads
      auto qb = qt[b].narrow(0, t0, tb).narrow(1, kv * G, G).permute({1, 0, 2}).reshape({G * tb, hd});
      auto kb = kt[b].narrow(0, 0, n).narrow(1, kv * hd, hd);  // [n, hd], row stride C
      auto vb = vt[b].narrow(0, 0, n).narrow(1, kv * hd, hd);
      auto scores = at::mm(qb, kb.t()).mul_(scale).contiguous();  // [G * tb, n]
      float* sd = scores.data_ptr<float>();
      for (int64_t t = 0; t < tb; ++t) {
        const VisibleKeys vis = visible_keys(Tk, pos0 + t0 + t, span);
        for (int64_t g = 0; g < G; ++g) {
          float* row = sd + (g * tb + t) * n;
          std::fill(row + vis.a, row + vis.lo, -INFINITY);  // outside the window (eviction)
          std::fill(row + vis.n, row + n, -INFINITY);       // after the query
        }
      }
      auto probs = at::softmax(scores, -1);
      auto o = at::mm(probs, vb).view({G, tb, hd});
      ot[b].narrow(0, t0, tb).narrow(1, kv * G, G).copy_(o.permute({1, 0, 2}));
    }
  });
}

}  // namespace skvq
