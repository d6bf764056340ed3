#pragma once
// Work items of the sequence-split packed decode attention (private): the shared context, the
// per-item arguments and the three compiled item runners (AVX-512, AVX2+FMA, portable).
#include <cstdint>
#include <vector>

#include "kernels/packed_kernels.h"
#include "skvq/packed_cache.h"

namespace skvq::packed_detail {

// Decode attention is split along the sequence: work item = (sequence b, a chunk of tokens);
// every item reads each of its tokens' packed records once, front to back, for all heads (the
// record stays in L1 while the heads use it), and leaves per head a partial softmax
// (max m, sum l, unnormalized sum acc[D]). A log-sum-exp combine merges the items, as the CUDA
// kernel does. Item 0 of a sequence holds the full-precision tokens (sink + window).
constexpr int64_t kChunkTokens = 256;

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

struct ItemArgs {
  const DecodeCtx* c;
  const float *sink_k, *sink_v, *win_k, *win_v, *last_k, *last_v;  // last: nullptr when not used
  const TokenBlockStore *mid_k, *mid_v;
  int64_t b, i0, i1;  // i0 < 0: the dense item
  float* ws;
  ItemScratch* scratch;
};

// One work item (dense when a.i0 < 0, else the packed tokens [i0, i1)) into a.ws: [H][D + 2] =
// (m, l, acc[D]) per head. Defined in packed_decode_items.cpp.
#ifdef SKVQ_X86
__attribute__((target("avx512f,avx2,fma,f16c"))) void run_item_avx512(const ItemArgs& a);
__attribute__((target("avx2,fma,f16c"))) void run_item_avx2(const ItemArgs& a);
#endif
void run_item_portable(const ItemArgs& a);

}  // namespace skvq::packed_detail
