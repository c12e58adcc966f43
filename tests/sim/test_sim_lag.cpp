// /lagstat in whole games over the simulator (issue 18, docs/RELAY.md "Lag statistics"): a player far away, a
// player whose emulator runs slower than the game's clock, a player on a lossy link. Links have no jitter, so
// each expected figure is worked out below from the latencies, the frame rates and the simulator's 5 ms tick.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/player.hpp"
#include "relay/core/server.hpp"
#include "tests/sim/sim_network.hpp"

namespace kc = kaillera::client;
using kf_sim::LinkParams;
using kf_sim::Millis;
using kf_sim::SimNetwork;

namespace {

struct PlayerSpec {
  LinkParams link = LinkParams::clean(Millis(10));
  double fps = 60;
};

struct LagRun {
  SimNetwork sim{11};
  kaillera::relay::Server relay{config()};
  std::vector<std::unique_ptr<kc::Player>> players;

  static kaillera::relay::Config config() {
    kaillera::relay::Config c;
    c.listen = "0.0.0.0:27888";
    c.game_port_first = 27889;
    c.game_port_last = 27889;
    c.command_burst = 100;
    return c;
  }

  LagRun(const std::vector<PlayerSpec>& specs, std::uint32_t frames) {
    sim.set_relay(relay);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      kc::PlayerOptions o;
      o.session.server = sim.relay_handshake();
      o.session.name = "p" + std::to_string(i + 1);
      o.session.emulator = "Sim Emu 1.0";
      o.role = i == 0 ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
      o.game = "Sim Game";
      o.players = static_cast<std::uint32_t>(specs.size());
      o.frames = frames;
      o.fps = specs[i].fps;
      players.push_back(std::make_unique<kc::Player>(o));
      sim.add_client(*players.back(), specs[i].link);
    }
  }

  // Plays until player 1 has received `blocks` blocks, then has it type `line` in the room, and returns the
  // /lagstat answer's lines (the header, one per player, at least one of advice) as player 1 got them.
  std::vector<std::string> command_at(std::uint64_t blocks, const std::string& line) {
    EXPECT_TRUE(
        sim.run_until([&] { return players[0]->result().blocks_received >= blocks; }, Millis(120000)));
    const std::size_t seen = players[0]->log().size();
    players[0]->session().game_chat(line);
    std::vector<std::string> lines;
    auto collect = [&] {
      lines.clear();
      bool in_answer = false;
      const auto& log = players[0]->log();
      for (std::size_t i = seen; i < log.size(); ++i) {
        if (log[i].kind != kc::EventKind::kGameChat || log[i].user != "Server") continue;
        if (log[i].text.rfind("Lag, last", 0) == 0) in_answer = true;
        if (in_answer) lines.push_back(log[i].text);
      }
      return lines.size() >= players.size() + 2;
    };
    EXPECT_TRUE(sim.run_until(collect, Millis(5000)));
    return lines;
  }

  std::uint32_t relay_ping(const std::string& name) const {
    for (const auto& [id, u] : players[0]->session().users()) {
      if (u.name == name) return u.ping;
    }
    return 0;
  }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines)
    s += "  " + l + "\n";
  return s;
}

// The seconds in "<prefix>X.YY s" within `lines`, or -1.
double seconds_after(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines) {
    const auto at = l.find(prefix);
    if (at != std::string::npos) return std::strtod(l.c_str() + at + prefix.size(), nullptr);
  }
  return -1;
}

bool has(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines) {
    if (l.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

// p2 is 160 ms away (one way), p1 10 ms. The game's clock starts when the relay sends the 0x15s; frame 0 is
// complete when p2's first input comes back: 2 x 160 = 320 ms late, charged to p2 once. From then on both run
// on time by the shifted clock (p2's 0x11 delay covers its 320 ms round trip: floor(60 x 0.32) + 1 = 20
// frames; p1's pipeline of 3 packets waits for the blocks, so its input always comes first), except that p2's
// later packets leave on its 5 ms tick rather than at once, up to 5 ms more once. So p2: 0.32 to 0.325 s.
TEST(SimLag, AFarPlayerIsNamedWithItsRoundTripAndTheTypeThatCoversItsPing) {
  LagRun run({PlayerSpec{LinkParams::clean(Millis(10))}, PlayerSpec{LinkParams::clean(Millis(160))}}, 900);
  const auto lines = run.command_at(300, "/lagstat");
  const double p2 = seconds_after(lines, "P2 p2: waited on ");
  EXPECT_GE(p2, 0.32) << joined(lines);
  EXPECT_LE(p2, 0.33) << joined(lines);
  EXPECT_EQ(seconds_after(lines, "P1 p1: waited on "), 0.0) << joined(lines);
  EXPECT_TRUE(has(lines, "Most waits: P2 p2")) << joined(lines);
  // Its ping as the relay measured it at login is at least the 320 ms round trip: beyond 5 frames of
  // 16.7 ms, so Bad (6) is the type; LAN is what it plays on.
  const std::uint32_t ping = run.relay_ping("p2");
  ASSERT_GE(ping, 320u);
  EXPECT_TRUE(has(lines, "P2 p2: ping " + std::to_string(ping) + " ms is high for LAN; Bad would not wait"))
      << joined(lines);
  EXPECT_FALSE(has(lines, "P1 p1: ping")) << "no advice for a player who did not make the game wait";
}

// p2's emulator runs at 50 fps, the game's clock at 60: every frame p2 completes 20 ms after the last instead
// of 16.667. Frame 0 is 20 ms late (the round trip; both inputs come at once, charged to whichever is read
// second), frame 1 up to 5 ms more (p2's tick), and each frame after 3.333 ms more, p2's. /lagstat goes out
// when p1 has block 299 (frame 299 complete), and is read by the relay 20 to 25 ms later (p1's tick, 10 ms
// up), when frame 300 may be complete too (20 ms after 299): 299 or 300 frames of 3.333 ms. So the game
// waited 20 + 996.7 = 1.0167 s to 20 + 5 + 1000 = 1.025 s ("1.02 s" or "1.03 s"), p2 all of it but perhaps
// the first 20 ms. At /fps 50 the clock matches p2's rate: from the restart at most one frame (20 ms) and a
// tick (5 ms) late.
TEST(SimLag, APlayerSlowerThanTheGameClockIsNamedAndFpsSettlesIt) {
  LagRun run({PlayerSpec{LinkParams::clean(Millis(10)), 60}, PlayerSpec{LinkParams::clean(Millis(10)), 50}},
             900);
  auto lines = run.command_at(300, "/lagstat");
  const double total = seconds_after(lines, "the game waited ");
  EXPECT_GE(total, 1.02) << joined(lines);
  EXPECT_LE(total, 1.03) << joined(lines);
  const double p2 = seconds_after(lines, "P2 p2: waited on ");
  EXPECT_GE(p2, total - 0.02) << joined(lines);
  EXPECT_LE(seconds_after(lines, "P1 p1: waited on "), 0.02) << joined(lines);
  EXPECT_TRUE(has(lines, "Most waits: P2 p2")) << joined(lines);
  EXPECT_FALSE(has(lines, "would not wait")) << "a 20 ms ping suits LAN: not a connection problem";

  run.players[0]->session().game_chat("/fps 50");
  lines = run.command_at(600, "/lagstat");
  EXPECT_TRUE(has(lines, "at 50 fps: the game waited 0.0")) << joined(lines);
  EXPECT_LE(seconds_after(lines, "the game waited "), 0.03) << joined(lines);
  EXPECT_TRUE(has(lines, "Smooth: nobody made the game wait")) << joined(lines);
}

// 10 % of p2's datagrams to the relay are lost. Each datagram repeats the 3 before it, so a lost input
// arrives with p2's next datagram, one packet (16.7 ms) later, or later still after several losses in a row:
// only p2 can make the game wait, by at most a frame period per datagram it lost since the window began, plus
// the 20 ms of the first frame (which p1 may be charged with instead).
TEST(SimLag, ALossyPlayerIsTheOneNamed) {
  // Loss on p2's way up only (a link's `loss` would apply both ways), from p2's first input on, drawn from
  // a fixed LCG so the run is the same every time.
  LagRun run({PlayerSpec{LinkParams::clean(Millis(10))}, PlayerSpec{LinkParams::clean(Millis(10))}}, 900);
  std::uint64_t p2_lost = 0;
  std::uint64_t draws = 0x9E3779B97F4A7C15ull;
  run.sim.drop_if = [&](const kaillera::net::Endpoint& from, const kaillera::net::Endpoint& to,
                        std::span<const std::uint8_t>) {
    if (to.ip != SimNetwork::kRelayIp || from.port != 40001) return false;
    if (run.players[1]->phase() != kc::Player::Phase::kPlaying) return false;
    draws = draws * 6364136223846793005ull + 1442695040888963407ull;
    const bool lose = (draws >> 33) % 10 == 0;
    p2_lost += lose ? 1 : 0;
    return lose;
  };
  const auto lines = run.command_at(300, "/lagstat");
  ASSERT_GT(p2_lost, 5u);
  EXPECT_TRUE(has(lines, "Most waits: P2 p2")) << joined(lines);
  EXPECT_LE(seconds_after(lines, "P1 p1: waited on "), 0.02) << "at most frame 0's round trip\n"
                                                             << joined(lines);
  const double p2 = seconds_after(lines, "P2 p2: waited on ");
  EXPECT_LE(p2, 0.020 + static_cast<double>(p2_lost) * (1.0 / 60) + 0.005)
      << joined(lines) << p2_lost << " lost";
}
