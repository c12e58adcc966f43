// One Kaillera client connection as a state machine (DESIGN.md "Time is an argument"): no clock, no socket.
// The owner feeds it datagrams and ticks with the current time; it answers through a Sink.
//
//   connect(now, sink)                 HELLO0.83 to the server's handshake port (KAILLERA.md §1)
//   on_datagram(from, bytes, now, sink) a datagram arrived (handshake reply or v086 bundle)
//   on_tick(now, sink)                 timers: HELLO retries, resends, keep-alive, quit deadline
//   create_game(rom), chat(text), …    requests: queued, sent by the next flush(now, sink)
//
// It logs in (0x03, then one 0x06 per 0x05), tracks the lobby (users, games) and its room, keeps both
// game-data caches (KAILLERA.md §5.6) and records every event in order for the caller to inspect or take.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/game_cache.hpp"
#include "common/kaillera/messages.hpp"
#include "common/net/address.hpp"

namespace kaillera::client {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;
using Bytes = std::span<const std::uint8_t>;

// Where a session's datagrams go: the simulator, a real UDP socket, or a test's recorder.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(const net::Endpoint& to, Bytes data) = 0;
};

// Anything driven by datagrams and ticks (a Session, a Player): what the UDP driver and the simulator run.
class Agent {
 public:
  virtual ~Agent() = default;
  virtual void on_datagram(const net::Endpoint& from, Bytes data, TimePoint now, Sink& out) = 0;
  virtual void on_tick(TimePoint now, Sink& out) = 0;
  // True once the agent has nothing more to do (quit, failed, or finished its script).
  virtual bool finished() const = 0;
};

struct SessionOptions {
  net::Endpoint server;  // the handshake endpoint (HELLO goes here); the game port comes from HELLOD00D
  std::string name = "kf-client";
  std::string emulator = "Kaillera Federation client";
  std::uint8_t conn_type = 1;  // 1 LAN … 6 Bad: frames of input per 0x12
  bool use_cache = true;  // send 0x13 for inputs already in the outgoing cache; false = always 0x12 (n02)
  std::size_t redundancy = 3;    // earlier messages repeated in each datagram (KAILLERA.md §2.3)
  std::size_t resend_count = 5;  // messages in a resend (n02 resends its last 5)
  std::size_t max_datagram = 1400;
  Millis hello_retry{1000};  // HELLO again when no HELLOD00D came (n02 waits 2 s)
  int hello_attempts = 5;
  Millis login_resend{500};      // while logging in (N02CORE re-sends every 500 ms)
  Millis resend_interval{1000};  // waiting for a reply or for game data: resend after this much silence
  Millis keepalive_interval{60000};
  Millis quit_timeout{3000};  // closed this long after the 0x01 request even without the server's answer
  // The n02 client's receiver while it waits for 0x15 (N02R kaillera_core.cpp, the loop after it sends its
  // 0x15): each datagram it reads queues that datagram's new messages and then handles only the oldest
  // queued one, so a message behind others waits for later datagrams. Models that client in tests.
  bool one_message_per_datagram_awaiting_ready = false;
};

enum class SessionState : std::uint8_t {
  kIdle,         // nothing sent yet
  kHandshaking,  // HELLO sent, waiting for HELLOD00D
  kLoggingIn,    // 0x03 sent, ACK exchange
  kLobby,        // logged in (first 0x04 or our own 0x02 arrived)
  kCreating,     // 0x0A request sent
  kJoining,      // 0x0C request sent
  kInRoom,       // in a game room, waiting
  kNetsync,      // 0x11 received, waiting for everybody's 0x15
  kPlaying,      // 0x15 received: game data flows
  kQuitting,     // 0x01 sent
  kClosed,       // quit answered (or timed out)
  kFailed,       // TOO, VER, rejected, no handshake reply
};
std::string_view to_string(SessionState s);

enum class EventKind : std::uint8_t {
  kConnected,        // HELLOD00D: `value` = game port
  kServerFull,       // TOO
  kVersionMismatch,  // VER
  kHandshakeTimeout,
  kLoggedIn,       // first 0x04 (or our own 0x02 before it)
  kRejected,       // 0x16: `text`
  kUserJoined,     // 0x02: `user`, `id`, `value` = ping, `a` = conn type
  kUserQuit,       // 0x01: `user`, `id`, `text`
  kChat,           // 0x07: `user`, `text`
  kGameChat,       // 0x08: `user`, `text`
  kInfo,           // 0x17: `user` = source, `text`
  kGameCreated,    // 0x0A: `user` = owner, `text` = rom, `id` = game id
  kGameStatus,     // 0x0E: `id`, `a` = status, `b` = players, `c` = max
  kGameClosed,     // 0x10: `id`
  kPlayerJoined,   // 0x0C: `user`, `id` = user id, `value` = ping, `a` = conn type
  kPlayerLeft,     // 0x0B: `user`, `id` = user id
  kRoomEntered,    // we are in a room: `id` = game id
  kRoomLeft,       // we left (or were kicked from, or refused) our room: `id` = game id
  kRoomRefused,    // create/join refused (0x0B about ourselves while not in a room)
  kPlayerList,     // 0x0D: `value` = number of other players
  kGameStarted,    // 0x11: `value` = frame delay, `a` = our player number, `b` = player count
  kAllReady,       // 0x15
  kGameData,       // 0x12 or a resolved 0x13: `data`, `from_cache`, `a` = cache index when from_cache
  kCacheMiss,      // 0x13 naming an index our incoming cache does not hold: `a` = index
  kPlayerDropped,  // 0x14: `user`, `a` = player number
  kLost,           // the server's seqs skipped for good: `value` = how many
  kQuitDone,       // our own 0x01 came back, or the quit deadline passed
  kMalformed,      // a datagram or message we could not decode: `text`
};
std::string_view to_string(EventKind k);

struct Event {
  EventKind kind{};
  TimePoint at{};
  std::string user;
  std::string text;
  std::uint32_t id = 0;
  std::uint32_t value = 0;
  std::uint8_t a = 0, b = 0, c = 0;
  bool from_cache = false;
  std::vector<std::uint8_t> data;
};

struct UserInfo {
  std::string name;
  std::uint16_t id = 0;
  std::uint32_t ping = 0;
  std::uint8_t status = 0;
  std::uint8_t conn_type = 0;
};

struct GameInfo {
  std::uint32_t id = 0;
  std::string rom, emulator, owner, players;  // players: the "n/max" text of a 0x04
  std::uint8_t status = 0;
  std::uint8_t num_players = 0;
  std::uint8_t max_players = 0;
};

struct RoomPlayer {
  std::string name;
  std::uint16_t id = 0;
  std::uint32_t ping = 0;
  std::uint8_t conn_type = 0;
};

struct SessionStats {
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t messages_in = 0;     // new messages processed
  std::uint64_t duplicate_only = 0;  // datagrams with nothing new
  std::uint64_t lost = 0;            // server seqs skipped for good
  std::uint64_t malformed = 0;
  std::uint64_t resends = 0;
  std::uint64_t hello_sent = 0;
  std::uint64_t acks = 0;  // 0x05 answered
  std::uint64_t keepalives = 0;
  std::uint64_t game_data_sent = 0;      // full 0x12
  std::uint64_t cache_sent = 0;          // 0x13
  std::uint64_t game_data_received = 0;  // full 0x12
  std::uint64_t cache_received = 0;      // 0x13 resolved
  std::uint64_t cache_misses = 0;
};

class Session : public Agent {
 public:
  explicit Session(SessionOptions options);

  // The HELLO0.83 datagram for the handshake port; starts (or restarts) the handshake.
  std::vector<std::uint8_t> hello(TimePoint now);
  // hello() sent to options.server.
  void connect(TimePoint now, Sink& out);

  void on_datagram(const net::Endpoint& from, Bytes data, TimePoint now, Sink& out) override;
  void on_tick(TimePoint now, Sink& out) override;
  bool finished() const override {
    return state_ == SessionState::kClosed || state_ == SessionState::kFailed;
  }

  // Requests. Each queues one message; flush() (or the next on_datagram/on_tick) sends it.
  void chat(std::string_view text);        // 0x07
  void game_chat(std::string_view text);   // 0x08
  void create_game(std::string_view rom);  // 0x0A
  void join_game(std::uint32_t game_id);   // 0x0C
  void start_game();                       // 0x11
  void ready();                            // 0x15
  // 0x13 when `input` is in the outgoing cache (and use_cache), else 0x12 (appended to the cache).
  void send_game_data(Bytes input);
  void drop();                               // 0x14
  void leave_game();                         // 0x0B
  void kick(std::uint16_t user_id);          // 0x0F
  void keepalive();                          // 0x09
  void quit(std::string_view message = "");  // 0x01

  // Sends what is queued: one datagram per up to 8 new messages, repeating every message of the previous
  // `redundancy` datagrams (at least `redundancy` messages).
  void flush(TimePoint now, Sink& out);
  // Sends the last `resend_count` messages (or all of the last `redundancy` datagrams) again now. The server
  // sees a duplicate-only datagram, which asks it to resend its own last messages (KAILLERA.md §2.4): a way
  // to recover a lost notification while idle.
  void request_resend(TimePoint now, Sink& out);

  // State.
  SessionState state() const { return state_; }
  const SessionOptions& options() const { return options_; }
  bool logged_in() const { return logged_in_; }
  std::optional<net::Endpoint> game_endpoint() const { return game_endpoint_; }
  std::optional<std::uint16_t> user_id() const { return user_id_; }
  std::optional<std::uint32_t> game_id() const { return game_id_; }  // our room
  bool owner() const { return owner_; }
  std::uint16_t delay() const { return delay_; }
  std::uint8_t player_number() const { return player_number_; }
  std::uint8_t num_players() const { return num_players_; }
  const std::map<std::uint16_t, UserInfo>& users() const { return users_; }
  const std::map<std::uint32_t, GameInfo>& games() const { return games_; }
  const std::vector<RoomPlayer>& room() const { return room_; }
  const SessionStats& stats() const { return stats_; }
  const std::string& error() const { return error_; }         // why kFailed
  TimePoint last_message_in() const { return last_new_in_; }  // when the last new server message arrived

  // Events in arrival order. take_events() hands them over and forgets them (long runs);
  // events() shows what has not been taken yet.
  const std::deque<Event>& events() const { return events_; }
  std::vector<Event> take_events();

  const proto::GameDataCache& incoming_cache() const { return in_cache_; }
  const proto::GameDataCache& outgoing_cache() const { return out_cache_; }

 private:
  // Queues `m`; `answers` is the set of server message types (bit t for type t) that show it arrived.
  template <class T>
  void push(const T& m, std::uint32_t answers);
  void handle_handshake(const net::Endpoint& from, Bytes data, TimePoint now);
  void handle_message(const proto::RawMessage& raw, TimePoint now);
  // one_message_per_datagram_awaiting_ready: after our 0x15, until the server's.
  bool awaiting_ready_queue() const;
  void on_bundle_awaiting_ready(const proto::Bundle* bundle, TimePoint now);
  void handle(const proto::Message& m, TimePoint now);
  Event& emit(EventKind kind, TimePoint now);
  void fail(EventKind kind, std::string why, TimePoint now);
  void enter_room(std::uint32_t game_id, TimePoint now);
  void leave_room(TimePoint now);
  void reset_caches();
  void send_raw(const net::Endpoint& to, Bytes data, Sink& out);

  SessionOptions options_;
  SessionState state_ = SessionState::kIdle;
  bool logged_in_ = false;
  std::optional<net::Endpoint> game_endpoint_;
  std::optional<std::uint16_t> user_id_;
  std::optional<std::uint32_t> game_id_;
  std::optional<std::uint32_t> joining_id_;         // the game we asked to join
  std::optional<std::uint32_t> pending_game_id_;    // our created game, seen in a 0x0A before our 0x0C
  bool self_joined_ = false;                        // our 0x0C came while creating
  std::optional<std::uint32_t> unknown_status_id_;  // while creating: last 0x0E about a game not seen before
  bool lost_while_creating_ = false;                // server messages were lost for good while creating
  std::string creating_rom_;
  bool owner_ = false;
  std::uint16_t delay_ = 0;
  std::uint8_t player_number_ = 0;
  std::uint8_t num_players_ = 0;

  std::map<std::uint16_t, UserInfo> users_;
  std::map<std::uint32_t, GameInfo> games_;
  std::vector<RoomPlayer> room_;

  static constexpr std::size_t kMaxNewPerDatagram = 8;
  static constexpr std::size_t kMaxRedundancy = 24;
  std::deque<std::size_t> recent_new_;  // new messages in each of the last `redundancy` datagrams
  proto::ReceiveWindow window_;
  proto::Outbox outbox_;
  proto::GameDataCache in_cache_;
  proto::GameDataCache out_cache_;
  std::vector<std::uint8_t> buffer_;

  // Timers.
  TimePoint hello_sent_{};
  int hello_count_ = 0;
  std::uint32_t awaiting_ = 0;        // answer types of the requests out and not yet answered
  std::uint32_t queued_answers_ = 0;  // answer types of requests queued, not yet flushed
  TimePoint request_sent_{};          // when the last request that expects an answer went out
  TimePoint last_new_in_{};           // when the last new message came in
  bool ready_sent_ = false;           // our 0x15 of the current game has been queued
  struct Queued {
    std::uint16_t seq = 0;
    std::uint8_t type = 0;
    std::vector<std::uint8_t> body;
  };
  std::deque<Queued> ready_queue_;  // one_message_per_datagram_awaiting_ready: received, not yet handled
  TimePoint last_resend_{};
  std::optional<TimePoint> last_keepalive_;
  std::optional<TimePoint> quit_sent_;

  std::deque<Event> events_;
  SessionStats stats_;
  std::string error_;
};

}  // namespace kaillera::client
