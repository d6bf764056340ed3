// The region policy (kv_regions.h) on hand-worked cases: [ sink S ][ middle ][ window W ].
#include <gtest/gtest.h>

#include "skvq/kv_regions.h"
#include "skvq/quant_config.h"

using namespace skvq;
using Region = KVRegions::Region;

TEST(KVRegions, SinkMiddleWindowOfTwelveTokens) {
  const KVRegions r = KVRegions::of(QuantConfig::parse("k2-v2-g8-w4-sink3"));  // S = 3, W = 4
  EXPECT_EQ(r.sink, 3);
  EXPECT_EQ(r.window, 4);
  EXPECT_FALSE(r.evict);
  // 12 tokens: positions 0-2 sink, 3-7 middle, 8-11 window.
  EXPECT_EQ(r.middle_end(12), 8);
  EXPECT_EQ(r.middle_tokens(12), 5);
  EXPECT_EQ(r.full_precision_tokens(12), 7);
  EXPECT_EQ(r.stored_tokens(12), 12);
  const Region want[12] = {Region::Sink,   Region::Sink,   Region::Sink,   Region::Middle,
                           Region::Middle, Region::Middle, Region::Middle, Region::Middle,
                           Region::Window, Region::Window, Region::Window, Region::Window};
  for (int64_t p = 0; p < 12; ++p) EXPECT_EQ(r.region(p, 12), want[p]) << p;
  // Fewer tokens than S + W: no middle yet; the tokens past the sinks are all in the window.
  EXPECT_EQ(r.middle_end(5), 3);
  EXPECT_EQ(r.middle_tokens(5), 0);
  EXPECT_EQ(r.full_precision_tokens(5), 5);
  EXPECT_EQ(r.region(2, 5), Region::Sink);
  EXPECT_EQ(r.region(4, 5), Region::Window);
  EXPECT_EQ(r.middle_tokens(2), 0);  // inside the sinks
}

TEST(KVRegions, NoWindowQuantizesEverythingPastTheSinks) {
  const KVRegions r = KVRegions::of(QuantConfig::parse("k2-v2-g8-sink5"));
  EXPECT_EQ(r.middle_end(9), 9);
  EXPECT_EQ(r.middle_tokens(9), 4);
  EXPECT_EQ(r.region(8, 9), Region::Middle);
  EXPECT_EQ(r.region(4, 9), Region::Sink);
}

TEST(KVRegions, EvictionStoresOnlySinksAndWindow) {
  const KVRegions r = KVRegions::of(QuantConfig::parse("k0-v0-w64-sink4"));
  EXPECT_TRUE(r.evict);
  EXPECT_EQ(r.stored_tokens(1000), 68);
  EXPECT_EQ(r.stored_tokens(30), 30);
  EXPECT_EQ(r.middle_tokens(1000), 932);
  const KeySpan s = r.key_span(932);
  EXPECT_EQ(s.sink, 4);
  EXPECT_EQ(s.evicted, 932);
  EXPECT_EQ(s.window, 64);
  EXPECT_EQ(s.position(4), 936);  // the first window key after the sinks
  // A kept middle reads plain causal attention.
  const KeySpan plain = KVRegions::of(QuantConfig::parse("k2-v2-g8-w4-sink3")).key_span(0);
  EXPECT_EQ(plain.sink, 0);
  EXPECT_EQ(plain.window, 0);
}

TEST(KVRegions, KiviHasNoSinksAndItsResidualIsTheWindow) {
  const KVRegions r = KVRegions::of(QuantConfig::parse("k2-v2-g32-w128-KIVI"));
  EXPECT_EQ(r.sink, 0);
  EXPECT_EQ(r.window, 128);
  EXPECT_EQ(r.middle_end(300), 172);
  EXPECT_EQ(r.middle_end(100), 0);
}
