#pragma once
// CUDA fake quantization (skvq-method.md sections 2-3), bit-identical to
// skvq::fake_quant_rows_cpu. Plain CUDA runtime API, no LibTorch.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace skvq {

/// Fake-quantizes `rows` token vectors of `channels` float32 values in place on the device.
/// x_dev: [rows, channels] row-major float32 (device). perm_dev: [channels] int64 reordered
/// position -> original channel. offsets_dev: [n_groups + 1] int64 group boundaries in
/// reordered positions (0 ... channels). smooth_dev_or_null: [channels] float32 per original
/// channel (multiply before, divide after) or nullptr. qmax: 2^bits - 1 (2 = ternary).
/// clip_ratio: lo/hi multiplier. fp8: round scale/zero to FP8 E4M3, else to float16.
/// Per group: lo = clip*min, hi = clip*max, scale = max((hi-lo)/qmax, 1e-5) (rounded),
/// zero = lo (rounded), q = clamp(rint((x-zero)/scale), 0, qmax) (0 when the rounded scale is
/// 0), x_hat = q*scale + zero. Runs asynchronously on `stream`. Throws std::runtime_error
/// ("fake_quant_rows_cuda: <CUDA error>") when the launch fails.
void fake_quant_rows_cuda(float* x_dev, int64_t rows, int64_t channels,
                                 const int64_t* perm_dev, const int64_t* offsets_dev,
                                 int64_t n_groups, const float* smooth_dev_or_null, int32_t qmax,
                                 float clip_ratio, bool fp8, cudaStream_t stream);

}  // namespace skvq

namespace skvq::cuda {

/// Number of CUDA devices, or 0 with `reason` set (e.g. "cudaGetDeviceCount: CUDA driver
/// version is insufficient for CUDA runtime version") when none can be used.
int device_count(const char** reason);

}  // namespace skvq::cuda
