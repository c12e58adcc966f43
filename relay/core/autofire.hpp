// Autofire detection for /detectautofire (EmuLinker-K's game owner command): a button that a program, not a
// thumb, presses toggles on and off with the same short period again and again. Pure; fed each frame of a
// player's input only while the room's owner has detection on, so the game-data path costs nothing more
// otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace kaillera::relay {

class AutofireScanner {
 public:
  static constexpr std::size_t kMaxBytes = 16;   // input bytes per frame that are scanned (128 buttons)
  static constexpr std::uint32_t kToggles = 16;  // toggles in a row at one period: 8 presses

  // Sensitivity 1..5: a button that toggles every h frames, h <= sensitivity + 1, kToggles times in a row
  // with the same h, is flagged (1 catches only the fastest autofire, 5 also slower ones).
  void set_sensitivity(std::uint8_t s) { max_half_period_ = static_cast<std::uint8_t>(s + 1); }
  void reset();
  // One frame of a player's input. True the first time a button is flagged (then `half_period()` says how
  // fast it toggled); false otherwise, also after that.
  bool scan(std::span<const std::uint8_t> frame);
  std::uint8_t half_period() const { return flagged_period_; }

 private:
  struct Bit {
    std::uint8_t since = 0;   // frames since the last toggle (saturates)
    std::uint8_t period = 0;  // frames between the last two toggles
    std::uint8_t streak = 0;  // toggles in a row at `period`
  };
  std::array<std::uint8_t, kMaxBytes> last_{};
  std::array<Bit, kMaxBytes * 8> bits_{};
  std::uint8_t max_half_period_ = 2;
  std::uint8_t flagged_period_ = 0;
  bool flagged_ = false;
  bool first_ = true;
};

}  // namespace kaillera::relay
