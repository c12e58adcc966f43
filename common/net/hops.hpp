// Hop count from a received IP TTL (DESIGN.md "Measure"): senders start from one of a few well-known initial
// TTLs; the smallest of 32, 64, 128, 255 that is not below the received value is taken as the initial one.
#pragma once

#include <cstdint>

namespace kaillera::net {

constexpr std::uint8_t initial_ttl(std::uint8_t received) {
  if (received <= 32) return 32;
  if (received <= 64) return 64;
  if (received <= 128) return 128;
  return 255;
}

constexpr std::uint8_t hops_from_ttl(std::uint8_t received) {
  return static_cast<std::uint8_t>(initial_ttl(received) - received);
}

}  // namespace kaillera::net
