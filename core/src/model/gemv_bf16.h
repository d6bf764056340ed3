#pragma once
// y = W x for bfloat16 weights and float32 activations on the CPU (private to the model module):
// the one-row linears of a decode step. LibTorch's bfloat16 paths (at::mv, at::linear through
// oneDNN) convert the activations to bfloat16 and run no faster than float32 for one row on
// these CPUs (measured: 1536 x 576, 74 us against OpenBLAS float32's 47 us); this reads each
// bfloat16 weight once, widens it to float32 (exact: bfloat16 is float32's upper half) and
// accumulates in float32, so decode reads half the bytes of float32 weights.
#include <ATen/ATen.h>

namespace skvq {

/// y[N] = w[N, K] (bfloat16, contiguous) . x[K] (float32, contiguous), float32 accumulation
/// (16 partial sums per row, then summed). Rows are split across the intra-op threads.
/// Throws skvq::Error on other dtypes, shapes or devices.
at::Tensor gemv_bf16(const at::Tensor& w, const at::Tensor& x);

}  // namespace skvq
