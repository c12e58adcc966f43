// The quality mark of a playing game's lag on the public list (issue 18): from the time the game lost over
// the relay's lag window (docs/RELAY.md "Lag statistics"), a plain word a player reads before joining. Pure.
//
// The mark follows what every player in the room feels: the game's own loss, not one player's share. Below
// 1 % of the time (0.6 s a minute: a hitch now and then) the game plays smoothly; up to 5 % (3 s a minute)
// players notice stalls; above that the game is laggy. A window shorter than 10 s says too little: no mark.
#pragma once

#include <cstdint>
#include <string_view>

namespace kaillera::master {

enum class LagMark : std::uint8_t { kUnknown, kGood, kSomeLag, kLaggy };

inline constexpr std::int64_t kLagMarkMinWindowMs = 10'000;

inline LagMark lag_mark(std::int64_t window_ms, std::int64_t wait_ms) {
  if (window_ms < kLagMarkMinWindowMs || wait_ms < 0) return LagMark::kUnknown;
  if (wait_ms * 100 <= window_ms) return LagMark::kGood;
  if (wait_ms * 20 <= window_ms) return LagMark::kSomeLag;
  return LagMark::kLaggy;
}

// The JSON value: "good", "some_lag", "laggy"; "" for no mark.
inline std::string_view lag_mark_key(LagMark m) {
  switch (m) {
    case LagMark::kGood:
      return "good";
    case LagMark::kSomeLag:
      return "some_lag";
    case LagMark::kLaggy:
      return "laggy";
    case LagMark::kUnknown:
      break;
  }
  return "";
}

}  // namespace kaillera::master
