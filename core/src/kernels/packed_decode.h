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

// Where each channel of a packed token sits, for the token-at-a-time AVX-512 kernel
// (packed_decode_tokens.cpp): a token is dequantized in storage order 16 positions at a time
// (each position's group scale/zero taken from a 16-entry window starting at its block's first
// group) and put back in channel order with one gather per 16 channels.
struct TokenPlan {
  std::vector<int32_t> inv;       // [C]: storage position of original channel c
  std::vector<int32_t> blk_base;  // [C / 16]: group of the first position of each block of 16
  std::vector<int32_t> blk_idx;   // [C]: group of position j minus its block's base, 0..15
  std::vector<int32_t> qhead0;    // [C]: first query head of the KV head of stored position j
  const float* smooth = nullptr;  // [C] per original channel (divide after), or nullptr
  int64_t n_groups = 0;
  bool identity = false;  // perm is the identity and no smooth: stored order is channel order
  bool ok = false;  // false when C % 16 != 0 or a block spans more than 16 groups (empty groups)
};
// Fills `p` from `layout` of KV heads of head_dim D, each shared by G query heads (p->ok says
// whether the token kernel can use it).
void build_token_plan(const GroupLayout& layout, int64_t D, int64_t G, TokenPlan* p);

// One group of one KV head's plan, for the fused 2-bit item (packed_decode_fused.cpp): its
// codes at byte `code` of a token (n16 blocks of 16), its scale/zero at byte `param` (fp8) or
// group index `param` (float16), its first position `pos` in the head's plan.
struct FusedSegment {
  int64_t code, n16, param, pos, kh, gi;
};

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
  const TokenPlan* ktp;  // set when the token-at-a-time kernel runs the packed items
  const TokenPlan* vtp;
  // Set when the fused 2-bit item runs the packed items: build_segments of kplan/vplan, once
  // per call.
  const std::vector<FusedSegment>* ksegs = nullptr;
  const std::vector<FusedSegment>* vsegs = nullptr;
};

struct ItemScratch {
  std::vector<float> scores, buf, kbuf, accp, zacc, sacc, st, gs, gz, vbuf;
  std::vector<uint8_t> codes;
  std::vector<float> accs;  // token kernel: value sums in stored order [G][C]
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

// The packed item (a.i0 >= 0) token at a time: each middle token's K and V dequantized whole
// (TokenPlan), keys RoPE-rotated when pre_rope, then read as float vectors. Needs D % 16 == 0
// and both plans ok. Defined in packed_decode_tokens.cpp.
#ifdef SKVQ_X86
__attribute__((target("avx512f,avx2,fma,f16c"))) void run_packed_item_tokens_avx512(const ItemArgs& a);
#endif
// The fused 2-bit item four tokens at a time (packed_decode_fused.cpp): needs 2-bit K and V in
// 16-aligned groups and keys after RoPE (use_fused2_kernel); the same arithmetic as the group
// item's fused path, up to summation order.
bool use_fused2_kernel(const PackedFormat& kf, const PackedFormat& vf, bool pre_rope);
// Every group of f is 2-bit codes over whole 16-channel blocks (not raw). Defined in
// packed_decode_tokens.cpp.
bool two_bit_blocks(const PackedFormat& f);
void build_segments(const std::vector<PackedKVCache::HeadPlan>& plans, const PackedFormat& f,
                    std::vector<FusedSegment>* out);
#ifdef SKVQ_X86
__attribute__((target("avx512f,avx2,fma,f16c"))) void run_packed_item_fused2_avx512(const ItemArgs& a);
#endif
// Adds a packed item's value accumulators (accp: [H][vp_stride] sums of p*s*code in plan
// positions; zacc: [H][vg_stride] sums of p*z per plan group) into ws's acc[D] per head, in
// head-dim order, divided by the smooth scales. Defined in packed_decode_items.cpp.
void fold_value_accumulators(const DecodeCtx& c, const float* accp, const float* zacc, float* ws);

// Which kernel runs the packed items where AVX-512 allows them: SKVQ_PACKED_DECODE=tokens or
// =groups forces one (for comparisons and for tests of all on one machine); unset, the choice
// is made per layer: the fused 2-bit item where use_fused2_kernel(), else use_token_kernel().
enum class DecodeKernel { Auto, Tokens, Groups };
DecodeKernel decode_kernel_override();
// The automatic choice: the group kernel is faster where its fused 2-bit dot/axpy covers every
// group (codes times q summed first, scale and zero-point applied once per group: 2-bit, groups
// of whole 16-channel blocks, no smooth, keys after RoPE); the token kernel everywhere else
// (pre-RoPE keys, calibrated reordered groups, 3/4/8-bit, ternary).
bool use_token_kernel(const PackedFormat& kf, const PackedFormat& vf, bool pre_rope);

}  // namespace skvq::packed_detail
