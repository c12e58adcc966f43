// The fair pick's scoring (DESIGN.md data flow 5): given every candidate relay and, per player, the hop count
// and round-trip time known for that (player, relay) pair, rank the candidates for an objective.
//
//   hops      smallest largest hop count, then smallest spread (largest - smallest), then smallest largest
//             RTT, then most free capacity.
//   latency   smallest largest RTT, then the hop order above.
//   balanced  the relays whose largest hop count is within `hop_slack` of the smallest one, ordered by
//             smallest largest RTT, then spread, then free capacity; the rest after them in hop order. When a
//             relay inside the slack has no RTT for some player, the slack set falls back to the hop order
//             and the ranking says so (`rtt_fallback`).
//
// Candidates that lack a value for some player rank after every candidate that has it (fewest missing
// first); stale values count but rank after fresh ones when everything else ties. Estimated values
// (estimate.hpp fills them in before rank()) count as known, but the orders compare them at the upper end of
// their interval: a measured relay wins over an estimated one when their scores are within the estimate's
// uncertainty, and on an exact tie too. Offline, full and
// unreachable relays are left out with the reason. Pure code: no clock, no I/O, no allocation per comparison,
// deterministic (the last tie-break is the candidate's id), so the benchmark (bench/fairness) runs exactly
// this code.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kaillera::master::pick {

enum class Objective : std::uint8_t { kHops, kLatency, kBalanced };
inline constexpr std::array<Objective, 3> kObjectives{Objective::kHops, Objective::kLatency,
                                                      Objective::kBalanced};
std::string_view to_string(Objective o);
std::optional<Objective> parse_objective(std::string_view s);

// Where a value came from.
enum class Source : std::uint8_t {
  kMissing,    // no value
  kMeasured,   // the relay saw the player's traffic (PING, HELLO, game data, login ACKs)
  kProbed,     // the relay probed the player's address when a master asked
  kReported,   // the player's own measurement of the relay (`kaillera probe`)
  kEstimated,  // nothing measured: both values estimated from other relays (estimate.hpp)
};
std::string_view to_string(Source s);

// What is known of one (player, relay) pair.
struct PairValue {
  int hops = -1;    // -1 = unknown; 0 = same network
  int rtt_ms = -1;  // -1 = unknown
  Source source = Source::kMissing;
  bool stale = false;  // older than the fresh window, but still within retention
  std::int64_t age_ms = 0;
  // Estimated from other relays' measurements (estimate.hpp) instead of measured: the value is the middle of
  // the interval it must lie in, the uncertainty that interval's half-width; -1 = that value was measured.
  bool estimated = false;
  int hops_uncertainty = -1;
  int rtt_uncertainty_ms = -1;
};

struct Candidate {
  std::string id;  // tie-break of last resort; unique
  bool online = true;
  bool reachable = true;  // false: failed its address check or has no way to be reached by players
  std::int64_t users = 0;
  std::int64_t max_users = 0;      // 0 = unlimited
  bool busy = false;               // refuses new load (issue 14): out like a full relay
  std::vector<PairValue> players;  // one per player, in the request's order
};

struct Options {
  Objective objective = Objective::kHops;
  int hop_slack = 3;  // balanced only (the master's default pick_hop_slack)
};

// The numbers of one candidate, for ordering and for the answer.
struct Score {
  std::size_t candidate = 0;  // index into the candidates given to rank()
  int max_hops = -1;          // over the players whose hops are known; -1 when none is
  int min_hops = -1;
  int spread = -1;  // max_hops - min_hops; -1 when unknown
  int max_rtt_ms = -1;
  int missing_hops = 0;  // players without a hop count at this relay
  int missing_rtt = 0;
  int stale = 0;      // stale values among the players'
  int estimated = 0;  // players with an estimated value here
  // The largest values with each estimate taken at its upper end (value + uncertainty): what the orders
  // compare, so a measured relay wins over an estimated one whose score is within the estimate's uncertainty.
  int max_hops_upper = -1;
  int max_rtt_upper_ms = -1;
  int max_rtt_uncertainty_ms = 0;  // the largest RTT uncertainty among the players (0 = all measured)
  std::int64_t free_slots = 0;     // max_users - users; a large number for unlimited relays
  bool in_slack = false;           // balanced: within hop_slack of the smallest largest hop count
};

struct Excluded {
  std::size_t candidate = 0;
  std::string reason;  // "offline", "full", "busy", "unreachable"
};

struct Ranking {
  Objective objective = Objective::kHops;
  std::vector<Score> ranked;  // best first
  std::vector<Excluded> excluded;
  // balanced: the smallest largest hop count among complete candidates (-1 when none), and whether the
  // slack set had to be ordered by hops because some member had no RTT.
  int best_max_hops = -1;
  bool rtt_fallback = false;
};

// The numbers of `c` (no ordering).
Score score_of(const Candidate& c, std::size_t index);

Ranking rank(std::span<const Candidate> candidates, const Options& options);

// Every objective's ranking at once: [kHops, kLatency, kBalanced].
std::array<Ranking, 3> rank_all(std::span<const Candidate> candidates, int hop_slack);

}  // namespace kaillera::master::pick
