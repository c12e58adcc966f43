// The client Session against a hand-played server: handshake, login ACKs, rooms, caches, resends, quit.
// No relay needed: the "server" here is an Outbox and a ReceiveWindow driven by the test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/player.hpp"
#include "client/session.hpp"
#include "common/kaillera/bundle.hpp"
#include "common/kaillera/handshake.hpp"

namespace p = kaillera::proto;
namespace kc = kaillera::client;
using kaillera::net::Endpoint;

namespace {

using namespace std::chrono_literals;

struct Recorder final : kc::Sink {
  struct Sent {
    Endpoint to;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Sent> sent;
  void send(const Endpoint& to, kc::Bytes data) override { sent.push_back({to, {data.begin(), data.end()}}); }
};

// One message the client sent, with its body copied out of the datagram.
struct Got {
  std::uint16_t seq;
  std::uint8_t type;
  std::vector<std::uint8_t> body;
  template <class T>
  T as() const {
    auto r = p::decode_as<T>(body);
    EXPECT_TRUE(r);
    return *r;
  }
};

struct FakeServer {
  const Endpoint handshake{0x0A000001, 27888};
  const Endpoint game{0x0A000001, 27999};
  p::Outbox out{16, 1400};
  p::ReceiveWindow in;
  std::size_t read = 0;  // datagrams of the recorder already looked at
  std::uint64_t duplicate_only = 0;

  template <class T>
  std::vector<std::uint8_t> datagram(const T& m) {
    out.push(m);
    std::vector<std::uint8_t> d(1400);
    d.resize(out.write_next(d, 3));
    return d;
  }
  // The new v086 messages the client sent since the last call, oldest first.
  std::vector<Got> take(const Recorder& r) {
    std::vector<Got> got;
    for (; read < r.sent.size(); ++read) {
      const auto& s = r.sent[read];
      if (s.to != game) continue;
      auto b = p::parse_bundle(s.bytes);
      EXPECT_TRUE(b);
      if (!b) continue;
      auto a = in.accept(*b);
      if (a.duplicate_only) ++duplicate_only;
      for (std::size_t i = 0; i < a.count; ++i) {
        const auto& m = b->messages[a.order[i]];
        got.push_back({m.seq, m.type, {m.body.begin(), m.body.end()}});
      }
    }
    return got;
  }
};

const kc::TimePoint t0 = kc::TimePoint{} + std::chrono::hours(1);

kc::SessionOptions options(bool use_cache = true) {
  kc::SessionOptions o;
  o.server = Endpoint{0x0A000001, 27888};
  o.name = "alice";
  o.emulator = "Emu 1.0";
  o.conn_type = 2;
  o.use_cache = use_cache;
  return o;
}

std::vector<std::uint8_t> hellod00d(std::uint16_t port) {
  std::vector<std::uint8_t> d(32);
  d.resize(*p::write_hellod00d(d, port));
  return d;
}

std::vector<std::uint8_t> bytes(std::initializer_list<std::uint8_t> b) {
  return b;
}

// Takes a session through HELLO, the four ACKs and the 0x04.
void log_in(kc::Session& s, FakeServer& srv, Recorder& rec, kc::TimePoint now = t0) {
  s.connect(now, rec);
  s.on_datagram(srv.handshake, hellod00d(srv.game.port), now, rec);
  srv.take(rec);
  for (int i = 0; i < 4; ++i) {
    s.on_datagram(srv.game, srv.datagram(p::ServerAck{}), now, rec);
    srv.take(rec);
  }
  p::ServerStatus st;
  st.users.push_back({"bob", 20, 1, 7, 1});
  st.games.push_back({"Some Game", 3, "Emu 1.0", "bob", "1/4", 0});
  s.on_datagram(srv.game, srv.datagram(st), now, rec);
  s.on_datagram(srv.game, srv.datagram(p::UserJoined{"alice", 9, 30, 2}), now, rec);
  srv.take(rec);
}

std::vector<kc::Event> events_of(kc::Session& s, kc::EventKind kind) {
  std::vector<kc::Event> out;
  for (const auto& e : s.events()) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

}  // namespace

TEST(ClientSession, HelloIsTheTenByteRequest) {
  kc::Session s(options());
  const auto d = s.hello(t0);
  EXPECT_EQ(std::string(d.begin(), d.end()), std::string("HELLO0.83\0", 10));
  EXPECT_EQ(s.state(), kc::SessionState::kHandshaking);
}

TEST(ClientSession, SwitchesToTheAnnouncedPortOfTheReplyingAddressAndLogsIn) {
  kc::Session s(options());
  Recorder rec;
  s.connect(t0, rec);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].to, (Endpoint{0x0A000001, 27888}));
  // The reply comes from the handshake address; the game port is the announced one on that IP.
  s.on_datagram(Endpoint{0x0A000001, 27888}, hellod00d(31000), t0, rec);
  ASSERT_EQ(rec.sent.size(), 2u);
  EXPECT_EQ(rec.sent[1].to, (Endpoint{0x0A000001, 31000}));
  ASSERT_TRUE(s.game_endpoint());
  EXPECT_EQ(s.game_endpoint()->port, 31000);
  auto b = p::parse_bundle(rec.sent[1].bytes);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->count, 1u);
  EXPECT_EQ(b->messages[0].seq, 0);  // the login is seq 0
  EXPECT_EQ(b->messages[0].type, 0x03);
  auto login = p::decode_as<p::UserInformation>(b->messages[0].body);
  ASSERT_TRUE(login);
  EXPECT_EQ(login->user, "alice");
  EXPECT_EQ(login->emulator, "Emu 1.0");
  EXPECT_EQ(login->conn_type, 2);
  EXPECT_EQ(s.state(), kc::SessionState::kLoggingIn);
}

TEST(ClientSession, AnswersEveryServerAckWithAClientAck) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  s.connect(t0, rec);
  s.on_datagram(srv.handshake, hellod00d(srv.game.port), t0, rec);
  srv.take(rec);
  for (int i = 0; i < 4; ++i) {
    s.on_datagram(srv.game, srv.datagram(p::ServerAck{}), t0, rec);
    auto got = srv.take(rec);
    ASSERT_EQ(got.size(), 1u) << i;
    EXPECT_EQ(got[0].type, 0x06);
    EXPECT_EQ(got[0].seq, i + 1);
    auto ack = got[0].as<p::ClientAck>();
    EXPECT_EQ(ack.values[3], 3u);
  }
  EXPECT_FALSE(s.logged_in());
  s.on_datagram(srv.game, srv.datagram(p::ServerStatus{}), t0, rec);
  EXPECT_TRUE(s.logged_in());
  EXPECT_EQ(s.state(), kc::SessionState::kLobby);
  EXPECT_EQ(s.stats().acks, 4u);
}

TEST(ClientSession, IgnoresV086FromOtherAddresses) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  s.connect(t0, rec);
  s.on_datagram(srv.handshake, hellod00d(srv.game.port), t0, rec);
  const auto before = rec.sent.size();
  s.on_datagram(Endpoint{0x0A000001, 27998}, srv.datagram(p::ServerAck{}), t0, rec);
  s.on_datagram(Endpoint{0x0A000002, 27999}, srv.datagram(p::ServerAck{}), t0, rec);
  EXPECT_EQ(rec.sent.size(), before);
  EXPECT_EQ(s.stats().acks, 0u);
}

TEST(ClientSession, TooAndVerFailTheHandshake) {
  {
    kc::Session s(options());
    Recorder rec;
    s.connect(t0, rec);
    s.on_datagram(Endpoint{0x0A000001, 27888}, bytes({'T', 'O', 'O', 0}), t0, rec);
    EXPECT_EQ(s.state(), kc::SessionState::kFailed);
    EXPECT_EQ(events_of(s, kc::EventKind::kServerFull).size(), 1u);
    EXPECT_TRUE(s.finished());
  }
  {
    kc::Session s(options());
    Recorder rec;
    s.connect(t0, rec);
    s.on_datagram(Endpoint{0x0A000001, 27888}, bytes({'V', 'E', 'R', 0}), t0, rec);
    EXPECT_EQ(s.state(), kc::SessionState::kFailed);
    EXPECT_EQ(events_of(s, kc::EventKind::kVersionMismatch).size(), 1u);
  }
}

TEST(ClientSession, RetriesHelloThenGivesUp) {
  auto o = options();
  o.hello_attempts = 3;
  kc::Session s(o);
  Recorder rec;
  s.connect(t0, rec);
  for (int ms = 0; ms <= 5000; ms += 100)
    s.on_tick(t0 + std::chrono::milliseconds(ms), rec);
  EXPECT_EQ(rec.sent.size(), 3u);
  EXPECT_EQ(s.state(), kc::SessionState::kFailed);
  EXPECT_EQ(events_of(s, kc::EventKind::kHandshakeTimeout).size(), 1u);
}

TEST(ClientSession, RejectionIsRecorded) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  s.connect(t0, rec);
  s.on_datagram(srv.handshake, hellod00d(srv.game.port), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::ConnectionRejected{"server", 5, "Ping Too High"}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kFailed);
  auto e = events_of(s, kc::EventKind::kRejected);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].text, "Ping Too High");
}

TEST(ClientSession, TracksTheLobby) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  EXPECT_EQ(s.user_id(), 9);
  ASSERT_EQ(s.users().count(7), 1u);
  EXPECT_EQ(s.users().at(7).name, "bob");
  ASSERT_EQ(s.games().count(3), 1u);
  EXPECT_EQ(s.games().at(3).num_players, 1);
  EXPECT_EQ(s.games().at(3).max_players, 4);

  s.on_datagram(srv.game, srv.datagram(p::CreateGame{"carol", "Other", "Emu 2", 4}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::GameStatus{"", 4, 0, 1, 8}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::GlobalChat{"bob", "hi all"}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::ServerInformation{"Server", "Welcome"}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::UserQuit{"bob", 7, "bye"}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CloseGame{"", 3}), t0, rec);
  EXPECT_EQ(s.games().count(3), 0u);
  ASSERT_EQ(s.games().count(4), 1u);
  EXPECT_EQ(s.games().at(4).owner, "carol");
  EXPECT_EQ(s.games().at(4).max_players, 8);
  EXPECT_EQ(s.users().count(7), 0u);
  auto chats = events_of(s, kc::EventKind::kChat);
  ASSERT_EQ(chats.size(), 1u);
  EXPECT_EQ(chats[0].user, "bob");
  EXPECT_EQ(chats[0].text, "hi all");
  auto info = events_of(s, kc::EventKind::kInfo);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].text, "Welcome");
}

TEST(ClientSession, CreatesAGameStartsAndPlays) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.create_game("My Game");
  s.flush(t0, rec);
  auto got = srv.take(rec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, 0x0A);
  auto req = got[0].as<p::CreateGame>();
  EXPECT_EQ(req.rom, "My Game");
  EXPECT_EQ(req.game_id, 0xFFFFFFFFu);

  // EK order: 0x0A, 0x0E, 0x0D (nobody), 0x0C about the creator.
  s.on_datagram(srv.game, srv.datagram(p::CreateGame{"alice", "My Game", "Emu 1.0", 12}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::GameStatus{"", 12, 0, 1, 8}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::PlayerInformation{}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kCreating);
  s.on_datagram(srv.game, srv.datagram(p::JoinGame{"", 12, "alice", 30, 9, 2}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kInRoom);
  EXPECT_EQ(s.game_id(), 12u);
  EXPECT_TRUE(s.owner());
  ASSERT_EQ(s.room().size(), 1u);

  s.on_datagram(srv.game, srv.datagram(p::JoinGame{"", 12, "bob", 40, 7, 2}), t0, rec);
  ASSERT_EQ(s.room().size(), 2u);
  EXPECT_EQ(s.room()[1].name, "bob");

  s.start_game();
  s.flush(t0, rec);
  got = srv.take(rec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, 0x11);
  EXPECT_EQ(got[0].body, bytes({0, 0xFF, 0xFF, 0xFF, 0xFF}));

  s.on_datagram(srv.game, srv.datagram(p::StartGame{"", 3, 1, 2}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kNetsync);
  EXPECT_EQ(s.delay(), 3);
  EXPECT_EQ(s.player_number(), 1);
  EXPECT_EQ(s.num_players(), 2);
  auto started = events_of(s, kc::EventKind::kGameStarted);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].value, 3u);

  s.ready();
  s.flush(t0, rec);
  got = srv.take(rec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, 0x15);
  s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kPlaying);

  s.drop();
  s.leave_game();
  s.flush(t0, rec);
  got = srv.take(rec);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 0x14);
  EXPECT_EQ(got[0].body, bytes({0, 0}));
  EXPECT_EQ(got[1].type, 0x0B);
  EXPECT_EQ(got[1].body, bytes({0, 0xFF, 0xFF}));
  s.on_datagram(srv.game, srv.datagram(p::PlayerDrop{"alice", 1}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kInRoom);
  s.on_datagram(srv.game, srv.datagram(p::CloseGame{"", 12}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::QuitGame{"alice", 9}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kLobby);
  EXPECT_FALSE(s.game_id());
}

// The n02 model (one_message_per_datagram_awaiting_ready): after its own 0x15 the client handles one queued
// message per datagram read, the oldest first, whether or not the datagram brought anything new.
TEST(ClientSession, N02ModelHandlesOneQueuedMessagePerDatagramWhileAwaitingReady) {
  auto o = options();
  o.one_message_per_datagram_awaiting_ready = true;
  kc::Session s(o);
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.create_game("My Game");
  s.flush(t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CreateGame{"alice", "My Game", "Emu 1.0", 12}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::JoinGame{"", 12, "alice", 30, 9, 2}), t0, rec);
  ASSERT_EQ(s.state(), kc::SessionState::kInRoom);
  s.on_datagram(srv.game, srv.datagram(p::StartGame{"", 1, 1, 2}), t0, rec);
  ASSERT_EQ(s.state(), kc::SessionState::kNetsync);
  s.ready();
  s.flush(t0, rec);

  // One datagram brings the status and the 0x15: only the status is handled.
  srv.out.push(p::GameStatus{"", 12, 2, 2, 8});
  srv.out.push(p::AllReady{});
  std::vector<std::uint8_t> d(1400);
  d.resize(srv.out.write_next(d, 3));
  s.on_datagram(srv.game, d, t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kNetsync);
  EXPECT_TRUE(events_of(s, kc::EventKind::kAllReady).empty());
  EXPECT_EQ(events_of(s, kc::EventKind::kGameStatus).back().a, 2);
  // The same datagram again (nothing new in it) lets the 0x15 through.
  s.on_datagram(srv.game, d, t0 + 250ms, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kPlaying);
  ASSERT_EQ(events_of(s, kc::EventKind::kAllReady).size(), 1u);
  EXPECT_EQ(events_of(s, kc::EventKind::kAllReady)[0].at, t0 + 250ms);
}

TEST(ClientSession, EntersItsNewRoomWhenTheCreateNotificationWasLost) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.create_game("My Game");
  s.flush(t0, rec);
  srv.take(rec);
  // The datagram with the 0x0A is lost and the next ones repeat too little: the 0x0A is gone for good.
  srv.datagram(p::CreateGame{"alice", "My Game", "Emu 1.0", 12});
  srv.datagram(p::GameStatus{"", 12, 0, 1, 8});
  srv.datagram(p::PlayerInformation{});
  srv.datagram(p::JoinGame{"", 12, "alice", 30, 9, 2});
  s.on_datagram(srv.game, srv.datagram(p::GlobalChat{"bob", "hi"}), t0, rec);
  EXPECT_EQ(s.stats().lost, 1u);
  EXPECT_EQ(s.state(), kc::SessionState::kInRoom);
  EXPECT_EQ(s.game_id(), 12u);
  EXPECT_TRUE(s.owner());
}

TEST(ClientSession, JoinsByIdAndLearnsTheOtherPlayers) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.join_game(3);
  s.flush(t0, rec);
  auto got = srv.take(rec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, 0x0C);
  auto req = got[0].as<p::JoinGame>();
  EXPECT_EQ(req.game_id, 3u);
  EXPECT_EQ(req.user_id, 0xFFFF);
  EXPECT_EQ(req.conn_type, 2);

  p::PlayerInformation pi;
  pi.players.push_back({"bob", 20, 7, 2});
  s.on_datagram(srv.game, srv.datagram(pi), t0, rec);
  // The 0x0C's u32 is garbage to clients (NYX sends a pointer): the game is the one we asked for.
  s.on_datagram(srv.game, srv.datagram(p::JoinGame{"", 0xDEADBEEF, "alice", 30, 9, 2}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kInRoom);
  EXPECT_EQ(s.game_id(), 3u);
  EXPECT_FALSE(s.owner());
  ASSERT_EQ(s.room().size(), 2u);
  EXPECT_EQ(s.room()[0].name, "bob");
  EXPECT_EQ(s.room()[1].name, "alice");

  // Another player leaves; then the owner closes the room.
  s.on_datagram(srv.game, srv.datagram(p::QuitGame{"bob", 7}), t0, rec);
  EXPECT_EQ(s.room().size(), 1u);
  s.on_datagram(srv.game, srv.datagram(p::CloseGame{"", 3}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kLobby);
  EXPECT_EQ(events_of(s, kc::EventKind::kRoomLeft).size(), 1u);
}

TEST(ClientSession, RefusedJoinReturnsToTheLobby) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.join_game(3);
  s.flush(t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::ServerInformation{"server", "Join Game Denied: full"}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::QuitGame{"alice", 9}), t0, rec);
  EXPECT_EQ(s.state(), kc::SessionState::kLobby);
  EXPECT_EQ(events_of(s, kc::EventKind::kRoomRefused).size(), 1u);
}

TEST(ClientSession, ResolvesServerCacheReferencesFromItsIncomingCache) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
  const auto a = bytes({1, 2, 3, 4});
  const auto b = bytes({5, 6, 7, 8});
  s.on_datagram(srv.game, srv.datagram(p::GameData{"", a}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::GameData{"", b}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CachedGameData{"", 0}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CachedGameData{"", 1}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CachedGameData{"", 7}), t0, rec);  // never sent
  auto data = events_of(s, kc::EventKind::kGameData);
  ASSERT_EQ(data.size(), 4u);
  EXPECT_EQ(data[0].data, a);
  EXPECT_FALSE(data[0].from_cache);
  EXPECT_EQ(data[1].data, b);
  EXPECT_EQ(data[2].data, a);
  EXPECT_TRUE(data[2].from_cache);
  EXPECT_EQ(data[3].data, b);
  auto miss = events_of(s, kc::EventKind::kCacheMiss);
  ASSERT_EQ(miss.size(), 1u);
  EXPECT_EQ(miss[0].a, 7);
  EXPECT_EQ(s.stats().cache_received, 2u);
  EXPECT_EQ(s.stats().cache_misses, 1u);
}

TEST(ClientSession, IncomingCacheShiftsWhenFull) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
  for (int i = 0; i < 257; ++i) {
    const auto d = bytes({static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)});
    s.on_datagram(srv.game, srv.datagram(p::GameData{"", d}), t0, rec);
  }
  // Entry 0 (i = 0) was evicted: index 0 is now i = 1, index 255 is i = 256.
  s.on_datagram(srv.game, srv.datagram(p::CachedGameData{"", 0}), t0, rec);
  s.on_datagram(srv.game, srv.datagram(p::CachedGameData{"", 255}), t0, rec);
  auto data = events_of(s, kc::EventKind::kGameData);
  ASSERT_EQ(data.size(), 259u);
  EXPECT_EQ(data[257].data, bytes({1, 0}));
  EXPECT_EQ(data[258].data, bytes({0, 1}));
}

TEST(ClientSession, SendsCacheIndexForRepeatedInputUnlessTheCacheIsOff) {
  for (bool use_cache : {true, false}) {
    kc::Session s(options(use_cache));
    Recorder rec;
    FakeServer srv;
    log_in(s, srv, rec);
    s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
    const auto a = bytes({9, 9, 9, 9});
    const auto b = bytes({1, 1, 1, 1});
    s.send_game_data(a);
    s.send_game_data(b);
    s.send_game_data(a);
    s.send_game_data(b);
    s.flush(t0, rec);
    auto got = srv.take(rec);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].type, 0x12);
    EXPECT_EQ(got[0].as<p::GameData>().data.size(), 4u);
    EXPECT_EQ(got[1].type, 0x12);
    if (use_cache) {
      ASSERT_EQ(got[2].type, 0x13);
      EXPECT_EQ(got[2].as<p::CachedGameData>().index, 0);
      ASSERT_EQ(got[3].type, 0x13);
      EXPECT_EQ(got[3].as<p::CachedGameData>().index, 1);
      EXPECT_EQ(s.stats().cache_sent, 2u);
    } else {
      EXPECT_EQ(got[2].type, 0x12);
      EXPECT_EQ(got[3].type, 0x12);
      EXPECT_EQ(s.stats().cache_sent, 0u);
    }
  }
}

TEST(ClientSession, CachesStartEmptyForEachGame) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
  const auto a = bytes({3, 3});
  s.send_game_data(a);
  s.on_datagram(srv.game, srv.datagram(p::GameData{"", a}), t0, rec);
  EXPECT_EQ(s.outgoing_cache().size(), 1u);
  EXPECT_EQ(s.incoming_cache().size(), 1u);
  s.on_datagram(srv.game, srv.datagram(p::StartGame{"", 1, 1, 1}), t0, rec);
  EXPECT_EQ(s.outgoing_cache().size(), 0u);
  EXPECT_EQ(s.incoming_cache().size(), 0u);
  s.send_game_data(a);  // full again: the server's mirror is empty too
  s.flush(t0, rec);
  auto got = srv.take(rec);
  EXPECT_EQ(got.back().type, 0x12);
}

TEST(ClientSession, ResendsOncePerSecondWithoutGameData) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  s.on_datagram(srv.game, srv.datagram(p::AllReady{}), t0, rec);
  s.send_game_data(bytes({1, 2}));
  s.flush(t0, rec);
  srv.take(rec);
  const auto before = rec.sent.size();
  for (int ms = 0; ms <= 3500; ms += 10)
    s.on_tick(t0 + std::chrono::milliseconds(ms), rec);
  EXPECT_EQ(rec.sent.size() - before, 3u);  // at 1 s, 2 s and 3 s
  EXPECT_EQ(s.stats().resends, 3u);
  // The resends carry only messages the server already has: duplicate-only datagrams.
  EXPECT_TRUE(srv.take(rec).empty());
  EXPECT_EQ(srv.duplicate_only, 3u);
  // New data from the server stops the resends.
  s.on_datagram(srv.game, srv.datagram(p::GameData{"", bytes({1, 2, 3, 4})}), t0 + 3600ms, rec);
  const auto after = rec.sent.size();
  for (int ms = 3600; ms <= 4500; ms += 10)
    s.on_tick(t0 + std::chrono::milliseconds(ms), rec);
  EXPECT_EQ(rec.sent.size(), after);
}

TEST(ClientSession, LoginResendsEveryHalfSecond) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  s.connect(t0, rec);
  s.on_datagram(srv.handshake, hellod00d(srv.game.port), t0, rec);
  const auto before = rec.sent.size();
  for (int ms = 0; ms <= 1200; ms += 10)
    s.on_tick(t0 + std::chrono::milliseconds(ms), rec);
  EXPECT_EQ(rec.sent.size() - before, 2u);
  auto b = p::parse_bundle(rec.sent.back().bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages[0].type, 0x03);  // the login again
}

TEST(ClientSession, SendsKeepAliveEverySixtySeconds) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  for (int sec = 0; sec <= 125; ++sec)
    s.on_tick(t0 + std::chrono::seconds(sec), rec);
  auto got = srv.take(rec);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 0x09);
  EXPECT_EQ(got[0].body, bytes({0}));
  EXPECT_EQ(got[1].type, 0x09);
  EXPECT_EQ(s.stats().resends, 0u);  // a keep-alive expects no answer
}

TEST(ClientSession, QuitEndsWithTheServersAnswerOrTheDeadline) {
  {
    kc::Session s(options());
    Recorder rec;
    FakeServer srv;
    log_in(s, srv, rec);
    s.quit("gg");
    s.flush(t0, rec);
    auto got = srv.take(rec);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, 0x01);
    auto q = got[0].as<p::UserQuit>();
    EXPECT_EQ(q.user_id, 0xFFFF);
    EXPECT_EQ(q.message, "gg");
    EXPECT_EQ(s.state(), kc::SessionState::kQuitting);
    s.on_datagram(srv.game, srv.datagram(p::UserQuit{"alice", 9, "gg"}), t0, rec);
    EXPECT_EQ(s.state(), kc::SessionState::kClosed);
    EXPECT_TRUE(s.finished());
  }
  {
    kc::Session s(options());
    Recorder rec;
    FakeServer srv;
    log_in(s, srv, rec);
    s.quit();
    s.flush(t0, rec);
    for (int ms = 0; ms <= 3000; ms += 100)
      s.on_tick(t0 + std::chrono::milliseconds(ms), rec);
    EXPECT_EQ(s.state(), kc::SessionState::kClosed);
    EXPECT_EQ(events_of(s, kc::EventKind::kQuitDone).size(), 1u);
  }
}

TEST(ClientSession, ReportsServerSeqsLostForGood) {
  kc::Session s(options());
  Recorder rec;
  FakeServer srv;
  log_in(s, srv, rec);
  // Five server messages go out in five datagrams; only the last arrives (its bundle carries three before
  // it).
  std::vector<std::uint8_t> last;
  for (int i = 0; i < 5; ++i)
    last = srv.datagram(p::GlobalChat{"bob", std::to_string(i)});
  s.on_datagram(srv.game, last, t0, rec);
  auto lost = events_of(s, kc::EventKind::kLost);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].value, 1u);
  EXPECT_EQ(events_of(s, kc::EventKind::kChat).size(), 4u);
}

TEST(ClientPlayer, InputsAreDeterministicAndBlocksInterleaveByFrame) {
  const auto a = kc::Player::input_for(1, 10, 2, 0);
  EXPECT_EQ(a, kc::Player::input_for(1, 10, 2, 0));
  EXPECT_NE(a, kc::Player::input_for(2, 10, 2, 0));
  EXPECT_NE(a, kc::Player::input_for(1, 11, 2, 0));
  EXPECT_EQ(kc::Player::input_for(1, 3, 5, 0).size(), 5u);
  EXPECT_EQ(kc::Player::input_for(2, 7, 2, 4), kc::Player::input_for(2, 3, 2, 4));  // repeats every 4 frames

  // Two players, connType 2: [f2:P1][f2:P2][f3:P1][f3:P2] for block 1 (KAILLERA.md §5.5).
  const auto block = kc::Player::expected_block(1, 2, 2, 2, 0);
  std::vector<std::uint8_t> want;
  for (std::uint64_t f : {2, 3}) {
    for (std::uint32_t pl : {1, 2}) {
      const auto in = kc::Player::input_for(pl, f, 2, 0);
      want.insert(want.end(), in.begin(), in.end());
    }
  }
  EXPECT_EQ(block, want);
  EXPECT_EQ(block.size(), 8u);
}
