// The fairness benchmark's simulated internet (bench/fairness/network.hpp): the generator is deterministic
// for a seed, the routing models and the oracle give the hand-worked answers on a hand-made graph, and the
// fault injection is exact when the faults are off (so the master's `latency` objective then finds the
// oracle).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "bench/fairness/network.hpp"
#include "master/pick/scoring.hpp"

namespace {

using namespace kaillera::bench::fairness;
namespace pick = kaillera::master::pick;

TEST(FairnessRng, IsTheStandardMt19937_64) {
  // The standard fixes mt19937_64's 10,000th output for the default seed 5489 ([rand.predef]); every library
  // gives the same raw draws, and the distributions are our own arithmetic on them.
  Rng rng(5489);
  for (int i = 0; i < 9999; ++i)
    rng.next();
  EXPECT_EQ(rng.next(), 9981545732273789042ULL);
}

TEST(FairnessRng, DistributionsStayInRangeAndReachTheEnds) {
  Rng rng(7);
  std::set<int> seen;
  for (int i = 0; i < 2000; ++i) {
    const int v = rng.between(2, 4);
    ASSERT_GE(v, 2);
    ASSERT_LE(v, 4);
    seen.insert(v);
    const double u = rng.uniform(2.0, 30.0);
    ASSERT_GE(u, 2.0);
    ASSERT_LT(u, 30.0);
    ASSERT_LT(rng.below(3), 3u);
  }
  EXPECT_EQ(seen, (std::set<int>{2, 3, 4}));
}

void expect_same_network(const Network& a, const Network& b) {
  ASSERT_EQ(a.routers.size(), b.routers.size());
  for (std::size_t i = 0; i < a.routers.size(); ++i) {
    EXPECT_EQ(a.routers[i].x_km, b.routers[i].x_km);
    EXPECT_EQ(a.routers[i].y_km, b.routers[i].y_km);
  }
  ASSERT_EQ(a.links.size(), b.links.size());
  for (std::size_t i = 0; i < a.links.size(); ++i) {
    EXPECT_EQ(a.links[i].a, b.links[i].a);
    EXPECT_EQ(a.links[i].b, b.links[i].b);
    EXPECT_EQ(a.links[i].delay_ms, b.links[i].delay_ms);
  }
  ASSERT_EQ(a.relays.size(), b.relays.size());
  for (std::size_t i = 0; i < a.relays.size(); ++i) {
    EXPECT_EQ(a.relays[i].router, b.relays[i].router);
    EXPECT_EQ(a.relays[i].access_ms, b.relays[i].access_ms);
  }
}

TEST(FairnessGenerator, SameSeedSameNetworkGroupsAndTruth) {
  const NetworkParams params;
  const Network a = generate_network(params, 42);
  const Network b = generate_network(params, 42);
  expect_same_network(a, b);
  for (const Routing routing : {Routing::kFewestHops, Routing::kLeastDelay}) {
    const RouteTable ra = route(a, routing), rb = route(b, routing);
    EXPECT_EQ(ra.edges, rb.edges);
    EXPECT_EQ(ra.delay_ms, rb.delay_ms);
    for (std::uint64_t g = 0; g < 20; ++g) {
      const Group ga = make_group(a, ra, {}, derive_seed(42, 1, g));
      const Group gb = make_group(b, rb, {}, derive_seed(42, 1, g));
      ASSERT_EQ(ga.players.size(), gb.players.size());
      for (std::size_t p = 0; p < ga.players.size(); ++p) {
        EXPECT_EQ(ga.players[p].router, gb.players[p].router);
        EXPECT_EQ(ga.players[p].access_ms, gb.players[p].access_ms);
      }
      EXPECT_EQ(ga.full, gb.full);
      EXPECT_EQ(ga.users, gb.users);
      for (std::size_t r = 0; r < ga.truth.size(); ++r) {
        for (std::size_t p = 0; p < ga.players.size(); ++p) {
          EXPECT_EQ(ga.truth[r][p].hops, gb.truth[r][p].hops);
          EXPECT_EQ(ga.truth[r][p].rtt_ms, gb.truth[r][p].rtt_ms);
        }
      }
      EXPECT_EQ(oracle(ga), oracle(gb));
    }
  }
}

TEST(FairnessGenerator, DifferentSeedDifferentNetwork) {
  const NetworkParams params;
  const Network a = generate_network(params, 42);
  const Network c = generate_network(params, 43);
  ASSERT_EQ(a.routers.size(), c.routers.size());
  int moved = 0;
  for (std::size_t i = 0; i < a.routers.size(); ++i)
    moved += a.routers[i].x_km != c.routers[i].x_km;
  EXPECT_GT(moved, 290);
  bool same_links = a.links.size() == c.links.size();
  for (std::size_t i = 0; same_links && i < a.links.size(); ++i)
    same_links = a.links[i].a == c.links[i].a && a.links[i].b == c.links[i].b;
  EXPECT_FALSE(same_links);
}

TEST(FairnessGenerator, NetworksAreConnectedAndShaped) {
  const NetworkParams params;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Network net = generate_network(params, seed);
    EXPECT_EQ(count_components(net), 1) << "seed " << seed;
    EXPECT_EQ(net.routers.size(), 300u);
    EXPECT_EQ(net.relays.size(), 20u);
    const double degree =
        2.0 * static_cast<double>(net.links.size()) / static_cast<double>(net.routers.size());
    EXPECT_GT(degree, 2.0) << "seed " << seed;
    EXPECT_LT(degree, 8.0) << "seed " << seed;
    for (const Router& r : net.routers) {
      EXPECT_GE(r.x_km, 0);
      EXPECT_LT(r.x_km, params.width_km);
      EXPECT_GE(r.y_km, 0);
      EXPECT_LT(r.y_km, params.height_km);
    }
    for (const Link& l : net.links) {
      // Propagation at 200 km/ms plus 0.1-0.5 ms of equipment.
      const double km = std::hypot(
          net.routers[static_cast<std::size_t>(l.a)].x_km - net.routers[static_cast<std::size_t>(l.b)].x_km,
          net.routers[static_cast<std::size_t>(l.a)].y_km - net.routers[static_cast<std::size_t>(l.b)].y_km);
      EXPECT_GE(l.delay_ms, km / 200 + 0.1 - 1e-9);
      EXPECT_LE(l.delay_ms, km / 200 + 0.5 + 1e-9);
    }
  }
}

TEST(FairnessGenerator, LeastDelayRoutesAreNeverSlowerNorShorterInHops) {
  // Least delay minimises delay over all paths, fewest hops minimises links: on the same network each model
  // is at least as good as the other on its own measure.
  const Network net = generate_network({}, 9);
  const RouteTable by_hops = route(net, Routing::kFewestHops);
  const RouteTable by_delay = route(net, Routing::kLeastDelay);
  int strictly_faster = 0;
  for (std::size_t r = 0; r < net.relays.size(); ++r) {
    for (std::size_t v = 0; v < net.routers.size(); ++v) {
      ASSERT_GE(by_hops.edges[r][v], 0);
      EXPECT_LE(by_delay.delay_ms[r][v], by_hops.delay_ms[r][v] + 1e-9);
      EXPECT_GE(by_delay.edges[r][v], by_hops.edges[r][v]);
      strictly_faster += by_delay.delay_ms[r][v] < by_hops.delay_ms[r][v] - 1e-9;
    }
  }
  EXPECT_GT(strictly_faster, 0);  // the two models do differ on a Waxman network
}

// The hand-made graph. Routers A=0, B=1, C=2, D=3, E=4; one-way link delays in ms:
//
//   A --10-- B --10-- C --10-- D        plus the shortcut A --40-- D
//    \               /
//     --4-- E --4----                   (A-E 4, E-C 4)
//
// Relays R0 at D, R1 at B, R2 at C, each behind a 1 ms access link. Players P0 at A (5 ms access) and P1 at D
// (4 ms access). hops = routers on the path = links + 1; RTT = 2 x (player access + path + relay access).
Network hand_made() {
  Network net;
  net.routers.resize(5);
  net.links = {{0, 1, 10}, {1, 2, 10}, {2, 3, 10}, {0, 3, 40}, {0, 4, 4}, {4, 2, 4}};
  net.relays = {{3, 1}, {1, 1}, {2, 1}};
  return net;
}
const std::vector<Attachment> kPlayers{{0, 5}, {3, 4}};

TEST(FairnessHandMade, FewestHopsRouting) {
  const Network net = hand_made();
  const RouteTable routes = route(net, Routing::kFewestHops);
  const Group g = group_of(net, routes, kPlayers, {});
  // P0 (A) to R0 (D): the shortcut A-D is the only 1-link path: 2 routers, 2 x (5 + 40 + 1) = 92.
  EXPECT_EQ(g.truth[0][0].hops, 2);
  EXPECT_DOUBLE_EQ(g.truth[0][0].rtt_ms, 92);
  // P0 to R1 (B): A-B, 2 routers, 2 x (5 + 10 + 1) = 32.
  EXPECT_EQ(g.truth[1][0].hops, 2);
  EXPECT_DOUBLE_EQ(g.truth[1][0].rtt_ms, 32);
  // P0 to R2 (C): three 2-link paths, A-B-C 20, A-D-C 50, A-E-C 8; the least delay among them wins:
  // 3 routers, 2 x (5 + 8 + 1) = 28.
  EXPECT_EQ(g.truth[2][0].hops, 3);
  EXPECT_DOUBLE_EQ(g.truth[2][0].rtt_ms, 28);
  // P1 (D) to R0 (D): the same router, 1 router, 2 x (4 + 0 + 1) = 10.
  EXPECT_EQ(g.truth[0][1].hops, 1);
  EXPECT_DOUBLE_EQ(g.truth[0][1].rtt_ms, 10);
  // P1 to R1 (B): D-C-B 20 or D-A-B 50, both 2 links: 3 routers, 2 x (4 + 20 + 1) = 50.
  EXPECT_EQ(g.truth[1][1].hops, 3);
  EXPECT_DOUBLE_EQ(g.truth[1][1].rtt_ms, 50);
  // P1 to R2 (C): D-C, 2 routers, 2 x (4 + 10 + 1) = 30.
  EXPECT_EQ(g.truth[2][1].hops, 2);
  EXPECT_DOUBLE_EQ(g.truth[2][1].rtt_ms, 30);
  // Largest RTTs: R0 92, R1 50, R2 30.
  EXPECT_DOUBLE_EQ(true_max_rtt(g, 0), 92);
  EXPECT_DOUBLE_EQ(true_max_rtt(g, 1), 50);
  EXPECT_DOUBLE_EQ(true_max_rtt(g, 2), 30);
  EXPECT_EQ(oracle(g), 2u);
  // R2 full: R1 (50) beats R0 (92).
  EXPECT_EQ(oracle(group_of(net, routes, kPlayers, {false, false, true})), 1u);
  // All full: no answer.
  EXPECT_EQ(oracle(group_of(net, routes, kPlayers, {true, true, true})), std::nullopt);
}

TEST(FairnessHandMade, LeastDelayRouting) {
  const Network net = hand_made();
  const RouteTable routes = route(net, Routing::kLeastDelay);
  const Group g = group_of(net, routes, kPlayers, {});
  // P0 (A) to R0 (D): A-E-C-D 4 + 4 + 10 = 18 beats A-B-C-D 30 and A-D 40: 4 routers, 2 x (5 + 18 + 1) = 48.
  EXPECT_EQ(g.truth[0][0].hops, 4);
  EXPECT_DOUBLE_EQ(g.truth[0][0].rtt_ms, 48);
  // P0 to R1 (B): A-B 10 beats A-E-C-B 18: 2 routers, 32.
  EXPECT_EQ(g.truth[1][0].hops, 2);
  EXPECT_DOUBLE_EQ(g.truth[1][0].rtt_ms, 32);
  // P0 to R2 (C): A-E-C 8: 3 routers, 28.
  EXPECT_EQ(g.truth[2][0].hops, 3);
  EXPECT_DOUBLE_EQ(g.truth[2][0].rtt_ms, 28);
  // P1 (D): R0 10 (1 router); R1 via D-C-B 20 (D-C-E-A-B is 28): 3 routers, 50; R2 via D-C: 2 routers, 30.
  EXPECT_EQ(g.truth[0][1].hops, 1);
  EXPECT_DOUBLE_EQ(g.truth[0][1].rtt_ms, 10);
  EXPECT_EQ(g.truth[1][1].hops, 3);
  EXPECT_DOUBLE_EQ(g.truth[1][1].rtt_ms, 50);
  EXPECT_EQ(g.truth[2][1].hops, 2);
  EXPECT_DOUBLE_EQ(g.truth[2][1].rtt_ms, 30);
  // Largest RTTs: R0 48, R1 50, R2 30: R2; with R2 full, R0 (48) now beats R1 (50).
  EXPECT_DOUBLE_EQ(true_max_rtt(g, 0), 48);
  EXPECT_EQ(oracle(g), 2u);
  EXPECT_EQ(oracle(group_of(net, routes, kPlayers, {false, false, true})), 0u);
}

TEST(FairnessHandMade, ExactMeasurementsThroughTheMastersScoring) {
  // Fewest-hops routing, R2 full. R0: hops {2, 1}, RTT {92, 10}; R1: hops {2, 3}, RTT {32, 50}.
  const Network net = hand_made();
  const RouteTable routes = route(net, Routing::kFewestHops);
  const Group g = group_of(net, routes, kPlayers, {false, false, true});
  const auto cands = measure(g, {0, 0, 0, 3}, 1);
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(cands[0].players[0].hops, 2);
  EXPECT_EQ(cands[0].players[0].rtt_ms, 92);
  EXPECT_EQ(cands[1].players[1].rtt_ms, 50);
  // hops: R0's largest hop count 2 beats R1's 3, although R0's worst player sees 92 ms against 50.
  EXPECT_EQ(best_of(pick::rank(cands, {pick::Objective::kHops, 1})), 0u);
  // latency: R1 (50 < 92), the oracle.
  EXPECT_EQ(best_of(pick::rank(cands, {pick::Objective::kLatency, 1})), 1u);
  // balanced, slack 1: both within 2 + 1 hops, so RTT decides: R1. Slack 0: only R0 is in the set.
  EXPECT_EQ(best_of(pick::rank(cands, {pick::Objective::kBalanced, 1})), 1u);
  EXPECT_EQ(best_of(pick::rank(cands, {pick::Objective::kBalanced, 0})), 0u);
}

TEST(FairnessFaults, NoFaultsMeansExactValues) {
  const Network net = generate_network({}, 3);
  const RouteTable routes = route(net, Routing::kFewestHops);
  for (std::uint64_t g = 0; g < 50; ++g) {
    const Group group = make_group(net, routes, {}, derive_seed(3, 1, g));
    const auto cands = measure(group, {0, 0, 0, 3}, derive_seed(3, 2, g));
    ASSERT_EQ(cands.size(), group.truth.size());
    for (std::size_t r = 0; r < cands.size(); ++r) {
      EXPECT_EQ(cands[r].max_users > 0 && cands[r].users >= cands[r].max_users,
                static_cast<bool>(group.full[r]));
      ASSERT_EQ(cands[r].players.size(), group.players.size());
      for (std::size_t p = 0; p < group.players.size(); ++p) {
        const pick::PairValue& v = cands[r].players[p];
        EXPECT_EQ(v.hops, group.truth[r][p].hops);
        EXPECT_EQ(v.rtt_ms, std::lround(group.truth[r][p].rtt_ms));
        EXPECT_FALSE(v.stale);
        EXPECT_EQ(v.source, pick::Source::kMeasured);
      }
    }
  }
}

TEST(FairnessFaults, FaultsStayWithinTheirBoundsAndRates) {
  const Network net = generate_network({}, 4);
  const RouteTable routes = route(net, Routing::kFewestHops);
  const Faults faults{0.10, 0.25, 0.25, 3};
  int pairs = 0, missing = 0, stale = 0, off = 0;
  for (std::uint64_t g = 0; g < 400; ++g) {
    const Group group = make_group(net, routes, {}, derive_seed(4, 1, g));
    const auto cands = measure(group, faults, derive_seed(4, 2, g));
    for (std::size_t r = 0; r < cands.size(); ++r) {
      for (std::size_t p = 0; p < group.players.size(); ++p) {
        const pick::PairValue& v = cands[r].players[p];
        const PairTruth& t = group.truth[r][p];
        ++pairs;
        if (v.rtt_ms < 0) {
          ++missing;
          EXPECT_EQ(v.hops, -1);
          EXPECT_EQ(v.source, pick::Source::kMissing);
          continue;
        }
        EXPECT_EQ(v.hops, t.hops);
        const double bound = (v.stale ? 0.30 : 0.10) * t.rtt_ms + 0.5;  // + rounding to whole ms
        EXPECT_LE(std::abs(v.rtt_ms - t.rtt_ms), bound);
        stale += v.stale;
        off += std::abs(v.rtt_ms - t.rtt_ms) > 0.5;
      }
    }
  }
  ASSERT_GT(pairs, 10000);
  // 25 % missing; 25 % of the rest (18.75 % of all) stale; binomial spreads at this size are well under 2 %.
  EXPECT_NEAR(static_cast<double>(missing) / pairs, 0.25, 0.02);
  EXPECT_NEAR(static_cast<double>(stale) / pairs, 0.1875, 0.02);
  EXPECT_GT(off, pairs / 2);  // the error is really applied
}

TEST(FairnessFaults, LatencyFindsTheOracleWhenMeasurementsAreExact) {
  // With exact measurements the master sees every RTT rounded to whole ms; rounding keeps order, so the
  // largest rounded RTT is the rounded largest, and `latency` picks a relay whose largest RTT rounds to the
  // oracle's. When no other relay rounds to the same ms, that is the oracle itself.
  int groups = 0, unique = 0;
  for (const Routing routing : {Routing::kFewestHops, Routing::kLeastDelay}) {
    for (std::uint64_t seed = 11; seed <= 13; ++seed) {
      const Network net = generate_network({}, seed);
      const RouteTable routes = route(net, routing);
      for (std::uint64_t g = 0; g < 100; ++g) {
        const Group group = make_group(net, routes, {.full = 0.2}, derive_seed(seed, 1, g));
        const auto best = oracle(group);
        ASSERT_TRUE(best.has_value());
        ++groups;
        const auto cands = measure(group, {0, 0, 0, 3}, derive_seed(seed, 2, g));
        const auto picked = best_of(pick::rank(cands, {pick::Objective::kLatency, 1}));
        ASSERT_TRUE(picked.has_value());
        EXPECT_FALSE(group.full[*picked]);
        const long oracle_ms = std::lround(true_max_rtt(group, *best));
        EXPECT_EQ(std::lround(true_max_rtt(group, *picked)), oracle_ms);
        int same_ms = 0;
        for (std::size_t r = 0; r < group.truth.size(); ++r)
          same_ms += !group.full[r] && std::lround(true_max_rtt(group, r)) == oracle_ms;
        if (same_ms == 1) {
          ++unique;
          EXPECT_EQ(*picked, *best) << "seed " << seed << " group " << g;
        }
      }
    }
  }
  EXPECT_EQ(groups, 600);
  EXPECT_GT(unique, groups * 3 / 4);  // the exact check above really ran for most groups
}

}  // namespace

// ---- Estimates of missing pairs (master/pick/estimate.hpp)

TEST(FairnessEstimate, TriangleBoundsTightenToTheTruthOnALine) {
  // Everything on a line, RTT = distance: player P at 0, relays R0 at 10, R1 at 25, R2 at 40, R3 at -6.
  // P's RTT to R2 (40) is missing. Relay distances: R0-R2 30, R1-R2 15, R3-R2 46.
  const auto candidate = [](int rtt) {
    pick::Candidate c;
    c.players.push_back({});
    c.players[0].rtt_ms = rtt;
    c.players[0].source = rtt < 0 ? pick::Source::kMissing : pick::Source::kMeasured;
    return c;
  };
  std::vector<pick::Candidate> cands{candidate(10), candidate(25), candidate(-1), candidate(6)};
  pick::RelayMatrix m(4);
  // Only R1 known: |25 - 15| = 10 <= RTT <= 25 + 15 = 40: the middle 25, half-width 15.
  m.set(1, 2, {-1, 15});
  auto b = pick::rtt_bound(cands, m, 2, 0);
  EXPECT_EQ(b.lo, 10);
  EXPECT_EQ(b.hi, 40);
  EXPECT_EQ(b.mid(), 25);
  EXPECT_EQ(b.half_width(), 15);
  // R0 too (given the other way round, R2-R0): |10 - 30| = 20 <= RTT <= 40: [20, 40].
  m.set(2, 0, {-1, 30});
  b = pick::rtt_bound(cands, m, 2, 0);
  EXPECT_EQ(b.lo, 20);
  EXPECT_EQ(b.hi, 40);
  EXPECT_EQ(b.mid(), 30);
  EXPECT_EQ(b.half_width(), 10);
  // R3 behind P: |6 - 46| = 40 <= RTT <= 52: together [40, 40], the truth with no uncertainty.
  m.set(3, 2, {-1, 46});
  b = pick::rtt_bound(cands, m, 2, 0);
  EXPECT_EQ(b.lo, 40);
  EXPECT_EQ(b.hi, 40);
  EXPECT_EQ(pick::fill_estimates(cands, m), 1u);
  const pick::PairValue& v = cands[2].players[0];
  EXPECT_EQ(v.rtt_ms, 40);
  EXPECT_EQ(v.rtt_uncertainty_ms, 0);
  EXPECT_TRUE(v.estimated);
  EXPECT_EQ(v.source, pick::Source::kEstimated);
  EXPECT_EQ(v.hops, -1);  // no hop counts anywhere: nothing to bound them with
  // Measured values are left alone.
  EXPECT_FALSE(cands[0].players[0].estimated);
  EXPECT_EQ(cands[0].players[0].rtt_uncertainty_ms, -1);
}

TEST(FairnessEstimate, NoBoundWithoutARelayDistance) {
  std::vector<pick::Candidate> cands(2);
  cands[0].players = {{3, 20, pick::Source::kMeasured}};
  cands[1].players = {{}};
  const pick::RelayMatrix m(2);  // nothing known between the relays
  EXPECT_FALSE(pick::rtt_bound(cands, m, 1, 0).known());
  EXPECT_EQ(pick::fill_estimates(cands, m), 0u);
  EXPECT_FALSE(cands[1].players[0].estimated);
  EXPECT_EQ(cands[1].players[0].rtt_ms, -1);
}

TEST(FairnessEstimate, MissingPairOfTheHandMadeGraphLiesInItsBound) {
  // Least-delay routing (a shortest-path metric, so the triangle inequality holds). P0's pair at R2 is
  // missing; truth (FairnessHandMade.LeastDelayRouting): 3 routers, 28 ms.
  // Relay distances, 1 ms access at each end: R0 (D) - R2 (C) by D-C 10: 2 x (1 + 10 + 1) = 24 ms, 2 routers;
  // R1 (B) - R2 (C) by B-C 10 (B-A-E-C is 18): 24 ms, 2 routers.
  // P0's values: R0 48 ms, 4 routers; R1 32 ms, 2 routers.
  //   via R0: |48 - 24| = 24 <= RTT <= 72;  hops |4 - 2| = 2 <= h <= 4 + 2 - 1 = 5
  //   via R1: |32 - 24| = 8 <= RTT <= 56;   hops |2 - 2| = 0 <= h <= 2 + 2 - 1 = 3
  // Together: RTT in [24, 56], estimate 40 +- 16; hops in [2, 3], estimate 3 +- 1.
  const Network net = hand_made();
  const RouteTable routes = route(net, Routing::kLeastDelay);
  const Group g = group_of(net, routes, kPlayers, {});
  const auto between = relay_truth(net, routes);
  EXPECT_DOUBLE_EQ(between[0][2].rtt_ms, 24);
  EXPECT_EQ(between[0][2].hops, 2);
  EXPECT_DOUBLE_EQ(between[1][2].rtt_ms, 24);
  auto cands = measure(g, {0, 0, 0, 3}, 1);
  cands[2].players[0] = {};  // the missing pair
  const pick::RelayMatrix m = measure_relays(between, {0, 0, 0, 3}, 1);
  EXPECT_EQ(m.at(2, 0).rtt_ms, 24);
  const auto rtt = pick::rtt_bound(cands, m, 2, 0);
  EXPECT_EQ(rtt.lo, 24);
  EXPECT_EQ(rtt.hi, 56);
  const auto hops = pick::hop_bound(cands, m, 2, 0);
  EXPECT_EQ(hops.lo, 2);
  EXPECT_EQ(hops.hi, 3);
  pick::fill_estimates(cands, m);
  const pick::PairValue& v = cands[2].players[0];
  EXPECT_TRUE(v.estimated);
  EXPECT_EQ(v.rtt_ms, 40);
  EXPECT_EQ(v.rtt_uncertainty_ms, 16);
  EXPECT_LE(std::abs(v.rtt_ms - g.truth[2][0].rtt_ms), v.rtt_uncertainty_ms);  // 28 within 40 +- 16
  EXPECT_EQ(v.hops, 3);
  EXPECT_EQ(v.hops_uncertainty, 1);
  EXPECT_LE(std::abs(v.hops - g.truth[2][0].hops), v.hops_uncertainty);
}

TEST(FairnessEstimate, MeasuredWinsWhenWithinTheEstimatesUncertainty) {
  // Two relays for one player: A measured at 50 ms; B estimated at 45 +- 10 (could be 55). A is preferred by
  // latency and balanced. With B at 45 +- 4 (at worst 49 < 50), B wins.
  std::vector<pick::Candidate> cands(2);
  cands[0].id = "a";
  cands[0].players = {{5, 50, pick::Source::kMeasured}};
  cands[1].id = "b";
  pick::PairValue est{5, 45, pick::Source::kEstimated};
  est.estimated = true;
  est.hops_uncertainty = 0;
  est.rtt_uncertainty_ms = 10;
  cands[1].players = {est};
  for (const auto o : {pick::Objective::kLatency, pick::Objective::kBalanced}) {
    const auto r = pick::rank(cands, {o, 3});
    ASSERT_EQ(r.ranked.size(), 2u);
    EXPECT_EQ(r.ranked[0].candidate, 0u);
    EXPECT_EQ(r.ranked[1].estimated, 1);
    EXPECT_EQ(r.ranked[1].max_rtt_ms, 45);
    EXPECT_EQ(r.ranked[1].max_rtt_uncertainty_ms, 10);
  }
  cands[1].players[0].rtt_uncertainty_ms = 4;
  for (const auto o : {pick::Objective::kLatency, pick::Objective::kBalanced})
    EXPECT_EQ(best_of(pick::rank(cands, {o, 3})), 1u);
  // An exact tie at the upper end (45 + 5 = 50) goes to the measured relay.
  cands[1].players[0].rtt_uncertainty_ms = 5;
  for (const auto o : {pick::Objective::kLatency, pick::Objective::kBalanced})
    EXPECT_EQ(best_of(pick::rank(cands, {o, 3})), 0u);
}
