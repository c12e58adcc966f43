// The whole system on loopback: a real kaillera-master with its SQLite file, a real kaillera-relay registered
// to it with an operator token, and players on the relay. The relay's numbers reach every list format; a
// stopped relay goes offline and leaves the public list.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "client/player.hpp"
#include "client/udp_driver.hpp"
#include "tests/integration/live_client.hpp"
#include "tests/integration/servers.hpp"

using namespace kf_test;
namespace kc = kaillera::client;

namespace {

struct RunningMaster {
  std::unique_ptr<Process> process;
  std::uint16_t grpc_port = 0, http_port = 0;
};

RunningMaster start_master(const TempDir& dir, const std::string& db) {
  RunningMaster m;
  const auto ready = dir / "master.json";
  m.process = std::make_unique<Process>(
      KF_MASTER_BIN,
      std::vector<std::string>{"--db", db, "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--check-bind",
                               "127.0.0.1:0", "--report-interval-ms", "200", "--ready-file", ready.string()},
      dir / "master.log");
  poll_until([&] { return std::filesystem::exists(ready) || m.process->poll_exit().has_value(); }, 10s);
  if (!std::filesystem::exists(ready)) return m;
  poll_until([&] { return !read_file(ready).empty() && read_file(ready).back() == '\n'; }, 2s);
  const auto j = nlohmann::json::parse(read_file(ready));
  m.grpc_port = j.at("grpc_port").get<std::uint16_t>();
  m.http_port = j.at("http_port").get<std::uint16_t>();
  return m;
}

std::string issue_token(const TempDir& dir, const std::string& db) {
  Process add(KF_MASTER_BIN, {"relay", "add", "System relay", "--db", db}, dir / "token.log");
  if (add.wait_exit(10s) != 0) return {};
  std::smatch m;
  const std::string out = add.log();
  return std::regex_search(out, m, std::regex("kf_[0-9a-f]+")) ? m.str() : std::string();
}

nlohmann::json relay_entry(std::uint16_t http_port) {
  const auto res = http_get(http_port, "/api/v1/relays");
  if (res.status != 200) return {};
  const auto all = nlohmann::json::parse(res.body, nullptr, false);
  if (all.is_discarded() || !all.contains("relays") || all["relays"].empty()) return {};
  return all["relays"][0];
}

// Two scripted players on the relay (client/player.hpp): `o` makes the owner's room, the guest joins it by
// name; `guest` adjusts the guest's options. start() runs them on their own thread until the deadline.
struct TwoPlayers {
  TwoPlayers(kc::PlayerOptions o, const std::string& owner_name, const std::string& guest_name,
             kc::Millis deadline, const std::function<void(kc::PlayerOptions&)>& guest_options = {})
      : owner(named(o, owner_name)), guest(joining(o, guest_name, guest_options)), driver(until(deadline)) {}
  std::string start() {
    for (kc::Player* p : {&owner, &guest}) {
      if (std::string e = driver.add(*p); !e.empty()) return e;
    }
    play = std::jthread([this] { driver.run(); });
    return {};
  }
  void join() { play.join(); }

  kc::Player owner, guest;
  kc::UdpDriver driver;
  std::jthread play;

 private:
  static kc::PlayerOptions named(kc::PlayerOptions o, const std::string& name) {
    o.session.name = name;
    return o;
  }
  static kc::PlayerOptions joining(kc::PlayerOptions o, const std::string& name,
                                   const std::function<void(kc::PlayerOptions&)>& adjust) {
    o.session.name = name;
    o.role = kc::PlayerOptions::Role::kJoinByName;
    o.room_chat.clear();
    if (adjust) adjust(o);
    return o;
  }
  static kc::DriverOptions until(kc::Millis deadline) {
    kc::DriverOptions d;
    d.deadline = deadline;
    return d;
  }
};

kc::PlayerOptions game_on(std::uint16_t handshake_port, std::string game) {
  kc::PlayerOptions o;
  o.session.server = {0x7F000001, handshake_port};
  o.session.emulator = "MAME32k 0.64";
  o.game = std::move(game);
  return o;
}

// A master with its SQLite file and one relay registered to it with an operator token.
class System : public ::testing::Test {
 protected:
  void start(const std::string& tag, std::vector<std::string> relay_args) {
    const std::string db = (dir / "master.db").string();
    const std::string token = issue_token(dir, db);
    ASSERT_FALSE(token.empty());
    master = start_master(dir, db);
    ASSERT_NE(master.http_port, 0) << master.process->log();
    relay_args.insert(relay_args.end(), {"--master", "127.0.0.1:" + std::to_string(master.grpc_port),
                                         "--token", token, "--public-address", "127.0.0.1"});
    relay = start_relay(dir, tag, relay_args);
    ASSERT_NE(relay.handshake_port, 0) << relay.process->log();
  }
  void wait_online() {
    ASSERT_TRUE(poll_until(
        [&] {
          const auto e = relay_entry(master.http_port);
          return e.is_object() && e.value("online", false);
        },
        6s))
        << master.process->log();
  }
  void stop_relay() {
    relay.process->signal(SIGTERM);
    EXPECT_EQ(relay.process->wait_exit(10s), 0);
  }

  TempDir dir;
  RunningMaster master;
  RunningRelay relay;
};

}  // namespace

TEST_F(System, RelayReportsToMasterAndEveryListShowsIt) {
  // The relay's name as configured (UTF-8 "Süd"); the relay speaks its charset, Windows-1252.
  start("system", {"--name",
                   "S\xc3\xbc"
                   "d relay",
                   "--location", "Loopback"});
  if (HasFatalFailure()) return;

  // Two players in a waiting room of up to three (the third never comes).
  kc::PlayerOptions o = game_on(relay.handshake_port, "Street Fighter II");
  o.players = 3;
  o.room_wait = kc::Millis(6000);
  TwoPlayers players(o, "ryu", "ken", kc::Millis(8000));
  ASSERT_EQ(players.start(), "");

  nlohmann::json entry;
  const bool seen = poll_until(
      [&] {
        entry = relay_entry(master.http_port);
        return !entry.is_null() && entry.value("users", 0) == 2 && entry.value("waiting_games", 0) == 1;
      },
      6s);
  EXPECT_TRUE(seen) << entry.dump() << "\n" << master.process->log();
  EXPECT_EQ(entry.value("name", ""), "Süd relay");  // UTF-8 in JSON
  EXPECT_EQ(entry.value("online", false), true);
  EXPECT_EQ(entry.value("port", 0), relay.handshake_port);
  const std::string raw = http_get(master.http_port, "/raw_server_list.php").body;
  EXPECT_NE(raw.find("S\xfc"
                     "d relay"),
            std::string::npos)
      << raw;  // the classic format passes the bytes through
  EXPECT_NE(raw.find("127.0.0.1:" + std::to_string(relay.handshake_port) + ";2/"), std::string::npos) << raw;
  const std::string games = http_get(master.http_port, "/game_list.php").body;
  EXPECT_NE(games.find("Street Fighter II"), std::string::npos) << games;
  EXPECT_NE(games.find("ryu"), std::string::npos) << games;
  players.join();

  // The relay stops: within three report intervals it is offline and off the public list.
  relay.process->signal(SIGTERM);
  EXPECT_EQ(relay.process->wait_exit(10s), 0);
  const bool offline = poll_until(
      [&] {
        entry = relay_entry(master.http_port);
        return !entry.is_null() && entry.value("online", true) == false;
      },
      5s);
  EXPECT_TRUE(offline) << entry.dump();
  EXPECT_EQ(
      http_get(master.http_port, "/raw_server_list.php").body.find(std::to_string(relay.handshake_port)),
      std::string::npos);
}

// Issue 18: a game being played reaches the master with its lag. One player's emulator runs at 30 frames a
// second against the relay's 60 fps clock, so the game loses about half of its time, all of it to that
// player: the room is marked laggy once it has played the 10 s a mark needs.
TEST_F(System, APlayingGamesLagReachesTheMasterWithItsMark) {
  start("lag", {"--name", "Lag relay"});
  if (HasFatalFailure()) return;
  kc::PlayerOptions o = game_on(relay.handshake_port, "Street Fighter II");
  o.frames = 420;  // 14 s at 30 fps
  o.fps = 30;
  TwoPlayers players(o, "slow", "fast", kc::Millis(40000),
                     [](kc::PlayerOptions& g) { g.fps = 0; });  // as fast as lock-step allows
  ASSERT_EQ(players.start(), "");

  nlohmann::json game;
  const bool marked = poll_until(
      [&] {
        const auto res = http_get(master.http_port, "/api/v1/games");
        const auto all = nlohmann::json::parse(res.body, nullptr, false);
        if (all.is_discarded() || !all.contains("playing") || all["playing"].empty()) return false;
        game = all["playing"][0];
        return game.value("window_ms", 0) >= 10000;
      },
      30s);
  ASSERT_TRUE(marked) << game.dump() << "\n" << master.process->log();
  EXPECT_EQ(game.value("rom", ""), "Street Fighter II");
  EXPECT_EQ(game.value("players", 0), 2);
  const double window = game.value("window_ms", 0), wait = game.value("wait_ms", 0);
  // Half the time by construction; a loaded machine slows the fast player too, which only adds to it.
  EXPECT_GE(wait, 0.35 * window) << game.dump();
  EXPECT_LE(wait, window) << game.dump();
  EXPECT_GE(game.value("worst_player_wait_ms", 0), 0.9 * wait) << game.dump();  // the slow player's
  EXPECT_EQ(game.value("lag", ""), "laggy") << game.dump();
  nlohmann::json entry = relay_entry(master.http_port);
  EXPECT_EQ(entry["lag"], "laggy") << entry.dump();
  players.join();
  EXPECT_TRUE(players.owner.result().completed) << players.owner.result().phase;
  EXPECT_TRUE(players.guest.result().completed) << players.guest.result().phase;
}

// Issue 14: a relay held busy (its operator knob, refuse_new_load, set by SIGHUP while a game plays) refuses
// a new player at the handshake, lets the running game finish bit-exact, and the master shows it busy and
// leaves it out of a pick.
TEST_F(System, ABusyRelayRefusesNewLoadFinishesItsGameAndIsLeftOutOfPicks) {
  const auto config = dir / "relay.toml";
  { std::ofstream(config) << "name = \"Busy relay\"\n"; }
  start("busy", {"--config", config.string()});
  if (HasFatalFailure()) return;
  wait_online();
  kc::PlayerOptions o = game_on(relay.handshake_port, "Street Fighter II");
  o.frames = 480;  // 8 s at 60 fps
  o.fps = 60;
  TwoPlayers players(o, "ryu", "ken", kc::Millis(40000));
  ASSERT_EQ(players.start(), "");
  ASSERT_TRUE(
      poll_until([&] { return metric(relay.metrics_port, "kaillera_relay_playing_games") == 1; }, 20s));

  { std::ofstream(config, std::ios::app) << "refuse_new_load = true\n"; }
  ::kill(relay.process->pid(), SIGHUP);
  nlohmann::json entry;
  ASSERT_TRUE(poll_until(
      [&] {
        entry = relay_entry(master.http_port);
        return entry.is_object() && entry.value("busy", false);
      },
      10s))
      << entry.dump() << "\n"
      << relay.process->log();
  EXPECT_EQ(entry["headroom"]["cause"], "forced");
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_refusing_new_load"), 1);

  // A new player: TOO, which clients show as a full server.
  LiveClient late(relay.handshake_port, "late", kf_test::loopback_ip(7));
  ASSERT_EQ(late.socket_error(), "");
  EXPECT_FALSE(late.login(5s));
  EXPECT_NE(late.session().error().find("TOO"), std::string::npos) << late.session().error();

  // The pick leaves it out, with the reason.
  const std::string body = R"({"players": ["127.0.0.1"], "deadline_ms": 200})";
  const auto pick = http_exchange(master.http_port,
                                  "POST /api/v1/pick HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Content-Type: application/json\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_EQ(pick.status, 200) << pick.body;
  const auto answer = nlohmann::json::parse(pick.body);
  EXPECT_TRUE(answer["ranking"].empty()) << pick.body;
  ASSERT_EQ(answer["excluded"].size(), 1u) << pick.body;
  EXPECT_EQ(answer["excluded"][0]["reason"], "busy");

  // The game already playing finishes, every frame as lock-step must give it.
  players.join();
  for (const kc::Player* p : {&players.owner, &players.guest}) {
    EXPECT_TRUE(p->result().completed) << p->result().phase;
    EXPECT_EQ(p->result().mismatches, 0u);
  }
  EXPECT_EQ(metric(relay.metrics_port, "kaillera_relay_refused_total{reason=\"busy_hello\"}"), 1);
}

// "/fair" in a room: the relay asks the master's PickRelay for the room's players and answers in the room's
// chat. The players are on loopback, so the relay measured them at 0 hops when they logged in, and as the
// only relay it is the pick ("(this relay)"). The same players through POST /api/v1/pick give the same relay.
TEST_F(System, FairInARoomAsksTheMasterAndAnswersInTheRoom) {
  start("fair", {"--name", "Fair relay"});
  if (HasFatalFailure()) return;
  wait_online();
  if (HasFatalFailure()) return;

  kc::PlayerOptions o = game_on(relay.handshake_port, "Cadillacs and Dinosaurs");
  o.players = 3;  // nobody starts: the room stays open while /fair is answered
  o.room_wait = kc::Millis(5000);
  o.room_chat = {"/fair"};
  o.room_chat_players = 2;
  TwoPlayers players(o, "mustapha", "hannah", kc::Millis(7000));
  ASSERT_EQ(players.start(), "");
  players.join();

  std::vector<std::string> said;
  for (const auto& e : players.guest.log())
    if (e.kind == kc::EventKind::kGameChat) said.push_back(e.text);
  const auto find = [&](const std::string& needle) {
    for (const auto& t : said)
      if (t.find(needle) != std::string::npos) return true;
    return false;
  };
  std::string all;
  for (const auto& t : said)
    all += t + "\n";
  EXPECT_TRUE(find("Asking the master")) << all;
  EXPECT_TRUE(find("Fairest relay: Fair relay 127.0.0.1:" + std::to_string(relay.handshake_port))) << all;
  EXPECT_TRUE(find("(this relay)")) << all;
  // Both players share 127.0.0.1: one player to the master, both names on its line.
  EXPECT_TRUE(find("mustapha, hannah: 0 hops")) << all;

  const std::string body = R"({"players": ["127.0.0.1"]})";
  const auto res = http_exchange(master.http_port,
                                 "POST /api/v1/pick HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Content-Type: application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_EQ(res.status, 200) << res.body;
  const auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["best"]["relay"]["name"], "Fair relay");
  EXPECT_EQ(j["best"]["players"][0]["hops"], 0);
  stop_relay();
}

// A Japanese relay: its name configured in UTF-8 with charset shift_jis reaches the master as Shift_JIS bytes
// plus the charset; the classic list serves those bytes as they came, the JSON API the right characters.
TEST_F(System, AShiftJisRelayNameRoundTrips) {
  const std::string utf8 = "\xe6\x9d\xb1\xe4\xba\xac\xe3\x83\xaa\xe3\x83\xac\xe3\x83\xbc";  // 東京リレー
  const std::string sjis = "\x93\x8c\x8b\x9e\x83\x8a\x83\x8c\x81\x5b";  // the same, Shift_JIS
  start("sjis", {"--name", utf8, "--charset", "shift_jis"});
  if (HasFatalFailure()) return;
  nlohmann::json entry;
  ASSERT_TRUE(poll_until(
      [&] {
        entry = relay_entry(master.http_port);
        return entry.is_object() && entry.value("online", false);
      },
      6s))
      << master.process->log();
  EXPECT_EQ(entry.value("name", ""), utf8);
  EXPECT_EQ(entry.value("charset", ""), "shift_jis");
  const std::string raw = http_get(master.http_port, "/raw_server_list2.php").body;
  EXPECT_NE(raw.find(sjis + "\r\n127.0.0.1:" + std::to_string(relay.handshake_port) + ";"), std::string::npos)
      << raw;
  stop_relay();
}
