// Token buckets keyed by source address, with time passed in (no clock here). Bounded: when the table is full
// the least recently seen half is forgotten, so a flood of spoofed sources cannot grow memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>

namespace kaillera::net {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

class RateLimiter {
 public:
  // `rate` tokens per second, bursts up to `burst`; at most `max_keys` sources tracked.
  RateLimiter(double rate, double burst, std::size_t max_keys = 65536)
      : rate_(rate), burst_(burst), max_keys_(max_keys) {}

  // Takes one token for `key` at `now`; false when the source is over its rate.
  bool allow(std::uint64_t key, TimePoint now);
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    TimePoint last;
  };
  void prune(TimePoint now);
  double rate_;
  double burst_;
  std::size_t max_keys_;
  std::unordered_map<std::uint64_t, Bucket> buckets_;
};

}  // namespace kaillera::net
