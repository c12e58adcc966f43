// Lag statistics of a running game over a sliding window (docs/RELAY.md "Lag statistics"): how much time the
// game lost, to whom, and why. Pure and allocation-free: fed by the lock-step engine with `now`.
//
// The game's own clock: from the window's first frame f0 at t0, frame f is due at t0 + (f - f0) x period plus
// the time already lost. A frame complete later than that adds the difference to the time lost, once, and to
// the player whose input completed it; every later frame is due that much later. The sum over the window is
// the game's real slowdown, never more than the window.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace kaillera::relay {

using LagClock = std::chrono::steady_clock;
using Micros = std::chrono::microseconds;

// What happened in a stretch of time, for one player or for the whole game.
struct LagCounts {
  std::uint64_t wait_us = 0;  // time the game lost
  std::uint32_t late = 0;     // frames complete 1 ms or more after they were due
  std::uint32_t zeros = 0;    // input packets lost for good and played as zeros
  std::uint32_t resends = 0;  // resend requests (datagrams with nothing new) during play

  LagCounts& operator+=(const LagCounts& o) {
    wait_us += o.wait_us;
    late += o.late;
    zeros += o.zeros;
    resends += o.resends;
    return *this;
  }
};

// Counts in kSlots slots of window / kSlots each: an event leaves the window between window and
// window + one slot after it happened.
class LagWindow {
 public:
  static constexpr std::size_t kSlots = 60;

  void clear() {
    slots_ = {};
    numbers_.fill(-1);
  }
  // The slot `now` falls in (emptied first when it last held an older one).
  LagCounts& at(LagClock::time_point now, Micros slot) {
    const std::int64_t n = now.time_since_epoch() / slot;
    const std::size_t i = static_cast<std::size_t>(n % static_cast<std::int64_t>(kSlots));
    if (numbers_[i] != n) {
      numbers_[i] = n;
      slots_[i] = {};
    }
    return slots_[i];
  }
  // The sum of the slots still in the window at `now`.
  LagCounts sum(LagClock::time_point now, Micros slot) const {
    const std::int64_t n = now.time_since_epoch() / slot;
    LagCounts total;
    for (std::size_t i = 0; i < kSlots; ++i) {
      if (numbers_[i] > n - static_cast<std::int64_t>(kSlots) && numbers_[i] <= n) total += slots_[i];
    }
    return total;
  }

 private:
  std::array<LagCounts, kSlots> slots_{};
  std::array<std::int64_t, kSlots> numbers_ = filled();
  static constexpr std::array<std::int64_t, kSlots> filled() {
    std::array<std::int64_t, kSlots> a{};
    a.fill(-1);
    return a;
  }
};

// The game's frame clock.
class FrameClock {
 public:
  // Starts (again) at frame `frame`, complete at `now`, with `fps` frames a second.
  void start(LagClock::time_point now, std::uint64_t frame, double fps) {
    start_ = now;
    frame0_ = frame;
    lost_ = Micros(0);
    period_us_ = 1e6 / fps;
    running_ = true;
  }
  bool running() const { return running_; }
  void stop() { running_ = false; }
  // Frame `frame` is complete at `now`: how much later than due (zero when on time or early), which from
  // now on counts as lost.
  Micros complete(std::uint64_t frame, LagClock::time_point now) {
    if (!running_ || frame < frame0_) return Micros(0);
    const auto due =
        start_ + lost_ + Micros(static_cast<std::int64_t>(static_cast<double>(frame - frame0_) * period_us_));
    if (now <= due) return Micros(0);
    const auto extra = std::chrono::duration_cast<Micros>(now - due);
    lost_ += extra;
    return extra;
  }
  LagClock::time_point since() const { return start_; }

 private:
  LagClock::time_point start_{};
  std::uint64_t frame0_ = 0;
  Micros lost_{0};
  double period_us_ = 1e6 / 60;
  bool running_ = false;
};

// Advice from the numbers (KAILLERA.md §5.3, the published table): the lowest connection type whose frames
// per packet cover `ping_ms` at `fps` (type c sends a packet every c frames, so with the least frame delay it
// keeps up with a round trip of up to c frame periods); 6 (Bad) when none does.
inline std::uint8_t conn_type_for_ping(std::uint32_t ping_ms, double fps) {
  const double frame_ms = 1000.0 / fps;
  for (std::uint8_t c = 1; c < 6; ++c) {
    if (static_cast<double>(ping_ms) <= c * frame_ms) return c;
  }
  return 6;
}

}  // namespace kaillera::relay
