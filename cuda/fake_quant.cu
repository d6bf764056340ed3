// CUDA fake quantization: one warp per (token row, group), in place.
#include <cuda_runtime.h>

#include <cfloat>
#include <stdexcept>
#include <string>

#include "quant_device.cuh"
#include "skvq_cuda/fake_quant.h"

namespace skvq::cuda {
namespace {

__global__ void fake_quant_rows_kernel(float* __restrict__ x, int64_t rows, int64_t channels,
                                       const int64_t* __restrict__ perm,
                                       const int64_t* __restrict__ offsets, int64_t n_groups,
                                       const float* __restrict__ smooth, int32_t qmax, float clip,
                                       bool fp8) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (warp >= rows * n_groups) return;
  const int64_t row = warp / n_groups, g = warp % n_groups;
  float* xr = x + row * channels;
  const int64_t a = offsets[g], b = offsets[g + 1];
  float mn = FLT_MAX, mx = -FLT_MAX;
  for (int64_t j = a + lane; j < b; j += 32) {
    const int64_t c = perm[j];
    const float v = smooth ? __fmul_rn(xr[c], smooth[c]) : xr[c];
    mn = fminf(mn, v);
    mx = fmaxf(mx, v);
  }
  for (int o = 16; o > 0; o >>= 1) {
    mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  }
  float scale, zero;
  detail::group_scale_zero(mn, mx, qmax, clip, fp8, &scale, &zero);
  for (int64_t j = a + lane; j < b; j += 32) {
    const int64_t c = perm[j];
    const float v = smooth ? __fmul_rn(xr[c], smooth[c]) : xr[c];
    float r = detail::dequant(detail::quant_code(v, scale, zero, qmax), scale, zero);
    if (smooth) r = __fdiv_rn(r, smooth[c]);
    xr[c] = r;
  }
}

}  // namespace
}  // namespace skvq::cuda

namespace skvq {

void fake_quant_rows_cuda(float* x_dev, int64_t rows, int64_t channels, const int64_t* perm_dev,
                          const int64_t* offsets_dev, int64_t n_groups,
                          const float* smooth_dev_or_null, int32_t qmax, float clip_ratio, bool fp8,
                          cudaStream_t stream) {
  if (rows <= 0 || n_groups <= 0) return;
  const int threads = 256;
  const int64_t warps = rows * n_groups;
  const int64_t blocks = (warps * 32 + threads - 1) / threads;
  cuda::fake_quant_rows_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(
      x_dev, rows, channels, perm_dev, offsets_dev, n_groups, smooth_dev_or_null, qmax, clip_ratio,
      fp8);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("fake_quant_rows_cuda: ") + cudaGetErrorString(err));
}

}  // namespace skvq

namespace skvq::cuda {

int device_count(const char** reason) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (reason) *reason = cudaGetErrorString(err);
    cudaGetLastError();
    return 0;
  }
  if (n == 0 && reason) *reason = "cudaGetDeviceCount returned 0 devices";
  return n;
}

}  // namespace skvq::cuda
