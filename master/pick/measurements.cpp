#include "master/pick/measurements.hpp"

#include <iterator>

namespace kaillera::master::pick {

void MeasurementIndex::add(std::int64_t relay_id, std::uint32_t ip, int hops, int rtt_ms, int source,
                           std::int64_t measured_ms) {
  if (hops < 0 && rtt_ms <= 0) return;
  std::lock_guard lock(mu_);
  ++version_;
  auto it = pairs_.find(key(relay_id, ip));
  if (it == pairs_.end()) {
    if (pairs_.size() >= max_pairs_) return;  // bounded; retention frees room
    it = pairs_.emplace(key(relay_id, ip), PairEntry{}).first;
  }
  PairEntry& e = it->second;
  if (hops >= 0 && measured_ms >= e.hops_unix_ms) {
    e.hops = hops;
    e.hops_unix_ms = measured_ms;
    e.hops_source = source;
  }
  if (rtt_ms > 0 && measured_ms >= e.rtt_unix_ms) {
    e.rtt_ms = rtt_ms;
    e.rtt_unix_ms = measured_ms;
    e.rtt_source = source;
  }
}

std::optional<PairEntry> MeasurementIndex::get(std::int64_t relay_id, std::uint32_t ip) const {
  std::lock_guard lock(mu_);
  const auto it = pairs_.find(key(relay_id, ip));
  if (it == pairs_.end()) return std::nullopt;
  return it->second;
}

std::size_t MeasurementIndex::prune(std::int64_t before) {
  std::lock_guard lock(mu_);
  std::size_t gone = 0;
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    PairEntry& e = it->second;
    if (e.hops >= 0 && e.hops_unix_ms < before) e.hops = -1;
    if (e.rtt_ms > 0 && e.rtt_unix_ms < before) e.rtt_ms = -1;
    if (e.hops < 0 && e.rtt_ms <= 0) {
      it = pairs_.erase(it);
      ++gone;
    } else {
      ++it;
    }
  }
  return gone;
}

void MeasurementIndex::remove_relay(std::int64_t relay_id) {
  std::lock_guard lock(mu_);
  std::erase_if(pairs_,
                [&](const auto& kv) { return static_cast<std::int64_t>(kv.first >> 32) == relay_id; });
}

std::size_t MeasurementIndex::size() const {
  std::lock_guard lock(mu_);
  return pairs_.size();
}

std::uint64_t MeasurementIndex::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

}  // namespace kaillera::master::pick
