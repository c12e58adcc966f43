#include "relay/core/autofire.hpp"

#include <algorithm>

namespace kaillera::relay {

void AutofireScanner::reset() {
  last_ = {};
  bits_ = {};
  flagged_ = false;
  flagged_period_ = 0;
  first_ = true;
}

bool AutofireScanner::scan(std::span<const std::uint8_t> frame) {
  const std::size_t n = std::min(frame.size(), kMaxBytes);
  bool newly = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t changed = first_ ? 0 : static_cast<std::uint8_t>(frame[i] ^ last_[i]);
    last_[i] = frame[i];
    for (std::size_t b = 0; b < 8; ++b) {
      Bit& bit = bits_[i * 8 + b];
      if (bit.since < 255) ++bit.since;
      if ((changed & (1u << b)) == 0) continue;
      // A toggle: the same short period as the last one extends the streak; anything else starts over.
      if (bit.since <= max_half_period_ && bit.since == bit.period) {
        if (bit.streak < 255) ++bit.streak;
      } else {
        bit.streak = 1;
      }
      bit.period = bit.since;
      bit.since = 0;
      if (bit.streak >= kToggles && !flagged_) {
        flagged_ = true;
        flagged_period_ = bit.period;
        newly = true;
      }
    }
  }
  first_ = false;
  return newly;
}

}  // namespace kaillera::relay
