// The real kaillera-relay on loopback, played by the client library the way real clients play: many games at
// once, a player who vanishes mid-game, a player who logs in again, and garbage on both ports during a game.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "client/player.hpp"
#include "client/udp_driver.hpp"
#include "common/net/udp_socket.hpp"
#include "tests/integration/servers.hpp"

using namespace kf_test;
namespace kc = kaillera::client;
namespace n = kaillera::net;

namespace {

kc::PlayerOptions player(const RunningRelay& r, const std::string& name, const std::string& game, bool owner,
                         std::uint32_t frames = 300) {
  kc::PlayerOptions o;
  o.session.server = {0x7F000001, r.handshake_port};
  o.session.name = name;
  o.session.emulator = "MAME32k 0.64";
  o.role = owner ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
  o.game = game;
  o.frames = frames;
  o.fps = 120;  // paced like an emulator (faster than real time to keep the test short)
  return o;
}

std::string describe(const kc::PlayerResult& r) {
  std::string s = r.name + ": verified " + std::to_string(r.frames_verified) + ", mismatches " +
                  std::to_string(r.mismatches) + ", phase " + r.phase;
  for (const auto& e : r.errors)
    s += "; " + e;
  return s;
}

// Stops forwarding to the player after it has played `frames_before_vanishing`: a client that crashed.
class Vanishing final : public kc::Agent {
 public:
  Vanishing(kc::Player& p, std::uint64_t frames) : p_(p), frames_(frames) {}
  void on_datagram(const n::Endpoint& from, kc::Bytes d, kc::TimePoint now, kc::Sink& out) override {
    if (!gone()) p_.on_datagram(from, d, now, out);
  }
  void on_tick(kc::TimePoint now, kc::Sink& out) override {
    if (!gone()) p_.on_tick(now, out);
  }
  bool finished() const override { return gone() || p_.finished(); }

 private:
  bool gone() const { return p_.result().frames_sent >= frames_; }
  kc::Player& p_;
  std::uint64_t frames_;
};

}  // namespace

TEST(RelayPlay, TwentyConcurrentGames) {
  TempDir dir;
  // Forty players from one address: lift the per-address HELLO limit that would otherwise (rightly) slow
  // them.
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "hello_rate = 1000.0\nhello_burst = 1000.0\n";
  auto relay = start_relay(dir, "twenty", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  std::vector<std::unique_ptr<kc::Player>> players;
  kc::DriverOptions d;
  d.deadline = kc::Millis(60000);
  kc::UdpDriver driver(d);
  for (int g = 0; g < 20; ++g) {
    for (int i = 0; i < 2; ++i) {
      players.push_back(std::make_unique<kc::Player>(
          player(relay, "g" + std::to_string(g) + (i ? "b" : "a"), "Game " + std::to_string(g), i == 0)));
      ASSERT_EQ(driver.add(*players.back()), "");
    }
  }
  const auto res = driver.run();
  ASSERT_FALSE(res.timed_out);
  for (const auto& p : players) {
    const auto r = p->result();
    EXPECT_TRUE(r.completed) << describe(r);
    EXPECT_EQ(r.mismatches, 0u) << describe(r);
    EXPECT_EQ(r.frames_verified, 300u) << describe(r);
  }
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_games_started_total"), 20);
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_logins_total"), 40);
}

TEST(RelayPlay, AVanishedPlayerIsDroppedAndTheOtherPlaysOn) {
  TempDir dir;
  const auto config = dir / "relay.toml";
  std::ofstream(config) << "data_deadline_ms = 1000\n";
  auto relay = start_relay(dir, "vanish", {"--config", config.string()});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  kc::Player owner(player(relay, "owner", "Vanish", true, 600));
  kc::Player guest(player(relay, "guest", "Vanish", false, 600));
  Vanishing vanishing(guest, 120);
  kc::DriverOptions d;
  d.deadline = kc::Millis(30000);
  kc::UdpDriver driver(d);
  ASSERT_EQ(driver.add(owner), "");
  ASSERT_EQ(driver.add(vanishing), "");
  ASSERT_FALSE(driver.run().timed_out);
  const auto r = owner.result();
  // The owner got every block of its 600 frames: the relay dropped the silent guest after the deadline and
  // went on with zeros in its slot (which the owner's strict check counts as mismatches after the drop).
  EXPECT_EQ(r.frames_received, 600u) << describe(r);
  EXPECT_GE(r.frames_verified, 120u) << describe(r);
  EXPECT_GT(r.mismatches, 0u) << describe(r);
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_desyncs_total"), 1);
}

TEST(RelayPlay, APlayerLogsInAgainAndPlays) {
  TempDir dir;
  auto relay = start_relay(dir, "again");
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  {
    // First life: logs in and vanishes without a quit (its client crashed).
    kc::SessionOptions o;
    o.server = {0x7F000001, relay.handshake_port};
    o.name = "phoenix";
    kc::Session s(o);
    struct Once final : kc::Agent {
      kc::Session& s;
      explicit Once(kc::Session& x) : s(x) {}
      void on_datagram(const n::Endpoint& f, kc::Bytes d, kc::TimePoint t, kc::Sink& out) override {
        s.on_datagram(f, d, t, out);
      }
      void on_tick(kc::TimePoint t, kc::Sink& out) override {
        if (s.state() == kc::SessionState::kIdle) s.connect(t, out);
        s.on_tick(t, out);
      }
      bool finished() const override { return s.logged_in(); }
    } once(s);
    kc::UdpDriver driver;
    ASSERT_EQ(driver.add(once), "");
    ASSERT_FALSE(driver.run().timed_out);
  }
  // Second life, same name from the same IP, new port: replaces the old session and plays a game.
  kc::Player a(player(relay, "phoenix", "Again", true, 120));
  kc::Player b(player(relay, "friend", "Again", false, 120));
  kc::UdpDriver driver;
  ASSERT_EQ(driver.add(a), "");
  ASSERT_EQ(driver.add(b), "");
  ASSERT_FALSE(driver.run().timed_out);
  EXPECT_TRUE(a.result().completed) << describe(a.result());
  EXPECT_TRUE(b.result().completed) << describe(b.result());
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_logins_total"), 3);
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_login_rejected_total"), 0);
}

TEST(RelayPlay, GarbageOnBothPortsDuringAGameChangesNothing) {
  TempDir dir;
  auto relay = start_relay(dir, "garbage");
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  kc::Player a(player(relay, "alice", "Garbage", true, 900));
  kc::Player b(player(relay, "bob", "Garbage", false, 900));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  std::jthread noise([&](std::stop_token st) {  // the destructor asks it to stop on every exit path
    n::UdpSocket s;
    ASSERT_EQ(s.open({0x7F000001, 0}), "");
    std::mt19937 rng(42);
    std::vector<std::uint8_t> d;
    while (!stop && !st.stop_requested()) {
      const int kind = static_cast<int>(rng() % 4);
      d.assign(kind == 3 ? 3000 + rng() % 5000 : rng() % 80, 0);  // random, short, and oversized datagrams
      for (auto& x : d)
        x = static_cast<std::uint8_t>(rng());
      if (kind == 1 && !d.empty()) d[0] = static_cast<std::uint8_t>(1 + rng() % 3);  // bundle-like
      if (kind == 2) d = {'H', 'E', 'L', 'L', 'O'};                                  // truncated HELLO
      s.send_to({0x7F000001, rng() % 2 ? relay.handshake_port : relay.game_port}, d);
      ++sent;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  kc::UdpDriver driver;
  ASSERT_EQ(driver.add(a), "");
  ASSERT_EQ(driver.add(b), "");
  const auto res = driver.run();
  stop = true;
  noise.join();
  ASSERT_FALSE(res.timed_out);
  EXPECT_GT(sent.load(), 1000u);
  EXPECT_TRUE(a.result().completed) << describe(a.result());
  EXPECT_TRUE(b.result().completed) << describe(b.result());
  EXPECT_EQ(a.result().mismatches + b.result().mismatches, 0u);
  EXPECT_FALSE(relay.process->poll_exit().has_value());  // still serving
  EXPECT_GT(
      metric(relay.metrics_port, "kaillera_relay_dropped_datagrams_total{reason=\"malformed\"}") +
          metric(relay.metrics_port, "kaillera_relay_dropped_datagrams_total{reason=\"unknown_session\"}"),
      100);
}

TEST(RelayPlay, KailleraPlayCommand) {
  TempDir dir;
  auto relay = start_relay(dir, "cli");
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  Process cli(KF_KAILLERA_BIN,
              {"play", "--server", "127.0.0.1:" + std::to_string(relay.handshake_port), "--players", "3",
               "--frames", "240", "--conn-type", "2", "--json"},
              dir / "play.log");
  const auto code = cli.wait_exit(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << cli.log();
  const auto out = cli.log();
  EXPECT_NE(out.find("\"mismatches\": 0"), std::string::npos) << out;
}

TEST(RelayPlay, AnUnreachableMasterChangesNothingForPlayers) {
#ifndef KF_HAVE_REPORTER
  GTEST_SKIP() << "this build has no master reporter (built without gRPC)";
#endif
  TempDir dir;
  // Port 9 on loopback: nothing listens, every connection attempt is refused; the reporter keeps retrying.
  auto relay = start_relay(dir, "nomaster", {"--master", "127.0.0.1:9", "--token", "kf_0"});
  ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  kc::Player a(player(relay, "alice", "No master", true, 600));
  kc::Player b(player(relay, "bob", "No master", false, 600));
  kc::UdpDriver driver;
  ASSERT_EQ(driver.add(a), "");
  ASSERT_EQ(driver.add(b), "");
  ASSERT_FALSE(driver.run().timed_out);
  EXPECT_TRUE(a.result().completed) << describe(a.result());
  EXPECT_TRUE(b.result().completed) << describe(b.result());
  EXPECT_NE(relay.process->log().find("master 127.0.0.1:9: retrying"), std::string::npos)
      << relay.process->log();
}
