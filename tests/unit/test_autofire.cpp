// /detectautofire: the scanner on hand-made input, and a room that hears of a player's autofire once.
#include <gtest/gtest.h>

#include "relay/core/autofire.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
using kaillera::relay::AutofireScanner;

namespace {

// Frames of one input byte: bit 0 pressed `on` frames, released `off` frames, `cycles` times.
std::vector<std::uint8_t> pattern(int on, int off, int cycles) {
  std::vector<std::uint8_t> v;
  for (int c = 0; c < cycles; ++c) {
    v.insert(v.end(), static_cast<std::size_t>(on), std::uint8_t{1});
    v.insert(v.end(), static_cast<std::size_t>(off), std::uint8_t{0});
  }
  return v;
}

// The frame (1-based) at which the scanner first flags, or 0.
int flagged_at(AutofireScanner& s, const std::vector<std::uint8_t>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (s.scan(std::span(&frames[i], 1))) return static_cast<int>(i + 1);
  }
  return 0;
}

// alice (owner) and bob logged in, in alice's room.
void alice_and_bob_in_a_room(FakeClient& a, FakeClient& b) {
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  b.send(p::JoinGame{"", a.got<p::CreateGame>().back().game_id, "", 0, 0xFFFF, 1});
}

// 60 LAN frames: alice holds still; bob's button 0 toggles every 2 frames.
void play_toggling_bob(Harness& h, FakeClient& a, FakeClient& b) {
  for (int f = 0; f < 60; ++f) {
    a.send(p::GameData{"", std::vector<std::uint8_t>{0, 0}});
    b.send(p::GameData{"", std::vector<std::uint8_t>{static_cast<std::uint8_t>((f / 2) % 2), 0}});
  }
  h.advance(50ms);
}

}  // namespace

TEST(Autofire, ATwoFrameToggleIsFlaggedAfterSixteenTogglesAndOnlyOnce) {
  AutofireScanner s;
  s.set_sensitivity(1);  // half periods up to 2 frames
  const auto frames = pattern(2, 2, 20);
  // Toggles at frames 3, 5, 7, ...: the first comes 3 frames after the first frame seen (a period of 3), so
  // the run of 2-frame periods starts with the second toggle (frame 5) and reaches 16 at frame 5 + 2 * 15
  // = 35.
  EXPECT_EQ(flagged_at(s, frames), 35);
  EXPECT_EQ(s.half_period(), 2);
  EXPECT_EQ(flagged_at(s, frames), 0);  // never again in this game
  s.reset();
  EXPECT_GT(flagged_at(s, frames), 0);  // a new game flags again
}

TEST(Autofire, SlowerTogglesNeedAHigherSensitivity) {
  const auto frames = pattern(3, 3, 30);
  AutofireScanner low;
  low.set_sensitivity(1);
  EXPECT_EQ(flagged_at(low, frames), 0);
  AutofireScanner high;
  high.set_sensitivity(2);  // half periods up to 3 frames
  EXPECT_GT(flagged_at(high, frames), 0);
  EXPECT_EQ(high.half_period(), 3);
}

TEST(Autofire, IrregularPressesAreNotFlagged) {
  // A thumb: presses and releases of 2 to 5 frames, never the same period twice in a row for long.
  std::vector<std::uint8_t> frames;
  const int lengths[] = {2, 3, 2, 4, 3, 5, 2, 2, 4, 3, 2, 5, 3, 2, 4, 2, 3, 3, 5, 2, 4, 2, 3, 2};
  for (int r = 0; r < 4; ++r) {
    std::uint8_t v = 1;
    for (int len : lengths) {
      frames.insert(frames.end(), static_cast<std::size_t>(len), v);
      v ^= 1;
    }
  }
  AutofireScanner s;
  s.set_sensitivity(5);
  EXPECT_EQ(flagged_at(s, frames), 0);
}

TEST(Autofire, AnyButtonOfAnyInputByteCounts) {
  std::vector<std::uint8_t> frames;  // two bytes a frame; the toggling button is bit 6 of the second byte
  for (int i = 0; i < 80; ++i) {
    frames.push_back(0x11);
    frames.push_back(static_cast<std::uint8_t>((i / 2) % 2 ? 0x40 : 0x00));
  }
  AutofireScanner s;
  s.set_sensitivity(1);
  bool flagged = false;
  for (std::size_t i = 0; i + 2 <= frames.size() && !flagged; i += 2)
    flagged = s.scan(std::span(&frames[i], 2));
  EXPECT_TRUE(flagged);
}

TEST(Autofire, TheRoomHearsOfItOnceWhenTheOwnerTurnedItOn) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(198, 51, 100, 2));
  ASSERT_NO_FATAL_FAILURE(alice_and_bob_in_a_room(a, b));
  b.send(p::GameChat{"", "/detectautofire 1"});
  EXPECT_TRUE(contains(b.texts(), "/detectautofire is for the room's owner"));
  a.send(p::GameChat{"", "/detectautofire 1"});
  EXPECT_TRUE(contains(b.texts(), "Autofire detection: sensitivity 1 of 5"));
  a.send(p::StartGame{});
  a.send(p::AllReady{});
  b.send(p::AllReady{});
  a.clear();
  b.clear();
  play_toggling_bob(h, a, b);
  std::size_t lines = 0;
  for (const auto& t : a.texts())
    lines += t.find("P2 bob: autofire suspected (a button toggles every 2 frames") != std::string::npos;
  EXPECT_EQ(lines, 1u);
  EXPECT_FALSE(contains(a.texts(), "P1 alice: autofire"));
}

TEST(Autofire, OffByDefault) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(198, 51, 100, 2));
  ASSERT_NO_FATAL_FAILURE(alice_and_bob_in_a_room(a, b));
  a.send(p::StartGame{});
  a.send(p::AllReady{});
  b.send(p::AllReady{});
  play_toggling_bob(h, a, b);
  EXPECT_FALSE(contains(a.texts(), "autofire"));
}
