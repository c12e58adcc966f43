#include "common/net/rate_limiter.hpp"

#include <algorithm>
#include <vector>

namespace kaillera::net {

bool RateLimiter::allow(std::uint64_t key, TimePoint now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) prune(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void RateLimiter::prune(TimePoint now) {
  // Forget every bucket that has refilled completely (it behaves like a new one), then, if still full,
  // the older half by last use.
  std::erase_if(buckets_, [&](const auto& kv) {
    return kv.second.tokens + std::chrono::duration<double>(now - kv.second.last).count() * rate_ >= burst_;
  });
  if (buckets_.size() < max_keys_) return;
  std::vector<TimePoint> times;
  times.reserve(buckets_.size());
  for (const auto& kv : buckets_)
    times.push_back(kv.second.last);
  auto mid = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), mid, times.end());
  const TimePoint cut = *mid;
  std::erase_if(buckets_, [&](const auto& kv) { return kv.second.last <= cut; });
}

}  // namespace kaillera::net
