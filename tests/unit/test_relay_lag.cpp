// Lag statistics (relay/core/lag.hpp, lag.cpp; docs/RELAY.md "Lag statistics"): the frame clock counts each
// delay once, the window forgets what left it, /lagstat names who made the game wait and what to change,
// /lagreset and /fps start the window again. Every expected number is worked out here from the times the
// test itself chooses.
#include <gtest/gtest.h>

#include <algorithm>

#include "relay/core/lag.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;
using r::FrameClock;
using r::LagWindow;
using r::Micros;
using TP = r::LagClock::time_point;

namespace {

const TP t0 = TP{} + std::chrono::hours(1);

// Two logged-in players in a started LAN game (both 0x15 in at the harness's current time).
struct Game2 {
  explicit Game2(r::Config c = {}) : h(std::move(c)) {
    EXPECT_TRUE(a.login("alice"));
    EXPECT_TRUE(b.login("bob"));
    a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
    game_id = a.got<p::CreateGame>().back().game_id;
    b.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, 1});
    a.send(p::StartGame{});
    a.send(p::AllReady{});
    b.send(p::AllReady{});
    a.clear();
    b.clear();
  }
  // One frame of both players' input, bob's `late` after alice's; then time moves to the next frame.
  void frame(std::chrono::milliseconds late = 0ms, std::chrono::milliseconds period = 16ms) {
    a.send(p::GameData{"", bytes({1, 1})});
    if (late.count() > 0) h.advance(late);
    b.send(p::GameData{"", bytes({2, 2})});
    if (period > late) h.advance(period - late);
  }
  std::vector<std::string> lagstat() {
    a.clear();
    a.send(p::GameChat{"", "/lagstat"});
    return a.texts();
  }
  static std::vector<std::uint8_t> bytes(std::initializer_list<std::uint8_t> b) { return b; }
  Harness h;
  FakeClient& a = h.client(ip(203, 0, 113, 1));
  FakeClient& b = h.client(ip(198, 51, 100, 2));
  std::uint32_t game_id = 0;
};

}  // namespace

TEST(FrameClock, ADelayCountsOnceAndEarlyFramesGiveNothingBack) {
  FrameClock c;
  c.start(t0, 0, 60);  // frame f due at f x 16.667 ms
  EXPECT_EQ(c.complete(0, t0), Micros(0));
  EXPECT_EQ(c.complete(1, t0 + Micros(16000)), Micros(0));  // due at 16.667 ms: early
  // Frame 2 due at 33.333 ms, complete at 100 ms: 66.667 ms lost.
  EXPECT_EQ(c.complete(2, t0 + Micros(100000)), Micros(100000 - 33333));
  // Frame 3 is due 66.667 ms later than its 50 ms: at 116.667 ms; at 110 ms it is on time. No second charge.
  EXPECT_EQ(c.complete(3, t0 + Micros(110000)), Micros(0));
  // Frame 4 due at 133.333 ms: 10 ms late by the shifted clock.
  EXPECT_EQ(c.complete(4, t0 + Micros(143333)), Micros(10000));  // due times are whole microseconds
}

TEST(FrameClock, StartsAtAnyFrameAndRunsAtAnyRate) {
  FrameClock c;
  EXPECT_EQ(c.complete(5, t0 + std::chrono::seconds(9)), Micros(0)) << "a stopped clock counts nothing";
  c.start(t0, 1000, 50);  // 20 ms a frame from frame 1000
  EXPECT_EQ(c.complete(999, t0 + std::chrono::seconds(1)), Micros(0)) << "before its first frame";
  EXPECT_EQ(c.complete(1010, t0 + Micros(230000)), Micros(30000));  // due at 200 ms
}

TEST(LagWindow, EventsLeaveTheWindowWithinOneSlotOfItsLength) {
  LagWindow w;
  w.clear();
  const Micros slot = std::chrono::seconds(1);  // a 60 s window
  w.at(t0 + Micros(500000), slot).wait_us += 7;
  w.at(t0 + std::chrono::seconds(30), slot).zeros += 2;
  EXPECT_EQ(w.sum(t0 + std::chrono::seconds(59), slot).wait_us, 7u);
  EXPECT_EQ(w.sum(t0 + std::chrono::seconds(59), slot).zeros, 2u);
  // 60.5 s after the first event it has left; the one at 30 s has not.
  EXPECT_EQ(w.sum(t0 + Micros(61000000), slot).wait_us, 0u);
  EXPECT_EQ(w.sum(t0 + Micros(61000000), slot).zeros, 2u);
  // A slot reused 60 slots later starts empty.
  w.at(t0 + Micros(60500000), slot).resends += 1;
  EXPECT_EQ(w.sum(t0 + Micros(60500000), slot).wait_us, 0u);
  EXPECT_EQ(w.sum(t0 + Micros(60500000), slot).resends, 1u);
  w.clear();
  EXPECT_EQ(w.sum(t0 + Micros(60500000), slot).resends, 0u);
}

TEST(LagAdvice, TheConnectionTypeWhosePacketsCoverThePing) {
  // At 60 fps a frame is 16.667 ms: type c covers a round trip of up to c frames (KAILLERA.md §5.3 table).
  EXPECT_EQ(r::conn_type_for_ping(16, 60), 1);  // LAN 0-16 ms
  EXPECT_EQ(r::conn_type_for_ping(17, 60), 2);  // Excellent
  EXPECT_EQ(r::conn_type_for_ping(49, 60), 3);  // Good 0-49 ms
  EXPECT_EQ(r::conn_type_for_ping(66, 60), 4);  // Average 0-66 ms
  EXPECT_EQ(r::conn_type_for_ping(70, 60), 5);  // Low 0-83 ms
  EXPECT_EQ(r::conn_type_for_ping(84, 60), 6);  // Bad
  EXPECT_EQ(r::conn_type_for_ping(1000, 60), 6);
  EXPECT_EQ(r::conn_type_for_ping(30, 30), 1);  // 33.3 ms frames
}

TEST(Lagstat, NamesWhoMadeTheGameWaitOnceForEachDelay) {
  Game2 t;
  t.frame();      // frame 0: both at the start
  t.frame(60ms);  // frame 1 due at 16.667 ms, complete at 16 + 60 = 76 ms: 59.333 ms lost, bob's
  for (int i = 0; i < 30; ++i)
    t.frame();  // on time by the shifted clock: no second charge
  const auto lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "the game waited 0.06 s, 1 frame late")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "P2 bob: waited on 0.06 s, late 1x"));
  EXPECT_TRUE(contains(lines, "P1 alice: waited on 0.00 s, late 0x"));
  EXPECT_TRUE(contains(lines, "Most waits: P2 bob, 0.06 s of 0.06 s"));
  // bob's ping (10 ms, the harness's ACK round trip) suits LAN: no advice to change the type.
  EXPECT_FALSE(contains(lines, "would not wait"));
  EXPECT_EQ(t.h.server().counters().lag_wait_us_late_input, 59334u);
  EXPECT_EQ(t.h.server().counters().frame_wait_hist[4], 1u);  // 59 ms: in (33, 67]
  EXPECT_EQ(t.h.server().counters().frame_wait_ms_sum, 59u);
}

TEST(Lagstat, AHighPingOnATooLowTypeGetsTheTypeThatCoversIt) {
  r::Config c;
  Harness h(c);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(198, 51, 100, 2));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob", "MAME32k 0.64", 1, 75ms));  // a 75 ms round trip on LAN
  a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  b.send(p::JoinGame{"", a.got<p::CreateGame>().back().game_id, "", 0, 0xFFFF, 1});
  a.send(p::StartGame{});
  a.send(p::AllReady{});
  b.send(p::AllReady{});
  a.send(p::GameData{"", Game2::bytes({1, 1})});
  h.advance(200ms);
  b.send(p::GameData{"", Game2::bytes({2, 2})});
  a.clear();
  a.send(p::GameChat{"", "/lagstat"});
  const auto lines = a.texts();
  // 75 ms: more than 4 frames (66.7 ms), not more than 5 (83.3 ms): Low, type 5. Its delay for 75 ms:
  // floor(60 / 5 x 0.075) + 1 = 1, so (1 + 1) x 5 - 1 = 9 frames.
  EXPECT_TRUE(contains(lines, "P2 bob: ping 75 ms is high for LAN; Low would not wait (delay 1, 9 frames)"))
      << ::testing::PrintToString(lines);
}

TEST(Lagstat, LagresetEmptiesTheWindowAndFpsChangesTheClock) {
  r::Config c;
  c.command_burst = 100;  // more commands in a row than the flood limit lets players type
  Game2 t(c);
  t.frame();
  t.frame(100ms);
  ASSERT_TRUE(contains(t.lagstat(), "P2 bob: waited on 0.10 s"));
  t.a.send(p::GameChat{"", "/lagreset"});
  EXPECT_TRUE(contains(t.b.texts(), "Lag statistics start again now (alice)"));
  for (int i = 0; i < 10; ++i)
    t.frame();
  auto lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "the game waited 0.00 s, 0 frames late")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "Smooth: nobody made the game wait"));

  // A 50 fps game measured at 60 fps loses 20 - 16.667 ms every frame.
  t.a.send(p::GameChat{"", "/lagreset"});
  for (int i = 0; i < 31; ++i)
    t.frame(0ms, 20ms);
  // Frames 1..30 each 3.333 ms later than the last: 30 x 3.333 = 100 ms (frame 0 was on time at the reset).
  lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "the game waited 0.10 s")) << ::testing::PrintToString(lines);
  t.b.clear();
  t.a.send(p::GameChat{"", "/fps 0"});
  EXPECT_TRUE(contains(t.a.texts(), "Usage: /fps <frames per second>, 1 to 240"));
  t.a.send(p::GameChat{"", "/fps 241"});
  t.a.send(p::GameChat{"", "/fps fifty"});
  EXPECT_TRUE(t.b.texts().empty()) << "refused /fps says nothing to the room";
  t.b.send(p::GameChat{"", "/fps 50"});
  EXPECT_TRUE(contains(t.a.texts(), "Lag is measured at 50 frames a second from now"));
  for (int i = 0; i < 31; ++i)
    t.frame(0ms, 20ms);
  lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "at 50 fps: the game waited 0.00 s")) << ::testing::PrintToString(lines);
}

TEST(Lagstat, TheWindowForgetsOldWaits) {
  r::Config c;
  c.lagstat_window = std::chrono::seconds(6);  // slots of 100 ms
  Game2 t(c);
  t.frame();
  t.frame(100ms);  // at about 16 ms
  for (int i = 0; i < 5500 / 16; ++i)
    t.frame();  // 5.5 s on: still in the window
  ASSERT_TRUE(contains(t.lagstat(), "P2 bob: waited on 0.10 s"));
  for (int i = 0; i < 700 / 16; ++i)
    t.frame();  // past 6.1 s: gone
  const auto lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "Lag, last 6 s at 60 fps: the game waited 0.00 s"))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "P2 bob: waited on 0.00 s"));
}

TEST(Lagstat, LostInputPlayedAsZerosAndResendRequestsAreCounted) {
  r::Config c;
  c.gap_wait = 500ms;
  Game2 t(c);
  for (int f = 0; f < 6; ++f)
    t.a.send(p::GameData{"", Game2::bytes({0xA0, 0})});
  // bob's first four datagrams are lost; the fifth repeats B1..B3, so B0 is a hole the relay waits for.
  for (int f = 0; f < 4; ++f)
    t.b.send_silently(p::GameData{"", Game2::bytes({0xB0, 1})});
  t.b.send(p::GameData{"", Game2::bytes({0xB4, 1})});
  t.h.advance(600ms);
  // After gap_wait the sixth gives B0 and B1 up (it repeats only B2..B4): two packets of zeros, the first of
  // which completes frame 0, due when the game began, 600 ms late.
  t.b.send(p::GameData{"", Game2::bytes({0xB5, 1})});
  t.b.resend_last(1);  // a datagram with nothing new: a resend request
  const auto lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "P2 bob: waited on 0.60 s, late 1x, ping 10 ms, LAN, lost 2, resends 1"))
      << ::testing::PrintToString(lines);
  EXPECT_EQ(t.h.server().counters().lag_wait_us_lost_input, 600000u);
  EXPECT_EQ(t.h.server().counters().lag_wait_us_late_input, 0u);
}

TEST(Lagstat, NoticeInTheRoomWhenAPlayerPassesTheThreshold) {
  r::Config c;
  c.lag_notice = 100ms;
  Game2 t(c);
  t.frame();
  t.frame(80ms);
  EXPECT_FALSE(contains(t.a.texts(), "made the game wait"));
  // Frame 1 was due at 16.7 ms and came at 16 + 80 = 96 ms: 79.3 ms. Frame 2 is due 16.7 ms later, at
  // 112.7 ms, and comes at 96 + 50 = 146 ms: 33.3 ms more, 112.7 ms in all, past the 100 ms threshold.
  t.frame(50ms);
  EXPECT_TRUE(contains(t.a.texts(), "P2 bob made the game wait 0.11 s in the last 1 s - /lagstat"))
      << ::testing::PrintToString(t.a.texts());
  t.a.clear();
  t.frame(200ms);
  EXPECT_FALSE(contains(t.a.texts(), "made the game wait")) << "once per window";
}

TEST(Lagstat, AsksTheMasterForARelayNearerToAllAndPassesItsLineOn) {
  Game2 t;
  std::vector<r::Server::FairPurpose> asked;
  std::vector<std::uint32_t> addresses;
  t.h.server().set_fair_hook(
      [&](std::uint32_t, const std::vector<r::Server::FairPlayer>& players, r::Server::FairPurpose purpose) {
        asked.push_back(purpose);
        for (const auto& p : players)
          addresses.push_back(p.ip);
        return true;
      });
  t.frame();
  t.lagstat();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], r::Server::FairPurpose::kNearer);
  EXPECT_EQ(addresses, (std::vector<std::uint32_t>{ip(203, 0, 113, 1), ip(198, 51, 100, 2)}));
  // The asker's answer (a line, or none) goes to the room as /fair's does.
  t.h.fair_answer(t.game_id, {"A relay 3 hops nearer to all of you: Relay B 10.0.0.2:27888"});
  EXPECT_TRUE(contains(t.b.texts(), "A relay 3 hops nearer to all of you: Relay B 10.0.0.2:27888"));
  t.a.clear();
  t.a.send(p::GameChat{"", "/fair"});
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1], r::Server::FairPurpose::kFair);
}

TEST(Lagstat, NotPlayingYet) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  ASSERT_TRUE(a.login("alice"));
  a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  a.clear();
  a.send(p::GameChat{"", "/lagstat"});
  EXPECT_TRUE(contains(a.texts(), "Lag: the game is not playing"));
}

// What the master's reports carry (reporter.cpp): each playing game's window, its loss and the worst player's
// share, worked out from the times the test chooses.
TEST(LagReport, APlayingGameCarriesItsWindowItsLossAndTheWorstPlayersShare) {
  Game2 t;
  t.frame();      // frame 0 complete at T: the clock starts; 16 ms on
  t.frame(60ms);  // frame 1 complete at T + 76 ms, due at T + 16.667: 59.333 ms lost, bob's; 60 ms on
  t.frame(30ms);  // frame 2 due at T + 59.333 + 33.333 = 92.667, complete at T + 106: 13.333 ms more, bob's
  t.frame();      // frame 3 due at T + 72.667 + 50 = 122.667, complete at T + 106: on time; 16 ms on
  t.frame(20ms);  // frame 4 due at T + 72.667 + 66.667 = 139.333, complete at T + 142: 2.667 ms more, bob's
  // 16 + 60 + 30 + 16 + 20 = 142 ms since frame 0.
  const r::Snapshot snap = t.h.server().snapshot(t.h.now());
  ASSERT_EQ(snap.playing.size(), 1u);
  const auto& g = snap.playing[0];
  EXPECT_EQ(g.id, t.game_id);
  EXPECT_EQ(g.rom, "Street Fighter II");
  EXPECT_EQ(g.players, 2u);
  EXPECT_EQ(g.window_ms, 142u);
  EXPECT_EQ(g.wait_ms, 75u);  // 59.333 + 13.333 + 2.667 = 75.333 ms, in whole ms
  EXPECT_EQ(g.worst_wait_ms, 75u);
  EXPECT_TRUE(snap.waiting.empty());
  // The snapshot without a time leaves the playing games out (it serves /metrics and the announcer).
  EXPECT_TRUE(t.h.server().snapshot().playing.empty());
  EXPECT_EQ(t.h.server().snapshot().playing_games, 1u);
}

TEST(LagReport, AlicesShareIsTheWorstWhenSheIsTheLateOne) {
  Game2 t;
  t.frame();
  // bob first, alice 40 ms later: frame 1 due at T + 16.667, complete at T + 56: 39.333 ms, alice's.
  t.b.send(p::GameData{"", Game2::bytes({2, 2})});
  t.h.advance(40ms);
  t.a.send(p::GameData{"", Game2::bytes({1, 1})});
  t.h.advance(10ms);
  t.frame(25ms);  // due at T + 56 + 16.667 = 72.667, bob at T + 66 + 25 = 91: 18.333 ms, bob's
  const auto g = t.h.server().snapshot(t.h.now()).playing.at(0);
  EXPECT_EQ(g.window_ms, 16u + 40 + 10 + 25);
  EXPECT_EQ(g.wait_ms, 57u);        // 39.333 + 18.333 = 57.667
  EXPECT_EQ(g.worst_wait_ms, 39u);  // alice's 39.333
}

// A round trip measured in play (the shell's probes) replaces the login ping in /lagstat and in its advice;
// only playing players' addresses are handed out for probing.
TEST(Lagstat, ARoundTripMeasuredInPlayReplacesTheLoginPing) {
  Game2 t;  // both logged in with the harness's 10 ms round trip
  t.frame();
  t.frame(200ms);  // frame 1 due at T + 16.667, bob's input at T + 216: 199.333 ms, bob's
  auto addresses = t.h.server().playing_addresses();
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses, (std::vector<std::uint32_t>{ip(198, 51, 100, 2), ip(203, 0, 113, 1)}));
  auto lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "P2 bob: waited on 0.20 s, late 1x, ping 10 ms, LAN"))
      << ::testing::PrintToString(lines);
  EXPECT_FALSE(contains(lines, "is high for"));

  t.h.server().note_rtt(ip(198, 51, 100, 2), 75);
  t.h.server().note_rtt(ip(203, 0, 113, 1), 0);  // nothing measured: the login ping stays
  lines = t.lagstat();
  EXPECT_TRUE(contains(lines, "P2 bob: waited on 0.20 s, late 1x, ping 75 ms, LAN"))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "P1 alice: waited on 0.00 s, late 0x, ping 10 ms, LAN"));
  // The same advice as for a 75 ms login ping (AHighPingOnATooLowTypeGetsTheTypeThatCoversIt).
  EXPECT_TRUE(contains(lines, "P2 bob: ping 75 ms is high for LAN; Low would not wait (delay 1, 9 frames)"))
      << ::testing::PrintToString(lines);
}
