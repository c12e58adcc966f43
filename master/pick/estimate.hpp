// Estimates for the (player, relay) pairs nobody measured (docs/PICK.md "Estimates"), from what is known: the
// player's measured round-trip times and hop counts to other relays, and the relays' distances to each other.
//
// Triangle bounds: for any relay R' with RTT(P, R') and RTT(R', R) both known,
//
//     |RTT(P, R') - RTT(R', R)|  <=  RTT(P, R)  <=  RTT(P, R') + RTT(R', R)
//
// The tightest interval over every such R' (largest lower bound, smallest upper bound) is where RTT(P, R)
// lies; the estimate is its midpoint and the uncertainty its half-width. Hop counts the same way, in routers:
// the path P..R' and the path R'..R share the router in front of R', so the upper bound is
// hops(P, R') + hops(R', R) - 1. Measurement errors can make the bounds cross (lower > upper); then the
// single R' with the narrowest interval of its own gives the answer. Estimates are made only from measured
// values, never from other estimates. Pure code, deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "master/pick/scoring.hpp"

namespace kaillera::master::pick {

// What is known of the path between two relays (a relay's probe of the other): -1 = unknown.
struct RelayLink {
  int hops = -1;
  int rtt_ms = -1;
};

// Relay-to-relay distances over a pick's candidates: at(i, j) for candidate indices. Symmetric use: when
// (i, j) is unknown, (j, i) is used.
// Sparse: a master with many relays fills only the columns of relays that lack a player's value.
class RelayMatrix {
 public:
  RelayMatrix() = default;
  explicit RelayMatrix(std::size_t n) : n_(n) {}
  std::size_t size() const { return n_; }
  void set(std::size_t i, std::size_t j, RelayLink link);
  // The (i, j) value, else the (j, i) one, for each of hops and RTT.
  RelayLink at(std::size_t i, std::size_t j) const;

 private:
  std::size_t n_ = 0;
  std::unordered_map<std::uint64_t, RelayLink> links_;
};

// An interval [lo, hi] for one value; empty (lo < 0) when no bound could be made.
struct Bound {
  int lo = -1;
  int hi = -1;
  bool known() const { return lo >= 0; }
  int mid() const { return (lo + hi + 1) / 2; }         // rounded half up
  int half_width() const { return (hi - lo + 1) / 2; }  // rounded up: the mid is within it of both ends
};

// The RTT and hop bounds for candidate `relay`'s player `player` from the other candidates' measured values.
Bound rtt_bound(std::span<const Candidate> candidates, const RelayMatrix& links, std::size_t relay,
                std::size_t player);
Bound hop_bound(std::span<const Candidate> candidates, const RelayMatrix& links, std::size_t relay,
                std::size_t player);

// Fills every missing hop count and RTT it can bound: value = the interval's midpoint, `estimated` set, the
// half-width in rtt_uncertainty_ms / hops_uncertainty, source kEstimated when nothing was measured. Returns
// how many values were filled.
std::size_t fill_estimates(std::vector<Candidate>& candidates, const RelayMatrix& links);

}  // namespace kaillera::master::pick
