// Whole games through the relay core over the seeded network simulator: every block each player receives is
// checked against what lock-step must produce (KAILLERA.md §5.5).
//
// For debugging: KF_SIM_VERBOSE=1 (summaries and event logs), KF_SIM_TRACE=1 (every datagram),
// KF_SIM_SEEDS=N (run N seeds of the lossy-network sweep instead of 16).
#include <gtest/gtest.h>

#include <tuple>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
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

struct GameSpec {
  std::uint64_t seed = 1;
  std::uint32_t players = 2;
  std::uint8_t conn_type = 1;
  std::uint32_t frames = 300;
  std::uint32_t bytes_per_frame = 2;
  std::uint32_t repeat_period = 0;
  double fps = 0;
  std::vector<bool> use_cache;  // per player; default all true
  LinkParams link = LinkParams::clean();
  std::vector<LinkParams> links;  // per player, overrides `link`
  Millis limit{120000};           // virtual time
  bool same_delay = false;        // the relay's same_delay (rooms start with /samedelay on)
};

struct GameRun {
  bool finished = false;
  std::vector<kc::PlayerResult> results;
  std::vector<std::vector<kc::Event>> logs;
  kaillera::relay::Counters relay;
  kf_sim::LinkStats links;  // all links, both directions
  std::uint64_t delivered = 0;
  double virtual_seconds = 0;
};

kaillera::relay::Config relay_config(bool same_delay = false) {
  kaillera::relay::Config c;
  c.same_delay = same_delay;
  c.listen = "0.0.0.0:27888";
  c.game_port_first = 27889;
  c.game_port_last = 27889;
  c.max_ping_ms = 5000;  // lossy 250 ms links measure pings far above 1 s while logging in
  return c;
}

// KF_SIM_TRACE=1 prints every datagram's fate (seq:type of each message) to stderr.
void maybe_trace(SimNetwork& sim) {
  if (std::getenv("KF_SIM_TRACE") == nullptr) return;
  const auto start = sim.now();
  sim.trace = [start](const SimNetwork::TraceEntry& e) {
    std::string seqs;
    if (auto b = kaillera::proto::parse_bundle(e.bytes)) {
      for (const auto& m : b->view())
        seqs += " " + std::to_string(m.seq) + ":" + std::to_string(m.type);
    }
    std::fprintf(stderr, "T %.4f %-7s %s -> %s arrives %.4f [%s]\n",
                 std::chrono::duration<double>(e.now - start).count(), e.what,
                 kaillera::net::to_string(e.from).c_str(), kaillera::net::to_string(e.to).c_str(),
                 std::chrono::duration<double>(e.arrives - start).count(), seqs.c_str());
  };
}

GameRun run_game_impl(const GameSpec& spec);
std::string describe(const GameRun& run);

// Runs one game; KF_SIM_VERBOSE=1 prints its summary and every player's event log (times from the sim's
// start).
GameRun run_game(const GameSpec& spec) {
  auto r = run_game_impl(spec);
  if (std::getenv("KF_SIM_VERBOSE")) {
    std::fprintf(stderr, "%s", describe(r).c_str());
    for (std::size_t i = 0; i < r.logs.size(); ++i) {
      for (const auto& e : r.logs[i]) {
        std::fprintf(stderr, "  p%zu %.3f %s user=%s id=%u value=%u a=%u b=%u text=%s\n", i + 1,
                     std::chrono::duration<double>(e.at.time_since_epoch()).count() - 3600,
                     std::string(kc::to_string(e.kind)).c_str(), e.user.c_str(), e.id, e.value, e.a, e.b,
                     e.text.c_str());
      }
    }
  }
  return r;
}

GameRun run_game_impl(const GameSpec& spec) {
  kaillera::relay::Server relay(relay_config(spec.same_delay));
  SimNetwork sim(spec.seed);
  sim.set_relay(relay);
  maybe_trace(sim);
  const auto start = sim.now();
  std::vector<std::unique_ptr<kc::Player>> players;
  for (std::uint32_t i = 1; i <= spec.players; ++i) {
    kc::PlayerOptions o;
    o.session.server = sim.relay_handshake();
    o.session.name = "p" + std::to_string(i);
    o.session.emulator = "Sim Emu 1.0";
    o.session.conn_type = spec.conn_type;
    o.session.use_cache = spec.use_cache.empty() ? true : spec.use_cache[i - 1];
    o.session.hello_attempts = 10;  // five lost HELLO round trips in a row happen at 5 % loss, rarely
    o.role = i == 1 ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
    o.game = "Sim Game";
    o.players = spec.players;
    o.frames = spec.frames;
    o.bytes_per_frame = spec.bytes_per_frame;
    o.repeat_period = spec.repeat_period;
    o.fps = spec.fps;
    players.push_back(std::make_unique<kc::Player>(o));
    sim.add_client(*players.back(), spec.links.empty() ? spec.link : spec.links[i - 1]);
  }
  GameRun run;
  run.finished = sim.run_until([&] { return sim.all_clients_finished(); }, spec.limit);
  for (const auto& p : players) {
    run.results.push_back(p->result());
    run.logs.push_back(p->log());
  }
  run.relay = relay.counters();
  run.delivered = sim.delivered_total();
  for (std::size_t i = 0; i < players.size(); ++i) {
    for (const auto* l : {&sim.uplink(i), &sim.downlink(i)}) {
      run.links.sent += l->sent;
      run.links.lost += l->lost;
      run.links.duplicated += l->duplicated;
      run.links.reordered += l->reordered;
    }
  }
  run.virtual_seconds = std::chrono::duration<double>(sim.now() - start).count();
  return run;
}

std::string describe(const kc::PlayerResult& r) {
  std::string s = r.name + ": P" + std::to_string(r.player_number) + "/" + std::to_string(r.num_players) +
                  " delay " + std::to_string(r.delay) + " sent " + std::to_string(r.frames_sent) +
                  " received " + std::to_string(r.frames_received) + " verified " +
                  std::to_string(r.frames_verified) + " mismatches " + std::to_string(r.mismatches) +
                  " skipped " + std::to_string(r.blocks_skipped) + " resends " + std::to_string(r.resends) +
                  " lost " + std::to_string(r.lost_messages) + " cache out/in " +
                  std::to_string(r.cache_hits_sent) + "/" + std::to_string(r.cache_hits_received);
  for (const auto& e : r.errors)
    s += "\n    error: " + e;
  return s;
}

std::string describe(const GameRun& run) {
  std::string s = "virtual " + std::to_string(run.virtual_seconds) + " s, sent " +
                  std::to_string(run.links.sent) + " lost " + std::to_string(run.links.lost) +
                  " duplicated " + std::to_string(run.links.duplicated) + " reordered " +
                  std::to_string(run.links.reordered) + ", delivered " + std::to_string(run.delivered) +
                  ", relay lost " + std::to_string(run.relay.lost_messages) + " desyncs " +
                  std::to_string(run.relay.desyncs) + " resends " + std::to_string(run.relay.resends) +
                  " cache hits out " + std::to_string(run.relay.cache_hits_out) + "\n";
  for (const auto& r : run.results)
    s += "  " + describe(r) + "\n";
  return s;
}

void expect_clean_game(const GameRun& run, const GameSpec& spec) {
  ASSERT_TRUE(run.finished) << describe(run);
  const std::uint32_t frames = (spec.frames + spec.conn_type - 1) / spec.conn_type * spec.conn_type;
  std::vector<bool> seen(spec.players + 1, false);
  for (const auto& r : run.results) {
    EXPECT_TRUE(r.completed) << describe(run);
    EXPECT_EQ(r.frames_verified, frames) << describe(run);
    EXPECT_EQ(r.frames_sent, frames) << describe(run);
    EXPECT_EQ(r.mismatches, 0u) << describe(run);
    EXPECT_EQ(r.num_players, spec.players) << describe(run);
    EXPECT_GE(r.delay, 1) << describe(run);
    ASSERT_GE(r.player_number, 1);
    ASSERT_LE(r.player_number, spec.players);
    EXPECT_FALSE(seen[r.player_number]) << "player number " << int(r.player_number) << " twice\n"
                                        << describe(run);
    seen[r.player_number] = true;
    EXPECT_TRUE(r.errors.empty()) << describe(run);
  }
  EXPECT_EQ(run.results[0].player_number, 1) << "the creator is player 1\n" << describe(run);
}

}  // namespace

TEST(SimGame, TwoPlayersLan) {
  GameSpec spec;
  spec.players = 2;
  spec.frames = 600;
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
}

TEST(SimGame, ThreePlayersGood) {
  GameSpec spec;
  spec.seed = 3;
  spec.players = 3;
  spec.conn_type = 3;
  spec.frames = 600;
  spec.link = LinkParams::clean(Millis(25));
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
}

TEST(SimGame, FourPlayersExcellentFourBytesPerFrame) {
  GameSpec spec;
  spec.seed = 4;
  spec.players = 4;
  spec.conn_type = 2;
  spec.frames = 400;
  spec.bytes_per_frame = 4;
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
}

TEST(SimGame, EightPlayersWithDifferentLatencies) {
  GameSpec spec;
  spec.seed = 8;
  spec.players = 8;
  spec.frames = 300;
  for (int i = 0; i < 8; ++i)
    spec.links.push_back(LinkParams::clean(Millis(5 + 7 * i)));
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
}

TEST(SimGame, SixtyFramesPerSecondPacing) {
  GameSpec spec;
  spec.seed = 60;
  spec.players = 2;
  spec.frames = 120;
  spec.fps = 60;
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
  // 120 frames at 60 fps take about two seconds of game time.
  EXPECT_GE(run.results[0].play_seconds, 1.9) << describe(run);
  EXPECT_LE(run.results[0].play_seconds, 3.0) << describe(run);
}

TEST(SimGame, TwoPlayersWithLossReorderingAndDuplicates) {
  GameSpec spec;
  spec.seed = 5;
  spec.players = 2;
  spec.frames = 600;
  spec.fps = 60;
  spec.link.latency = Millis(15);
  spec.link.jitter = Millis(4);
  spec.link.loss = 0.05;
  spec.link.reorder = 0.05;
  spec.link.duplicate = 0.02;
  const auto run = run_game(spec);
  ASSERT_TRUE(run.finished) << describe(run);
  EXPECT_GT(run.links.lost, 50u) << describe(run);
  EXPECT_GT(run.links.reordered, 50u) << describe(run);
  EXPECT_GT(run.links.duplicated, 10u) << describe(run);
  const std::uint32_t frames = spec.frames;
  for (const auto& r : run.results) {
    // Every block that arrived is right; blocks lost for good (if any) are accounted as skipped.
    EXPECT_EQ(r.mismatches, 0u) << describe(run);
    EXPECT_TRUE(r.completed) << describe(run);
    EXPECT_EQ(r.frames_verified + r.blocks_skipped * spec.conn_type, frames) << describe(run);
    EXPECT_GE(r.frames_verified, frames * 9 / 10) << describe(run);
  }
}

// Frame delay per player (the default) or shared (/samedelay, KAILLERA.md §5.3): players 5, 40, 100 and 160
// ms away. Either way every frame each player gets is what lock-step must produce; per player the delays rise
// with the distance, shared they are all the farthest player's.
class SimDelay : public ::testing::TestWithParam<std::tuple<std::uint32_t, bool>> {};

TEST_P(SimDelay, PerPlayerAndSharedDelaysPlayBitExactGames) {
  const auto [players, same] = GetParam();
  GameSpec spec;
  spec.seed = 40 + players;
  spec.players = players;
  spec.frames = 600;
  spec.same_delay = same;
  const int one_way_ms[] = {5, 40, 100, 160};
  for (std::uint32_t i = 0; i < players; ++i) {
    LinkParams l = LinkParams::clean();
    l.latency = Millis(one_way_ms[i]);
    spec.links.push_back(l);
  }
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
  std::vector<std::uint16_t> delays;  // by joining order (player i+1 is i-th nearest)
  for (const auto& r : run.results)
    delays.push_back(r.delay);
  for (std::size_t i = 1; i < delays.size(); ++i) {
    if (same) {
      EXPECT_EQ(delays[i], delays[0]) << describe(run);
    } else {
      EXPECT_GT(delays[i], delays[i - 1]) << describe(run);
    }
  }
  // LAN (conn 1): delay = floor(60 x ping_s) + 1; the farthest player's ping is at least its round trip.
  const int farthest_rtt_ms = 2 * one_way_ms[players - 1];
  EXPECT_GE(delays.back(), 60 * farthest_rtt_ms / 1000 + 1) << describe(run);
  if (same) {
    EXPECT_GE(delays.front(), 60 * farthest_rtt_ms / 1000 + 1) << describe(run);
  } else {
    EXPECT_LE(delays.front(), 60 * 30 / 1000 + 1) << describe(run);  // a ~10 ms round trip
  }
}

INSTANTIATE_TEST_SUITE_P(Delays, SimDelay,
                         ::testing::Combine(::testing::Values(2u, 3u, 4u), ::testing::Bool()));

TEST(SimGame, LossyRunsAreDeterministicForASeed) {
  GameSpec spec;
  spec.seed = 77;
  spec.players = 2;
  spec.frames = 200;
  spec.fps = 60;
  spec.link.latency = Millis(12);
  spec.link.jitter = Millis(6);
  spec.link.loss = 0.05;
  spec.link.reorder = 0.05;
  spec.link.duplicate = 0.05;
  const auto a = run_game(spec);
  const auto b = run_game(spec);
  EXPECT_EQ(a.delivered, b.delivered);
  EXPECT_EQ(a.virtual_seconds, b.virtual_seconds);
  EXPECT_EQ(a.relay.datagrams_in, b.relay.datagrams_in);
  EXPECT_EQ(a.relay.datagrams_out, b.relay.datagrams_out);
  ASSERT_EQ(a.results.size(), b.results.size());
  for (std::size_t i = 0; i < a.results.size(); ++i) {
    EXPECT_EQ(a.results[i].resends, b.results[i].resends);
    EXPECT_EQ(a.results[i].frames_verified, b.results[i].frames_verified);
    EXPECT_EQ(a.logs[i].size(), b.logs[i].size());
  }
  spec.seed = 78;
  const auto c = run_game(spec);
  // Another seed, another run: some count differs (one count alone may match by chance).
  EXPECT_NE(std::make_tuple(a.delivered, a.relay.datagrams_in, a.relay.datagrams_out, a.virtual_seconds),
            std::make_tuple(c.delivered, c.relay.datagrams_in, c.relay.datagrams_out, c.virtual_seconds));
}

TEST(SimGame, MixedCacheClients) {
  GameSpec spec;
  spec.seed = 13;
  spec.players = 2;
  spec.conn_type = 2;
  spec.frames = 600;
  spec.repeat_period = 8;  // inputs repeat: the 0x13 cache is used both ways
  spec.use_cache = {true, false};
  const auto run = run_game(spec);
  expect_clean_game(run, spec);
  const auto& cached = run.results[0];
  const auto& plain = run.results[1];
  EXPECT_GT(cached.cache_hits_sent, 0u) << describe(run);
  EXPECT_EQ(plain.cache_hits_sent, 0u) << describe(run);
}

TEST(SimGame, MixedCacheClientsUnderLoss) {
  GameSpec spec;
  spec.seed = 21;
  spec.players = 3;
  spec.conn_type = 1;
  spec.frames = 300;
  spec.fps = 60;
  spec.repeat_period = 5;
  spec.use_cache = {false, true, true};
  spec.link.latency = Millis(10);
  spec.link.loss = 0.03;
  const auto run = run_game(spec);
  ASSERT_TRUE(run.finished) << describe(run);
  for (const auto& r : run.results) {
    EXPECT_EQ(r.mismatches, 0u) << describe(run);
    EXPECT_TRUE(r.completed) << describe(run);
  }
  EXPECT_EQ(run.results[0].cache_hits_sent, 0u);
  EXPECT_GT(run.results[1].cache_hits_sent, 0u);
}

// A bare Session as a simulator agent: connects at `start`, then only does what the test asks.
struct SessionAgent final : kc::Agent {
  kc::Session session;
  kc::TimePoint start;
  bool connected = false;
  SessionAgent(kc::SessionOptions o, kc::TimePoint at) : session(std::move(o)), start(at) {}
  void on_datagram(const kaillera::net::Endpoint& from, kc::Bytes d, kc::TimePoint now,
                   kc::Sink& out) override {
    session.on_datagram(from, d, now, out);
  }
  void on_tick(kc::TimePoint now, kc::Sink& out) override {
    if (!connected && now >= start) {
      connected = true;
      session.connect(now, out);
    }
    session.on_tick(now, out);
  }
  bool finished() const override { return session.finished(); }
  bool saw(kc::EventKind kind, std::string_view user = {}, std::string_view text = {}) const {
    for (const auto& e : session.events()) {
      if (e.kind == kind && (user.empty() || e.user == user) && (text.empty() || e.text == text)) return true;
    }
    return false;
  }
};

// The lobby through the relay: a later user sees the first in its 0x04, chat reaches both, quit closes both.
TEST(SimLobby, LoginListsChatAndQuit) {
  kaillera::relay::Server relay(relay_config());
  SimNetwork sim(99);
  sim.set_relay(relay);
  maybe_trace(sim);
  kc::SessionOptions o;
  o.server = sim.relay_handshake();
  o.name = "first";
  SessionAgent a(o, sim.now());
  o.name = "second";
  o.conn_type = 3;
  SessionAgent b(o, sim.now() + Millis(500));
  sim.add_client(a, LinkParams::clean(Millis(8)));
  sim.add_client(b, LinkParams::clean(Millis(30)));
  ASSERT_TRUE(sim.run_until([&] { return a.session.logged_in() && b.session.logged_in(); }, Millis(10000)));
  bool listed = false;
  for (const auto& [id, u] : b.session.users())
    listed = listed || u.name == "first";
  EXPECT_TRUE(listed) << "the 0x04 (or a 0x02) names the user who was there first";
  ASSERT_TRUE(sim.run_until([&] { return a.saw(kc::EventKind::kUserJoined, "second"); }, Millis(5000)));

  a.session.chat("hello lobby");
  ASSERT_TRUE(sim.run_until(
      [&] {
        return a.saw(kc::EventKind::kChat, "first", "hello lobby") &&
               b.saw(kc::EventKind::kChat, "first", "hello lobby");
      },
      Millis(5000)));

  b.session.quit("later");
  ASSERT_TRUE(sim.run_until([&] { return b.session.finished() && a.saw(kc::EventKind::kUserQuit, "second"); },
                            Millis(5000)));
  EXPECT_EQ(b.session.state(), kc::SessionState::kClosed);
  a.session.quit();
  ASSERT_TRUE(sim.run_until([&] { return a.session.finished(); }, Millis(5000)));
  EXPECT_EQ(a.session.state(), kc::SessionState::kClosed);
  EXPECT_TRUE(a.session.error().empty()) << a.session.error();
}

// A third user joins a running relay by game id after the creator announced it.
TEST(SimLobby, JoinByIdAndPlay) {
  kaillera::relay::Server relay(relay_config());
  SimNetwork sim(7);
  sim.set_relay(relay);
  maybe_trace(sim);
  kc::PlayerOptions o;
  o.session.server = sim.relay_handshake();
  o.session.name = "owner";
  o.session.emulator = "Emu";
  o.game = "By Id";
  o.players = 2;
  o.frames = 100;
  kc::Player owner(o);
  sim.add_client(owner, LinkParams::clean(Millis(10)));
  ASSERT_TRUE(
      sim.run_until([&] { return owner.session().state() == kc::SessionState::kInRoom; }, Millis(5000)));
  o.session.name = "guest";
  o.role = kc::PlayerOptions::Role::kJoinById;
  o.game_id = *owner.session().game_id();
  kc::Player guest(o);
  sim.add_client(guest, LinkParams::clean(Millis(20)));
  ASSERT_TRUE(sim.run_until([&] { return sim.all_clients_finished(); }, Millis(60000)));
  for (const auto* pl : {&owner, &guest}) {
    const auto r = pl->result();
    EXPECT_TRUE(r.completed) << describe(r);
    EXPECT_EQ(r.frames_verified, 100u) << describe(r);
  }
  EXPECT_EQ(guest.result().player_number, 2);
}

// Many seeds of a rough network: every block that arrives must be right, and every game must end.
class SimGameSeeds : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(SimGameSeeds, LossyGamesEndWithEveryDeliveredBlockCorrect) {
  GameSpec spec;
  spec.seed = GetParam();
  spec.players = 2 + static_cast<std::uint32_t>(GetParam() % 3);
  spec.conn_type = static_cast<std::uint8_t>(1 + GetParam() % 4);
  spec.frames = 240;
  spec.fps = GetParam() % 2 == 0 ? 60 : 0;
  spec.repeat_period = GetParam() % 3 == 0 ? 6 : 0;
  spec.link.latency = Millis(8 + static_cast<int>(GetParam() % 20));
  spec.link.jitter = Millis(5);
  spec.link.loss = 0.05;
  spec.link.reorder = 0.05;
  spec.link.duplicate = 0.02;
  const auto run = run_game(spec);
  ASSERT_TRUE(run.finished) << describe(run);
  const std::uint32_t frames = (spec.frames + spec.conn_type - 1) / spec.conn_type * spec.conn_type;
  // A client's input is gone for good only when more datagrams in a row are lost than its redundancy covers;
  // the relay then plays zeros for each lost input packet and keeps the stream aligned. Each such packet may
  // make one block differ (for every player alike); nothing else may.
  // Likewise a player that missed more of the relay's datagrams in a row than their redundancy covers has
  // messages lost for good (its own window says how many): it may end short; what it verified must be right.
  const std::uint64_t lost_inputs = run.relay.lost_messages;
  for (const auto& r : run.results) {
    EXPECT_LE(r.mismatches, lost_inputs) << describe(run);
    if (r.lost_messages > 0) continue;
    if (lost_inputs == 0) {
      EXPECT_TRUE(r.completed) << describe(run);
    }
    EXPECT_EQ(r.frames_verified + r.blocks_skipped * spec.conn_type + r.mismatches * spec.conn_type, frames)
        << describe(run);
  }
}

// KF_SIM_SEEDS=N runs N seeds instead of 16 (a longer soak by hand).
std::uint64_t seed_count() {
  const char* env = std::getenv("KF_SIM_SEEDS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 16;
}
INSTANTIATE_TEST_SUITE_P(Seeds, SimGameSeeds, ::testing::Range<std::uint64_t>(100, 100 + seed_count()));

// ---------------------------------------------------------------------------------------------------------------
// Relay-core behaviours these simulations found, each reproduced deterministically. A DISABLED_ one still
// fails against the core and waits for its change.

// A client's resend that still carries its seq-0 login (n02 resends its last 5 messages; right after login
// these are the login and the four ACKs) must be a resend request, not a reconnect, even when a second HELLO
// from the same IP is pending (a HELLO duplicated by the network, or retried because HELLOD00D was slow).
TEST(SimRelayCore, ResendRepeatingTheLoginIsNotAReconnect) {
  kaillera::relay::Server relay(relay_config());
  SimNetwork sim(5);
  sim.set_relay(relay);
  maybe_trace(sim);
  struct Agent final : kc::Agent {
    kc::Session session;
    int step = 0;
    bool resend_now = false;
    explicit Agent(kc::SessionOptions o) : session(std::move(o)) {}
    void on_datagram(const kaillera::net::Endpoint& f, kc::Bytes d, kc::TimePoint n, kc::Sink& out) override {
      session.on_datagram(f, d, n, out);
    }
    void on_tick(kc::TimePoint n, kc::Sink& out) override {
      if (step++ == 0) {
        session.connect(n, out);
        session.connect(n, out);  // the network duplicated the HELLO
      }
      if (resend_now) {
        resend_now = false;
        session.request_resend(n, out);
      }
      session.on_tick(n, out);
    }
    bool finished() const override { return session.finished(); }
  };
  kc::SessionOptions o;
  o.server = sim.relay_handshake();
  o.name = "solo";
  Agent a(o);
  sim.add_client(a, LinkParams::clean(Millis(10)));
  ASSERT_TRUE(sim.run_until([&] { return a.session.logged_in(); }, Millis(5000)));
  sim.run_until([] { return false; }, Millis(300));
  a.resend_now = true;  // the last 5 messages: ACKs and the seq-0 login
  sim.run_until([] { return false; }, Millis(1000));
  EXPECT_EQ(a.session.stats().resends, 1u);
  EXPECT_EQ(a.session.state(), kc::SessionState::kLobby) << a.session.error();
  EXPECT_EQ(relay.counters().logins, 1u) << "the resend started a second login";
  EXPECT_EQ(relay.snapshot().users, 1u);
  // The session still works: its chat comes back.
  a.session.chat("still here");
  const bool echoed = sim.run_until(
      [&] {
        for (const auto& e : a.session.events()) {
          if (e.kind == kc::EventKind::kChat && e.text == "still here") return true;
        }
        return false;
      },
      Millis(3000));
  EXPECT_TRUE(echoed);
}

// One lost datagram must not lose any message for good. The relay writes several new messages into one
// datagram (0x0A+0x0E+0x0D+0x0C on create; several game-data blocks when one client datagram completes
// several frames) but repeats only `redundancy` (3) messages in the next one.
TEST(SimRelayCore, OneLostDatagramLosesNoMessageForGood) {
  kaillera::relay::Server relay(relay_config());
  SimNetwork sim(6);
  sim.set_relay(relay);
  maybe_trace(sim);
  kc::PlayerOptions o;
  o.session.server = sim.relay_handshake();
  o.session.emulator = "Emu";
  o.game = "Lost Create";
  o.frames = 60;
  o.session.name = "owner";
  kc::Player owner(o);
  o.session.name = "guest";
  o.role = kc::PlayerOptions::Role::kJoinByName;
  kc::Player guest(o);
  const auto owner_ep = sim.add_client(owner, LinkParams::clean(Millis(10)));
  sim.add_client(guest, LinkParams::clean(Millis(10)));
  bool dropped = false;
  sim.drop_if = [&](const kaillera::net::Endpoint&, const kaillera::net::Endpoint& to,
                    std::span<const std::uint8_t> d) {
    if (dropped || to != owner_ep) return false;
    auto b = kaillera::proto::parse_bundle(d);
    if (!b || b->messages[0].type != 0x0C) return false;  // the datagram that ends with the creator's 0x0C
    dropped = true;
    return true;
  };
  ASSERT_TRUE(sim.run_until([&] { return sim.all_clients_finished(); }, Millis(60000)));
  EXPECT_TRUE(dropped);
  EXPECT_EQ(owner.session().stats().lost, 0u) << "messages lost for good after one lost datagram";
  EXPECT_TRUE(owner.result().completed) << describe(owner.result());
}

// A resend (the answer to a client's duplicate-only datagram) must repeat everything the last datagrams
// carried. Here the relay fans out six blocks in one datagram (the client's six packets of its delay window
// arrived together); that datagram is lost, the client stalls (its window is full) and asks for a resend a
// second later. A resend of only the newest 5 messages loses the oldest block for good, and with the 0x13
// cache every later cached block then resolves to the wrong entry.
TEST(SimRelayCore, ResendRepeatsAWholeLostFanOut) {
  kaillera::relay::Server relay(relay_config());
  SimNetwork sim(9);
  sim.set_relay(relay);
  maybe_trace(sim);
  kc::PlayerOptions o;
  o.session.server = sim.relay_handshake();
  o.session.emulator = "Emu";
  o.game = "Lost Fan-out";
  o.frames = 120;
  o.repeat_period = 6;
  o.session.name = "owner";
  kc::Player owner(o);
  o.session.name = "guest";
  o.role = kc::PlayerOptions::Role::kJoinByName;
  kc::Player guest(o);
  sim.add_client(owner, LinkParams::clean(Millis(40)));
  const auto guest_ep = sim.add_client(guest, LinkParams::clean(Millis(40)));
  bool dropped = false;
  std::optional<std::uint16_t> newest_sent;
  sim.drop_if = [&](const kaillera::net::Endpoint&, const kaillera::net::Endpoint& to,
                    std::span<const std::uint8_t> d) {
    if (to != guest_ep) return false;
    auto b = kaillera::proto::parse_bundle(d);
    if (!b) return false;
    const std::uint16_t newest = b->messages[0].seq;
    const auto fresh = newest_sent ? static_cast<std::uint16_t>(newest - *newest_sent) : 0;
    if (!newest_sent || (fresh != 0 && fresh < 0x8000)) newest_sent = newest;
    const bool data = b->messages[0].type == 0x12 || b->messages[0].type == 0x13;
    if (dropped || !data || fresh < 6 || fresh >= 0x8000) return false;
    dropped = true;
    return true;
  };
  ASSERT_TRUE(sim.run_until([&] { return sim.all_clients_finished(); }, Millis(60000)));
  ASSERT_TRUE(dropped) << "no datagram with six new blocks to drop";
  EXPECT_EQ(guest.session().stats().lost, 0u) << "blocks lost for good after a resend";
  EXPECT_TRUE(guest.result().completed) << describe(guest.result());
  EXPECT_EQ(guest.result().mismatches, 0u) << describe(guest.result());
}

// ---------------------------------------------------------------------------------------------------------------
// The matrix of the relay issue: 2, 3, 4 and 8 players at every connection type, 3,000 frames each, over
// links with 0-20 % loss, duplication, reordering and 0-250 ms latency with jitter (each player its own
// link). Every player must receive every block, and every block must carry every player's input of its
// frames: the relay waits for holes in a client's seqs until the client's own resend fills them (gap_wait),
// so loss costs time, not input. Only input the relay reports as given up (lost_messages, lost_cache_refs)
// may show as zeros.

struct MatrixCase {
  std::uint32_t players;
  std::uint8_t conn_type;
};

class SimMatrix : public ::testing::TestWithParam<MatrixCase> {};

void run_matrix_case(const MatrixCase& c, double worst_loss) {
  GameSpec spec;
  spec.seed = 7000 + c.players * 10 + c.conn_type;
  spec.players = c.players;
  spec.conn_type = c.conn_type;
  spec.frames = 3000;
  spec.fps = 60;
  spec.repeat_period = c.conn_type % 2 ? 0 : 30;  // half the cases exercise the 0x13 caches
  spec.limit = Millis(600000);
  const double losses[] = {0.0, worst_loss / 4, worst_loss / 2, worst_loss};
  for (std::uint32_t i = 0; i < c.players; ++i) {
    LinkParams l;
    l.latency = Millis(static_cast<int>((i * 83 + c.conn_type * 37) % 250));
    l.jitter = Millis(static_cast<int>(5 + i * 3));
    l.loss = losses[(i + c.conn_type) % 4];
    l.duplicate = 0.02;
    l.reorder = 0.05;
    l.reorder_delay = Millis(15);
    spec.links.push_back(l);
  }
  const auto run = run_game(spec);
  ASSERT_TRUE(run.finished) << describe(run);
  const std::uint32_t frames = (spec.frames + spec.conn_type - 1) / spec.conn_type * spec.conn_type;
  // Input the relay could not know: client messages lost for good, and cached inputs naming one of them.
  const std::uint64_t given_up = run.relay.lost_messages + run.relay.lost_cache_refs;
  for (const auto& r : run.results) {
    EXPECT_TRUE(r.started) << describe(run);
    EXPECT_LE(r.mismatches, given_up) << describe(run);
    if (r.lost_messages > 0) continue;  // this client itself missed relay datagrams beyond their redundancy
    EXPECT_EQ(r.frames_verified + r.blocks_skipped * spec.conn_type + r.mismatches * spec.conn_type, frames)
        << describe(run);
    if (given_up == 0) {
      EXPECT_EQ(r.frames_verified, frames) << describe(run);
    }
  }
}

TEST_P(SimMatrix, ThreeThousandFramesOverLinksWithUpTo10PercentLoss) {
  run_matrix_case(GetParam(), 0.10);
}

std::vector<MatrixCase> matrix_cases() {
  std::vector<MatrixCase> v;
  for (std::uint32_t players : {2u, 3u, 4u, 8u}) {
    for (std::uint8_t conn = 1; conn <= 6; ++conn)
      v.push_back({players, conn});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(PlayersByConnType, SimMatrix, ::testing::ValuesIn(matrix_cases()),
                         [](const ::testing::TestParamInfo<MatrixCase>& i) {
                           return std::to_string(i.param.players) + "p_conn" +
                                  std::to_string(i.param.conn_type);
                         });

// The same at up to 20 % loss. There a client's datagrams are lost three and four in a row often enough that,
// with the large frame delays such links measure (up to 71 frames in flight, more than n02's resend of its
// last 5), some input is lost for good: the relay plays zeros for it, keeps the player's stream aligned, and
// keeps its mirror of the client's cache aligned too (an unknown entry per lost 0x12), so only that input is
// lost.
class SimMatrixLoss20 : public ::testing::TestWithParam<MatrixCase> {};
TEST_P(SimMatrixLoss20, ThreeThousandFramesOverLinksWithUpTo20PercentLoss) {
  run_matrix_case(GetParam(), 0.20);
}
INSTANTIATE_TEST_SUITE_P(PlayersByConnType, SimMatrixLoss20, ::testing::ValuesIn(matrix_cases()),
                         [](const ::testing::TestParamInfo<MatrixCase>& i) {
                           return std::to_string(i.param.players) + "p_conn" +
                                  std::to_string(i.param.conn_type);
                         });
