// The fairness benchmark's simulated internet (docs/BENCHMARKS.md, "Fair pick: simulated internet").
//
// A seeded generator of continent-sized synthetic networks: routers placed uniformly on a W x H km plane,
// Waxman links (P(u,v) = alpha * exp(-d / (beta * L)), L the plane's diagonal) made connected by joining
// components at their nearest pair, link delay = length / 200 km/ms + an equipment time per hop. Relays and
// players hang off random routers by access links. Two routing models give each (player, relay) pair its
// true hop count and round-trip time: fewest hops (among equal-hop paths the least delay) and least delay.
//
// The numbers are the same on every standard library: the only generator is std::mt19937_64 (its output is
// fixed by the standard) and every distribution is explicit arithmetic on its raw 64-bit draws here
// (std::uniform_*_distribution differ between libstdc++ and libc++). exp() and sqrt() come from libm.
//
// measure() turns the truth into the master's scoring input (master/pick/scoring.hpp) with the faults real
// relays have: RTT error, missing pairs, stale pairs; full relays are part of the group's world (make_group).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "master/pick/estimate.hpp"
#include "master/pick/scoring.hpp"

namespace kaillera::bench::fairness {

// Explicit distributions over std::mt19937_64's raw draws.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  std::uint64_t next() { return gen_(); }
  // [0, 1) from the top 53 bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // [lo, hi)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // [0, n) without modulo bias (rejection of the incomplete last block); n > 0.
  std::uint64_t below(std::uint64_t n);
  // [lo, hi], both inclusive; lo <= hi.
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  bool chance(double p) { return uniform01() < p; }

 private:
  std::mt19937_64 gen_;
};

// A seed for an independent stream: splitmix64 over (seed, a, b).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0);

struct Router {
  double x_km = 0;
  double y_km = 0;
};

struct Link {
  int a = 0;
  int b = 0;
  double delay_ms = 0;  // one way: propagation plus equipment
};

// Something hanging off a router: a relay or a player.
struct Attachment {
  int router = 0;
  double access_ms = 0;  // one-way delay of the access link
};

struct Network {
  std::vector<Router> routers;
  std::vector<Link> links;
  std::vector<Attachment> relays;
};

struct NetworkParams {
  int routers = 300;
  double width_km = 4000;
  double height_km = 2500;
  double waxman_alpha = 0.4;
  double waxman_beta = 0.06;
  double km_per_ms = 200;  // light in fibre
  double equipment_min_ms = 0.1;
  double equipment_max_ms = 0.5;
  int relays = 20;
  double relay_access_min_ms = 0.1;
  double relay_access_max_ms = 1.0;
};

Network generate_network(const NetworkParams& params, std::uint64_t seed);

// Connected components of the router graph (for checks; generate_network's output has one).
int count_components(const Network& net);

enum class Routing : std::uint8_t { kFewestHops, kLeastDelay };

// The chosen path from every router to every relay's router.
struct RouteTable {
  std::vector<std::vector<int>> edges;        // [relay][router]; -1 when unreachable
  std::vector<std::vector<double>> delay_ms;  // [relay][router], one way
};

// Fewest hops: fewest links, then least delay, then (for exact ties) the path through lower router numbers
// first found. Least delay: least delay, then fewest links.
RouteTable route(const Network& net, Routing routing);

// What is true of one (player, relay) pair.
struct PairTruth {
  int hops = -1;       // routers on the path, as the relay counts them from the TTL; -1 when unreachable
  double rtt_ms = -1;  // 2 x (player access + path + relay access)
};

PairTruth pair_truth(const Network& net, const RouteTable& routes, const Attachment& player,
                     std::size_t relay);

struct GroupParams {
  int min_players = 2;
  int max_players = 4;
  double access_min_ms = 2;
  double access_max_ms = 30;
  double full = 0.05;  // probability that a relay is full for this group
  std::int64_t max_users = 64;
};

struct Group {
  std::vector<Attachment> players;
  std::vector<std::vector<PairTruth>> truth;  // [relay][player]
  std::vector<bool> full;                     // [relay]
  std::vector<std::int64_t> users;            // [relay]; == max_users when full
  std::int64_t max_users = 0;
};

Group make_group(const Network& net, const RouteTable& routes, const GroupParams& params, std::uint64_t seed);

// A hand-made group: given players and fullness, the truth from the routes.
Group group_of(const Network& net, const RouteTable& routes, std::vector<Attachment> players,
               std::vector<bool> full);

// The true largest RTT over the group's players at `relay`.
double true_max_rtt(const Group& group, std::size_t relay);

// The relay minimising the true largest RTT among relays not full (lowest index on an exact tie); nullopt
// when every relay is full.
std::optional<std::size_t> oracle(const Group& group);

struct Faults {
  double error = 0.03;    // fresh RTT x (1 + U(-error, error))
  double missing = 0.10;  // pair unknown (hops and RTT -1)
  double stale = 0.05;    // pair from an older measurement: stale = true, RTT error x stale_error_factor
  double stale_error_factor = 3;
};

// The candidates the master would score for this group, relay i named "relay-NNN" (ids order as indices).
// RTTs are whole milliseconds, as the master stores them (rounded to nearest).
std::vector<master::pick::Candidate> measure(const Group& group, const Faults& faults, std::uint64_t seed);

// What is true of the path between two relays: [i][j] from relay i (its route table) to relay j's router;
// [i][i] is the relay itself (1 router, both access links).
std::vector<std::vector<PairTruth>> relay_truth(const Network& net, const RouteTable& routes);

// The relay-to-relay distances the master would have (relays probing each other): the truth with the same
// faults as the players' pairs (RTT error, missing, stale with a larger error), whole ms, indexed as the
// candidates of measure().
master::pick::RelayMatrix measure_relays(const std::vector<std::vector<PairTruth>>& truth,
                                         const Faults& faults, std::uint64_t seed);

// Index of the best-ranked candidate, or nullopt when everything was excluded.
std::optional<std::size_t> best_of(const master::pick::Ranking& ranking);

}  // namespace kaillera::bench::fairness
