// Connection types and the frame-delay formula (KAILLERA.md §5.3, §5.4).
#pragma once

#include <cstdint>
#include <string_view>

namespace kaillera::proto {

enum class ConnType : std::uint8_t { kLan = 1, kExcellent = 2, kGood = 3, kAverage = 4, kLow = 5, kBad = 6 };

constexpr bool valid_conn_type(std::uint8_t c) {
  return c >= 1 && c <= 6;
}

constexpr std::string_view conn_type_name(std::uint8_t c) {
  switch (c) {
    case 1:
      return "LAN";
    case 2:
      return "Excellent";
    case 3:
      return "Good";
    case 4:
      return "Average";
    case 5:
      return "Low";
    case 6:
      return "Bad";
    default:
      return "?";
  }
}

// Frames of input per packet equals the connection type; packets per second at 60 fps = 60 / connType.
constexpr std::uint32_t packets_per_second(std::uint8_t conn_type) {
  return 60u / conn_type;
}

// The u16 sent in 0x11: floor((60 / connType) * ping_seconds) + 1, in integer arithmetic.
constexpr std::uint16_t frame_delay(std::uint32_t ping_ms, std::uint8_t conn_type) {
  if (!valid_conn_type(conn_type)) conn_type = 3;
  const std::uint64_t d = (60ull * ping_ms) / (1000ull * conn_type) + 1;
  return d > 0xFFFF ? 0xFFFF : static_cast<std::uint16_t>(d);
}

// Frames of input lag the client then plays with: (delay + 1) * connType - 1.
constexpr std::uint32_t input_lag_frames(std::uint16_t delay, std::uint8_t conn_type) {
  return (static_cast<std::uint32_t>(delay) + 1) * conn_type - 1;
}

}  // namespace kaillera::proto
