// Dequantization of ggml block formats (see gguf_quants.h), written from the block layouts.
//
// Every result is exact up to one final rounding, so it is the same bit pattern in any correct
// implementation whatever its operation order or use of fused multiply-add: fp16 scales carry
// at most 11 significant bits, the products d * scale * q at most 11 + 7 + 6 = 24 bits (Q6_K,
// the widest; Q8_0's d * int8 needs 18), so they are exact in float32 (no overflow or float32
// subnormal is reachable from fp16 inputs); only "+ m" (Q4_1, Q5_1) and "- dmin * min"
// (K-quants, the subtrahend itself exact) round. Q8_K (float32 d times int8) rounds once.
#include "model/gguf_quants.h"

#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_quants.cpp assumes a little-endian host"
#endif

namespace skvq::gguf {

namespace {

constexpr int64_t QK_K = 256;  // elements of a K-quant super-block

// A type without a name is unknown (never assigned, or removed before GGUF existed).
constexpr int kNumTypes = 42;
constexpr TypeInfo kTypes[kNumTypes] = {
    /*  0 */ {"F32", 1, 4, true},
    /*  1 */ {"F16", 1, 2, true},
    /*  2 */ {"Q4_0", 32, 18, true},
    /*  3 */ {"Q4_1", 32, 20, true},
    /*  4 */ {nullptr, 0, 0, false},  // Q4_2, removed before GGUF
    /*  5 */ {nullptr, 0, 0, false},  // Q4_3, removed before GGUF
    /*  6 */ {"Q5_0", 32, 22, true},
    /*  7 */ {"Q5_1", 32, 24, true},
    /*  8 */ {"Q8_0", 32, 34, true},
    /*  9 */ {"Q8_1", 32, 36, false},  // fp16 d, fp16 s, 32 x int8 (an activation format)
    /* 10 */ {"Q2_K", QK_K, 84, true},
    /* 11 */ {"Q3_K", QK_K, 110, true},
    /* 12 */ {"Q4_K", QK_K, 144, true},
    /* 13 */ {"Q5_K", QK_K, 176, true},
    /* 14 */ {"Q6_K", QK_K, 210, true},
    /* 15 */ {"Q8_K", QK_K, 292, true},
    /* 16 */ {"IQ2_XXS", QK_K, 66, false},
    /* 17 */ {"IQ2_XS", QK_K, 74, false},
    /* 18 */ {"IQ3_XXS", QK_K, 98, false},
    /* 19 */ {"IQ1_S", QK_K, 50, false},
    /* 20 */ {"IQ4_NL", 32, 18, false},
    /* 21 */ {"IQ3_S", QK_K, 110, false},
    /* 22 */ {"IQ2_S", QK_K, 82, false},
    /* 23 */ {"IQ4_XS", QK_K, 136, false},
    /* 24 */ {"I8", 1, 1, false},
    /* 25 */ {"I16", 1, 2, false},
    /* 26 */ {"I32", 1, 4, false},
    /* 27 */ {"I64", 1, 8, false},
    /* 28 */ {"F64", 1, 8, true},
    /* 29 */ {"IQ1_M", QK_K, 56, false},
    /* 30 */ {"BF16", 1, 2, true},
    /* 31 */ {"Q4_0_4_4", 32, 18, false},  // 31..33, 36..38: interleaved layouts, since removed
    /* 32 */ {"Q4_0_4_8", 32, 18, false},
    /* 33 */ {"Q4_0_8_8", 32, 18, false},
    /* 34 */ {"TQ1_0", QK_K, 54, false},
    /* 35 */ {"TQ2_0", QK_K, 66, false},
    /* 36 */ {"IQ4_NL_4_4", 32, 18, false},
    /* 37 */ {"IQ4_NL_4_8", 32, 18, false},
    /* 38 */ {"IQ4_NL_8_8", 32, 18, false},
    /* 39 */ {"MXFP4", 32, 17, false},
    /* 40 */ {"NVFP4", 64, 36, false},
    /* 41 */ {"Q1_0", 128, 18, false},
};

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// binary16: sign(1) exponent(5, bias 15) mantissa(10). Branch-free (selects only) so that the
// F16 loop vectorizes:
//   exponent 1..30  -> rebias the exponent by 127 - 15 = 112, mantissa moves up 13 bits;
//   exponent 0      -> zero or subnormal, value = mantissa * 2^-24 (exact in float32);
//   exponent 31     -> inf (mantissa 0) or NaN, mantissa kept as the float's payload.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7fffu;
  const uint32_t normal = (mag << 13) + (112u << 23);
  const uint32_t special = (mag << 13) | 0x7f800000u;
  const uint32_t subnormal = float_to_bits(static_cast<float>(static_cast<int32_t>(mag)) * 0x1p-24f);
  const uint32_t is_sub = 0u - static_cast<uint32_t>(mag < 0x0400u);     // all ones or zero
  const uint32_t is_spec = 0u - static_cast<uint32_t>(mag >= 0x7c00u);
  uint32_t bits = (subnormal & is_sub) | (normal & ~is_sub);
  bits = (special & is_spec) | (bits & ~is_spec);
  return bits_to_float(bits | sign);
}

inline float load_fp16(const uint8_t* p) { return half_to_float(load_u16(p)); }

std::string type_label(uint32_t type) {
  const TypeInfo* info = type_info(type);
  return (info ? std::string(info->name) + " (" : std::string("unknown (")) + std::to_string(type) +
         ")";
}

// F16: 2 bytes per element, binary16.
void deq_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
}

// BF16: 2 bytes per element, the upper 16 bits of a binary32.
void deq_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bits_to_float(static_cast<uint32_t>(load_u16(src + 2 * i)) << 16);
}

// F64: 8 bytes per element, binary64, rounded to nearest float32.
void deq_f64(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, src + 8 * i, sizeof v);
    dst[i] = static_cast<float>(v);
  }
}

// Q4_0, 18 bytes / 32 elements: [0,2) fp16 d, [2,18) qs. Element j < 16 is the low nibble of
// qs[j], element j + 16 its high nibble; x = d * (q - 8).
void deq_q4_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 18, dst += 32) {
    const float d = load_fp16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) dst[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    for (int j = 0; j < 16; ++j) dst[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1, 20 bytes / 32 elements: [0,2) fp16 d, [2,4) fp16 m, [4,20) qs (nibbles as Q4_0);
// x = d * q + m.
void deq_q4_1(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 20, dst += 32) {
    const float d = load_fp16(src), m = load_fp16(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < 16; ++j) dst[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    for (int j = 0; j < 16; ++j) dst[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q5_0, 22 bytes / 32 elements: [0,2) fp16 d, [2,6) little-endian uint32 qh, [6,22) qs.
// Element i's low 4 bits are the nibble of Q4_0's order, bit 4 is bit i of qh; x = d * (q - 16).
void deq_q5_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 22, dst += 32) {
    const float d = load_fp16(src);
    const uint32_t qh = load_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < 16; ++j)
      dst[j] = d * static_cast<float>(((qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) - 16);
    for (int j = 0; j < 16; ++j)
      dst[j + 16] = d * static_cast<float>(((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - 16);
  }
}

// Q5_1, 24 bytes / 32 elements: [0,2) fp16 d, [2,4) fp16 m, [4,8) uint32 qh, [8,24) qs
// (5-bit q as Q5_0); x = d * q + m.
void deq_q5_1(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 24, dst += 32) {
    const float d = load_fp16(src), m = load_fp16(src + 2);
    const uint32_t qh = load_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < 16; ++j)
      dst[j] = d * static_cast<float>((qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) + m;
    for (int j = 0; j < 16; ++j)
      dst[j + 16] = d * static_cast<float>((qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) + m;
  }
}

// Q8_0, 34 bytes / 32 elements: [0,2) fp16 d, [2,34) int8 q; x = d * q.
void deq_q8_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 34, dst += 32) {
    const float d = load_fp16(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

// Q2_K, 84 bytes / 256 elements: [0,16) scales (sub-block i of 16 elements: low nibble scale,
// high nibble min), [16,80) qs, [80,82) fp16 d, [82,84) fp16 dmin. Element
// 128 h + 32 s + l (h < 2, s < 4, l < 32) is bits 2s..2s+1 of qs[32 h + l];
// x = (d * scale) * q - (dmin * min).
void deq_q2_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 84, dst += QK_K) {
    const uint8_t* sc = src;
    const uint8_t* qs = src + 16;
    const float d = load_fp16(src + 80), dmin = load_fp16(src + 82);
    float dl[16], ml[16];
    for (int i = 0; i < 16; ++i) {
      dl[i] = d * static_cast<float>(sc[i] & 0x0F);
      ml[i] = dmin * static_cast<float>(sc[i] >> 4);
    }
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int half = 0; half < 2; ++half) {
          const int base = 128 * h + 32 * s + 16 * half, sub = base / 16;
          const uint8_t* q = qs + 32 * h + 16 * half;
          for (int l = 0; l < 16; ++l)
            dst[base + l] = dl[sub] * static_cast<float>((q[l] >> (2 * s)) & 3) - ml[sub];
        }
  }
}

// Q3_K, 110 bytes / 256 elements: [0,32) hmask, [32,96) qs, [96,108) scales, [108,110) fp16 d.
// 16 signed 6-bit scales (minus 32): low 4 bits of scale i are nibble i / 8 of scales[i % 8],
// high 2 bits are bits 2 (i / 4).. of scales[8 + i % 4]. Element 128 h + 32 s + l: low 2 bits
// from bits 2s.. of qs[32 h + l], minus 4 unless bit (4 h + s) of hmask[l] is set;
// x = (d * scale) * q.
void deq_q3_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 110, dst += QK_K) {
    const uint8_t* hmask = src;
    const uint8_t* qs = src + 32;
    const uint8_t* sc = src + 96;
    const float d = load_fp16(src + 108);
    float dl[16];
    for (int i = 0; i < 16; ++i) {
      const int lo = (sc[i % 8] >> (4 * (i / 8))) & 0x0F;
      const int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 0x03;
      dl[i] = d * static_cast<float>((lo | (hi << 4)) - 32);
    }
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s) {
        const int bit = 4 * h + s;
        for (int half = 0; half < 2; ++half) {
          const int base = 128 * h + 32 * s + 16 * half, sub = base / 16;
          const uint8_t* q = qs + 32 * h + 16 * half;
          const uint8_t* m = hmask + 16 * half;
          for (int l = 0; l < 16; ++l) {
            const int v = ((q[l] >> (2 * s)) & 3) - (((m[l] >> bit) & 1) ? 0 : 4);
            dst[base + l] = dl[sub] * static_cast<float>(v);
          }
        }
      }
  }
}

// The 12-byte scale/min block of Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins.
// j < 4: scale = s[j] & 63, min = s[j + 4] & 63. j >= 4: scale = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,
// min = (s[j + 4] >> 4) | (s[j] >> 6) << 4.
inline void k_scale_min(const uint8_t* s, int sc[8], int mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    mn[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K, 144 bytes / 256 elements: [0,2) fp16 d, [2,4) fp16 dmin, [4,16) scales/mins (see
// k_scale_min), [16,144) qs. Element 64 c + 32 k + l (c < 4, k < 2, l < 32) is nibble k of
// qs[32 c + l], in sub-block j = 2 c + k; x = (d * scale_j) * q - (dmin * min_j).
void deq_q4_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 144, dst += QK_K) {
    const float d = load_fp16(src), dmin = load_fp16(src + 2);
    int sc[8], mn[8];
    k_scale_min(src + 4, sc, mn);
    const uint8_t* qs = src + 16;
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 2; ++k) {
        const int j = 2 * c + k;
        const float ds = d * static_cast<float>(sc[j]), dm = dmin * static_cast<float>(mn[j]);
        const uint8_t* q = qs + 32 * c;
        float* y = dst + 32 * j;
        for (int l = 0; l < 32; ++l) y[l] = ds * static_cast<float>((q[l] >> (4 * k)) & 0x0F) - dm;
      }
  }
}

// Q5_K, 176 bytes / 256 elements: [0,2) fp16 d, [2,4) fp16 dmin, [4,16) scales/mins,
// [16,48) qh, [48,176) qs. Low 4 bits as Q4_K; bit 4 of element 32 j + l is bit j of qh[l];
// x = (d * scale_j) * q - (dmin * min_j).
void deq_q5_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 176, dst += QK_K) {
    const float d = load_fp16(src), dmin = load_fp16(src + 2);
    int sc[8], mn[8];
    k_scale_min(src + 4, sc, mn);
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 2; ++k) {
        const int j = 2 * c + k;
        const float ds = d * static_cast<float>(sc[j]), dm = dmin * static_cast<float>(mn[j]);
        const uint8_t* q = qs + 32 * c;
        float* y = dst + 32 * j;
        for (int l = 0; l < 32; ++l) {
          const int v = ((q[l] >> (4 * k)) & 0x0F) | (((qh[l] >> j) & 1) << 4);
          y[l] = ds * static_cast<float>(v) - dm;
        }
      }
  }
}

// Q6_K, 210 bytes / 256 elements: [0,128) ql, [128,192) qh, [192,208) int8 scales (one per 16
// elements), [208,210) fp16 d. For half h < 2 and l < 32, with a = ql[64 h + l],
// b = ql[64 h + 32 + l], c = qh[32 h + l], the elements 128 h + l + {0, 32, 64, 96} are
// (a & 15, b & 15, a >> 4, b >> 4) | (bits {0,2,4,6}.. of c) << 4, each minus 32;
// x = (d * scale) * q.
void deq_q6_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 210, dst += QK_K) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_fp16(src + 208);
    float ds[16];
    for (int i = 0; i < 16; ++i) ds[i] = d * static_cast<float>(sc[i]);
    for (int h = 0; h < 2; ++h)
      for (int half = 0; half < 2; ++half) {
        const int off = 16 * half, sub = 8 * h + half;
        const uint8_t* a = ql + 64 * h + off;
        const uint8_t* bq = ql + 64 * h + 32 + off;
        const uint8_t* c = qh + 32 * h + off;
        float* y = dst + 128 * h + off;
        for (int l = 0; l < 16; ++l) {
          const int q0 = ((a[l] & 0x0F) | ((c[l] & 3) << 4)) - 32;
          const int q1 = ((bq[l] & 0x0F) | (((c[l] >> 2) & 3) << 4)) - 32;
          const int q2 = ((a[l] >> 4) | (((c[l] >> 4) & 3) << 4)) - 32;
          const int q3 = ((bq[l] >> 4) | (((c[l] >> 6) & 3) << 4)) - 32;
          y[l] = ds[sub] * static_cast<float>(q0);
          y[l + 32] = ds[sub + 2] * static_cast<float>(q1);
          y[l + 64] = ds[sub + 4] * static_cast<float>(q2);
          y[l + 96] = ds[sub + 6] * static_cast<float>(q3);
        }
      }
  }
}

// Q8_K, 292 bytes / 256 elements: [0,4) float32 d, [4,260) int8 q, [260,292) 16 int16 sums
// of 16 q each (for dot products; not needed here); x = d * q.
void deq_q8_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += 292, dst += QK_K) {
    const float d = bits_to_float(load_u32(src));
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int j = 0; j < QK_K; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

}  // namespace

float fp16_to_float(uint16_t h) { return half_to_float(h); }

float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

const TypeInfo* type_info(uint32_t type) {
  if (type >= static_cast<uint32_t>(kNumTypes) || kTypes[type].name == nullptr) return nullptr;
  return &kTypes[type];
}

int64_t row_bytes(uint32_t type, int64_t n_elements) {
  const TypeInfo* info = type_info(type);
  if (!info) throw std::invalid_argument("gguf: unknown ggml type " + std::to_string(type));
  if (n_elements < 0 || n_elements % info->block_size != 0)
    throw std::invalid_argument("gguf: " + std::to_string(n_elements) + " elements of type " +
                                info->name + " are not a whole number of " +
                                std::to_string(info->block_size) + "-element blocks");
  return n_elements / info->block_size * info->type_size;
}

void dequantize(uint32_t type, const uint8_t* src, float* dst, int64_t n) {
  const TypeInfo* info = type_info(type);
  if (!info || !info->dequantizable)
    throw std::invalid_argument("gguf: cannot dequantize type " + type_label(type) +
                                ": not supported");
  const int64_t nb = row_bytes(type, n) / info->type_size;  // validates n
  if (n == 0) return;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: deq_f16(src, dst, n); return;
    case GgmlType::BF16: deq_bf16(src, dst, n); return;
    case GgmlType::F64: deq_f64(src, dst, n); return;
    case GgmlType::Q4_0: deq_q4_0(src, dst, nb); return;
    case GgmlType::Q4_1: deq_q4_1(src, dst, nb); return;
    case GgmlType::Q5_0: deq_q5_0(src, dst, nb); return;
    case GgmlType::Q5_1: deq_q5_1(src, dst, nb); return;
    case GgmlType::Q8_0: deq_q8_0(src, dst, nb); return;
    case GgmlType::Q2_K: deq_q2_k(src, dst, nb); return;
    case GgmlType::Q3_K: deq_q3_k(src, dst, nb); return;
    case GgmlType::Q4_K: deq_q4_k(src, dst, nb); return;
    case GgmlType::Q5_K: deq_q5_k(src, dst, nb); return;
    case GgmlType::Q6_K: deq_q6_k(src, dst, nb); return;
    case GgmlType::Q8_K: deq_q8_k(src, dst, nb); return;
    default: break;
  }
  throw std::invalid_argument("gguf: cannot dequantize type " + type_label(type) +
                              ": not supported");
}

}  // namespace skvq::gguf
