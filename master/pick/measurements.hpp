// The fair pick's view of the measurements (DESIGN.md data flow 4): per (relay, player address) the newest
// hop count and the newest round-trip time, each with its time and source. Fed by the Catalog from every
// report and probe result (and rebuilt from SQLite at start); read by the Picker. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace kaillera::master::pick {

struct PairEntry {
  int hops = -1;  // -1 = unknown
  std::int64_t hops_unix_ms = 0;
  int hops_source = 0;  // Measurement.Source of the proto
  int rtt_ms = -1;      // -1 = unknown
  std::int64_t rtt_unix_ms = 0;
  int rtt_source = 0;
};

class MeasurementIndex {
 public:
  explicit MeasurementIndex(std::size_t max_pairs = 2'000'000) : max_pairs_(max_pairs) {}

  // A newer value replaces an older one of the same kind; an older one is ignored. hops < 0 / rtt_ms <= 0
  // say "not measured".
  void add(std::int64_t relay_id, std::uint32_t ip, int hops, int rtt_ms, int source,
           std::int64_t measured_ms);
  std::optional<PairEntry> get(std::int64_t relay_id, std::uint32_t ip) const;
  // Forgets values measured before `before` (retention); returns how many pairs went.
  std::size_t prune(std::int64_t before);
  void remove_relay(std::int64_t relay_id);
  std::size_t size() const;
  // Counts every add(); the Picker waits for it to move.
  std::uint64_t version() const;

 private:
  static std::uint64_t key(std::int64_t relay_id, std::uint32_t ip) {
    return (static_cast<std::uint64_t>(relay_id) << 32) | ip;
  }
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, PairEntry> pairs_;
  std::size_t max_pairs_;
  std::uint64_t version_ = 0;
};

}  // namespace kaillera::master::pick
