// Packed token format: bit packing, FP8/float16 byte codecs, token pack/unpack, block store.
#include <cmath>
#include <cstring>
#include <string>

#include "skvq/error.h"
#include "skvq/hadamard.h"
#include "skvq/packed.h"
#include "skvq/sym_quant.h"

namespace skvq {

uint8_t fp8_e4m3_bits(float x) {
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  float a = std::fabs(round_to_fp8_e4m3(std::fabs(x)));
  if (a == 0.0f) return sign;
  int e2 = 0;
  const float m = std::frexp(a, &e2);  // a = m * 2^e2, m in [0.5, 1)
  int e = e2 - 1;                      // a = 1.f * 2^e
  if (e < -6) {                        // subnormal: a = k * 2^-9, k in 1..7
    const int k = static_cast<int>(std::ldexp(a, 9));
    return sign | static_cast<uint8_t>(k);
  }
  const int mant = static_cast<int>(std::ldexp(m, 4)) - 8;  // 3 mantissa bits
  return sign | static_cast<uint8_t>(((e + 7) << 3) | mant);
}

float fp8_e4m3_value(uint8_t bits) {
  const int e = (bits >> 3) & 0xF, m = bits & 7;
  float v;
  if (e == 0xF && m == 7) return NAN;
  if (e == 0) v = std::ldexp(static_cast<float>(m), -9);
  else v = std::ldexp(static_cast<float>(8 + m), e - 10);
  return (bits & 0x80) ? -v : v;
}

uint16_t fp16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  if (std::isnan(x)) return sign | 0x7E00;
  const float a = std::fabs(round_to_fp16(std::fabs(x)));
  if (std::isinf(a)) return sign | 0x7C00;
  if (a == 0.0f) return sign;
  int e2 = 0;
  const float m = std::frexp(a, &e2);
  const int e = e2 - 1;
  if (e < -14) {  // subnormal: a = k * 2^-24
    const int k = static_cast<int>(std::ldexp(a, 24));
    return sign | static_cast<uint16_t>(k);
  }
  const int mant = static_cast<int>(std::ldexp(m, 11)) - 1024;
  return sign | static_cast<uint16_t>(((e + 15) << 10) | mant);
}

float fp16_value(uint16_t bits) {
  const int e = (bits >> 10) & 0x1F, m = bits & 0x3FF;
  float v;
  if (e == 0x1F) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp(static_cast<float>(m), -24);
  else v = std::ldexp(static_cast<float>(1024 + m), e - 25);
  return (bits & 0x8000) ? -v : v;
}

int code_bits_for_qmax(int32_t qmax) {
  switch (qmax) {
    case 2: return 0;
    case 3: return 2;
    case 7: return 3;
    case 15: return 4;
    case 255: return 8;
    default:
      throw ConfigError("packed storage: unsupported qmax " + std::to_string(qmax) +
                        " (supported: 2 = ternary, 3, 7, 15, 255)");
  }
}

int64_t packed_code_bytes(int64_t n, int32_t qmax) {
  const int b = code_bits_for_qmax(qmax);
  if (b == 0) return (n + 4) / 5;
  return (n * b + 7) / 8;
}

void pack_codes(const uint8_t* codes, int64_t n, int32_t qmax, uint8_t* out) {
  const int b = code_bits_for_qmax(qmax);
  const int64_t nbytes = packed_code_bytes(n, qmax);
  std::memset(out, 0, static_cast<size_t>(nbytes));
  if (b == 0) {
    for (int64_t k = 0; k < nbytes; ++k) {
      int v = 0, p = 1;
      for (int i = 0; i < 5 && 5 * k + i < n; ++i, p *= 3) v += codes[5 * k + i] * p;
      out[k] = static_cast<uint8_t>(v);
    }
    return;
  }
  if (b == 8) {
    std::memcpy(out, codes, static_cast<size_t>(n));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = i * b;
    const uint32_t c = codes[i] & ((1u << b) - 1);
    out[bit >> 3] |= static_cast<uint8_t>(c << (bit & 7));
    if ((bit & 7) + b > 8) out[(bit >> 3) + 1] |= static_cast<uint8_t>(c >> (8 - (bit & 7)));
  }
}

void unpack_codes(const uint8_t* packed, int64_t first, int64_t n, int32_t qmax, uint8_t* codes) {
  const int b = code_bits_for_qmax(qmax);
  if (b == 0) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = first + i;
      codes[i] = static_cast<uint8_t>((packed[k / 5] / pow3[k % 5]) % 3);
    }
    return;
  }
  if (b == 8) {
    std::memcpy(codes, packed + first, static_cast<size_t>(n));
    return;
  }
  const uint32_t mask = (1u << b) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = (first + i) * b;
    uint32_t w = packed[bit >> 3];
    if ((bit & 7) + b > 8) w |= static_cast<uint32_t>(packed[(bit >> 3) + 1]) << 8;
    codes[i] = static_cast<uint8_t>((w >> (bit & 7)) & mask);
  }
}

int64_t PackedFormat::code_bytes() const {
  return raw() ? 0 : packed_code_bytes(channels(), params.qmax);
}
int64_t PackedFormat::param_bytes() const {
  return raw() ? 0 : layout.num_groups() * (params.sym || params.fp8 ? 2 : 4);
}
int64_t PackedFormat::token_bytes() const {
  return raw() ? 4 * channels() : code_bytes() + param_bytes();
}

void PackedFormat::group_params(const uint8_t* token, int64_t g, float* scale, float* zero) const {
  const uint8_t* p = token + code_bytes();
  if (params.sym) {  // float16 scale only; the zero-point is implied by the code offset
    *scale = fp16_value(static_cast<uint16_t>(p[2 * g] | (p[2 * g + 1] << 8)));
    *zero = -static_cast<float>(sym_code_offset(params.qmax)) * *scale;
  } else if (params.fp8) {
    *scale = fp8_e4m3_value(p[2 * g]);
    *zero = fp8_e4m3_value(p[2 * g + 1]);
  } else {
    const uint8_t* q = p + 4 * g;
    *scale = fp16_value(static_cast<uint16_t>(q[0] | (q[1] << 8)));
    *zero = fp16_value(static_cast<uint16_t>(q[2] | (q[3] << 8)));
  }
}

void pack_token(const PackedFormat& f, const float* x, uint8_t* out) {
  const int64_t C = f.channels();
  if (f.raw()) {
    std::memcpy(out, x, static_cast<size_t>(4 * C));
    return;
  }
  const auto& L = f.layout;
  // Per-thread scratch: no heap allocation per token once it has grown to C.
  thread_local std::vector<float> xr, xp;
  thread_local std::vector<uint8_t> codes;
  if (f.params.hadamard_dim > 0) {  // the rotated basis: H x per block (had), as fake_quant_rows_cpu
    xr.assign(x, x + C);
    fwht_blocks(xr.data(), C, f.params.hadamard_dim);
    x = xr.data();
  }
  xp.resize(static_cast<size_t>(C));
  for (int64_t j = 0; j < C; ++j) {
    const int64_t c = L.perm[j];
    xp[j] = L.smooth.empty() ? x[c] : x[c] * L.smooth[c];
  }
  codes.resize(static_cast<size_t>(C));
  uint8_t* params = out + f.code_bytes();
  for (int64_t g = 0; g < L.num_groups(); ++g) {
    const int64_t a = L.offsets[g], n = L.offsets[g + 1] - a;
    float s = 0, z = 0;
    quantize_group(xp.data() + a, n, f.params, codes.data() + a, &s, &z);
    if (f.params.sym) {
      const uint16_t sb = fp16_bits(s);
      params[2 * g] = static_cast<uint8_t>(sb & 0xFF);
      params[2 * g + 1] = static_cast<uint8_t>(sb >> 8);
    } else if (f.params.fp8) {
      params[2 * g] = fp8_e4m3_bits(s);
      params[2 * g + 1] = fp8_e4m3_bits(z);
    } else {
      const uint16_t sb = fp16_bits(s), zb = fp16_bits(z);
      params[4 * g] = static_cast<uint8_t>(sb & 0xFF);
      params[4 * g + 1] = static_cast<uint8_t>(sb >> 8);
      params[4 * g + 2] = static_cast<uint8_t>(zb & 0xFF);
      params[4 * g + 3] = static_cast<uint8_t>(zb >> 8);
    }
  }
  pack_codes(codes.data(), C, f.params.qmax, out);
}

void unpack_token(const PackedFormat& f, const uint8_t* token, float* x) {
  const int64_t C = f.channels();
  if (f.raw()) {
    std::memcpy(x, token, static_cast<size_t>(4 * C));
    return;
  }
  const auto& L = f.layout;
  thread_local std::vector<uint8_t> codes;
  codes.resize(static_cast<size_t>(C));
  unpack_codes(token, 0, C, f.params.qmax, codes.data());
  for (int64_t g = 0; g < L.num_groups(); ++g) {
    float s, z;
    f.group_params(token, g, &s, &z);
    for (int64_t j = L.offsets[g]; j < L.offsets[g + 1]; ++j) {
      const int64_t c = L.perm[j];
      float v = static_cast<float>(codes[j]) * s + z;
      if (!L.smooth.empty()) v = v / L.smooth[c];
      x[c] = v;
    }
  }
  if (f.params.hadamard_dim > 0) fwht_blocks(x, C, f.params.hadamard_dim);  // H Q(H x): back from the rotated basis
}

TokenBlockStore::TokenBlockStore(int64_t token_bytes, int64_t block_tokens)
    : token_bytes_(token_bytes), block_tokens_(block_tokens) {
  if (token_bytes <= 0 || block_tokens <= 0)
    throw ConfigError("TokenBlockStore: token bytes and block tokens must be positive");
}

uint8_t* TokenBlockStore::push() {
  if (size_ == static_cast<int64_t>(blocks_.size()) * block_tokens_)
    blocks_.emplace_back(new uint8_t[static_cast<size_t>(block_tokens_ * token_bytes_)]);
  return token(size_++);
}

void TokenBlockStore::clear() {
  blocks_.clear();
  size_ = 0;
}

}  // namespace skvq
