// The fair pick on the master (DESIGN.md data flow 5): for a group of players, gather the newest hop count
// and RTT of every (player, relay) pair from the MeasurementIndex, ask relays to probe the pairs that are
// missing or stale (over their Report streams), wait for the answers up to a deadline, then rank the
// candidates with scoring.hpp for the asked objective and every other one (so the answer can say what the
// choice cost).
//
// pick() never blocks: it answers at once when nothing needs probing, otherwise from the Picker's own thread
// when the last probe result arrives or the deadline passes. Thread-safe.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "master/catalog.hpp"
#include "master/pick/scoring.hpp"

namespace kaillera::master::pick {

inline constexpr std::size_t kMaxPlayers = 8;
inline constexpr std::size_t kMaxOwnMeasurements = 8 * 1024;
inline constexpr std::size_t kMaxLimit = 10'000;

struct PickerSettings {
  // balanced: within a hop of the fewest, the fastest (bench/fairness: docs/BENCHMARKS.md, docs/PICK.md).
  Objective default_objective = Objective::kBalanced;
  int hop_slack = 3;                  // docs/BENCHMARKS.md: the smallest slack that meets the 95 % goal
  UnixMillis fresh_ms = 3600 * 1000;  // older values are used, marked stale, and re-probed
  UnixMillis default_deadline_ms = 3000;
  UnixMillis max_deadline_ms = 10'000;
  std::size_t max_pending = 256;  // picks waiting for probes at once
  // Pairs still missing after the probes are estimated from the relays' distances to each other
  // (estimate.hpp); false: they rank after every complete candidate, as before.
  bool estimate = true;
  // How often every online relay is asked to probe the other relays it has no fresh distance to (0 = never).
  UnixMillis peer_probe_interval_ms = 0;
  UnixMillis peer_probe_deadline_ms = 5000;
};

// Relays whose answers carry a relay-to-relay distance: at most this many peers per request (the relay's
// prober takes 64 addresses per request).
inline constexpr std::size_t kMaxPeersPerProbe = 64;

// A player's own measurement of a listed server (`kaillera probe`).
struct OwnMeasurement {
  std::string player;  // dotted IPv4, one of the players
  std::string host;
  int port = 0;
  int hops = -1;
  int rtt_ms = -1;
};

struct PickInput {
  std::vector<std::string> players;  // dotted IPv4, 1..kMaxPlayers, no duplicates
  std::optional<Objective> objective;
  std::string location_contains;       // UTF-8, case-insensitive
  std::vector<std::string> relay_ids;  // only these (empty = all)
  std::optional<UnixMillis> deadline_ms;
  std::vector<OwnMeasurement> own;
  std::optional<int> hop_slack;
  std::size_t limit = 20;  // candidates kept in the ranking (the best of every objective is always kept)
};

// One candidate in an answer: the server as listed, its numbers, and each player's values there.
struct PlayerView {
  std::string address;
  PairValue value;
};
struct CandidateView {
  ListedServer server;
  Score score;
  std::vector<PlayerView> players;
};

struct PickOutput {
  Status status;
  Objective objective = Objective::kHops;
  std::vector<std::string> players;
  std::vector<CandidateView> ranking;  // best first; ranking[0] is the pick
  std::vector<std::pair<ListedServer, std::string>> excluded;
  // Each objective's best (index = static_cast<int>(Objective)); empty when it has none.
  std::array<std::optional<CandidateView>, 3> best_by;
  bool rtt_fallback = false;
  int best_max_hops = -1;
  std::uint32_t probes_requested = 0;  // (player, relay) pairs asked for
  std::uint32_t probes_answered = 0;   // of those, answered before the deadline
  std::uint32_t estimated = 0;         // values estimated over all candidates (estimate.hpp)
};

// Checks players (IPv4, count, duplicates), objective and deadline; fills `out.players` in order.
Status validate(PickInput& in, const PickerSettings& settings);

class Picker {
 public:
  // Sends a ProbeRequest to the relay's open Report stream; false when the relay has none.
  using SendProbe = std::function<bool(std::int64_t relay_id, const std::string& request_id,
                                       const std::vector<std::string>& addresses, std::uint32_t deadline_ms)>;
  using Done = std::function<void(PickOutput)>;

  Picker(Catalog& catalog, PickerSettings settings, std::function<UnixMillis()> now, SendProbe send);
  ~Picker();
  Picker(const Picker&) = delete;
  Picker& operator=(const Picker&) = delete;

  const PickerSettings& settings() const { return settings_; }

  // Validates `in`, asks for the probes it needs and calls `done` exactly once: on this thread when nothing
  // needs probing (or on a bad request), otherwise on the Picker's thread.
  void pick(PickInput in, Done done);
  // Scores with what is known now; asks nobody (tests, benchmarks, and the end of pick()).
  PickOutput pick_now(const PickInput& validated, UnixMillis now) const;

  // A relay answered probe request `request_id` (any content): the pick waiting for it may finish.
  void on_probe_result(std::int64_t relay_id, const std::string& request_id, std::size_t measurements);

  // Asks every online relay of ours to probe the other online relays (by their IPv4 host) it has no fresh
  // distance to; the results land in the MeasurementIndex like any probe's. Returns the requests sent. Run
  // by the Picker's thread every peer_probe_interval_ms.
  std::size_t probe_peers(UnixMillis now);

  std::size_t pending() const;
  void stop();

 private:
  struct Pending {
    PickInput input;
    Done done;
    UnixMillis deadline = 0;
    std::map<std::string, std::size_t> outstanding;  // request id -> pairs asked
    std::uint32_t requested = 0;
    std::uint32_t answered = 0;
  };
  void run();
  // Fills the pairs still missing with estimates from the relays' distances to each other; returns how many
  // values it filled.
  std::size_t estimate(const std::vector<const ListedServer*>& servers,
                       std::vector<Candidate>& candidates) const;

  Catalog& catalog_;
  PickerSettings settings_;
  std::function<UnixMillis()> now_;
  SendProbe send_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::string, std::uint64_t> by_request_;  // request id -> pending pick
  std::uint64_t next_id_ = 1;
  std::uint64_t next_peer_round_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kaillera::master::pick
