// gemv_bf16 (bfloat16 weights, float32 activations) against a float64 matrix-vector product
// of the same bfloat16 weights, and the forward pass that uses it for one-row linears.
//
// Tolerance: widening bfloat16 to float32 is exact, so the only error is float32 rounding of
// the K products and their sums: at most about K * 2^-24 * sum_k |w_k x_k| (the standard
// bound for recursive summation, gamma_K); the test allows twice that.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/gemv_bf16.h"
#include "skvq/error.h"

using namespace skvq;

TEST(GemvBf16, MatchesFloat64ProductOfTheSameWeights) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  for (auto [N, K] : {std::pair<int64_t, int64_t>{37, 100}, {1536, 576}, {5, 7}, {64, 1536}, {3, 16}}) {
    auto w = at::randn({N, K}, gen).to(at::kBFloat16);
    auto x = at::randn({K}, gen);
    auto y = gemv_bf16(w, x);
    ASSERT_EQ(y.scalar_type(), at::kFloat);
    ASSERT_EQ(y.size(0), N);
    auto wd = w.to(at::kDouble), xd = x.to(at::kDouble);
    auto want = at::mv(wd, xd);
    auto bound = at::mv(wd.abs(), xd.abs()) * (2.0 * K * std::ldexp(1.0, -24));
    auto err = (y.to(at::kDouble) - want).abs();
    EXPECT_TRUE((err <= bound).all().item<bool>()) << N << " x " << K << ": max error " << err.max().item<double>();
    EXPECT_GT(want.abs().max().item<double>(), 1.0) << "a real product, not zeros";
  }
}

TEST(GemvBf16, RefusesOtherDtypesAndShapes) {
  auto w = at::zeros({4, 8}, at::kBFloat16);
  EXPECT_THROW(gemv_bf16(w.to(at::kFloat), at::zeros({8})), Error);
  EXPECT_THROW(gemv_bf16(w, at::zeros({8}, at::kBFloat16)), Error);
  EXPECT_THROW(gemv_bf16(w, at::zeros({7})), Error);
  EXPECT_THROW(gemv_bf16(w.t(), at::zeros({4})), Error);  // not contiguous
}
