// Moderation with the real kaillera-relay binary on loopback (docs/OPERATING.md "Running a community"): the
// access file, the SQLite state file across restarts and a kill -9, SIGHUP reloads during a game, silences,
// /p2pon and the audit log. Clients bind to different 127.0.0.x addresses so that bans of an address or a
// range can be told apart on one machine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "client/player.hpp"
#include "client/udp_driver.hpp"
#include "tests/integration/live_client.hpp"
#include "tests/integration/servers.hpp"

namespace {

using namespace kf_test;
using namespace std::chrono_literals;

class RelayModeration : public ::testing::Test {
 protected:
  RelayModeration() {
    write(access_, R"(
[[user]]
level = "owner"
addresses = ["127.0.0.1"]
label = "the test's owner"
announce = "The owner is here"

[[user]]
level = "moderator"
addresses = ["127.0.0.9"]
)");
  }

  static void write(const std::filesystem::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::trunc);
    out << text;
  }

  RunningRelay start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--access-file", access_.string(), "--state-db",
                                     db_.string(),    "--audit-log",    audit_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    RunningRelay r = start_relay(dir_, std::to_string(++started_), args);
    if (r.handshake_port == 0) ADD_FAILURE() << "the relay did not become ready; log:\n" << r.process->log();
    return r;
  }

  static bool stop(RunningRelay& r) {
    r.process->signal(SIGTERM);
    return r.process->wait_exit(5s) == 0;
  }

  // The audit log's lines as JSON objects.
  std::vector<nlohmann::json> audit_lines() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(audit_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  TempDir dir_;
  std::filesystem::path access_ = dir_ / "access.toml";
  std::filesystem::path db_ = dir_ / "relay.db";
  std::filesystem::path audit_ = dir_ / "audit.log";
  int started_ = 0;
};

std::string rejection(const LiveClient& c) {
  for (const auto& e : c.events()) {
    if (e.kind == kc::EventKind::kRejected) return e.text;
  }
  return {};
}

TEST_F(RelayModeration, ABanSurvivesARestartAndUnbanLiftsIt) {
  std::uint64_t ban_id = 0;
  {
    RunningRelay r = start();
    ASSERT_NE(r.handshake_port, 0);
    LiveClient owner(r.handshake_port, "owner", loopback_ip(1));
    LiveClient bob(r.handshake_port, "bob", loopback_ip(2));
    ASSERT_TRUE(owner.login()) << r.process->log();
    ASSERT_TRUE(bob.login()) << r.process->log();
    owner.chat("/ban " + std::to_string(bob.id()) + " perm spamming the lobby");
    const long saved = owner.wait_text("saved: 127.0.0.2 (bob) permanently");
    ASSERT_GE(saved, 0) << r.process->log();
    ban_id = std::stoull(owner.events()[static_cast<std::size_t>(saved)].text.substr(5));  // "Ban #12 saved"
    EXPECT_GE(bob.wait_text("Banned: spamming the lobby"), 0);
    EXPECT_TRUE(stop(r));
  }
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient again(r.handshake_port, "bob2", loopback_ip(2));
  EXPECT_FALSE(again.login());
  EXPECT_EQ(rejection(again), "Banned (permanent, by owner: spamming the lobby)");
  LiveClient owner(r.handshake_port, "owner", loopback_ip(1));
  ASSERT_TRUE(owner.login());
  owner.chat("/unban #" + std::to_string(ban_id));
  EXPECT_GE(owner.wait_text("Ban #" + std::to_string(ban_id) + " lifted"), 0) << r.process->log();
  LiveClient back(r.handshake_port, "bob", loopback_ip(2));
  EXPECT_TRUE(back.login()) << rejection(back);
}

TEST_F(RelayModeration, ACidrBanRefusesAnotherAddressOfTheRange) {
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient owner(r.handshake_port, "owner", loopback_ip(1));
  ASSERT_TRUE(owner.login());
  owner.chat("/ban 127.0.0.16/28 60 a whole range");
  ASSERT_GE(owner.wait_text("saved: 127.0.0.16/28 for 60 min"), 0) << r.process->log();
  LiveClient inside(r.handshake_port, "carol", loopback_ip(20));  // 127.0.0.20 is in 127.0.0.16/28
  EXPECT_FALSE(inside.login());
  EXPECT_NE(rejection(inside).find("Banned (60 min left, by owner: a whole range)"), std::string::npos)
      << rejection(inside);
  LiveClient outside(r.handshake_port, "dave", loopback_ip(40));
  EXPECT_TRUE(outside.login()) << rejection(outside);
}

TEST_F(RelayModeration, ASilencedUsersChatReachesNobody) {
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient mod(r.handshake_port, "mod", loopback_ip(9));
  LiveClient loud(r.handshake_port, "loud", loopback_ip(3));
  LiveClient reader(r.handshake_port, "reader", loopback_ip(4));
  ASSERT_TRUE(mod.login());
  ASSERT_TRUE(loud.login());
  ASSERT_TRUE(reader.login());
  mod.chat("/silence " + std::to_string(loud.id()) + " 10 calm down");
  ASSERT_GE(mod.wait_text("Silence #"), 0) << r.process->log();
  loud.chat("SILENCED WORDS");
  ASSERT_GE(loud.wait_text("Chat denied: you are silenced"), 0);
  // The marker is sent after the relay answered the silenced chat: had that chat gone out, the reader would
  // have it before the marker.
  mod.chat("marker after");
  ASSERT_GE(reader.wait_text("marker after"), 0);
  EXPECT_LT(reader.find_text("SILENCED WORDS"), 0);
  EXPECT_LT(mod.find_text("SILENCED WORDS"), 0);
}

TEST_F(RelayModeration, P2pOnStopsLobbyTrafficDuringAGame) {
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient quiet(r.handshake_port, "quiet", loopback_ip(5));
  LiveClient friend_(r.handshake_port, "friend", loopback_ip(6));
  LiveClient lobby(r.handshake_port, "lobby", loopback_ip(7));
  ASSERT_TRUE(quiet.login());
  ASSERT_TRUE(friend_.login());
  ASSERT_TRUE(lobby.login());
  quiet.create_game("Quiet Game");
  ASSERT_TRUE(quiet.wait([&] { return quiet.session().game_id().has_value(); }));
  const std::uint32_t game = *quiet.session().game_id();
  friend_.join_game(game);
  ASSERT_TRUE(friend_.wait([&] { return friend_.session().game_id().has_value(); }));
  quiet.chat("/p2pon");
  ASSERT_GE(quiet.wait_text("P2P mode on"), 0);
  quiet.start_game();
  ASSERT_TRUE(quiet.wait([&] { return quiet.session().state() == kc::SessionState::kNetsync; }));
  ASSERT_TRUE(friend_.wait([&] { return friend_.session().state() == kc::SessionState::kNetsync; }));
  quiet.ready();
  friend_.ready();
  ASSERT_TRUE(quiet.wait([&] { return quiet.session().state() == kc::SessionState::kPlaying; }));
  ASSERT_TRUE(friend_.wait([&] { return friend_.session().state() == kc::SessionState::kPlaying; }));
  const std::size_t from = quiet.events().size();
  lobby.chat("lobby news");
  ASSERT_GE(friend_.wait_text("lobby news"), 0);  // the other player, without p2p, gets it
  LiveClient late(r.handshake_port, "latecomer", loopback_ip(8));
  ASSERT_TRUE(late.login());
  ASSERT_TRUE(friend_.wait([&] {
    for (const auto& e : friend_.events())
      if (e.kind == kc::EventKind::kUserJoined && e.user == "latecomer") return true;
    return false;
  }));
  // Room traffic still reaches the quiet player, and it comes after anything the relay sent before it.
  friend_.game_chat("room marker");
  ASSERT_GE(quiet.wait_text("room marker", from), 0);
  EXPECT_LT(quiet.find_text("lobby news", from), 0);
  for (std::size_t i = from; i < quiet.events().size(); ++i) {
    EXPECT_FALSE(quiet.events()[i].kind == kc::EventKind::kUserJoined &&
                 quiet.events()[i].user == "latecomer");
  }
}

TEST_F(RelayModeration, SighupReloadChangesLevelsWithoutDroppingAGameInProgress) {
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient carol(r.handshake_port, "carol", loopback_ip(3));
  ASSERT_TRUE(carol.login());
  // A game of 600 frames at 60 fps (10 s) on its own thread.
  auto player = [&](std::string name, bool create) {
    kc::PlayerOptions o;
    o.session.server = {loopback_ip(1), r.handshake_port};
    o.session.name = std::move(name);
    o.session.emulator = "Reload Emu";
    o.role = create ? kc::PlayerOptions::Role::kCreate : kc::PlayerOptions::Role::kJoinByName;
    o.game = "Reload Game";
    o.players = 2;
    o.frames = 600;
    o.fps = 60;
    return o;
  };
  kc::Player a(player("p1", true)), b(player("p2", false));
  kc::DriverOptions d;
  d.deadline = 60s;
  kc::UdpDriver driver(d);
  ASSERT_EQ(driver.add(a), "");
  ASSERT_EQ(driver.add(b), "");
  kc::DriverResult result;
  std::thread game([&] { result = driver.run(); });
  const bool playing =
      poll_until([&] { return metric(r.metrics_port, "kaillera_relay_playing_games") == 1; }, 20s);
  EXPECT_TRUE(playing);
  // carol becomes a moderator by the new file; a bad file afterwards is refused and changes nothing.
  write(access_, "[[user]]\nlevel = \"moderator\"\naddresses = [\"127.0.0.3\"]\n");
  ::kill(r.process->pid(), SIGHUP);
  EXPECT_GE(carol.wait_text("Your level on this relay is now moderator"), 0) << r.process->log();
  write(access_, "[[user]]\nlevel = \"wizard\"\naddresses = [\"127.0.0.3\"]\n");
  ::kill(r.process->pid(), SIGHUP);
  EXPECT_TRUE(
      poll_until([&] { return r.process->log().find("access file refused") != std::string::npos; }, 5s))
      << r.process->log();
  game.join();
  EXPECT_FALSE(result.timed_out);
  EXPECT_TRUE(a.result().completed) << a.result().phase;
  EXPECT_TRUE(b.result().completed) << b.result().phase;
  EXPECT_EQ(a.result().mismatches, 0u);
  EXPECT_EQ(metric(r.metrics_port, "kaillera_relay_desyncs_total"), 0);
  carol.chat("/help");
  EXPECT_GE(carol.wait_text("/silence"), 0);  // still a moderator: the bad file changed nothing
}

TEST_F(RelayModeration, TheAuditLogAnswersWhoDidWhatFromWhere) {
  write(dir_ / "relay.toml", "audit_chat = true\n");
  RunningRelay r = start({"--config", (dir_ / "relay.toml").string()});
  ASSERT_NE(r.handshake_port, 0);
  LiveClient owner(r.handshake_port, "owner", loopback_ip(1));
  LiveClient eve(r.handshake_port, "eve", loopback_ip(12));
  ASSERT_TRUE(owner.login());
  ASSERT_TRUE(eve.login());
  eve.chat("hello all");
  ASSERT_GE(owner.wait_text("hello all"), 0);
  owner.chat("/ban " + std::to_string(eve.id()) + " 30 rude");
  ASSERT_GE(owner.wait_text("saved"), 0);
  LiveClient eve2(r.handshake_port, "eve", loopback_ip(12));
  EXPECT_FALSE(eve2.login());
  EXPECT_TRUE(stop(r));

  const auto lines = audit_lines();
  auto find = [&](const std::function<bool(const nlohmann::json&)>& f) -> const nlohmann::json* {
    for (const auto& j : lines)
      if (f(j)) return &j;
    return nullptr;
  };
  const auto* login = find([](const auto& j) { return j["event"] == "login" && j["name"] == "eve"; });
  ASSERT_NE(login, nullptr);
  EXPECT_EQ((*login)["ip"], "127.0.0.12");
  EXPECT_EQ((*login)["conn_name"], "LAN");
  EXPECT_EQ((*login)["emulator"], "MAME32k 0.64");
  EXPECT_TRUE((*login)["ping_ms"].is_number());
  {
    std::ifstream in(audit_);  // every line starts with its time, then the event (field order is kept)
    for (std::string line; std::getline(in, line);)
      EXPECT_EQ(line.rfind("{\"ts\":\"20", 0), 0u) << line;
  }
  EXPECT_NE(read_file(audit_).find("\"event\":\"login\",\"user_id\":"), std::string::npos);
  const auto* chat = find([](const auto& j) { return j["event"] == "chat"; });
  ASSERT_NE(chat, nullptr);
  EXPECT_EQ((*chat)["text"], "hello all");
  const auto* ban = find([](const auto& j) { return j["event"] == "staff" && j["action"] == "ban"; });
  ASSERT_NE(ban, nullptr);
  EXPECT_EQ((*ban)["issuer"], "owner");
  EXPECT_EQ((*ban)["issuer_ip"], "127.0.0.1");
  EXPECT_EQ((*ban)["target"], "eve");
  EXPECT_EQ((*ban)["range"], "127.0.0.12");
  EXPECT_EQ((*ban)["minutes"], 30);
  EXPECT_EQ((*ban)["reason"], "rude");
  const auto* out = find([](const auto& j) { return j["event"] == "logout" && j["name"] == "eve"; });
  ASSERT_NE(out, nullptr);
  EXPECT_EQ((*out)["reason"], "Banned: rude");
  const auto* refused = find([](const auto& j) { return j["event"] == "login_refused"; });
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ((*refused)["ip"], "127.0.0.12");
  EXPECT_NE((*refused)["reason"].get<std::string>().find("Banned"), std::string::npos);
}

TEST_F(RelayModeration, KillDashNineDuringABurstOfBansLeavesAnIntactStateFile) {
  RunningRelay r = start();
  ASSERT_NE(r.handshake_port, 0);
  LiveClient owner(r.handshake_port, "owner", loopback_ip(1));
  ASSERT_TRUE(owner.login());
  // 300 bans of ranges nobody uses (no traffic goes there), as fast as the owner can type them.
  for (int i = 0; i < 300; ++i)
    owner.chat("/ban 127." + std::to_string(100 + i / 250) + "." + std::to_string(i % 250) +
               ".0/24 perm burst");
  std::set<std::uint64_t> acked;
  auto count_acks = [&] {
    for (const auto& e : owner.events()) {
      if (e.text.rfind("Ban #", 0) == 0 && e.text.find(" saved: ") != std::string::npos)
        acked.insert(std::stoull(e.text.substr(5)));
    }
    return acked.size();
  };
  ASSERT_TRUE(owner.wait([&] { return count_acks() >= 20; }, 10s)) << r.process->log();
  ::kill(r.process->pid(), SIGKILL);
  r.process->wait_exit(5s);
  count_acks();  // whatever else arrived before the kill
  owner.pump(100ms);
  count_acks();
  ASSERT_GE(acked.size(), 20u);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto text = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  };
  EXPECT_EQ(text("PRAGMA integrity_check"), "ok");
  std::set<std::uint64_t> stored;
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id FROM bans", -1, &st, nullptr), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    stored.insert(static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  for (std::uint64_t id : acked)
    EXPECT_TRUE(stored.count(id)) << "ban #" << id << " was acknowledged but is not in the state file";
  // And the relay starts again on that file.
  RunningRelay again = start();
  EXPECT_NE(again.handshake_port, 0);
}

}  // namespace
