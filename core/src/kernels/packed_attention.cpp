// PackedKVCache::decode_attention: CPU decode attention over the packed cache (dequantize on
// the fly, never materialize the cache), split along the sequence into work items
// (packed_decode_items.cpp) that run in parallel, then merged with a log-sum-exp combine.
// The item loops are compiled three times: AVX-512, AVX2+FMA (chosen at run time with
// __builtin_cpu_supports) and portable; with AVX-512 the packed items of pre-RoPE or reordered
// layouts run token at a time (packed_decode_tokens.cpp, use_token_kernel). Dense baselines: dense_attention.cpp.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/packed_decode.h"
#include "kernels/packed_kernels.h"
#include "skvq/error.h"
#include "skvq/hadamard.h"
#include "skvq/packed_cache.h"

namespace skvq {
using namespace packed_detail;

void PackedKVCache::build_token_plans() {
  const int64_t D = model_.head_dim, G = model_.num_attention_heads / model_.num_key_value_heads;
  auto plan = [D, G](const PackedFormat& f) {
    auto p = std::make_shared<TokenPlan>();
    build_token_plan(f.layout, D, G, p.get());
    return std::shared_ptr<const TokenPlan>(std::move(p));
  };
  ktplan_.clear();
  vtplan_.clear();
  for (size_t l = 0; l < kfmt_.size(); ++l) {
    ktplan_.push_back(plan(kfmt_[l]));
    vtplan_.push_back(plan(vfmt_[l]));
  }
}

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
  // A codec with a rotation (had: params.hadamard_dim, packed.h) stores H k and H v per block
  // (H = H^T = H^-1, hadamard.h), so the middle's scores are (H q).(H k) and its output
  // H (sum p H v): the queries are rotated once here, each middle item's partial output once
  // after the items. Sinks and window stay unrotated.
  thread_local std::vector<float> qrot;
  const float* qmid = qd;
  if (const int64_t hb = kfmt_[layer].params.hadamard_dim; hb > 0) {
    qrot.assign(qd, qd + batch_ * H * D);
    fwht_blocks(qrot.data(), batch_ * H * D, hb);
    qmid = qrot.data();
  }
  const int64_t n_packed = packed_tokens(layer), n_sink = std::min(regions_.sink, L);
  // full_prefill with window 0: the token of the last one-token append is read exactly (it is the
  // last packed token; the same for every sequence).
  const bool exact_last = full_prefill_ && regions_.window == 0 && n_packed > 0 && Ly.seqs[0].last_pos == L - 1;
  const int64_t n_mid = n_packed - (exact_last ? 1 : 0);
  const auto& kplan = kplan_[layer];
  const auto& vplan = vplan_[layer];
  const PackedFormat& kf = kfmt_[layer];
  const PackedFormat& vf = vfmt_[layer];

  DecodeCtx c{H, KVH, H / KVH, D, C_, regions_.sink, regions_.window, L, n_sink, n_mid, n_sink + n_packed,
              &kf, &vf, &kplan, &vplan, pre, pre ? rope_cos_.data_ptr<float>() : nullptr,
              pre ? rope_sin_.data_ptr<float>() : nullptr, qd, nullptr, nullptr, 0, 0, 0, 0, nullptr, nullptr};
  const int isa = cpu_has_avx512() ? kAvx512 : cpu_has_avx2() ? kAvx2 : kPortable;
  // The token-at-a-time kernel where the shapes allow it (AVX-512, 16-channel blocks).
  const TokenPlan& ktp = *ktplan_[layer];
  const TokenPlan& vtp = *vtplan_[layer];
  const DecodeKernel forced = decode_kernel_override();
  // The fused 2-bit item wherever every group is a 2-bit run of whole 16-channel blocks and the
  // keys are after RoPE (smooth scales cost it nothing per token); SKVQ_PACKED_DECODE=tokens or
  // =groups forces the other two (for tests of all three on one machine).
  const bool fused2 = isa == kAvx512 && forced == DecodeKernel::Auto && use_fused2_kernel(kf, vf, pre);
  const bool tokens = !fused2 && isa == kAvx512 && D % 16 == 0 && forced != DecodeKernel::Groups &&
                      (forced == DecodeKernel::Tokens || use_token_kernel(kf, vf, pre)) && ktp.ok && vtp.ok;
  if (tokens) c.ktp = &ktp, c.vtp = &vtp;
  thread_local std::vector<FusedSegment> ksegs, vsegs;
  if (fused2) {
    build_segments(kplan, kf, &ksegs);
    build_segments(vplan, vf, &vsegs);
    c.ksegs = &ksegs;
    c.vsegs = &vsegs;
  }
  for (int64_t kh = 0; kh < KVH; ++kh) {
    c.kp_stride = std::max<int64_t>(c.kp_stride, static_cast<int64_t>(kplan[kh].dim.size()));
    c.kg_stride = std::max<int64_t>(c.kg_stride, static_cast<int64_t>(kplan[kh].groups.size()));
    c.vp_stride = std::max<int64_t>(c.vp_stride, static_cast<int64_t>(vplan[kh].dim.size()));
    c.vg_stride = std::max<int64_t>(c.vg_stride, static_cast<int64_t>(vplan[kh].groups.size()));
  }
  // q in each head's key-plan positions (divided by the smooth scale) and its group sums, once
  // per call: the score of a packed key is sum over groups of s * (codes . qp) + z * sum(qp).
  // Per-thread scratch reused across calls (layers and steps): no heap allocation per step once
  // the buffers have grown to the largest shape seen.
  thread_local std::vector<float> qp, qsum, ws;
  qp.assign(static_cast<size_t>(batch_ * H * c.kp_stride), 0.0f);
  qsum.assign(static_cast<size_t>(batch_ * H * c.kg_stride), 0.0f);
  if (!kf.raw() && !pre && !tokens) {
    for (int64_t bh = 0; bh < batch_ * H; ++bh) {
      const auto& plan = kplan[(bh % H) / (H / KVH)];
      const float* qh = qmid + bh * D;
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
  DecodeCtx c_mid = c;  // the packed items' context: the query in the middle's (rotated) basis
  c_mid.q = qmid;

  // Work items per sequence: [dense (sink + window) when any] + chunks of the middle.
  const bool has_dense = n_sink + (L - n_sink - n_mid) > 0;  // sink, window or the exact last token
  const int64_t n_chunks = (n_mid + kChunkTokens - 1) / kChunkTokens;
  const int64_t items = (has_dense ? 1 : 0) + n_chunks;
  const int64_t stride = H * (D + 2);
  ws.assign(static_cast<size_t>(batch_ * items * stride), 0.0f);
  float* wsd = ws.data();
  at::parallel_for(0, batch_ * items, 1, [&](int64_t begin, int64_t end) {
    thread_local ItemScratch scratch;
    for (int64_t it = begin; it < end; ++it) {
      const int64_t b = it / items, j = it % items - (has_dense ? 1 : 0);
      const Seq& s = Ly.seqs[b];
      ItemArgs a{j < 0 ? &c : &c_mid, s.sink_k.data(), s.sink_v.data(), s.win_k.data(), s.win_v.data(),
                 exact_last ? s.last_k.data() : nullptr, exact_last ? s.last_v.data() : nullptr, s.mid_k.get(),
                 s.mid_v.get(), b, j < 0 ? -1 : j * kChunkTokens, std::min(n_mid, (j + 1) * kChunkTokens),
                 wsd + it * stride, &scratch};
#ifdef SKVQ_X86
      if (tokens && a.i0 >= 0) {
        run_packed_item_tokens_avx512(a);
        continue;
      }
      if (fused2 && a.i0 >= 0) {
        run_packed_item_fused2_avx512(a);
        continue;
      }
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
  if (const int64_t hb = vfmt_[layer].params.hadamard_dim; hb > 0)
    for (int64_t b = 0; b < batch_; ++b)  // the middle items' sums of p H v back to sums of p v (linear)
      for (int64_t it = has_dense ? 1 : 0; it < items; ++it)
        for (int64_t h = 0; h < H; ++h) fwht_blocks(wsd + (b * items + it) * stride + h * (D + 2) + 2, D, hb);
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

}  // namespace skvq
