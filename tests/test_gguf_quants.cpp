// GGUF dequantization (core/src/model/gguf_quants.*) against the Python gguf package's own
// dequantizer (tests/reference/gguf_blocks, made by tests/reference/make_gguf_blocks.py), plus
// hand-built blocks and the type table. Uses no LibTorch and no other project header, so it
// also builds standalone:
//   g++ -std=c++20 -O2 -I core/src -I tests -DSKVQ_REFERENCE_DIR=\"$PWD/tests/reference\"
//       tests/test_gguf_quants.cpp core/src/model/gguf_quants.cpp -lgtest -lgtest_main -pthread
//
// Tolerance: none, the comparison is bit-exact (NaN only has to match NaN; payloads are not
// compared). Both sides decode the same fp16 fields exactly (every binary16 value is a binary32
// value) and compute x = (d * scale) * q, then "+ m" or "- dmin * min", in float32: numpy as
// separate correctly rounded ufunc operations, gguf_quants.cpp as plain float expressions. The
// products are exact in float32 (fp16 d has <= 11 significant bits, sub-block scales <= 7,
// quants <= 6, together <= 24; Q8_0's d * int8 <= 18), so the only rounding is the final
// add/subtract, identical on both sides, even where a compiler fuses it into an FMA. Any
// difference, even one ulp, is therefore a decoding bug, not rounding.
#include "model/gguf_quants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef SKVQ_REFERENCE_DIR
#error "SKVQ_REFERENCE_DIR must name tests/reference"
#endif

namespace g = skvq::gguf;
using g::GgmlType;

namespace {

uint32_t id(GgmlType t) { return static_cast<uint32_t>(t); }

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v & 0xff);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

struct RefCase {
  const char* name;
  GgmlType type;
};

class ReferenceBlocks : public ::testing::TestWithParam<RefCase> {};

TEST_P(ReferenceBlocks, MatchesGgufPackageBitExactly) {
  const RefCase c = GetParam();
  const std::string base = std::string(SKVQ_REFERENCE_DIR) + "/gguf_blocks/" + c.name;
  const std::vector<uint8_t> raw = read_file(base + ".bin");
  const std::vector<uint8_t> ref_bytes = read_file(base + ".f32");
  ASSERT_EQ(ref_bytes.size() % 4, 0u);
  std::vector<float> expected(ref_bytes.size() / 4);
  std::memcpy(expected.data(), ref_bytes.data(), ref_bytes.size());
  const int64_t n = static_cast<int64_t>(expected.size());

  const g::TypeInfo* info = g::type_info(id(c.type));
  ASSERT_NE(info, nullptr);
  EXPECT_STREQ(info->name, c.name);
  EXPECT_TRUE(info->dequantizable);
  ASSERT_EQ(g::row_bytes(id(c.type), n), static_cast<int64_t>(raw.size()));
  ASSERT_GE(n / info->block_size, 4) << "want several blocks";

  std::vector<float> got(expected.size(), -12345.0f);
  g::dequantize(id(c.type), raw.data(), got.data(), n);
  int mismatches = 0, nonzero = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (expected[i] != 0.0f) ++nonzero;
    const bool same = std::isnan(expected[i]) ? std::isnan(got[i]) : bits(got[i]) == bits(expected[i]);
    if (!same && ++mismatches <= 8)
      ADD_FAILURE() << c.name << " element " << i << " (block " << i / info->block_size
                    << "): got " << got[i] << " expected " << expected[i];
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(nonzero, n / 2) << "reference data looks degenerate";

  // Block by block gives the same as one call over the whole run.
  std::vector<float> per_block(expected.size());
  for (int64_t b = 0; b < n / info->block_size; ++b)
    g::dequantize(id(c.type), raw.data() + b * info->type_size, per_block.data() + b * info->block_size,
                  info->block_size);
  EXPECT_EQ(std::memcmp(per_block.data(), got.data(), got.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Gguf, ReferenceBlocks,
    ::testing::Values(RefCase{"F32", GgmlType::F32}, RefCase{"F16", GgmlType::F16},
                      RefCase{"BF16", GgmlType::BF16}, RefCase{"Q4_0", GgmlType::Q4_0},
                      RefCase{"Q4_1", GgmlType::Q4_1}, RefCase{"Q5_0", GgmlType::Q5_0},
                      RefCase{"Q5_1", GgmlType::Q5_1}, RefCase{"Q8_0", GgmlType::Q8_0},
                      RefCase{"Q2_K", GgmlType::Q2_K}, RefCase{"Q3_K", GgmlType::Q3_K},
                      RefCase{"Q4_K", GgmlType::Q4_K}, RefCase{"Q5_K", GgmlType::Q5_K},
                      RefCase{"Q6_K", GgmlType::Q6_K}),
    [](const ::testing::TestParamInfo<RefCase>& p) { return std::string(p.param.name); });

TEST(GgufQuants, Fp16Conversion) {
  EXPECT_EQ(bits(g::fp16_to_float(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(g::fp16_to_float(0x8000)), 0x80000000u);           // -0
  EXPECT_EQ(g::fp16_to_float(0x0001), std::ldexp(1.0f, -24));       // smallest subnormal
  EXPECT_EQ(g::fp16_to_float(0x83ff), -1023.0f * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(g::fp16_to_float(0x0400), std::ldexp(1.0f, -14));       // smallest normal
  EXPECT_EQ(g::fp16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(g::fp16_to_float(0xc000), -2.0f);
  EXPECT_EQ(g::fp16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(g::fp16_to_float(0x7bff), 65504.0f);                    // max
  EXPECT_EQ(g::fp16_to_float(0x7c00), INFINITY);
  EXPECT_EQ(g::fp16_to_float(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(g::fp16_to_float(0x7e00)));
  EXPECT_TRUE(std::isnan(g::fp16_to_float(0x7c01)));
  EXPECT_TRUE(std::isnan(g::fp16_to_float(0xfe00)));
  EXPECT_EQ(bits(g::bf16_to_float(0x3f80)), 0x3f800000u);
  EXPECT_EQ(bits(g::bf16_to_float(0xff80)), 0xff800000u);
}

// One Q4_0 block by hand: d = 0.5 (fp16 0x3800), qs[j] = j | (15 - j) << 4. Element j < 16 is
// the low nibble j, element 16 + j the high nibble 15 - j; x = 0.5 * (q - 8).
TEST(GgufQuants, HandBuiltQ4_0) {
  std::vector<uint8_t> blk(18);
  put_u16(blk, 0, 0x3800);
  for (int j = 0; j < 16; ++j) blk[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const float expected[32] = {-4.0f, -3.5f, -3.0f, -2.5f, -2.0f, -1.5f, -1.0f, -0.5f,
                              0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  2.5f,  3.0f,  3.5f,
                              3.5f,  3.0f,  2.5f,  2.0f,  1.5f,  1.0f,  0.5f,  0.0f,
                              -0.5f, -1.0f, -1.5f, -2.0f, -2.5f, -3.0f, -3.5f, -4.0f};
  float got[32];
  g::dequantize(id(GgmlType::Q4_0), blk.data(), got, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(got[i], expected[i]) << "element " << i;
}

// One Q8_0 block by hand: d = 0.25 (fp16 0x3400), q[j] = 8 (j - 16) in -128..120; x = 2 (j - 16).
TEST(GgufQuants, HandBuiltQ8_0) {
  std::vector<uint8_t> blk(34);
  put_u16(blk, 0, 0x3400);
  for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(8 * (j - 16)));
  const float expected[32] = {-32, -30, -28, -26, -24, -22, -20, -18, -16, -14, -12,
                              -10, -8,  -6,  -4,  -2,  0,   2,   4,   6,   8,   10,
                              12,  14,  16,  18,  20,  22,  24,  26,  28,  30};
  float got[32];
  g::dequantize(id(GgmlType::Q8_0), blk.data(), got, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(got[i], expected[i]) << "element " << i;
}

// Q8_K has no dequantizer in the gguf package: float32 d = 0.125, q[j] = j - 128, sums ignored.
TEST(GgufQuants, HandBuiltQ8_K) {
  std::vector<uint8_t> blk(292, 0xAB);  // garbage block sums must not matter
  const float d = 0.125f;
  std::memcpy(blk.data(), &d, 4);
  for (int j = 0; j < 256; ++j) blk[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 128));
  std::vector<float> got(256);
  g::dequantize(id(GgmlType::Q8_K), blk.data(), got.data(), 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(got[j], (j - 128) / 8.0f) << "element " << j;
}

TEST(GgufQuants, F64RoundsToFloat) {
  const double in[4] = {1.0, -0.1, 1e300, 3.0000001};
  float got[4];
  g::dequantize(id(GgmlType::F64), reinterpret_cast<const uint8_t*>(in), got, 4);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -0.1f);
  EXPECT_EQ(got[2], INFINITY);
  EXPECT_EQ(got[3], static_cast<float>(3.0000001));
}

TEST(GgufQuants, TypeTable) {
  struct Size {
    GgmlType t;
    const char* name;
    int64_t block, bytes;
  };
  const Size sizes[] = {{GgmlType::F32, "F32", 1, 4},      {GgmlType::F16, "F16", 1, 2},
                        {GgmlType::BF16, "BF16", 1, 2},    {GgmlType::Q4_0, "Q4_0", 32, 18},
                        {GgmlType::Q4_1, "Q4_1", 32, 20},  {GgmlType::Q5_0, "Q5_0", 32, 22},
                        {GgmlType::Q5_1, "Q5_1", 32, 24},  {GgmlType::Q8_0, "Q8_0", 32, 34},
                        {GgmlType::Q2_K, "Q2_K", 256, 84}, {GgmlType::Q3_K, "Q3_K", 256, 110},
                        {GgmlType::Q4_K, "Q4_K", 256, 144}, {GgmlType::Q5_K, "Q5_K", 256, 176},
                        {GgmlType::Q6_K, "Q6_K", 256, 210}, {GgmlType::Q8_K, "Q8_K", 256, 292}};
  for (const Size& s : sizes) {
    const g::TypeInfo* info = g::type_info(id(s.t));
    ASSERT_NE(info, nullptr) << s.name;
    EXPECT_STREQ(info->name, s.name);
    EXPECT_EQ(info->block_size, s.block) << s.name;
    EXPECT_EQ(info->type_size, s.bytes) << s.name;
    EXPECT_TRUE(info->dequantizable) << s.name;
  }
  const g::TypeInfo* iq = g::type_info(id(GgmlType::IQ2_XXS));
  ASSERT_NE(iq, nullptr);
  EXPECT_STREQ(iq->name, "IQ2_XXS");
  EXPECT_EQ(iq->block_size, 256);
  EXPECT_EQ(iq->type_size, 66);
  EXPECT_FALSE(iq->dequantizable);
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::TQ1_0,
                     GgmlType::TQ2_0, GgmlType::MXFP4, GgmlType::I32}) {
    ASSERT_NE(g::type_info(id(t)), nullptr);
    EXPECT_FALSE(g::type_info(id(t))->dequantizable) << g::type_info(id(t))->name;
  }
  EXPECT_EQ(g::type_info(4), nullptr);  // Q4_2, gone before GGUF
  EXPECT_EQ(g::type_info(42), nullptr);
  EXPECT_EQ(g::type_info(0xffffffffu), nullptr);
}

TEST(GgufQuants, RowBytes) {
  EXPECT_EQ(g::row_bytes(id(GgmlType::Q4_K), 4096), 16 * 144);
  EXPECT_EQ(g::row_bytes(id(GgmlType::Q6_K), 256), 210);
  EXPECT_EQ(g::row_bytes(id(GgmlType::Q4_1), 64), 40);
  EXPECT_EQ(g::row_bytes(id(GgmlType::Q8_0), 4096), 128 * 34);
  EXPECT_EQ(g::row_bytes(id(GgmlType::F16), 7), 14);
  EXPECT_EQ(g::row_bytes(id(GgmlType::F32), 0), 0);
  EXPECT_EQ(g::row_bytes(id(GgmlType::IQ2_XXS), 512), 132);  // sizes also for unsupported types
  EXPECT_THROW(g::row_bytes(id(GgmlType::Q4_0), 100), std::invalid_argument);
  EXPECT_THROW(g::row_bytes(id(GgmlType::Q4_K), 128), std::invalid_argument);
  EXPECT_THROW(g::row_bytes(id(GgmlType::Q8_0), -32), std::invalid_argument);
  EXPECT_THROW(g::row_bytes(99, 32), std::invalid_argument);
}

TEST(GgufQuants, DequantizeRejects) {
  std::vector<uint8_t> src(1024, 0);
  std::vector<float> dst(512);
  EXPECT_THROW(g::dequantize(id(GgmlType::IQ2_XXS), src.data(), dst.data(), 256), std::invalid_argument);
  EXPECT_THROW(g::dequantize(id(GgmlType::Q8_1), src.data(), dst.data(), 32), std::invalid_argument);
  EXPECT_THROW(g::dequantize(99, src.data(), dst.data(), 32), std::invalid_argument);
  EXPECT_THROW(g::dequantize(id(GgmlType::Q4_K), src.data(), dst.data(), 100), std::invalid_argument);
  EXPECT_THROW(g::dequantize(id(GgmlType::Q4_0), src.data(), dst.data(), 33), std::invalid_argument);
  try {
    g::dequantize(id(GgmlType::IQ2_XXS), src.data(), dst.data(), 256);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(g::dequantize(id(GgmlType::Q4_K), src.data(), dst.data(), 0));
}

}  // namespace
