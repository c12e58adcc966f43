// The 256-entry shifting FIFO of KAILLERA.md §5.6.
#include <gtest/gtest.h>

#include "common/kaillera/game_cache.hpp"

namespace p = kaillera::proto;

namespace {
std::vector<std::uint8_t> entry(int i) {
  return {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 0xAB};
}
}  // namespace

TEST(GameCache, SenderAppendsOnceThenRefersByPosition) {
  p::GameDataCache c;
  auto a = entry(1), b = entry(2);
  EXPECT_FALSE(p::cache_for_send(c, a).cached);
  EXPECT_FALSE(p::cache_for_send(c, b).cached);
  auto again = p::cache_for_send(c, a);
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(again.index, 0);
  EXPECT_EQ(p::cache_for_send(c, b).index, 1);
  EXPECT_EQ(c.size(), 2u);
}

TEST(GameCache, FullCacheEvictsOldestAndShiftsPositions) {
  p::GameDataCache c;
  for (int i = 0; i < 256; ++i)
    c.append(entry(i));
  ASSERT_EQ(c.size(), 256u);
  EXPECT_EQ(*c.find(entry(0)), 0);
  EXPECT_EQ(*c.find(entry(255)), 255);
  c.append(entry(256));  // evicts entry 0
  EXPECT_EQ(c.size(), 256u);
  EXPECT_FALSE(c.find(entry(0)));
  EXPECT_EQ(*c.find(entry(1)), 0);      // moved down one position
  EXPECT_EQ(*c.find(entry(256)), 255);  // newest at 255
  auto at0 = c.at(0);
  ASSERT_TRUE(at0);
  EXPECT_EQ(std::vector<std::uint8_t>(at0->begin(), at0->end()), entry(1));
  // Many more: positions keep shifting one per append.
  for (int i = 257; i < 1000; ++i)
    c.append(entry(i));
  EXPECT_EQ(*c.find(entry(999)), 255);
  EXPECT_EQ(*c.find(entry(744)), 0);
  EXPECT_FALSE(c.find(entry(743)));
}

TEST(GameCache, MirrorStaysInStepWithSender) {
  // The receiver appends every full 0x12 and resolves every 0x13; both must agree on every input.
  p::GameDataCache sender, receiver;
  std::uint32_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 1103515245u + 12345u;
    auto data = entry(static_cast<int>((x >> 16) % 400));  // 400 distinct inputs: forces eviction
    auto d = p::cache_for_send(sender, data);
    if (d.cached) {
      auto got = receiver.at(d.index);
      ASSERT_TRUE(got);
      ASSERT_EQ(std::vector<std::uint8_t>(got->begin(), got->end()), data) << i;
    } else {
      receiver.append(data);
    }
  }
}

TEST(GameCache, EqualHashDifferentBytesAreDifferentEntries) {
  p::GameDataCache c;
  // Not a real collision of FNV, but same size and prefix: the comparison is by content.
  std::vector<std::uint8_t> a{1, 2, 3, 4}, b{1, 2, 3, 5};
  c.append(a);
  EXPECT_FALSE(c.find(b));
  EXPECT_FALSE(c.find(std::vector<std::uint8_t>{1, 2, 3}));
}

TEST(GameCache, OutOfRangeIndexAndClear) {
  p::GameDataCache c;
  EXPECT_FALSE(c.at(0));
  c.append(entry(1));
  EXPECT_TRUE(c.at(0));
  EXPECT_FALSE(c.at(1));
  c.clear();
  EXPECT_FALSE(c.at(0));
  EXPECT_EQ(c.size(), 0u);
}

TEST(GameCache, UnknownEntriesKeepPositionsAndNeverMatch) {
  p::GameDataCache c;
  c.append(entry(1));
  c.append_unknown();  // the sender's 0x12 of entry(2) was lost: its content is not known here
  c.append(entry(3));
  ASSERT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.is_unknown(0));
  EXPECT_TRUE(c.is_unknown(1));
  EXPECT_FALSE(c.is_unknown(2));
  const auto third = *c.at(2);
  EXPECT_EQ(std::vector<std::uint8_t>(third.begin(), third.end()),
            entry(3));                           // still at the sender's position 2
  EXPECT_FALSE(c.find(p::Bytes()).has_value());  // an unknown entry matches nothing, not even ""
  // Shifting out of a full cache moves the mark with its entry, and a slot reused by append is known again.
  for (int i = 0; i < 254; ++i)  // 3 + 254 entries: the last append evicts entry(1)
    c.append(entry(10 + i));
  ASSERT_EQ(c.size(), 256u);
  EXPECT_TRUE(c.is_unknown(0));  // the unknown entry moved down from position 1 to 0
  c.append(entry(999));          // evicts it; its slot now holds entry(999), a known entry
  for (int i = 0; i < 256; ++i)
    EXPECT_FALSE(c.is_unknown(static_cast<std::uint8_t>(i))) << i;
}

// Slots a clear() left behind still hold their old bytes and hashes; find() must see only the live entries.
TEST(GameCache, SlotsLeftByClearNeverMatch) {
  p::GameDataCache c;
  for (int i = 0; i < 20; ++i)
    c.append(entry(i));
  c.clear();
  c.append(entry(100));
  EXPECT_FALSE(c.find(entry(5)).has_value());
  EXPECT_FALSE(c.find(entry(0)).has_value());
  EXPECT_EQ(c.find(entry(100)), std::optional<std::uint8_t>(0));
}

// A receiver's mirror appends what it is sent; should the same bytes arrive twice (a sender's own cache would
// not do it, a client might), find() names the newest position, the one a sender scanning newest-first would.
TEST(GameCache, TheSameBytesTwiceFindTheNewest) {
  p::GameDataCache c;
  c.append(entry(7));
  c.append(entry(8));
  c.append(entry(7));
  EXPECT_EQ(c.find(entry(7)), std::optional<std::uint8_t>(2));
  // Wrapped: 300 appends in a full cache put the newest copy at a lower physical slot than the older one.
  p::GameDataCache w;
  for (int i = 0; i < 300; ++i)
    w.append(entry(i == 100 || i == 299 ? 7 : 1000 + i));
  EXPECT_EQ(w.find(entry(7)), std::optional<std::uint8_t>(255));  // position 255: the newest
  EXPECT_EQ(w.find(entry(1000 + 298)), std::optional<std::uint8_t>(254));
  EXPECT_EQ(w.find(entry(1000 + 44)), std::optional<std::uint8_t>(0));  // 300 - 256 = 44 is the oldest left
  EXPECT_FALSE(w.find(entry(1000 + 43)).has_value());                   // evicted
}
