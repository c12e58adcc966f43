// Game start with n02 clients (issue 19, docs/RELAY.md "Game start"): while an n02 client waits for the
// server's 0x15 it handles only the oldest queued message each time a datagram arrives
// (SessionOptions::one_message_per_datagram_awaiting_ready). The relay must get the 0x15 handled on the
// datagram that brings it, and repeat it soon when the client stays silent, not after the 250 ms stall
// repeat.
//
// Links are clean with a fixed one-way latency, so every bound below is worked out from the latency and the
// simulator's 5 ms tick, not taken from a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/player.hpp"
#include "common/kaillera/bundle.hpp"
#include "relay/core/server.hpp"
#include "tests/sim/sim_network.hpp"

namespace kc = kaillera::client;
using kf_sim::LinkParams;
using kf_sim::Millis;
using kf_sim::SimNetwork;

namespace {

constexpr Millis kLatency{10};  // one way
constexpr Millis kTick{5};      // SimNetwork's default tick

kaillera::relay::Config relay_config() {
  kaillera::relay::Config c;
  c.listen = "0.0.0.0:27888";
  c.game_port_first = 27889;
  c.game_port_last = 27889;
  return c;
}

struct StartRun {
  SimNetwork sim{7};
  kaillera::relay::Server relay{relay_config()};
  std::vector<std::unique_ptr<kc::Player>> players;
  std::vector<kaillera::net::Endpoint> addresses;

  explicit StartRun(std::uint32_t n, bool n02 = true) {
    sim.set_relay(relay);
    for (std::uint32_t i = 1; i <= n; ++i) {
      kc::PlayerOptions o;
      o.session.server = sim.relay_handshake();
      o.session.name = "p" + std::to_string(i);
      o.session.emulator = "Sim Emu 1.0";
      o.session.use_cache = false;  // n02 sends every input as 0x12
      o.session.one_message_per_datagram_awaiting_ready = n02;
      o.role = i == 1 ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
      o.game = "Sim Game";
      o.players = n;
      o.frames = 120;
      players.push_back(std::make_unique<kc::Player>(o));
      addresses.push_back(sim.add_client(*players.back(), LinkParams::clean(kLatency)));
    }
  }

  // When player i's log first holds an event of `kind`.
  std::optional<kf_sim::TimePoint> first(std::size_t i, kc::EventKind kind) const {
    for (const auto& e : players[i]->log()) {
      if (e.kind == kind) return e.at;
    }
    return std::nullopt;
  }
  bool all_have(kc::EventKind kind) const {
    for (std::size_t i = 0; i < players.size(); ++i) {
      if (!first(i, kind)) return false;
    }
    return true;
  }
  // The last 0x15 of the players left its client when that client handled its 0x11 (the Player answers
  // within the same datagram).
  kf_sim::TimePoint last_ready_sent() const {
    kf_sim::TimePoint t{};
    for (std::size_t i = 0; i < players.size(); ++i)
      t = std::max(t, *first(i, kc::EventKind::kGameStarted));
    return t;
  }
};

class SimStartN02 : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(SimStartN02, AllReadyIsHandledWithinOneRoundTripWithoutARepeat) {
  StartRun run(GetParam());
  ASSERT_TRUE(run.sim.run_until([&] { return run.all_have(kc::EventKind::kGameStarted); }, Millis(30000)));
  const auto resends_before = run.relay.counters().resends;
  ASSERT_TRUE(run.sim.run_until([&] { return run.all_have(kc::EventKind::kAllReady); }, Millis(5000)));
  // The last 0x15 reaches the relay one latency (plus up to a tick of queueing on either side) after it left;
  // the relay's 0x15 reaches each client one latency later. The 250 ms stall repeat is far beyond this.
  const auto bound = 2 * kLatency + 2 * kTick;
  for (std::size_t i = 0; i < run.players.size(); ++i) {
    const auto waited = *run.first(i, kc::EventKind::kAllReady) - run.last_ready_sent();
    EXPECT_LE(waited, bound) << "player " << i + 1 << " handled the 0x15 "
                             << std::chrono::duration_cast<Millis>(waited).count()
                             << " ms after the last 0x15";
  }
  EXPECT_EQ(run.relay.counters().resends, resends_before) << "a clean start needs no resend";
  // And the game itself plays to the end.
  ASSERT_TRUE(run.sim.run_until([&] { return run.sim.all_clients_finished(); }, Millis(60000)));
  for (const auto& p : run.players) {
    const auto r = p->result();
    EXPECT_TRUE(r.completed) << r.name;
    EXPECT_EQ(r.mismatches, 0u) << r.name;
    EXPECT_EQ(r.frames_verified, 120u) << r.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Players, SimStartN02, ::testing::Values(2u, 3u, 4u, 8u));

// Every datagram that could bring player 2 its 0x15 is lost for 40 ms after the first: the relay repeats it
// once the player's first game data is later than its round trip allows (twice its ping, at least 50 ms),
// well before the 250 ms stall repeat.
TEST(SimStart, ALostAllReadyIsRepeatedPromptly) {
  StartRun run(2);
  std::optional<kf_sim::TimePoint> first_out;  // when the relay first sent player 2 a datagram with its 0x15
  run.sim.drop_if = [&](const kaillera::net::Endpoint& from, const kaillera::net::Endpoint& to,
                        std::span<const std::uint8_t> bytes) {
    if (from.ip != SimNetwork::kRelayIp || to != run.addresses[1]) return false;
    auto b = kaillera::proto::parse_bundle(bytes);
    if (!b) return false;
    const auto view = b->view();
    if (std::none_of(view.begin(), view.end(), [](const auto& m) { return m.type == 0x15; })) return false;
    if (!first_out) first_out = run.sim.now();
    return run.sim.now() - *first_out < Millis(40);
  };
  ASSERT_TRUE(run.sim.run_until([&] { return run.all_have(kc::EventKind::kGameStarted); }, Millis(30000)));
  const auto resends_before = run.relay.counters().resends;
  ASSERT_TRUE(run.sim.run_until([&] { return run.all_have(kc::EventKind::kAllReady); }, Millis(5000)));
  ASSERT_TRUE(first_out.has_value());
  const auto p2_waited = *run.first(1, kc::EventKind::kAllReady) - *first_out;
  // Player 1 is unaffected: within one round trip, as above.
  EXPECT_LE(*run.first(0, kc::EventKind::kAllReady) - run.last_ready_sent(), 2 * kLatency + 2 * kTick);
  // Player 2: nothing reaches it for 40 ms; the repeat goes out twice its ping (as the relay measured it at
  // login and told everyone in its 0x02), at least 50 ms, after the 0x15, on the relay's next tick, and takes
  // one latency to arrive.
  std::uint32_t p2_ping = 0;
  for (const auto& [id, u] : run.players[0]->session().users()) {
    if (u.name == "p2") p2_ping = u.ping;
  }
  ASSERT_GT(p2_ping, 0u);
  const auto repeat_after = std::max(Millis(2 * p2_ping), Millis(50));
  EXPECT_GE(p2_waited, Millis(40));
  EXPECT_LE(p2_waited, repeat_after + kTick + kLatency + kTick)
      << std::chrono::duration_cast<Millis>(p2_waited).count() << " ms, ping " << p2_ping << " ms";
  EXPECT_GT(run.relay.counters().resends, resends_before);
  ASSERT_TRUE(run.sim.run_until([&] { return run.sim.all_clients_finished(); }, Millis(60000)));
  for (const auto& p : run.players)
    EXPECT_TRUE(p->result().completed) << p->result().name;
}

}  // namespace
