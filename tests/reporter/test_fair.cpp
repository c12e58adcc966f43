// The chat lines /fair answers with, from a PickResponse (relay/reporter/fair.hpp).
#include <gtest/gtest.h>

#include "relay/reporter/fair.hpp"

namespace kaillera::relay {
namespace {

namespace v1 = ::kaillera::directory::v1;

v1::PickResponse response() {
  v1::PickResponse r;
  auto* b = r.mutable_best();
  b->set_relay_id("7");
  b->mutable_name()->set_text("Frankfurt relay");
  b->set_host("198.51.100.4");
  b->set_port(27888);
  b->set_max_hops(6);
  b->set_spread(2);
  b->set_max_rtt_ms(41);
  auto* p1 = b->add_players();
  p1->set_address("203.0.113.1");
  p1->set_hops(6);
  p1->set_rtt_ms(41);
  p1->set_source("measured");
  auto* p2 = b->add_players();
  p2->set_address("203.0.113.2");
  p2->set_hops(4);
  p2->set_rtt_ms(-1);
  p2->set_source("probed");
  p2->set_stale(true);
  return r;
}

TEST(FairLines, NameTheBestRelayAndEachPlayerByName) {
  const auto lines = fair_lines(response(), {{"203.0.113.1", "ryu"}, {"203.0.113.2", "ken"}}, "3");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "Fairest relay: Frankfurt relay 198.51.100.4:27888 - max 6 hops, spread 2, worst RTT 41 ms");
  EXPECT_EQ(lines[1], "  ryu: 6 hops, 41 ms (measured)");
  EXPECT_EQ(lines[2], "  ken: 4 hops, ? (probed, old)");
}

TEST(FairLines, SaysWhenTheBestIsThisRelayAndJoinsNamesBehindOneAddress) {
  const auto lines =
      fair_lines(response(), {{"203.0.113.1", "ryu"}, {"203.0.113.1", "chun-li"}, {"203.0.113.2", ""}}, "7");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("(this relay)"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "  ryu, chun-li: 6 hops, 41 ms (measured)");
  EXPECT_EQ(lines[2], "  203.0.113.2: 4 hops, ? (probed, old)");  // no name known: the address
}

TEST(FairLines, NoBestMeansNoRelayCanBePicked) {
  const auto lines = fair_lines(v1::PickResponse{}, {}, "");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("No relay can be picked"), std::string::npos);
}

}  // namespace
}  // namespace kaillera::relay
