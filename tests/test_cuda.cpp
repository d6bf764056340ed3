// CUDA kernels vs the CPU reference. Every test skips with "no CUDA device: <reason>" when the
// build has no CUDA or no device is usable.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "skvq/fake_quant.h"
#include "skvq/packed.h"
#include "skvq/packed_cache.h"

using namespace skvq;

#define SKVQ_REQUIRE_CUDA()                                        \
  do {                                                             \
    std::string why;                                               \
    if (!packed_cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why; \
  } while (0)

namespace {
GroupLayout reordered(int64_t C, const std::vector<int64_t>& sizes, uint32_t seed, bool smooth) {
  GroupLayout L;
  for (int64_t i = 0; i < C; ++i) L.perm.push_back(i);
  std::mt19937 rng(seed);
  std::shuffle(L.perm.begin(), L.perm.end(), rng);
  L.offsets = {0};
  for (auto s : sizes) L.offsets.push_back(L.offsets.back() + s);
  if (smooth) {
    std::uniform_real_distribution<float> u(0.2f, 3.0f);
    for (int64_t i = 0; i < C; ++i) L.smooth.push_back(u(rng));
  }
  L.validate();
  return L;
}
std::vector<GroupLayout> layouts(int64_t C) {
  return {GroupLayout::contiguous(C, 32), reordered(C, {20, 44, 12, 52}, 3, false),
          reordered(C, {64, 1, 63}, 4, true)};
}
}  // namespace

TEST(Cuda, FakeQuantMatchesCpuBitForBit) {
  SKVQ_REQUIRE_CUDA();
  const int64_t C = 128;
  auto x = at::randn({3, 50, C}) * 3;
  for (const auto& L : layouts(C))
    for (double bits : {1.5, 2.0, 3.0, 4.0, 8.0})
      for (bool fp8 : {true, false}) {
        GroupQuantParams p{qmax_for_bits(bits), 0.92f, fp8};
        auto cpu = fake_quant_tokens(x, L, p);
        auto gpu = fake_quant_tokens(x.cuda(), L, p).cpu();
        EXPECT_TRUE(at::equal(cpu, gpu)) << "bits " << bits << " fp8 " << fp8;
      }
}

TEST(Cuda, PackAndUnpackMatchCpuBytes) {
  SKVQ_REQUIRE_CUDA();
  const int64_t C = 128, rows = 37;
  auto x = at::randn({rows, C}) * 2;
  for (const auto& L : layouts(C))
    for (double bits : {1.5, 2.0, 3.0, 4.0, 8.0})
      for (bool fp8 : {true, false}) {
        PackedFormat f{L, {qmax_for_bits(bits), 0.95f, fp8}};
        auto cpu_packed = at::empty({rows, f.token_bytes()}, at::kByte);
        auto cpu_back = at::empty({rows, C}, at::kFloat);
        for (int64_t r = 0; r < rows; ++r) {
          pack_token(f, x[r].contiguous().data_ptr<float>(), cpu_packed[r].data_ptr<uint8_t>());
          unpack_token(f, cpu_packed[r].data_ptr<uint8_t>(), cpu_back[r].data_ptr<float>());
        }
        auto gpu_packed = pack_tokens_cuda(x.cuda(), f);
        EXPECT_TRUE(at::equal(gpu_packed.cpu(), cpu_packed)) << "bytes, bits " << bits << " fp8 " << fp8;
        auto gpu_back = unpack_tokens_cuda(cpu_packed.cuda(), f).cpu();
        EXPECT_TRUE(at::equal(gpu_back, cpu_back)) << "dequant, bits " << bits << " fp8 " << fp8;
      }
}

TEST(Cuda, FusedDecodeAttentionMatchesCpu) {
  SKVQ_REQUIRE_CUDA();
  const int64_t B = 2, H = 8, KVH = 2, D = 64, C = KVH * D, T = 1500, Td = 40;
  for (const auto& L : {GroupLayout::contiguous(C, 64), reordered(C, {30, 50, 48}, 9, true)}) {
    PackedFormat kf{L, {3, 0.95f, true}}, vf{L, {2, 0.95f, true}};
    auto k = at::randn({B, T, C}), v = at::randn({B, T, C});
    auto dk = at::randn({B, Td, C}), dv = at::randn({B, Td, C});
    auto kp = at::empty({B, T, kf.token_bytes()}, at::kByte), vp = at::empty({B, T, vf.token_bytes()}, at::kByte);
    auto kd = at::empty({B, T, C}), vd = at::empty({B, T, C});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        pack_token(kf, k[b][t].contiguous().data_ptr<float>(), kp[b][t].data_ptr<uint8_t>());
        pack_token(vf, v[b][t].contiguous().data_ptr<float>(), vp[b][t].data_ptr<uint8_t>());
        unpack_token(kf, kp[b][t].data_ptr<uint8_t>(), kd[b][t].data_ptr<float>());
        unpack_token(vf, vp[b][t].data_ptr<uint8_t>(), vd[b][t].data_ptr<float>());
      }
    auto q = at::randn({B, H, D});
    auto kall = at::cat({kd, dk}, 1), vall = at::cat({vd, dv}, 1);
    auto kk = kall.view({B, -1, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1);
    auto vv = vall.view({B, -1, KVH, D}).permute({0, 2, 1, 3}).repeat_interleave(H / KVH, 1);
    auto s = at::matmul(q.unsqueeze(2).to(at::kDouble), kk.transpose(2, 3).to(at::kDouble)) / std::sqrt(double(D));
    auto want = at::matmul(at::softmax(s, -1), vv.to(at::kDouble)).squeeze(2).to(at::kFloat);
    for (int64_t split : {64, 512, 4096}) {
      auto got = decode_attention_packed_cuda(q.cuda(), kp.cuda(), vp.cuda(), dk.cuda(), dv.cuda(), kf, vf,
                                              KVH, split).cpu();
      EXPECT_LT((got - want).abs().max().item<float>(), 1e-4f) << "split " << split;
    }
  }
}
