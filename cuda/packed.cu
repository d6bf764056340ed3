// CUDA kernels over the packed token format (see core/include/skvq/packed.h for the layout).
#include <cuda_runtime.h>

#include <cfloat>
#include <stdexcept>
#include <string>

#include "quant_device.cuh"
#include "skvq_cuda/packed.h"

namespace skvq::cuda {
namespace {

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

__device__ __forceinline__ int code_bits(int32_t qmax) {
  return qmax == 2 ? 0 : qmax == 3 ? 2 : qmax == 7 ? 3 : qmax == 15 ? 4 : 8;
}

/// Code j of a packed token's code stream.
__device__ __forceinline__ int extract_code(const uint8_t* __restrict__ t, int64_t j, int bits) {
  if (bits == 0) {
    int v = t[j / 5];
    const int r = static_cast<int>(j % 5);
    for (int i = 0; i < r; ++i) v /= 3;
    return v % 3;
  }
  if (bits == 8) return t[j];
  const int64_t bit = j * bits;
  unsigned w = t[bit >> 3];
  if ((bit & 7) + bits > 8) w |= static_cast<unsigned>(t[(bit >> 3) + 1]) << 8;
  return static_cast<int>((w >> (bit & 7)) & ((1u << bits) - 1));
}

__device__ __forceinline__ void read_params(const uint8_t* __restrict__ t, const PackedFormatDev& f,
                                            int64_t g, float* s, float* z) {
  const uint8_t* p = t + f.code_bytes;
  if (f.fp8) {
    *s = detail::fp8_value(p[2 * g]);
    *z = detail::fp8_value(p[2 * g + 1]);
  } else {
    const uint8_t* q = p + 4 * g;
    *s = detail::fp16_value(static_cast<uint16_t>(q[0] | (q[1] << 8)));
    *z = detail::fp16_value(static_cast<uint16_t>(q[2] | (q[3] << 8)));
  }
}

/// Dequantized value of original channel c (reordered position j, group g) of a packed token.
__device__ __forceinline__ float dequant_at(const uint8_t* __restrict__ t, const PackedFormatDev& f,
                                            int bits, int64_t c, int64_t j, int64_t g) {
  float s, z;
  read_params(t, f, g, &s, &z);
  float v = detail::dequant(extract_code(t, j, bits), s, z);
  if (f.smooth) v = __fdiv_rn(v, f.smooth[c]);
  return v;
}

// One block per row. Shared memory: C codes.
__global__ void quantize_pack_kernel(const float* __restrict__ x, PackedFormatDev f,
                                     uint8_t* __restrict__ out) {
  extern __shared__ uint8_t codes[];
  const int64_t row = blockIdx.x;
  const float* xr = x + row * f.channels;
  uint8_t* o = out + row * f.token_bytes;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int64_t g = warp; g < f.n_groups; g += nwarps) {
    const int64_t a = f.offsets[g], b = f.offsets[g + 1];
    float mn = FLT_MAX, mx = -FLT_MAX;
    for (int64_t j = a + lane; j < b; j += 32) {
      const int64_t c = f.perm[j];
      const float v = f.smooth ? __fmul_rn(xr[c], f.smooth[c]) : xr[c];
      mn = fminf(mn, v);
      mx = fmaxf(mx, v);
    }
    for (int s = 16; s > 0; s >>= 1) {
      mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, s));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, s));
    }
    float scale, zero;
    detail::group_scale_zero(mn, mx, f.qmax, f.clip, f.fp8, &scale, &zero);
    for (int64_t j = a + lane; j < b; j += 32) {
      const int64_t c = f.perm[j];
      const float v = f.smooth ? __fmul_rn(xr[c], f.smooth[c]) : xr[c];
      codes[j] = static_cast<uint8_t>(detail::quant_code(v, scale, zero, f.qmax));
    }
    if (lane == 0) {
      uint8_t* p = o + f.code_bytes;
      if (f.fp8) {
        p[2 * g] = detail::fp8_bits_exact(scale);
        p[2 * g + 1] = detail::fp8_bits_exact(zero);
      } else {
        const uint16_t sb = detail::fp16_bits_of(scale), zb = detail::fp16_bits_of(zero);
        p[4 * g] = sb & 0xFF;
        p[4 * g + 1] = sb >> 8;
        p[4 * g + 2] = zb & 0xFF;
        p[4 * g + 3] = zb >> 8;
      }
    }
  }
  __syncthreads();
  const int bits = code_bits(f.qmax);
  for (int64_t k = threadIdx.x; k < f.code_bytes; k += blockDim.x) {
    unsigned byte = 0;
    if (bits == 0) {
      unsigned p = 1;
      for (int i = 0; i < 5 && 5 * k + i < f.channels; ++i, p *= 3) byte += codes[5 * k + i] * p;
    } else {
      for (int bit = 0; bit < 8; ++bit) {
        const int64_t sb = 8 * k + bit;
        const int64_t j = sb / bits;
        if (j >= f.channels) break;
        byte |= ((codes[j] >> (sb % bits)) & 1u) << bit;
      }
    }
    o[k] = static_cast<uint8_t>(byte);
  }
}

__global__ void dequant_kernel(const uint8_t* __restrict__ packed, int64_t rows, PackedFormatDev f,
                               float* __restrict__ out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= rows * f.channels) return;
  const int64_t row = idx / f.channels, j = idx % f.channels;
  const uint8_t* t = packed + row * f.token_bytes;
  const int64_t c = f.perm[j];
  out[row * f.channels + c] = dequant_at(t, f, code_bits(f.qmax), c, j, f.group_of[j]);
}

// Block (b*H + h, split); blockDim.x = head_dim threads. Shared: scores[split_tokens], red[32].
__global__ void decode_split_kernel(DecodeAttentionDev a, PackedFormatDev kf, PackedFormatDev vf) {
  extern __shared__ float sh[];
  float* scores = sh;
  float* red = sh + a.split_tokens;
  const int64_t bh = blockIdx.x, split = blockIdx.y;
  const int64_t b = bh / a.heads, h = bh % a.heads;
  const int64_t kh = h / (a.heads / a.kv_heads);
  const int64_t D = a.head_dim, C = a.kv_heads * D;
  const int d = threadIdx.x, lane = d & 31, warp = d >> 5, nwarps = blockDim.x >> 5;
  const int64_t T = a.t_packed + a.t_dense;
  const int64_t t0 = split * a.split_tokens;
  const int64_t t1 = min(T, t0 + a.split_tokens);
  const int64_t c = kh * D + d;
  const int kbits = code_bits(kf.qmax), vbits = code_bits(vf.qmax);
  // Per-lane channel data for the score pass: each warp handles whole tokens, lanes stride D.
  for (int64_t t = t0 + warp; t < t1; t += nwarps) {
    float part = 0.0f;
    for (int64_t dd = lane; dd < D; dd += 32) {
      const int64_t cc = kh * D + dd;
      float kv;
      if (t < a.t_packed) {
        const uint8_t* tok = a.k_packed + (b * a.t_packed + t) * kf.token_bytes;
        const int64_t j = kf.inv_perm[cc];
        kv = dequant_at(tok, kf, kbits, cc, j, kf.group_of[j]);
      } else {
        kv = a.k_dense[(b * a.t_dense + (t - a.t_packed)) * C + cc];
      }
      part += a.q[(b * a.heads + h) * D + dd] * kv;
    }
    for (int s = 16; s > 0; s >>= 1) part += __shfl_xor_sync(0xffffffffu, part, s);
    if (lane == 0) scores[t - t0] = part * a.softmax_scale;
  }
  __syncthreads();
  // Max over the split.
  float m = -FLT_MAX;
  for (int64_t i = d; i < t1 - t0; i += blockDim.x) m = fmaxf(m, scores[i]);
  for (int s = 16; s > 0; s >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, s));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = -FLT_MAX;
  for (int w = 0; w < nwarps; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  for (int64_t i = d; i < t1 - t0; i += blockDim.x) scores[i] = __expf(scores[i] - m);
  __syncthreads();
  // Weighted sum of V for channel d, and the sum of weights.
  float acc = 0.0f, l = 0.0f;
  const int64_t jv = vf.inv_perm ? vf.inv_perm[c] : c;
  const int64_t gv = vf.group_of ? vf.group_of[jv] : 0;
  for (int64_t t = t0; t < t1; ++t) {
    const float p = scores[t - t0];
    float vv;
    if (t < a.t_packed) {
      const uint8_t* tok = a.v_packed + (b * a.t_packed + t) * vf.token_bytes;
      vv = dequant_at(tok, vf, vbits, c, jv, gv);
    } else {
      vv = a.v_dense[(b * a.t_dense + (t - a.t_packed)) * C + c];
    }
    acc += p * vv;
    l += p;
  }
  const int64_t n_splits = gridDim.y;
  float* ws = a.workspace + (bh * n_splits + split) * (D + 2);
  ws[2 + d] = acc;
  if (d == 0) {
    ws[0] = m;
    ws[1] = l;
  }
}

__global__ void combine_kernel(DecodeAttentionDev a, int64_t n_splits) {
  const int64_t bh = blockIdx.x;
  const int64_t D = a.head_dim;
  const int d = threadIdx.x;
  const float* ws = a.workspace + bh * n_splits * (D + 2);
  float M = -FLT_MAX;
  for (int64_t s = 0; s < n_splits; ++s) M = fmaxf(M, ws[s * (D + 2)]);
  float num = 0.0f, den = 0.0f;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float w = __expf(ws[s * (D + 2)] - M);
    num += w * ws[s * (D + 2) + 2 + d];
    den += w * ws[s * (D + 2) + 1];
  }
  a.out[bh * D + d] = num / den;
}

}  // namespace

void quantize_pack_cuda(const float* x_dev, int64_t rows, const PackedFormatDev& f, uint8_t* out_dev,
                        cudaStream_t stream) {
  if (rows <= 0) return;
  if (f.qmax == 0) {  // raw float32 tokens
    cudaMemcpyAsync(out_dev, x_dev, rows * f.channels * sizeof(float), cudaMemcpyDeviceToDevice, stream);
    check_launch("quantize_pack_cuda");
    return;
  }
  quantize_pack_kernel<<<static_cast<unsigned>(rows), 256, static_cast<size_t>(f.channels), stream>>>(
      x_dev, f, out_dev);
  check_launch("quantize_pack_cuda");
}

void dequant_packed_cuda(const uint8_t* packed_dev, int64_t rows, const PackedFormatDev& f,
                         float* out_dev, cudaStream_t stream) {
  if (rows <= 0) return;
  if (f.qmax == 0) {
    cudaMemcpyAsync(out_dev, packed_dev, rows * f.channels * sizeof(float), cudaMemcpyDeviceToDevice,
                    stream);
    check_launch("dequant_packed_cuda");
    return;
  }
  const int64_t n = rows * f.channels;
  dequant_kernel<<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(packed_dev, rows, f, out_dev);
  check_launch("dequant_packed_cuda");
}

int64_t decode_attention_workspace_floats(const DecodeAttentionDev& a) {
  const int64_t T = a.t_packed + a.t_dense;
  const int64_t splits = (T + a.split_tokens - 1) / a.split_tokens;
  return a.batch * a.heads * (splits > 0 ? splits : 1) * (a.head_dim + 2);
}

void decode_attention_packed_cuda(const DecodeAttentionDev& a, const PackedFormatDev& kf,
                                  const PackedFormatDev& vf, cudaStream_t stream) {
  if (a.head_dim % 32 != 0 || a.head_dim > 1024)
    throw std::runtime_error("decode_attention_packed_cuda: head_dim must be a multiple of 32, <= 1024");
  if (kf.qmax == 0 || vf.qmax == 0)
    throw std::runtime_error("decode_attention_packed_cuda: raw (unquantized) tensors are not supported");
  const int64_t T = a.t_packed + a.t_dense;
  if (T <= 0) throw std::runtime_error("decode_attention_packed_cuda: no tokens");
  const int64_t splits = (T + a.split_tokens - 1) / a.split_tokens;
  const dim3 grid(static_cast<unsigned>(a.batch * a.heads), static_cast<unsigned>(splits));
  const size_t shmem = (a.split_tokens + 32) * sizeof(float);
  decode_split_kernel<<<grid, static_cast<unsigned>(a.head_dim), shmem, stream>>>(a, kf, vf);
  check_launch("decode_attention_packed_cuda (split)");
  combine_kernel<<<static_cast<unsigned>(a.batch * a.heads), static_cast<unsigned>(a.head_dim), 0, stream>>>(
      a, splits);
  check_launch("decode_attention_packed_cuda (combine)");
}

}  // namespace skvq::cuda
