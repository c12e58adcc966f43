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

TEST(FairLines, AnEstimatedPlayerIsMarkedWithItsUncertainty) {
  // The master estimated ken's values at this relay (no probe reached the pair): 5 hops, 38 ms +- 4.
  auto r = response();
  auto* p2 = r.mutable_best()->mutable_players(1);
  p2->set_hops(5);
  p2->set_rtt_ms(38);
  p2->set_source("estimated");
  p2->set_stale(false);
  p2->set_estimated(true);
  p2->set_hops_uncertainty(1);
  p2->set_rtt_uncertainty_ms(4);
  const auto lines = fair_lines(r, {{"203.0.113.1", "ryu"}, {"203.0.113.2", "ken"}}, "3");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "  ryu: 6 hops, 41 ms (measured)");
  EXPECT_EQ(lines[2], "  ken: 5 hops, 38 ms (estimated, +-4 ms)");
}

TEST(FairLines, NoBestMeansNoRelayCanBePicked) {
  const auto lines = fair_lines(v1::PickResponse{}, {}, "");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("No relay can be picked"), std::string::npos);
}

// /fair's lines come from the relay's message catalog (relay/messages): in a pseudo-language that marks every
// text, each line starts marked, and a translation's placeholders are filled.
TEST(FairLines, ComeFromTheCatalog) {
  Messages marked;
  for (const auto& [key, text] : Messages::english())
    ASSERT_EQ(marked.set(key, "<<" + text + ">>"), "");
  for (const auto& own : {"3", "7"}) {
    for (const auto& line : fair_lines(response(), {{"203.0.113.1", "ryu"}}, own, marked))
      EXPECT_EQ(line.rfind("<<", 0), 0u) << line;
  }
  const auto none = fair_lines(v1::PickResponse{}, {}, "", marked);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].rfind("<<", 0), 0u) << none[0];
  Messages pt;
  ASSERT_EQ(pt.set("fair.player", "  {players}: {hops}, {rtt} (fonte: {source})"), "");
  ASSERT_EQ(pt.set("fair.hops", "{count} saltos"), "");
  EXPECT_EQ(fair_lines(response(), {{"203.0.113.1", "ryu"}}, "3", pt)[1],
            "  ryu: 6 saltos, 41 ms (fonte: measured)");
}

// /lagstat's advice: the best relay against this one's place in the ranking.
v1::PickResponse with_own(const std::string& own_id, int own_max_hops) {
  auto r = response();
  *r.add_ranking() = r.best();
  auto* own = r.add_ranking();
  own->set_relay_id(own_id);
  own->set_max_hops(own_max_hops);
  return r;
}

TEST(NearerLines, NameTheBestRelayAndHowManyHopsNearerToAllItIs) {
  const auto lines = nearer_lines(with_own("3", 9), "3");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "A relay 3 hops nearer to all of you: Frankfurt relay 198.51.100.4:27888");
  EXPECT_EQ(nearer_lines(with_own("3", 7), "3")[0],
            "A relay 1 hop nearer to all of you: Frankfurt relay 198.51.100.4:27888");
}

TEST(NearerLines, NothingWhenThisRelayIsBestOrNotFartherOrUnknown) {
  EXPECT_TRUE(nearer_lines(with_own("7", 9), "7").empty());   // the best is this relay
  EXPECT_TRUE(nearer_lines(with_own("3", 6), "3").empty());   // as near as the best (balanced picked by RTT)
  EXPECT_TRUE(nearer_lines(with_own("3", -1), "3").empty());  // this relay's hops unknown
  EXPECT_TRUE(nearer_lines(response(), "3").empty());         // this relay is not in the ranking
  EXPECT_TRUE(nearer_lines(with_own("3", 9), "").empty());    // not registered
  EXPECT_TRUE(nearer_lines(v1::PickResponse{}, "3").empty());
  Messages ru;
  ASSERT_EQ(ru.set("fair.nearer", "Есть релей на {count} хопов ближе: {relay} {address}"), "");
  EXPECT_EQ(nearer_lines(with_own("3", 9), "3", ru).at(0).rfind("Есть релей на 3 хопов ближе: ", 0), 0u);
}

}  // namespace
}  // namespace kaillera::relay
