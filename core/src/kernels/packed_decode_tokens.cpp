// The packed decode item token at a time (AVX-512): each middle token's keys and values are
// dequantized whole into L1 scratch, 16 stored positions per vector (codes -> floats; each
// position's scale and zero-point spread from its block's 16-group window with one permute),
// put back in channel order with one gather per 16 channels (divided by the smooth scales),
// RoPE-rotated when the keys were quantized pre-RoPE, and then read like float keys/values.
// The group-at-a-time item (packed_decode_items.cpp) spends its time in per-group scalar code
// when groups are reordered and in a scalar scatter + rotation for pre-RoPE keys; this one
// does the same arithmetic as unpack_token + rope_rotate in vectors.
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/packed_decode.h"
#include "kernels/packed_kernels.h"

namespace skvq::packed_detail {

void build_token_plan(const GroupLayout& L, int64_t D, int64_t G, TokenPlan* p) {
  const int64_t C = L.channels();
  p->inv.assign(static_cast<size_t>(C), 0);
  p->qhead0.assign(static_cast<size_t>(C), 0);
  for (int64_t j = 0; j < C; ++j) p->qhead0[j] = static_cast<int32_t>((L.perm[j] / D) * G);
  p->blk_base.assign(static_cast<size_t>(C / 16), 0);
  p->blk_idx.assign(static_cast<size_t>(C), 0);
  p->smooth = L.smooth.empty() ? nullptr : L.smooth.data();
  p->n_groups = L.num_groups();
  p->ok = C % 16 == 0;
  p->identity = p->smooth == nullptr;
  for (int64_t j = 0; j < C; ++j) {
    p->inv[L.perm[j]] = static_cast<int32_t>(j);
    if (L.perm[j] != j) p->identity = false;
  }
  for (int64_t g = 0; g < L.num_groups(); ++g)
    for (int64_t j = L.offsets[g]; j < L.offsets[g + 1]; ++j) p->blk_idx[j] = static_cast<int32_t>(g);
  if (!p->ok) return;
  for (int64_t blk = 0; blk < C / 16; ++blk) {
    const int32_t base = p->blk_idx[blk * 16];
    p->blk_base[blk] = base;
    for (int64_t j = blk * 16; j < blk * 16 + 16; ++j) {
      p->blk_idx[j] -= base;
      if (p->blk_idx[j] > 15) p->ok = false;
    }
  }
}

DecodeKernel decode_kernel_override() {
  const char* e = std::getenv("SKVQ_PACKED_DECODE");
  if (e && std::string(e) == "tokens") return DecodeKernel::Tokens;
  if (e && std::string(e) == "groups") return DecodeKernel::Groups;
  return DecodeKernel::Auto;
}

bool two_bit_blocks(const PackedFormat& f) {
  if (f.raw() || f.params.qmax != 3) return false;
  for (int64_t g = 0; g < f.layout.num_groups(); ++g)
    if (f.layout.offsets[g] % 16 != 0 || f.layout.offsets[g + 1] % 16 != 0) return false;
  return true;
}

bool use_token_kernel(const PackedFormat& kf, const PackedFormat& vf, bool pre_rope) {
  auto fused = [](const PackedFormat& f) { return f.raw() || (two_bit_blocks(f) && f.layout.smooth.empty()); };
  return pre_rope || !fused(kf) || !fused(vf);
}

#ifdef SKVQ_X86
namespace {

#define SKVQ_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

// 16 codes from stored position j as floats (QMAX 0: from the pre-decoded float codes `fc`).
template <int QMAX>
SKVQ_AVX512 SKVQ_INLINE __m512 codes16(const uint8_t* tok, int64_t j, const float* fc) {
  if constexpr (QMAX == 3) {
    return codes2x16_avx512(tok + j / 4);
  } else if constexpr (QMAX == 15) {
    int64_t w;
    std::memcpy(&w, tok + j / 2, 8);
    const __m128i b = _mm_cvtsi64_si128(w), m = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));  // low nibble first
  } else if constexpr (QMAX == 255) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tok + j))));
  } else {
    (void)tok;
    return _mm512_loadu_ps(fc + j);
  }
}

// Stored order: st[j] = code_j * scale_g(j) + zero_g(j).
template <int QMAX>
SKVQ_AVX512 SKVQ_INLINE void dequant_stored(const TokenPlan& tp, const uint8_t* tok, const float* fc,
                                            const float* gs, const float* gz, float* st, int64_t C) {
  for (int64_t blk = 0; blk < C / 16; ++blk) {
    const __m512i idx = _mm512_loadu_si512(tp.blk_idx.data() + blk * 16);
    const int32_t base = tp.blk_base[blk];
    const __m512 s = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(gs + base));
    const __m512 z = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(gz + base));
    _mm512_storeu_ps(st + blk * 16, _mm512_fmadd_ps(codes16<QMAX>(tok, blk * 16, fc), s, z));
  }
}

// One packed token -> st[C] in stored order: code_j * scale_g(j) + zero_g(j) (no smooth).
SKVQ_AVX512 void dequant_token_stored(const PackedFormat& f, int64_t code_bytes, const TokenPlan& tp,
                                      const uint8_t* tok, ItemScratch& sc, float* st) {
  const int64_t C = static_cast<int64_t>(tp.inv.size());
  const float* lut = fp8_table();
  float* gs = sc.gs.data();
  float* gz = sc.gz.data();
  for (int64_t g = 0; g < tp.n_groups; ++g) params_fast(f, code_bytes, tok, g, lut, gs + g, gz + g);
  switch (f.params.qmax) {
    case 3: dequant_stored<3>(tp, tok, nullptr, gs, gz, st, C); break;
    case 15: dequant_stored<15>(tp, tok, nullptr, gs, gz, st, C); break;
    case 255: dequant_stored<255>(tp, tok, nullptr, gs, gz, st, C); break;
    default:  // ternary and 3-bit: codes decoded by the portable unpacker first
      codes_to_float(tok, 0, C, f.params.qmax, sc.buf.data(), sc.codes.data());
      dequant_stored<0>(tp, tok, sc.buf.data(), gs, gz, st, C);
  }
}

// One packed token -> out[C] in channel order (as unpack_token, up to the fused multiply-add).
SKVQ_AVX512 void dequant_token(const PackedFormat& f, int64_t code_bytes, const TokenPlan& tp, const uint8_t* tok,
                               ItemScratch& sc, float* out) {
  const int64_t C = static_cast<int64_t>(tp.inv.size());
  float* st = tp.identity ? out : sc.st.data();
  dequant_token_stored(f, code_bytes, tp, tok, sc, st);
  if (tp.identity) return;
  for (int64_t blk = 0; blk < C / 16; ++blk) {
    __m512 x = _mm512_i32gather_ps(_mm512_loadu_si512(tp.inv.data() + blk * 16), st, 4);
    if (tp.smooth) x = _mm512_div_ps(x, _mm512_loadu_ps(tp.smooth + blk * 16));
    _mm512_storeu_ps(out + blk * 16, x);
  }
}

// RoPE of every KV head of one token in place (rows of head_dim, halves equal), as rope_rotate.
SKVQ_AVX512 void rotate_heads(float* k, const float* cs, const float* sn, int64_t KVH, int64_t D) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < KVH; ++h) {
    float* x = k + h * D;
    int64_t j = 0;
    for (; half % 16 == 0 && j < half; j += 16) {
      const __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + half);
      const __m512 c = _mm512_loadu_ps(cs + j), s = _mm512_loadu_ps(sn + j);
      _mm512_storeu_ps(x + j, _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)));
      _mm512_storeu_ps(x + j + half, _mm512_add_ps(_mm512_mul_ps(b, c), _mm512_mul_ps(a, s)));
    }
    for (; j < half; ++j) {
      const float a = x[j], b = x[j + half];
      x[j] = a * cs[j] - b * sn[j];
      x[j + half] = b * cs[j] + a * sn[j];
    }
  }
}

SKVQ_AVX512 SKVQ_INLINE float dot16(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  return _mm512_reduce_add_ps(acc);
}

SKVQ_AVX512 SKVQ_INLINE void axpy16(float* y, float a, const float* x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
}

// Values of a reordered (or smoothed) layout without putting each token back in channel order:
// acc[gq][j] += p[h(j, gq)] * v_stored[j], h(j, gq) = the query head gq of the KV head that
// stored position j belongs to (one permute of the token's H <= 16 weights per 16 positions);
// the sums go back to head-dim order, divided by the smooth scales, once per item (linear).
SKVQ_AVX512 void values_stored_order(const ItemArgs& a, int64_t vcb, const float* scores, int64_t n) {
  const DecodeCtx& c = *a.c;
  ItemScratch& sc = *a.scratch;
  const int64_t H = c.H, G = c.G, D = c.D, C = c.C;
  sc.accs.assign(static_cast<size_t>(G * C), 0.0f);
  float* accs = sc.accs.data();
  float* st = sc.st.data();
  alignas(64) float wt[16] = {0};
  for (int64_t i = a.i0; i < a.i1; ++i) {
    const uint8_t* tok = a.mid_v->token(i);
    if (i + kPrefetchTokens < a.i1) prefetch_token(a.mid_v->token(i + kPrefetchTokens), a.mid_v->token_bytes());
    dequant_token_stored(*c.vf, vcb, *c.vtp, tok, sc, st);
    for (int64_t h = 0; h < H; ++h) wt[h] = scores[h * n + i - a.i0];
    const __m512 wv = _mm512_load_ps(wt);
    for (int64_t blk = 0; blk < C / 16; ++blk) {
      const __m512 x = _mm512_loadu_ps(st + blk * 16);
      const __m512i base = _mm512_loadu_si512(c.vtp->qhead0.data() + blk * 16);
      for (int64_t gq = 0; gq < G; ++gq) {
        const __m512 w = _mm512_permutexvar_ps(_mm512_add_epi32(base, _mm512_set1_epi32(static_cast<int>(gq))), wv);
        float* y = accs + gq * C + blk * 16;
        _mm512_storeu_ps(y, _mm512_fmadd_ps(w, x, _mm512_loadu_ps(y)));
      }
    }
  }
  const float* smooth = c.vtp->smooth;
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kvh = h / G, gq = h % G;
    float* acc = a.ws + h * (D + 2) + 2;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t ch = kvh * D + d;
      const float v = accs[gq * C + c.vtp->inv[ch]];
      acc[d] += smooth ? v / smooth[ch] : v;
    }
  }
}

}  // namespace

SKVQ_AVX512 void run_packed_item_tokens_avx512(const ItemArgs& a) {
  const DecodeCtx& c = *a.c;
  ItemScratch& sc = *a.scratch;
  const int64_t H = c.H, G = c.G, D = c.D, C = c.C, n = a.i1 - a.i0;
  const PackedFormat& kf = *c.kf;
  const PackedFormat& vf = *c.vf;
  const int64_t kcb = kf.raw() ? 0 : kf.code_bytes(), vcb = vf.raw() ? 0 : vf.code_bytes();
  const int64_t ng = std::max(c.ktp->n_groups, c.vtp->n_groups);
  sc.scores.resize(static_cast<size_t>(H * n));
  sc.st.resize(static_cast<size_t>(C));
  sc.buf.resize(static_cast<size_t>(C));
  sc.codes.resize(static_cast<size_t>(C));
  sc.kbuf.resize(static_cast<size_t>(C));
  sc.vbuf.resize(static_cast<size_t>(C));
  sc.gs.resize(static_cast<size_t>(ng + 16), 0.0f);  // + 16: a block's window may read past the last group
  sc.gz.resize(static_cast<size_t>(ng + 16), 0.0f);
  float* scores = sc.scores.data();
  const float* qb = c.q + a.b * H * D;
  for (int64_t i = a.i0; i < a.i1; ++i) {
    const uint8_t* tok = a.mid_k->token(i);
    if (i + kPrefetchTokens < a.i1) prefetch_token(a.mid_k->token(i + kPrefetchTokens), a.mid_k->token_bytes());
    const float* k = reinterpret_cast<const float*>(tok);  // raw keys: float32 after RoPE
    if (!kf.raw()) {
      dequant_token(kf, kcb, *c.ktp, tok, sc, sc.kbuf.data());
      if (c.pre_rope) rotate_heads(sc.kbuf.data(), c.rope_cos + (c.n_sink + i) * D, c.rope_sin + (c.n_sink + i) * D, c.KVH, D);
      k = sc.kbuf.data();
    }
    for (int64_t h = 0; h < H; ++h) scores[h * n + i - a.i0] = dot16(qb + h * D, k + (h / G) * D, D);
  }
  chunk_softmax(scores, H, n, a.ws, D);
  for (int64_t h = 0; h < H; ++h) std::fill_n(a.ws + h * (D + 2) + 2, D, 0.0f);
  if (!vf.raw() && !c.vtp->identity && H <= 16) {
    values_stored_order(a, vcb, scores, n);
    return;
  }
  for (int64_t i = a.i0; i < a.i1; ++i) {
    const uint8_t* tok = a.mid_v->token(i);
    if (i + kPrefetchTokens < a.i1) prefetch_token(a.mid_v->token(i + kPrefetchTokens), a.mid_v->token_bytes());
    const float* v = reinterpret_cast<const float*>(tok);
    if (!vf.raw()) {
      dequant_token(vf, vcb, *c.vtp, tok, sc, sc.vbuf.data());
      v = sc.vbuf.data();
    }
    for (int64_t h = 0; h < H; ++h) axpy16(a.ws + h * (D + 2) + 2, scores[h * n + i - a.i0], v + (h / G) * D, D);
  }
}
#endif

}  // namespace skvq::packed_detail
