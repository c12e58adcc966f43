// The relay core driven directly: handshake, login, lobby, rooms, lock-step data, timeouts, commands.
// Expected values come from KAILLERA.md (message order, fan-out, formulas), not from the code under test.
#include <gtest/gtest.h>

#include <random>

#include "common/kaillera/conn_type.hpp"
#include "common/kaillera/game_cache.hpp"
#include "tests/unit/relay_harness.hpp"

using namespace kf_test;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<std::uint8_t> out;
  for (int x : v)
    out.push_back(static_cast<std::uint8_t>(x));
  return out;
}

// Two logged-in players, A owner of a started, running game.
struct TwoPlayers {
  explicit TwoPlayers(r::Config c = {}, std::uint8_t conn = 1) : h(std::move(c)) {
    EXPECT_TRUE(a.login("alice", "MAME32k 0.64", conn));
    EXPECT_TRUE(b.login("bob", "MAME32k 0.64", conn));
    a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
    game_id = a.got<p::CreateGame>().back().game_id;
    b.send(p::JoinGame{"", game_id, "", 0, 0xFFFF, conn});
  }
  void start() {
    a.send(p::StartGame{});
    a.send(p::AllReady{});
    b.send(p::AllReady{});
    a.clear();
    b.clear();
  }
  Harness h;
  FakeClient& a = h.client(ip(203, 0, 113, 1));
  FakeClient& b = h.client(ip(198, 51, 100, 2));
  std::uint32_t game_id = 0;
};

std::vector<std::vector<std::uint8_t>> blocks(const FakeClient& c, p::GameDataCache& cache) {
  // Resolves 0x12/0x13 the way a client does (§5.6).
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& r : c.inbox()) {
    if (auto* d = std::get_if<p::GameData>(&r.message)) {
      cache.append(d->data);
      out.emplace_back(d->data.begin(), d->data.end());
    } else if (auto* k = std::get_if<p::CachedGameData>(&r.message)) {
      auto e = cache.at(k->index);
      EXPECT_TRUE(e) << "cache index " << int(k->index);
      if (e) out.emplace_back(e->begin(), e->end());
    }
  }
  return out;
}

}  // namespace

// --- Handshake
// -------------------------------------------------------------------------------------------------

TEST(RelayHandshake, PingHelloVersionAndGarbage) {
  Harness h;
  auto& c = h.client(ip(203, 0, 113, 9));
  EXPECT_EQ(c.handshake("PING"), "PONG");
  EXPECT_EQ(c.handshake("HELLO0.83"), "HELLOD00D27889");
  EXPECT_EQ(c.handshake("HELLO0.83", false), "HELLOD00D27889");  // lenient: no NUL
  EXPECT_EQ(c.handshake("HELLO0.82"), "VER");
  EXPECT_EQ(c.handshake("HELP ME"), "");
  EXPECT_EQ(h.server().counters().pings, 1u);
  EXPECT_EQ(h.server().counters().version_mismatch, 1u);
  EXPECT_EQ(h.server().counters().drop_malformed, 1u);
}

TEST(RelayHandshake, RepliesNeverExceedTwiceTheRequest) {
  Harness h;
  auto& c = h.client(ip(203, 0, 113, 9));
  for (std::string_view t : {"PING", "HELLO0.83", "HELLO0.1"}) {
    const auto before = h.all_sent.size();
    c.handshake(t);
    ASSERT_EQ(h.all_sent.size(), before + 1);
    EXPECT_LE(h.all_sent.back().bytes.size(), 2 * (t.size() + 1)) << t;
  }
}

TEST(RelayHandshake, RateLimitedPerSource) {
  r::Config cfg;
  cfg.hello_rate = 1;
  cfg.hello_burst = 3;
  Harness h(cfg);
  auto& c = h.client(ip(203, 0, 113, 9));
  auto& other = h.client(ip(203, 0, 113, 10));
  int answered = 0;
  for (int i = 0; i < 10; ++i)
    answered += c.handshake("PING") == "PONG";
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(h.server().counters().drop_rate_limited, 7u);
  EXPECT_EQ(other.handshake("PING"), "PONG");
  h.advance(1000ms);
  EXPECT_EQ(c.handshake("PING"), "PONG");
}

TEST(RelayHandshake, FullServerAnswersToo) {
  r::Config cfg;
  cfg.max_users = 1;
  Harness h(cfg);
  ASSERT_TRUE(h.client(ip(203, 0, 113, 1)).login("alice"));
  EXPECT_EQ(h.client(ip(203, 0, 113, 2)).handshake("HELLO0.83"), "TOO");
  EXPECT_EQ(h.server().counters().server_full, 1u);
}

TEST(RelayHandshake, PerClientPortsFromARange) {
  r::Config cfg;
  cfg.game_port_first = 30000;
  cfg.game_port_last = 30001;
  Harness h(cfg);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  EXPECT_NE(a.game_port, b.game_port);
  EXPECT_GE(a.game_port, 30000);
  EXPECT_LE(b.game_port, 30001);
  // No port left: TOO. A quit gives its port back.
  EXPECT_EQ(h.client(ip(203, 0, 113, 3)).handshake("HELLO0.83"), "TOO");
  a.send(p::UserQuit{"", 0xFFFF, ""});
  EXPECT_EQ(h.client(ip(203, 0, 113, 3)).handshake("HELLO0.83"), "HELLOD00D" + std::to_string(a.game_port));
}

// --- Login
// -----------------------------------------------------------------------------------------------------

TEST(RelayLogin, FourAckRoundTripsThenStatusJoinedMotdInLegacyOrder) {
  r::Config cfg;
  cfg.motd = {"Welcome", "Be nice"};
  Harness h(cfg);
  auto& a = h.client(ip(203, 0, 113, 1));
  ASSERT_TRUE(a.login("alice", "MAME32k 0.64", 1, 40ms));
  EXPECT_EQ(a.got<p::ServerAck>().size(), 4u);
  // After the acks: 0x04, then 0x02 about ourselves, then the MOTD lines (§4.2 legacy order).
  auto t = a.types();
  std::vector<std::uint8_t> after(t.begin() + 4, t.end());
  EXPECT_EQ(after, (std::vector<std::uint8_t>{0x04, 0x02, 0x17, 0x17}));
  auto joined = a.got<p::UserJoined>().at(0);
  EXPECT_EQ(joined.user, "alice");
  EXPECT_EQ(joined.ping, 40u);  // mean of four 40 ms round trips
  EXPECT_EQ(joined.conn_type, 1);
  // Seqs from the server start at 0 and are contiguous.
  for (std::size_t i = 0; i < a.inbox().size(); ++i)
    EXPECT_EQ(a.inbox()[i].seq, i);
  EXPECT_EQ(h.server().counters().logins, 1u);
}

TEST(RelayLogin, OthersSeeTheNewUserAndTheNewUserSeesOthers) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice"));
  a.clear();
  ASSERT_TRUE(b.login("bob"));
  ASSERT_EQ(a.got<p::UserJoined>().size(), 1u);
  EXPECT_EQ(a.got<p::UserJoined>()[0].user, "bob");
  auto status = b.got<p::ServerStatus>();
  ASSERT_EQ(status.size(), 1u);
  ASSERT_EQ(status[0].users.size(), 1u);  // the others, not itself
  EXPECT_EQ(status[0].users[0].name, "alice");
  EXPECT_EQ(status[0].users[0].status, 1);  // idle
}

TEST(RelayLogin, SessionIsKeyedOnTheLoginNotTheHelloPort) {
  // n02's old core says HELLO from a temporary socket (§1.1).
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1), 5000);
  const std::string reply = a.handshake("HELLO0.83");
  a.game_port = static_cast<std::uint16_t>(std::stoi(reply.substr(9)));
  a.set_source_port(6000);
  a.send(p::UserInformation{"alice", "MAME32k", 1});
  ASSERT_EQ(a.got<p::ServerAck>().size(), 1u);
  EXPECT_EQ(h.all_sent.back().to.port, 6000);
}

TEST(RelayLogin, AClientRestartedOnTheSameAddressLogsInAgain) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1), 7000);
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  // The same program restarts with the same fixed port: new seqs from 0, a new HELLO first. Nothing of the
  // old session may reach the address any more (its seqs would push the new window ahead).
  auto& again = h.client(ip(203, 0, 113, 1), 7000);
  ASSERT_TRUE(again.login("alice"));
  EXPECT_EQ(again.lost, 0u);
  EXPECT_EQ(b.got<p::UserQuit>().back().message, "Reconnected");
  EXPECT_EQ(h.server().snapshot().users, 2u);
}

TEST(RelayLogin, LoginWithoutHelloIsIgnored) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  a.game_port = 27889;
  a.send(p::UserInformation{"alice", "MAME32k", 1});
  EXPECT_TRUE(a.inbox().empty());
  EXPECT_EQ(h.server().counters().drop_unknown_session, 1u);
}

TEST(RelayLogin, Rejections) {
  struct Case {
    std::string name;
    std::uint8_t conn;
    std::chrono::milliseconds ack_delay;
    std::string reason;
  };
  r::Config cfg;
  cfg.max_ping_ms = 200;
  cfg.allowed_conn_types = 0x02 | 0x04;  // LAN and Excellent only
  const std::vector<Case> cases = {
      {"", 1, 10ms, "Empty username"},
      {"   ", 1, 10ms, "Empty username"},
      {std::string(31, 'x'), 1, 10ms, "too long"},
      {"Server", 1, 10ms, "illegal"},
      {"a|b", 1, 10ms, "illegal"},
      {"tab\tname", 1, 10ms, "illegal"},
      {"slowpoke", 1, 300ms, "Ping too high: 300 > 200"},
      {"gooduser", 3, 10ms, "Connection type not allowed: Good"},
      {"baduser", 9, 10ms, "Connection type not allowed"},
  };
  Harness h(cfg);
  int i = 0;
  for (const auto& c : cases) {
    auto& cl = h.client(ip(203, 0, 113, 50 + i++));
    EXPECT_FALSE(cl.login(c.name, "MAME32k", c.conn, c.ack_delay)) << c.name;
    auto rej = cl.got<p::ConnectionRejected>();
    ASSERT_EQ(rej.size(), 1u) << c.name;
    EXPECT_NE(std::string(rej[0].message).find(c.reason), std::string::npos) << rej[0].message;
  }
  EXPECT_EQ(h.server().counters().login_rejected, cases.size());
  EXPECT_EQ(h.server().snapshot().users, 0u);
}

TEST(RelayLogin, DuplicateNames) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(198, 51, 100, 2));
  ASSERT_TRUE(a.login("alice"));
  EXPECT_FALSE(b.login("ALICE"));  // case-insensitive, other IP: refused
  EXPECT_TRUE(contains(b.texts(), "already in use"));
  // Same IP, new port: the player coming back; the old session is removed with "Reconnected".
  auto& a2 = h.client(ip(203, 0, 113, 1), 41000);
  ASSERT_TRUE(a2.login("alice"));
  auto quits = a.got<p::UserQuit>();
  ASSERT_EQ(quits.size(), 1u);
  EXPECT_EQ(quits[0].message, "Reconnected");
  EXPECT_EQ(h.server().snapshot().users, 1u);
}

TEST(RelayLogin, PreLoginRepliesStayWithinTwiceTheRequest) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  const std::string reply = a.handshake("HELLO0.83");
  a.game_port = 27889;
  a.send(p::UserInformation{"al", "M", 1});
  const std::size_t req = a.last_request_size();
  ASSERT_FALSE(a.datagram_sizes.empty());
  EXPECT_LE(a.datagram_sizes.back(), 2 * req);
  for (int i = 0; i < 3; ++i) {
    a.send(p::ClientAck{});
    EXPECT_LE(a.datagram_sizes.back(), 2 * a.last_request_size());
  }
}

TEST(RelayLogin, ServerStatusIsSplitUnderTheDatagramLimit) {
  Harness h;
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(h.client(ip(10, 0, 1, i + 1)).login("player-with-a-long-name-" + std::to_string(i)));
  }
  auto& late = h.client(ip(10, 0, 2, 1));
  ASSERT_TRUE(late.login("late"));
  h.advance(200ms);  // paced datagrams go out on ticks
  std::size_t users = 0;
  for (const auto& s : late.got<p::ServerStatus>())
    users += s.users.size();
  EXPECT_EQ(users, 60u);
  EXPECT_GT(late.got<p::ServerStatus>().size(), 1u);
  for (auto size : late.datagram_sizes)
    EXPECT_LE(size, 1400u);
  EXPECT_EQ(late.lost, 0u);
}

TEST(RelayLogin, PostLoginBurstSurvivesLosingItsFirstDatagrams) {
  r::Config cfg;
  cfg.motd = {"Welcome", "Rules: be nice", "Have fun"};
  Harness h(cfg);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(h.client(ip(10, 0, 1, i + 1)).login("user" + std::to_string(i)));
  auto& a = h.client(ip(203, 0, 113, 1));
  a.handshake("HELLO0.83");
  a.game_port = 27889;
  a.send(p::UserInformation{"alice", "MAME32k", 1});
  for (int i = 0; i < 3; ++i)
    a.send(p::ClientAck{});
  a.drop_next = 3;  // the first three datagrams after the fourth ACK are lost on the way
  a.send(p::ClientAck{});
  h.advance(200ms);
  EXPECT_EQ(a.got<p::ServerStatus>().size(), 1u);
  EXPECT_EQ(a.got<p::ServerStatus>()[0].users.size(), 5u);
  EXPECT_EQ(a.got<p::UserJoined>().size(), 1u);
  EXPECT_EQ(a.got<p::ServerInformation>().size(), 3u);
  EXPECT_EQ(a.lost, 0u);  // nothing lost for good: later datagrams carried it all
}

TEST(RelayLogin, UnfinishedLoginTimesOut) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  a.handshake("HELLO0.83");
  a.game_port = 27889;
  a.send(p::UserInformation{"alice", "MAME32k", 1});
  h.advance(16s);
  EXPECT_EQ(h.server().counters().timeouts, 1u);
  a.send(p::ClientAck{});  // the session is gone
  EXPECT_EQ(h.server().counters().drop_unknown_session, 1u);
}

// --- Lobby
// -----------------------------------------------------------------------------------------------------

TEST(RelayLobby, ChatBroadcastAndFloodControl) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  a.clear();
  b.clear();
  a.send(p::GlobalChat{"", "hello"});
  ASSERT_EQ(b.got<p::GlobalChat>().size(), 1u);
  EXPECT_EQ(b.got<p::GlobalChat>()[0].user, "alice");
  EXPECT_EQ(a.got<p::GlobalChat>().size(), 1u);  // the sender too
  a.send(p::GlobalChat{"", "again"});
  EXPECT_EQ(b.got<p::GlobalChat>().size(), 1u);
  EXPECT_TRUE(contains(a.texts(), "flood"));
  h.advance(2000ms);
  a.send(p::GlobalChat{"", "later"});
  EXPECT_EQ(b.got<p::GlobalChat>().size(), 2u);
}

TEST(RelayLobby, QuitWithMessageAndStandardMessage) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  a.send(p::UserQuit{"", 0xFFFF, "see you"});
  ASSERT_EQ(b.got<p::UserQuit>().size(), 1u);
  EXPECT_EQ(b.got<p::UserQuit>()[0].message, "see you");
  EXPECT_EQ(a.got<p::UserQuit>().size(), 1u);  // the quitter gets its own 0x01
  b.send(p::UserQuit{"", 0xFFFF, ""});
  EXPECT_EQ(b.got<p::UserQuit>().back().message, "Normal Client Exit");
  EXPECT_EQ(h.server().snapshot().users, 0u);
}

TEST(RelayLobby, KeepaliveAndIdleTimeouts) {
  r::Config cfg;
  cfg.keepalive_timeout = 30s;
  cfg.idle_timeout = 60s;
  Harness h(cfg);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  auto& c = h.client(ip(203, 0, 113, 3));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  ASSERT_TRUE(c.login("carol"));
  // b keeps alive but does nothing; c keeps alive and chats; a goes silent.
  for (int i = 0; i < 7; ++i) {
    h.advance(10s);
    b.send(p::KeepAlive{});
    c.send(p::KeepAlive{});
    if (i % 3 == 0) c.send(p::GlobalChat{"", "still here"});
  }
  std::vector<std::string> quits;
  for (const auto& q : c.got<p::UserQuit>())
    quits.push_back(std::string(q.user) + ":" + std::string(q.message));
  EXPECT_EQ(quits, (std::vector<std::string>{"alice:Ping timeout", "bob:Inactivity Timeout"}));
}

// --- Rooms
// -----------------------------------------------------------------------------------------------------

TEST(RelayRooms, CreateAndJoinFanOut) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  auto& watcher = h.client(ip(203, 0, 113, 3));
  ASSERT_TRUE(a.login("alice", "MAME32k 0.64"));
  ASSERT_TRUE(b.login("bob", "MAME32k 0.64"));
  ASSERT_TRUE(watcher.login("watcher"));
  a.clear();
  b.clear();
  watcher.clear();
  a.send(p::CreateGame{"", "Cadillacs and Dinosaurs", "", 0xFFFFFFFF});
  // Everyone: 0x0A (owner, rom, owner's emulator, id) and 0x0E (waiting, 1/8).
  auto created = watcher.got<p::CreateGame>();
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].user, "alice");
  EXPECT_EQ(created[0].rom, "Cadillacs and Dinosaurs");
  EXPECT_EQ(created[0].emulator, "MAME32k 0.64");
  const auto id = created[0].game_id;
  ASSERT_EQ(watcher.got<p::GameStatus>().size(), 1u);
  EXPECT_EQ(watcher.got<p::GameStatus>()[0].num_players, 1);
  EXPECT_EQ(watcher.got<p::GameStatus>()[0].max_players, 8);
  EXPECT_EQ(watcher.got<p::GameStatus>()[0].status, 0);
  // The creator: 0x0A, 0x0E, then an empty 0x0D and a 0x0C about itself.
  EXPECT_EQ(a.types(), (std::vector<std::uint8_t>{0x0A, 0x0E, 0x0D, 0x0C}));
  EXPECT_TRUE(a.got<p::PlayerInformation>()[0].players.empty());
  EXPECT_EQ(a.got<p::JoinGame>()[0].user, "alice");
  EXPECT_EQ(a.got<p::JoinGame>()[0].user_id, a.user_id);
  a.clear();
  b.clear();
  watcher.clear();
  b.send(p::JoinGame{"", id, "", 0, 0xFFFF, 1});
  EXPECT_EQ(watcher.types(), (std::vector<std::uint8_t>{0x0E}));
  EXPECT_EQ(watcher.got<p::GameStatus>()[0].num_players, 2);
  EXPECT_EQ(b.types(), (std::vector<std::uint8_t>{0x0E, 0x0D, 0x0C}));
  ASSERT_EQ(b.got<p::PlayerInformation>()[0].players.size(), 1u);
  EXPECT_EQ(b.got<p::PlayerInformation>()[0].players[0].name, "alice");
  EXPECT_EQ(b.got<p::JoinGame>()[0].user, "bob");
  EXPECT_EQ(a.got<p::JoinGame>().size(), 1u);
  EXPECT_EQ(a.got<p::JoinGame>()[0].user, "bob");
}

TEST(RelayRooms, RefusalsComeWithAQuitGameAboutTheRequester) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  ASSERT_TRUE(a.login("alice"));
  a.clear();
  a.send(p::CreateGame{"", "", "", 0xFFFFFFFF});
  EXPECT_TRUE(contains(a.texts(), "Create Game Denied: empty game name"));
  ASSERT_EQ(a.got<p::QuitGame>().size(), 1u);
  EXPECT_EQ(a.got<p::QuitGame>()[0].user_id, a.user_id);
  a.clear();
  a.send(p::JoinGame{"", 999, "", 0, 0xFFFF, 1});
  EXPECT_TRUE(contains(a.texts(), "Join Game Denied: no such game"));
  EXPECT_EQ(a.got<p::QuitGame>().size(), 1u);
  // Creating twice within the flood window.
  a.send(p::CreateGame{"", "Game one", "", 0xFFFFFFFF});
  a.send(p::QuitGame{});
  a.clear();
  a.send(p::CreateGame{"", "Game two", "", 0xFFFFFFFF});
  EXPECT_TRUE(contains(a.texts(), "flood"));
}

TEST(RelayRooms, StartNeedsOwnerSameEmulatorAndNotAChatRoom) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(a.login("alice", "MAME32k 0.64"));
  ASSERT_TRUE(b.login("bob", "MAME32k 0.70"));
  a.send(p::CreateGame{"", "Street Fighter II", "", 0xFFFFFFFF});
  const auto id = a.got<p::CreateGame>().back().game_id;
  b.send(p::JoinGame{"", id, "", 0, 0xFFFF, 1});
  // Everyone in the room learns it, the owner too (EmuLinker-K tells the room; we used to tell the joiner).
  EXPECT_TRUE(contains(b.texts(), "bob uses another emulator (MAME32k 0.70) than the owner (MAME32k 0.64)"));
  EXPECT_TRUE(contains(a.texts(), "bob uses another emulator (MAME32k 0.70) than the owner (MAME32k 0.64)"));
  b.clear();
  b.send(p::StartGame{});
  EXPECT_TRUE(contains(b.texts(), "Only the owner"));
  a.clear();
  a.send(p::StartGame{});
  EXPECT_TRUE(contains(a.texts(), "Start denied: bob uses another emulator"));
  EXPECT_TRUE(a.got<p::StartGame>().empty());
  // A chat room never starts.
  auto& c = h.client(ip(203, 0, 113, 3));
  ASSERT_TRUE(c.login("carol"));
  c.send(p::CreateGame{"", "*Chat", "", 0xFFFFFFFF});
  c.send(p::StartGame{});
  EXPECT_TRUE(c.got<p::StartGame>().empty());
  EXPECT_TRUE(contains(c.texts(), "chat room"));
}

TEST(RelayRooms, StartAndReadySequence) {
  TwoPlayers t;
  t.a.clear();
  t.b.clear();
  t.a.send(p::StartGame{});
  // 0x0E netsync to all, then each player its own 0x11.
  ASSERT_EQ(t.b.got<p::GameStatus>().size(), 1u);
  EXPECT_EQ(t.b.got<p::GameStatus>()[0].status, 2);  // netsync (default mapping, §5.11)
  auto sa = t.a.got<p::StartGame>(), sb = t.b.got<p::StartGame>();
  ASSERT_EQ(sa.size(), 1u);
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sa[0].player_number, 1);
  EXPECT_EQ(sb[0].player_number, 2);
  EXPECT_EQ(sa[0].num_players, 2);
  EXPECT_EQ(sa[0].delay, p::frame_delay(10, 1));  // both logged in with 10 ms pings
  t.a.send(p::AllReady{});
  EXPECT_TRUE(t.b.got<p::AllReady>().empty());
  t.b.send(p::AllReady{});
  EXPECT_EQ(t.a.got<p::AllReady>().size(), 1u);
  EXPECT_EQ(t.b.got<p::AllReady>().size(), 1u);
  EXPECT_EQ(t.a.got<p::GameStatus>().back().status, 1);  // playing
}

TEST(RelayRooms, OwnerLeavingClosesTheRoom) {
  TwoPlayers t;
  auto& w = t.h.client(ip(203, 0, 113, 77));
  ASSERT_TRUE(w.login("watcher"));
  t.a.clear();
  t.b.clear();
  w.clear();
  t.a.send(p::QuitGame{});
  // Others: 0x0B about the owner, then 0x10; the owner: 0x10 then 0x0B about itself (§5.12).
  EXPECT_EQ(t.b.types(), (std::vector<std::uint8_t>{0x0B, 0x10}));
  EXPECT_EQ(t.b.got<p::QuitGame>()[0].user, "alice");
  EXPECT_EQ(t.a.types(), (std::vector<std::uint8_t>{0x10, 0x0B}));
  EXPECT_EQ(w.types(), (std::vector<std::uint8_t>{0x10}));
  EXPECT_EQ(t.h.server().snapshot().games, 0u);
  // Both back in the lobby: b can create.
  t.b.send(p::CreateGame{"", "Another", "", 0xFFFFFFFF});
  EXPECT_EQ(t.b.got<p::CreateGame>().size(), 1u);
}

TEST(RelayRooms, NonOwnerLeaves) {
  TwoPlayers t;
  t.a.clear();
  t.b.clear();
  t.b.send(p::QuitGame{});
  EXPECT_EQ(t.a.got<p::QuitGame>().size(), 1u);
  EXPECT_EQ(t.b.got<p::QuitGame>().size(), 1u);  // the leaver too
  EXPECT_EQ(t.a.got<p::GameStatus>().back().num_players, 1);
}

TEST(RelayRooms, KickBansFromTheRoom) {
  TwoPlayers t;
  t.b.clear();
  t.a.send(p::KickUser{"", t.b.user_id});
  auto q = t.b.got<p::QuitGame>();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].user_id, t.b.user_id);  // n02 learns it was kicked from its own id (§5.8)
  t.b.clear();
  t.b.send(p::JoinGame{"", t.game_id, "", 0, 0xFFFF, 1});
  EXPECT_TRUE(contains(t.b.texts(), "kicked"));
  // Only the owner kicks.
  auto& c = t.h.client(ip(203, 0, 113, 9));
  ASSERT_TRUE(c.login("carol"));
  c.send(p::JoinGame{"", t.game_id, "", 0, 0xFFFF, 1});
  c.send(p::KickUser{"", t.a.user_id});
  EXPECT_TRUE(contains(c.texts(), "Only the owner"));
}

// --- Lock-step game data
// ---------------------------------------------------------------------------------------

TEST(RelayGame, FrameInterleavedFanOutLan) {
  TwoPlayers t;
  t.start();
  t.a.send(p::GameData{"", bytes({0xA0, 0xA1})});
  EXPECT_TRUE(t.b.got<p::GameData>().empty());  // lock-step: waits for b
  t.b.send(p::GameData{"", bytes({0xB0, 0xB1})});
  p::GameDataCache ca, cb;
  auto ba = blocks(t.a, ca), bb = blocks(t.b, cb);
  ASSERT_EQ(ba.size(), 1u);
  EXPECT_EQ(ba[0], bytes({0xA0, 0xA1, 0xB0, 0xB1}));
  EXPECT_EQ(bb, ba);
}

TEST(RelayGame, FramesInterleaveByFrameForConnTypeTwo) {
  TwoPlayers t({}, 2);  // Excellent: 2 frames per packet, 2 bytes per frame
  t.start();
  t.a.send(p::GameData{"", bytes({0xA0, 0xA0, 0xA1, 0xA1})});
  t.b.send(p::GameData{"", bytes({0xB0, 0xB0, 0xB1, 0xB1})});
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  ASSERT_EQ(ba.size(), 1u);
  EXPECT_EQ(ba[0], bytes({0xA0, 0xA0, 0xB0, 0xB0, 0xA1, 0xA1, 0xB1, 0xB1}));  // §5.5
}

TEST(RelayGame, CacheBothWays) {
  TwoPlayers t;
  t.start();
  for (int round = 0; round < 3; ++round) {
    t.a.send(p::GameData{"", bytes({1, 2})});
    t.b.send(p::GameData{"", bytes({3, 4})});
  }
  // Same block three times: one full 0x12, then 0x13 pointing at it.
  EXPECT_EQ(t.a.got<p::GameData>().size(), 1u);
  ASSERT_EQ(t.a.got<p::CachedGameData>().size(), 2u);
  EXPECT_EQ(t.a.got<p::CachedGameData>()[0].index, 0);
  // A client 0x13 refers to what it sent before: b's cache position 0 = {3, 4}.
  t.a.send(p::GameData{"", bytes({9, 9})});
  t.b.send(p::CachedGameData{"", 0});
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  EXPECT_EQ(ba.back(), bytes({9, 9, 3, 4}));
  // An index the client never filled: counted, room warned, nothing relayed.
  t.a.clear();
  t.b.send(p::CachedGameData{"", 200});
  EXPECT_TRUE(contains(t.b.texts(), "cache position 200"));
}

TEST(RelayGame, LongGameWithCacheEvictionStaysConsistent) {
  TwoPlayers t;
  t.start();
  std::mt19937 rng(7);
  std::vector<std::vector<std::uint8_t>> expected;
  for (int f = 0; f < 2000; ++f) {
    auto x = static_cast<std::uint8_t>(rng() % 40), y = static_cast<std::uint8_t>(rng() % 300 % 256);
    auto ia = bytes({x, 1}), ib = bytes({y, static_cast<int>(rng() % 2)});
    t.a.send(p::GameData{"", ia});
    t.b.send(p::GameData{"", ib});
    expected.push_back({ia[0], ia[1], ib[0], ib[1]});
  }
  p::GameDataCache ca, cb;
  EXPECT_EQ(blocks(t.a, ca), expected);
  EXPECT_EQ(blocks(t.b, cb), expected);
  EXPECT_GT(t.h.server().counters().cache_hits_out, 0u);
  EXPECT_EQ(t.a.lost, 0u);
}

TEST(RelayGame, ThreePlayersAndMixedConnectionTypes) {
  r::Config cfg;
  cfg.allow_mixed_conn_types = true;
  Harness h(cfg);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  auto& c = h.client(ip(203, 0, 113, 3));
  ASSERT_TRUE(a.login("alice", "E", 1));
  ASSERT_TRUE(b.login("bob", "E", 2));
  ASSERT_TRUE(c.login("carol", "E", 1));
  a.send(p::CreateGame{"", "G", "", 0xFFFFFFFF});
  const auto id = a.got<p::CreateGame>().back().game_id;
  b.send(p::JoinGame{"", id, "", 0, 0xFFFF, 2});
  c.send(p::JoinGame{"", id, "", 0, 0xFFFF, 1});
  a.send(p::StartGame{});
  for (auto* cl : {&a, &b, &c})
    cl->send(p::AllReady{});
  for (auto* cl : {&a, &b, &c})
    cl->clear();
  // Two frames: a and c send one frame per packet, b two frames in one packet.
  a.send(p::GameData{"", bytes({0xA0})});
  c.send(p::GameData{"", bytes({0xC0})});
  b.send(p::GameData{"", bytes({0xB0, 0xB1})});
  a.send(p::GameData{"", bytes({0xA1})});
  c.send(p::GameData{"", bytes({0xC1})});
  p::GameDataCache ca, cb;
  EXPECT_EQ(blocks(a, ca),
            (std::vector<std::vector<std::uint8_t>>{bytes({0xA0, 0xB0, 0xC0}), bytes({0xA1, 0xB1, 0xC1})}));
  EXPECT_EQ(blocks(b, cb),
            (std::vector<std::vector<std::uint8_t>>{bytes({0xA0, 0xB0, 0xC0, 0xA1, 0xB1, 0xC1})}));
}

TEST(RelayGame, SilentPlayerIsDroppedAtTheDeadlineAndZerosFillItsSlot) {
  r::Config cfg;
  cfg.data_deadline = 2000ms;
  TwoPlayers t(cfg);
  t.start();
  t.a.send(p::GameData{"", bytes({1, 1})});
  t.b.send(p::GameData{"", bytes({2, 2})});
  t.a.send(p::GameData{"", bytes({3, 3})});  // b goes silent
  t.h.advance(1900ms);
  EXPECT_TRUE(t.a.got<p::PlayerDrop>().empty());
  t.h.advance(200ms);
  auto drops = t.a.got<p::PlayerDrop>();
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].user, "bob");
  EXPECT_EQ(drops[0].player_number, 2);
  EXPECT_TRUE(contains(t.a.texts(), "bob dropped: no game data"));
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  ASSERT_EQ(ba.size(), 2u);
  EXPECT_EQ(ba[1], bytes({3, 3, 0, 0}));  // a plays on
  t.a.send(p::GameData{"", bytes({4, 4})});
  ca.clear();
  EXPECT_EQ(blocks(t.a, ca).back(), bytes({4, 4, 0, 0}));
  EXPECT_EQ(t.h.server().counters().desyncs, 1u);
}

TEST(RelayGame, AHoleInAClientsSeqsIsWaitedForAndFilledByItsResend) {
  TwoPlayers t;
  t.start();
  // b's next four datagrams are lost (more than its redundancy of 3 covers); the fifth arrives.
  std::vector<std::vector<std::uint8_t>> lost;
  for (int f = 0; f < 5; ++f)
    t.a.send(p::GameData{"", bytes({0xA0 + f, 0})});
  auto& b = t.b;
  std::vector<std::uint8_t> d(2048);
  for (int f = 0; f < 4; ++f) {
    b.send_silently(p::GameData{"", bytes({0xB0 + f, 1})});  // never reaches the relay
  }
  b.send(p::GameData{"", bytes({0xB4, 1})});
  EXPECT_TRUE(t.a.got<p::GameData>().empty());  // the relay holds the hole instead of guessing
  EXPECT_EQ(t.h.server().counters().gaps, 1u);
  // b stalls and repeats its recent messages (n02 resends its last 5): the hole is filled.
  t.h.advance(1000ms);
  b.resend_last(5);
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  ASSERT_EQ(ba.size(), 5u);
  for (int f = 0; f < 5; ++f)
    EXPECT_EQ(ba[f], bytes({0xA0 + f, 0, 0xB0 + f, 1})) << f;
  EXPECT_EQ(t.h.server().counters().lost_messages, 0u);
}

// a sends inputs A0..A(a_frames-1); b's first four datagrams are lost, and after gap_wait (500 ms) the sixth
// repeats only B2..B4: B0 and B1 are lost for good. b's own cache holds B0..B5 at positions 0..5.
namespace {
void lose_b0_and_b1_for_good(TwoPlayers& t, int a_frames) {
  t.start();
  for (int f = 0; f < a_frames; ++f)
    t.a.send(p::GameData{"", bytes({0xA0 + f, 0})});
  // Four datagrams lost: the fifth still repeats B1..B3, so only B0 is missing; the relay waits for it.
  for (int f = 0; f < 4; ++f)
    t.b.send_silently(p::GameData{"", bytes({0xB0 + f, 1})});
  t.b.send(p::GameData{"", bytes({0xB4, 1})});
  t.h.advance(600ms);
  t.b.send(p::GameData{"", bytes({0xB5, 1})});
}
}  // namespace

TEST(RelayGame, AHoleNotFilledInTimeIsPlayedAsZeros) {
  r::Config cfg;
  cfg.gap_wait = 500ms;
  TwoPlayers t(cfg);
  // The wait is over: B0 and B1 are given up and played as zeros, which keeps b's stream aligned with the
  // frames b meant them for.
  lose_b0_and_b1_for_good(t, 6);
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  ASSERT_EQ(ba.size(), 6u);
  EXPECT_EQ(ba[0], bytes({0xA0, 0, 0, 0}));
  EXPECT_EQ(ba[1], bytes({0xA1, 0, 0, 0}));
  for (int f = 2; f < 6; ++f)
    EXPECT_EQ(ba[f], bytes({0xA0 + f, 0, 0xB0 + f, 1})) << f;
  EXPECT_EQ(t.h.server().counters().lost_messages, 2u);
}

TEST(RelayGame, ACachedInputNamingALostEntryIsPlayedAsZerosAndLaterOnesStayAligned) {
  r::Config cfg;
  cfg.gap_wait = 500ms;
  TwoPlayers t(cfg);
  // B0 and B1 were full 0x12 inputs lost for good: b's cache holds B0..B5 at positions 0..5 while the relay
  // never saw B0 and B1, so its mirror must keep two unknown entries in their place.
  lose_b0_and_b1_for_good(t, 8);
  // b repeats B3 (its position 3) and then B0 (its position 0, never seen by the relay).
  t.b.send(p::CachedGameData{"", 3});
  t.b.send(p::CachedGameData{"", 0});
  p::GameDataCache ca;
  auto ba = blocks(t.a, ca);
  ASSERT_EQ(ba.size(), 8u);
  EXPECT_EQ(ba[6], bytes({0xA6, 0, 0xB3, 1}));  // aligned: position 3 is B3, not B5
  EXPECT_EQ(ba[7], bytes({0xA7, 0, 0, 0}));     // unknown: zeros, and counted
  EXPECT_EQ(t.h.server().counters().lost_messages, 2u);
  EXPECT_EQ(t.h.server().counters().lost_cache_refs, 1u);
}

TEST(RelayGame, StalledGameResendsToThePlayerItWaitsFor) {
  TwoPlayers t;
  t.start();
  t.a.send(p::GameData{"", bytes({1, 1})});
  const auto before = t.b.datagram_sizes.size();
  t.h.advance(600ms);
  EXPECT_GE(t.b.datagram_sizes.size(), before + 1);  // our newest messages again, in case b lost them
  EXPECT_GE(t.h.server().counters().resends, 1u);
}

TEST(RelayGame, DuplicateOnlyDatagramIsAResendRequest) {
  TwoPlayers t;
  t.start();
  const auto before = t.a.datagram_sizes.size();
  t.a.resend_last();
  const auto after = t.a.datagram_sizes.size();
  EXPECT_GE(after, before + 1);
  EXPECT_EQ(t.h.server().counters().resends, 1u);
  t.a.resend_last();  // within the minimum interval: not again
  EXPECT_EQ(t.a.datagram_sizes.size(), after);
}

TEST(RelayGame, DropsReturnTheGameToWaiting) {
  TwoPlayers t;
  t.start();
  t.a.send(p::PlayerDrop{});
  ASSERT_EQ(t.b.got<p::PlayerDrop>().size(), 1u);
  EXPECT_EQ(t.b.got<p::PlayerDrop>()[0].player_number, 1);
  t.b.send(p::PlayerDrop{});
  EXPECT_EQ(t.a.got<p::GameStatus>().back().status, 0);  // waiting
  // And it can start again.
  t.a.clear();
  t.a.send(p::StartGame{});
  EXPECT_EQ(t.a.got<p::StartGame>().size(), 1u);
}

// The public list announcements carry the games started since their previous touch (KAILLERA.md §7.1).
TEST(RelayGame, StartedGamesAreRememberedForTheListAnnouncements) {
  TwoPlayers t;
  EXPECT_TRUE(t.h.server().started_since(0).empty());
  t.start();
  EXPECT_EQ(t.h.server().started_since(0), (std::vector<std::string>{"Street Fighter II"}));
  EXPECT_TRUE(t.h.server().started_since(1).empty());
  // Dropped back to waiting and started again: a second start of the same room.
  t.a.send(p::PlayerDrop{});
  t.b.send(p::PlayerDrop{});
  t.a.send(p::StartGame{});
  EXPECT_EQ(t.h.server().counters().games_started, 2u);
  EXPECT_EQ(t.h.server().started_since(0),
            (std::vector<std::string>{"Street Fighter II", "Street Fighter II"}));
  EXPECT_EQ(t.h.server().started_since(1), (std::vector<std::string>{"Street Fighter II"}));
  EXPECT_TRUE(t.h.server().started_since(2).empty());
}

TEST(RelayGame, LeavingMidGameKeepsPlayerNumbersForTheOthers) {
  r::Config cfg;
  Harness h(cfg);
  auto& a = h.client(ip(203, 0, 113, 1));
  auto& b = h.client(ip(203, 0, 113, 2));
  auto& c = h.client(ip(203, 0, 113, 3));
  ASSERT_TRUE(a.login("alice"));
  ASSERT_TRUE(b.login("bob"));
  ASSERT_TRUE(c.login("carol"));
  a.send(p::CreateGame{"", "G", "", 0xFFFFFFFF});
  const auto id = a.got<p::CreateGame>().back().game_id;
  b.send(p::JoinGame{"", id, "", 0, 0xFFFF, 1});
  c.send(p::JoinGame{"", id, "", 0, 0xFFFF, 1});
  a.send(p::StartGame{});
  for (auto* cl : {&a, &b, &c})
    cl->send(p::AllReady{});
  for (auto* cl : {&a, &b, &c})
    cl->clear();
  b.send(p::QuitGame{});  // drop + leave
  a.send(p::GameData{"", bytes({1})});
  c.send(p::GameData{"", bytes({3})});
  p::GameDataCache cc;
  auto bc = blocks(c, cc);
  ASSERT_EQ(bc.size(), 1u);
  EXPECT_EQ(bc[0], bytes({1, 0, 3}));  // b's slot stays, as zeros
}

// --- Commands
// --------------------------------------------------------------------------------------------------

TEST(RelayCommands, LobbyAndAdmin) {
  r::Config cfg;
  cfg.admins = {"203.0.113.1"};
  Harness h(cfg);
  auto& admin = h.client(ip(203, 0, 113, 1));
  auto& user = h.client(ip(203, 0, 113, 2));
  ASSERT_TRUE(admin.login("admin"));
  ASSERT_TRUE(user.login("user"));
  user.clear();
  user.send(p::GlobalChat{"", "/announce hi"});
  EXPECT_TRUE(contains(user.texts(), "/announce is for admins of this relay"));
  EXPECT_TRUE(user.got<p::GlobalChat>().empty());  // commands are never broadcast
  admin.send(p::GlobalChat{"", "/announce maintenance at 10"});
  EXPECT_TRUE(contains(user.texts(), "maintenance at 10"));
  user.send(p::GlobalChat{"", "/help"});
  EXPECT_TRUE(contains(user.texts(), "/lagstat"));
  admin.send(p::GlobalChat{"", "/ban " + std::to_string(user.user_id) + " perm"});
  EXPECT_EQ(user.got<p::UserQuit>().back().message, "Banned");
  auto& again = h.client(ip(203, 0, 113, 2), 45000);
  EXPECT_FALSE(again.login("user2"));
  EXPECT_TRUE(contains(again.texts(), "Banned (permanent, by admin)"));
  EXPECT_FALSE(h.server().shutdown_requested());
  admin.send(p::GlobalChat{"", "/shutdown"});
  EXPECT_TRUE(h.server().shutdown_requested());
}

TEST(RelayCommands, RoomCommands) {
  TwoPlayers t;
  t.b.clear();
  t.b.send(p::GameChat{"", "/maxusers 2"});
  EXPECT_TRUE(contains(t.b.texts(), "for the room's owner"));
  t.a.send(p::GameChat{"", "/maxusers 2"});
  EXPECT_EQ(t.b.got<p::GameStatus>().back().max_players, 2);
  auto& c = t.h.client(ip(203, 0, 113, 9));
  ASSERT_TRUE(c.login("carol"));
  c.send(p::JoinGame{"", t.game_id, "", 0, 0xFFFF, 1});
  EXPECT_TRUE(contains(c.texts(), "room is full"));
  t.a.send(p::GameChat{"", "/fair"});
  EXPECT_TRUE(contains(t.b.texts(), "needs a master"));
  t.start();
  t.a.send(p::GameData{"", bytes({1, 1})});
  t.h.advance(100ms);
  t.b.send(p::GameData{"", bytes({2, 2})});
  t.a.send(p::GameChat{"", "/lagstat"});
  // The clock started when both were ready: frame 0 was due then and complete 100 ms later, on bob's input.
  EXPECT_TRUE(contains(t.b.texts(), "the game waited 0.10 s, 1 frame late"));
  EXPECT_TRUE(contains(t.b.texts(), "P2 bob: waited on 0.10 s, late 1x"));
  EXPECT_TRUE(contains(t.b.texts(), "P1 alice: waited on 0.00 s, late 0x"));
  t.a.send(p::GameChat{"", "/kick 2"});
  EXPECT_EQ(t.b.got<p::QuitGame>().back().user_id, t.b.user_id);
}

TEST(RelayCommands, FairAsksTheHookAndTheLaterAnswerGoesToTheRoom) {
  TwoPlayers t;
  std::vector<std::uint32_t> asked;
  std::uint32_t asked_game = 0;
  std::vector<std::string> names;
  t.h.server().set_fair_hook(
      [&](std::uint32_t game_id, const std::vector<r::Server::FairPlayer>& players, r::Server::FairPurpose) {
        asked_game = game_id;
        for (const auto& p : players) {
          asked.push_back(p.ip);
          names.push_back(p.name);
        }
        return true;
      });
  t.b.clear();
  t.a.send(p::GameChat{"", "/fair"});
  EXPECT_EQ(asked_game, t.game_id);
  EXPECT_EQ(asked, (std::vector<std::uint32_t>{ip(203, 0, 113, 1), ip(198, 51, 100, 2)}));
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(contains(t.b.texts(), "Asking the master"));
  EXPECT_FALSE(contains(t.b.texts(), "Fairest: relay-x"));
  // The answer arrives later, from the shell.
  t.h.fair_answer(t.game_id, {"Fairest: relay-x", "alice 3 hops"});
  EXPECT_TRUE(contains(t.b.texts(), "Fairest: relay-x"));
  EXPECT_TRUE(contains(t.a.texts(), "alice 3 hops"));
  // For a room that closed meanwhile nothing is sent and nothing breaks.
  t.b.clear();
  t.h.fair_answer(t.game_id + 100, {"ghost"});
  EXPECT_FALSE(contains(t.b.texts(), "ghost"));
}

TEST(RelayCommands, FairWithoutAMasterSaysItNeedsOne) {
  TwoPlayers t;
  t.h.server().set_fair_hook([&](std::uint32_t, const std::vector<r::Server::FairPlayer>&,
                                 r::Server::FairPurpose) { return false; });
  t.b.clear();
  t.a.send(p::GameChat{"", "/fair"});
  EXPECT_TRUE(contains(t.b.texts(), "needs a master"));
}

// --- Robustness, measurements, shutdown
// ------------------------------------------------------------------------

TEST(RelayRobustness, RandomDatagramsNeverCrashAndAreCounted) {
  TwoPlayers t;
  t.start();
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> d(rng() % 64);
    for (auto& x : d)
      x = static_cast<std::uint8_t>(rng());
    if (!d.empty() && i % 3 == 0) d[0] = static_cast<std::uint8_t>(1 + rng() % 3);  // looks like a bundle
    const auto port = i % 2 ? std::uint16_t{27888} : std::uint16_t{27889};
    t.h.to_server(port, i % 5 ? t.a.addr() : n::Endpoint{ip(192, 0, 2, 1), 1}, d);
  }
  const auto& c = t.h.server().counters();
  EXPECT_GT(c.drop_malformed + c.drop_unknown_session + c.drop_bad_message, 1000u);
}

TEST(RelayMeasurements, HopsFromTtlAndRttFromLogin) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  h.to_server(27888, a.addr(), {'P', 'I', 'N', 'G', 0}, 55);
  bool found = false;
  for (const auto& m : h.server().measurements()) {
    if (m.ip == ip(203, 0, 113, 1) && m.source == r::PeerMeasurement::Source::kPing) {
      EXPECT_EQ(m.hops, 9);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  ASSERT_TRUE(a.login("alice", "E", 1, 30ms));
  bool rtt = false;
  for (const auto& m : h.server().measurements()) {
    if (m.source == r::PeerMeasurement::Source::kLoginAck) {
      EXPECT_EQ(m.rtt_ms, 30u);
      rtt = true;
    }
  }
  EXPECT_TRUE(rtt);
}

// Hops from game traffic: one sample a second per session, the table looked up only then.
TEST(RelayMeasurements, GameTrafficHopsAtMostOnceASecond) {
  Harness h;
  auto& a = h.client(ip(203, 0, 113, 1));
  ASSERT_TRUE(a.login("alice", "E", 1));  // TTL 64: 0 hops
  const auto hops = [&]() -> int {
    for (const auto& m : h.server().measurements()) {
      if (m.ip == ip(203, 0, 113, 1) && m.source == r::PeerMeasurement::Source::kGameTraffic) return m.hops;
    }
    return -1;
  };
  ASSERT_EQ(hops(), 0);
  a.ttl = 50;  // the route changed: 14 hops
  a.send(p::ClientAck{});
  EXPECT_EQ(hops(), 0);  // within the second of the last sample
  h.advance(1000ms);
  a.send(p::ClientAck{});
  EXPECT_EQ(hops(), 14);
}

TEST(RelayShutdown, EveryoneGetsTheReason) {
  TwoPlayers t;
  t.a.clear();
  t.b.clear();
  RecordingSink sink;
  t.h.server().shutdown("Server shutting down", t.h.now(), sink);
  std::size_t to_a = 0;
  for (const auto& c : sink.out)
    to_a += c.to == t.a.addr();
  EXPECT_GE(to_a, 1u);
  for (const auto& c : sink.out)
    t.a.receive(c);
  EXPECT_TRUE(contains(t.a.texts(), "Server shutting down"));
  EXPECT_EQ(t.a.got<p::UserQuit>().back().message, "Server shutting down");
}

TEST(RelayConfig, ValidateNamesTheKey) {
  r::Config c;
  EXPECT_EQ(r::validate(c), "");
  c.max_players = 9;
  EXPECT_NE(r::validate(c).find("max_players"), std::string::npos);
  c = {};
  c.user_status_idle = 3;
  EXPECT_NE(r::validate(c).find("status"), std::string::npos);
  c = {};
  c.admins = {"not-an-ip"};
  EXPECT_NE(r::validate(c).find("admins"), std::string::npos);
  c = {};
  c.listen = "0.0.0.0";
  EXPECT_NE(r::validate(c).find("listen"), std::string::npos);
}

// /stealthon: an admin joins a running game as an unseen watcher; the players learn nothing, the watcher gets
// the room's chat, the game goes on, and leaving is as quiet as coming.
TEST(RelayCommands, StealthAdminsWatchARunningGameUnseen) {
  r::Config cfg;
  cfg.admins = {"192.0.2.50"};
  TwoPlayers t(cfg);
  t.start();
  auto& admin = t.h.client(ip(192, 0, 2, 50));
  ASSERT_TRUE(admin.login("warden"));
  admin.send(p::GlobalChat{"", "/stealthon"});
  EXPECT_TRUE(contains(admin.texts(), "Stealth on"));
  t.a.clear();
  t.b.clear();
  admin.send(p::JoinGame{"", t.game_id, "", 0, 0xFFFF, 1});
  ASSERT_FALSE(admin.got<p::JoinGame>().empty());
  EXPECT_EQ(admin.got<p::JoinGame>().back().user_id, admin.user_id);  // its client enters the room
  EXPECT_TRUE(t.a.got<p::JoinGame>().empty());
  EXPECT_TRUE(t.b.got<p::JoinGame>().empty());
  EXPECT_TRUE(t.a.got<p::GameStatus>().empty());  // the player count did not change
  t.a.send(p::GameChat{"", "gg"});
  bool heard = false;
  for (const auto& c : admin.got<p::GameChat>())
    heard = heard || (c.user == "alice" && c.message == "gg");
  EXPECT_TRUE(heard);
  // The lock-step still needs only the two players.
  t.a.send(p::GameData{"", bytes({1, 1})});
  t.b.send(p::GameData{"", bytes({2, 2})});
  EXPECT_FALSE(t.a.got<p::GameData>().empty() && t.a.got<p::CachedGameData>().empty());
  admin.send(p::QuitGame{});
  EXPECT_TRUE(t.a.got<p::QuitGame>().empty());
  EXPECT_EQ(admin.got<p::QuitGame>().back().user_id, admin.user_id);
  // A normal user cannot use it.
  auto& eve = t.h.client(ip(192, 0, 2, 60));
  ASSERT_TRUE(eve.login("eve"));
  eve.send(p::GlobalChat{"", "/stealthon"});
  EXPECT_TRUE(contains(eve.texts(), "/stealthon is for admins of this relay"));
}
