// The frame-delay table of KAILLERA.md §5.3 ("Table of delay frames", DRL kaillera_original.txt):
// for each connection type, the ping ranges and the frames of input lag the client then plays with.
#include <gtest/gtest.h>

#include "common/kaillera/conn_type.hpp"

namespace p = kaillera::proto;

struct Row {
  std::uint8_t conn;
  std::uint32_t ping_from, ping_to;
  std::uint32_t frames;
};

TEST(FrameDelay, PublishedTable) {
  const Row table[] = {
      {1, 0, 16, 1},  {1, 17, 33, 2},  // LAN
      {2, 0, 33, 3},  {2, 34, 66, 5},  // Excellent
      {3, 0, 49, 5},  {3, 50, 99, 8},  // Good
      {4, 0, 66, 7},                   // Average
      {5, 0, 83, 9},                   // Low
      {6, 0, 99, 11},                  // Bad
  };
  for (const Row& r : table) {
    for (std::uint32_t ping = r.ping_from; ping <= r.ping_to; ++ping) {
      EXPECT_EQ(p::input_lag_frames(p::frame_delay(ping, r.conn), r.conn), r.frames)
          << p::conn_type_name(r.conn) << " at " << ping << " ms";
    }
  }
}

TEST(FrameDelay, Formula) {
  EXPECT_EQ(p::frame_delay(0, 1), 1);
  EXPECT_EQ(p::frame_delay(100, 1), 7);              // 60 * 0.1 + 1
  EXPECT_EQ(p::frame_delay(100, 3), 3);              // 20 * 0.1 + 1
  EXPECT_EQ(p::frame_delay(999, 6), 10);             // 10 * 0.999 + 1
  EXPECT_EQ(p::frame_delay(0xFFFFFFFF, 1), 0xFFFF);  // clamped, never wraps
}

TEST(ConnType, NamesAndValidity) {
  EXPECT_EQ(p::conn_type_name(1), "LAN");
  EXPECT_EQ(p::conn_type_name(6), "Bad");
  EXPECT_FALSE(p::valid_conn_type(0));
  EXPECT_FALSE(p::valid_conn_type(7));
  EXPECT_EQ(p::packets_per_second(3), 20u);
}
