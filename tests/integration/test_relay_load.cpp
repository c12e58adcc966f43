// `kaillera load` against the real relay (issue 14): a game the relay refuses is reported as refused, where
// and why (TOO at the handshake, 0x16 at login, a room line at the start), never as a set-up timeout; the
// games it admits are played and checked. The tool is the client library's run_load, the relay a real
// process.
#include <gtest/gtest.h>

#include "client/load.hpp"
#include "tests/integration/servers.hpp"

using namespace kf_test;
namespace kc = kaillera::client;

namespace {

kc::LoadOptions load(const RunningRelay& r, std::uint32_t games) {
  kc::LoadOptions o;
  o.server = {0x7F000001, r.handshake_port};
  o.games = games;
  o.seconds = 1;
  o.warmup_seconds = 0.2;
  o.setup_timeout = 30;  // a refusal must end the set-up long before this: failed counts what it did not
  return o;
}

void expect_every_block(const kc::LoadResult& r) {
  EXPECT_GT(r.blocks_expected, 0u);
  EXPECT_EQ(r.blocks_received, r.blocks_expected);
  EXPECT_EQ(r.mismatches, 0u);
  EXPECT_EQ(r.lost_for_good, 0u);
}

}  // namespace

// Three places for three players: the fourth HELLO is answered TOO, so of two games one is refused at the
// handshake and the other is played in full.
TEST(RelayLoad, AFullRelaysTooIsARefusalAndTheOtherGamePlays) {
  TempDir dir;
  auto relay = start_relay(dir, "full", {"--max-users", "3"});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  const auto r = kc::run_load(load(relay, 2));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.games_started, 1u);
  EXPECT_EQ(r.refused.hello, 1u);
  EXPECT_EQ(r.refused.login + r.refused.start, 0u);
  EXPECT_EQ(r.games_failed, 0u);
  EXPECT_EQ(r.first_refusal, "TOO");
  expect_every_block(r);
}

// Only connection type 6 (Bad) admitted: every LAN player of the tool is refused at login, with the relay's
// reason; nothing is measured and that is not a failure.
TEST(RelayLoad, ALoginRefusalIsCountedWithItsReason) {
  TempDir dir;
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "allowed_conn_types = [6]\n";
  auto relay = start_relay(dir, "conn", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  const auto r = kc::run_load(load(relay, 3));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.games_started, 0u);
  EXPECT_EQ(r.refused.login, 3u);
  EXPECT_EQ(r.refused.total(), 3u);
  EXPECT_EQ(r.games_failed, 0u);
  EXPECT_EQ(r.first_refusal, "Connection type not allowed: LAN");
  EXPECT_EQ(r.blocks_expected, 0u);
  const auto json = nlohmann::json::parse(kc::to_json(r));
  EXPECT_EQ(json["games_refused"], 3);
  EXPECT_EQ(json["refused"]["login"], 3);
}

// A relay refusing new load lets staff in (elevated: here everyone, by the access file's default level) but
// starts no new game: each start is answered with the "Error" room line, counted at the start.
TEST(RelayLoad, AStartRefusalIsCountedAtTheStart) {
  TempDir dir;
  const auto access = dir / "access.toml";
  std::ofstream(access) << "default_level = \"elevated\"\n";
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "refuse_new_load = true\n";
  auto relay = start_relay(dir, "start", {"--config", config.string(), "--access-file", access.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  // The knob takes effect at the relay's next once-a-second measurement.
  ASSERT_TRUE(
      poll_until([&] { return metric(relay.metrics_port, "kaillera_relay_refusing_new_load") == 1; }, 10s))
      << relay.process->log();
  const auto r = kc::run_load(load(relay, 2));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.games_started, 0u);
  EXPECT_EQ(r.refused.start, 2u);
  EXPECT_EQ(r.refused.hello + r.refused.login, 0u);
  EXPECT_EQ(r.first_refusal,
            "Start denied: the server is busy and starts no new games right now (games already playing "
            "continue); try again in a minute");
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_refused_total{reason=\"busy_start\"}"), 2);
}

// A ramp opens one game after another and starts each as soon as its room is full: against a relay with
// room for three players, the first game plays every frame from its start to the end and the next two are
// refused at the handshake (the first game's players hold two places, each later game's owner takes the
// third and its guest is answered TOO).
TEST(RelayLoad, ARampPlaysAdmittedGamesFromTheirStartAndCountsTheRest) {
  TempDir dir;
  auto relay = start_relay(dir, "ramp", {"--max-users", "3"});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  auto o = load(relay, 3);
  o.ramp_games_per_second = 4;  // a game every 250 ms
  const auto r = kc::run_load(o);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.ramp);
  EXPECT_EQ(r.games_started, 1u);
  EXPECT_EQ(r.refused.hello,
            2u);  // the second game's refused guest; its owner leaves, the third's takes its place
  EXPECT_EQ(r.games_failed, 0u);
  expect_every_block(r);
  // The window is the ramp (3 x 250 ms) and one second more; the first game plays nearly all of it.
  EXPECT_DOUBLE_EQ(r.seconds, 1.75);
  EXPECT_GT(r.blocks_expected, 2u * 60u);
}
