// The fair pick's scoring (master/pick/scoring.hpp) on hand-made candidates: every expected order below is
// worked out from the rules in the header, not taken from the code's output.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "master/pick/scoring.hpp"

namespace kaillera::master::pick {
namespace {

PairValue v(int hops, int rtt, bool stale = false) {
  PairValue p;
  p.hops = hops;
  p.rtt_ms = rtt;
  p.source = hops < 0 && rtt < 0 ? Source::kMissing : Source::kMeasured;
  p.stale = stale;
  return p;
}

Candidate relay(std::string id, std::vector<PairValue> players, std::int64_t users = 0,
                std::int64_t max_users = 0) {
  Candidate c;
  c.id = std::move(id);
  c.players = std::move(players);
  c.users = users;
  c.max_users = max_users;
  return c;
}

std::vector<std::string> order(const std::vector<Candidate>& cs, Objective o, int slack = 1) {
  const Ranking r = rank(cs, {o, slack});
  std::vector<std::string> ids;
  for (const Score& s : r.ranked)
    ids.push_back(cs[s.candidate].id);
  return ids;
}

using Ids = std::vector<std::string>;

TEST(PickScoring, ScoreOfComputesLargestSpreadAndRtt) {
  const Candidate c = relay("a", {v(3, 40), v(7, 25), v(5, 90)}, 10, 16);
  const Score s = score_of(c, 4);
  EXPECT_EQ(s.candidate, 4u);
  EXPECT_EQ(s.max_hops, 7);
  EXPECT_EQ(s.min_hops, 3);
  EXPECT_EQ(s.spread, 4);
  EXPECT_EQ(s.max_rtt_ms, 90);
  EXPECT_EQ(s.missing_hops, 0);
  EXPECT_EQ(s.missing_rtt, 0);
  EXPECT_EQ(s.free_slots, 6);
}

TEST(PickScoring, HopsPrefersSmallestLargestHopCountThenSpread) {
  // a: max 6 spread 4; b: max 5 spread 3; c: max 5 spread 0 -> c, b, a.
  const std::vector<Candidate> cs = {relay("a", {v(2, 10), v(6, 10)}), relay("b", {v(2, 10), v(5, 10)}),
                                     relay("c", {v(5, 10), v(5, 10)})};
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"c", "b", "a"}));
}

TEST(PickScoring, HopsTiesBrokenByLargestRttThenFreeCapacityThenId) {
  // All max 4 spread 1. a: worst RTT 50; b: 30 with 2 free; c: 30 with 10 free; d: 30 unlimited;
  // e: same as d -> id order d before e.
  const std::vector<Candidate> cs = {
      relay("a", {v(3, 50), v(4, 20)}),        relay("b", {v(3, 30), v(4, 20)}, 14, 16),
      relay("c", {v(3, 30), v(4, 20)}, 6, 16), relay("e", {v(3, 30), v(4, 20)}),
      relay("d", {v(4, 30), v(3, 20)}),
  };
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"d", "e", "c", "b", "a"}));
}

TEST(PickScoring, LatencyPutsLargestRttFirst) {
  // a: 3 hops max but 120 ms; b: 9 hops max, 60 ms -> latency b, a; hops a, b.
  const std::vector<Candidate> cs = {relay("a", {v(3, 120), v(2, 30)}), relay("b", {v(9, 60), v(8, 60)})};
  EXPECT_EQ(order(cs, Objective::kLatency), (Ids{"b", "a"}));
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"a", "b"}));
}

TEST(PickScoring, MissingValuesRankAfterCompleteCandidatesFewestMissingFirst) {
  // a is 2 hops everywhere it is known but misses one player; b is complete at 8; c misses two.
  const std::vector<Candidate> cs = {relay("a", {v(2, 10), v(-1, -1), v(2, 10)}),
                                     relay("b", {v(8, 80), v(8, 80), v(8, 80)}),
                                     relay("c", {v(1, 5), v(-1, -1), v(-1, -1)})};
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"b", "a", "c"}));
  EXPECT_EQ(order(cs, Objective::kLatency), (Ids{"b", "a", "c"}));
  const Ranking r = rank(cs, {Objective::kHops, 1});
  EXPECT_EQ(r.ranked[1].missing_hops, 1);
  EXPECT_EQ(r.ranked[2].missing_hops, 2);
}

TEST(PickScoring, HopsKnownButRttMissingStillRanksByHops) {
  // Hop counts alone (PING TTLs) are enough for the hops objective; the missing RTT only breaks ties.
  const std::vector<Candidate> cs = {relay("a", {v(4, -1), v(4, -1)}), relay("b", {v(5, 20), v(5, 20)}),
                                     relay("c", {v(4, 30), v(4, 30)})};
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"c", "a", "b"}));
  // latency: a lacks RTT for both players -> last.
  EXPECT_EQ(order(cs, Objective::kLatency), (Ids{"b", "c", "a"}));
}

TEST(PickScoring, StaleValuesCountButLoseTies) {
  const std::vector<Candidate> cs = {relay("a", {v(3, 30, true), v(3, 30)}), relay("b", {v(3, 30), v(3, 30)}),
                                     relay("c", {v(2, 30, true), v(3, 30, true)})};
  // All max 3. a and b: spread 0, c: spread 1 -> a and b first; a carries a stale value, b none -> b, a, c.
  EXPECT_EQ(order(cs, Objective::kHops), (Ids{"b", "a", "c"}));
  const Ranking r = rank(cs, {Objective::kHops, 1});
  EXPECT_EQ(r.ranked[2].stale, 2);
}

TEST(PickScoring, OfflineFullAndUnreachableAreLeftOutWithTheReason) {
  std::vector<Candidate> cs = {relay("full", {v(1, 1)}, 16, 16), relay("ok", {v(9, 90)}),
                               relay("off", {v(1, 1)}), relay("unr", {v(1, 1)})};
  cs[2].online = false;
  cs[3].reachable = false;
  const Ranking r = rank(cs, {Objective::kHops, 1});
  ASSERT_EQ(r.ranked.size(), 1u);
  EXPECT_EQ(cs[r.ranked[0].candidate].id, "ok");
  ASSERT_EQ(r.excluded.size(), 3u);
  EXPECT_EQ(r.excluded[0].reason, "full");
  EXPECT_EQ(r.excluded[1].reason, "offline");
  EXPECT_EQ(r.excluded[2].reason, "unreachable");
  // A relay with room left (15 of 16) is a candidate.
  cs[0].users = 15;
  EXPECT_EQ(order(cs, Objective::kHops).front(), "full");
}

TEST(PickScoring, BalancedTakesFastestWithinOneHopOfTheSmallestLargest) {
  // Smallest largest hop count: 4 (a). Within slack 1: a (4, 80 ms), b (5, 40 ms). c (6, 10 ms) is outside.
  const std::vector<Candidate> cs = {relay("a", {v(4, 80), v(3, 60)}), relay("b", {v(5, 40), v(5, 35)}),
                                     relay("c", {v(6, 10), v(6, 10)})};
  EXPECT_EQ(order(cs, Objective::kBalanced, 1), (Ids{"b", "a", "c"}));
  // Slack 0: only a is inside; slack 2: c joins and is fastest.
  EXPECT_EQ(order(cs, Objective::kBalanced, 0), (Ids{"a", "b", "c"}));
  EXPECT_EQ(order(cs, Objective::kBalanced, 2), (Ids{"c", "b", "a"}));
  const Ranking r = rank(cs, {Objective::kBalanced, 1});
  EXPECT_EQ(r.best_max_hops, 4);
  EXPECT_TRUE(r.ranked[0].in_slack);
  EXPECT_TRUE(r.ranked[1].in_slack);
  EXPECT_FALSE(r.ranked[2].in_slack);
  EXPECT_FALSE(r.rtt_fallback);
}

TEST(PickScoring, BalancedBoundaryIsInclusive) {
  // best 3; slack 1 -> max_hops 4 is inside, 5 is not.
  const std::vector<Candidate> cs = {relay("a", {v(3, 90)}), relay("b", {v(4, 50)}), relay("c", {v(5, 10)})};
  EXPECT_EQ(order(cs, Objective::kBalanced, 1), (Ids{"b", "a", "c"}));
}

TEST(PickScoring, BalancedTiesOnRttGoBySpreadThenCapacity) {
  // Both inside, same worst RTT 50: a spread 2, b spread 0 -> b; then c = b but fuller -> b, c, a.
  const std::vector<Candidate> cs = {relay("a", {v(3, 50), v(5, 20)}),
                                     relay("b", {v(4, 50), v(4, 20)}, 0, 10),
                                     relay("c", {v(4, 50), v(4, 20)}, 5, 10)};
  EXPECT_EQ(order(cs, Objective::kBalanced, 1), (Ids{"b", "c", "a"}));
}

TEST(PickScoring, BalancedFallsBackToHopOrderWhenAnRttIsMissingAndSaysSo) {
  // a (4 hops, no RTT for one player) and b (5 hops, 20 ms) are both inside: RTT cannot compare them, so the
  // slack set goes by hops -> a first, and the ranking reports the fallback.
  const std::vector<Candidate> cs = {relay("a", {v(4, -1), v(4, 90)}), relay("b", {v(5, 20), v(5, 20)})};
  const Ranking r = rank(cs, {Objective::kBalanced, 1});
  EXPECT_TRUE(r.rtt_fallback);
  EXPECT_EQ(cs[r.ranked[0].candidate].id, "a");
  // Without the gap, RTT decides: b.
  const std::vector<Candidate> full = {relay("a", {v(4, 100), v(4, 90)}), relay("b", {v(5, 20), v(5, 20)})};
  const Ranking r2 = rank(full, {Objective::kBalanced, 1});
  EXPECT_FALSE(r2.rtt_fallback);
  EXPECT_EQ(full[r2.ranked[0].candidate].id, "b");
}

TEST(PickScoring, BalancedWithNoCompleteCandidateUsesHopOrder) {
  const std::vector<Candidate> cs = {relay("a", {v(2, 10), v(-1, -1)}), relay("b", {v(3, 10), v(-1, -1)})};
  const Ranking r = rank(cs, {Objective::kBalanced, 1});
  EXPECT_EQ(r.best_max_hops, -1);
  EXPECT_EQ(cs[r.ranked[0].candidate].id, "a");
}

TEST(PickScoring, RankAllGivesEachObjectivesBest) {
  const std::vector<Candidate> cs = {relay("a", {v(3, 120), v(3, 100)}), relay("b", {v(4, 60), v(4, 50)}),
                                     relay("c", {v(9, 30), v(9, 30)})};
  const auto all = rank_all(cs, 1);
  EXPECT_EQ(cs[all[0].ranked[0].candidate].id, "a");  // hops
  EXPECT_EQ(cs[all[1].ranked[0].candidate].id, "c");  // latency
  EXPECT_EQ(cs[all[2].ranked[0].candidate].id, "b");  // balanced: 4 is within 1 of 3, and faster
}

TEST(PickScoring, EmptyAndNoPlayers) {
  EXPECT_TRUE(rank({}, {}).ranked.empty());
  const std::vector<Candidate> cs = {relay("a", {})};
  const Ranking r = rank(cs, {});
  ASSERT_EQ(r.ranked.size(), 1u);
  EXPECT_EQ(r.ranked[0].max_hops, -1);
}

TEST(PickScoring, ObjectiveNamesRoundTrip) {
  for (const Objective o : kObjectives)
    EXPECT_EQ(parse_objective(to_string(o)), o);
  EXPECT_FALSE(parse_objective("fastest"));
  EXPECT_FALSE(parse_objective(""));
}

}  // namespace
}  // namespace kaillera::master::pick
