// Internal state of the relay core, shared by server.cpp (handshake, sessions, login, lobby), rooms.cpp
// (rooms and the lock-step engine) and commands.cpp (chat commands). Not part of the public interface.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/kaillera/bundle.hpp"
#include "relay/core/lag.hpp"
#include "common/kaillera/game_cache.hpp"
#include "common/kaillera/messages.hpp"
#include "common/net/rate_limiter.hpp"
#include "relay/core/autofire.hpp"
#include "relay/core/command_parse.hpp"
#include "relay/core/journal.hpp"
#include "relay/core/moderation.hpp"
#include "relay/core/server.hpp"

namespace kaillera::relay {

namespace proto = kaillera::proto;

// kClosing: removed from the lobby and the address table; its queued messages (its own 0x01, a 0x16) are
// delivered by the next flush, then it is freed.
enum class SessionState : std::uint8_t { kAcking, kLoggedIn, kClosing };

struct Session {
  std::uint16_t id = 0;
  std::uint16_t local_port = 0;
  net::Endpoint addr;
  SessionState state = SessionState::kAcking;
  std::string name, emulator;
  std::uint8_t conn_type = 3;
  Level level = Level::kNormal;  // from the access file, grants and bans; recomputed when they change
  bool exempt() const { return level >= Level::kElevated; }  // limits (flood, full, ping, idle) do not apply
  bool staff() const { return is_staff(level); }

  // Player tools (commands.cpp).
  bool msg_off = false;                // /msgoff: refuses private messages (staff's still arrive)
  bool p2p = false;                    // /p2pon: no lobby traffic while playing
  bool ignore_all = false;             // /ignoreall: no chat from anyone but staff
  bool stealth = false;                // /stealthon (admins): rooms are joined invisibly, as a watcher
  std::vector<std::uint32_t> ignored;  // /ignore: addresses whose chat is not delivered (bounded)
  std::uint16_t reply_to = 0;          // the last private message partner, for /r
  double command_tokens = -1;          // command flood bucket (-1: full, not yet used)
  TimePoint command_last{};

  proto::ReceiveWindow rx;
  proto::Outbox tx;
  bool dirty = false;   // has pending messages: flush at the end of this step
  bool silent = false;  // closing without sending anything more (its address was taken over)

  // Login ACK round trips.
  int acks = 0;
  TimePoint last_ack_sent{};
  TimePoint first_ack_sent{};
  TimePoint next_hop_sample{};  // game traffic's TTL is recorded at most once a second per session (record)
  std::uint32_t ping_ms = 0;
  // The latest round trip measured since login (Server::note_rtt: the shell's probes in play); 0 = none.
  std::uint32_t measured_ping_ms = 0;
  std::uint32_t current_ping_ms() const { return measured_ping_ms != 0 ? measured_ping_ms : ping_ms; }
  std::size_t last_request_size = 0;  // before login: replies stay within twice this

  TimePoint created{}, last_heard{}, last_action{}, last_resend{};
  std::optional<TimePoint> last_chat, last_create;  // "never" until the first one (EK PR #215)
  std::size_t burst_left = 0;  // post-login burst messages still to pace out, one per tick
  // From its 0x15 to its first game data, one new message per datagram (docs/RELAY.md "Game start"): an n02
  // client waiting for 0x15 handles one queued message per datagram it receives.
  bool start_pacing = false;
  int resend_streak = 0;
  std::optional<TimePoint> gap_since;  // a hole in the client's seqs is being waited for since
  // Signs of a lossy path (holes in the client's seqs, resend requests) in the current 10 s window: each
  // adds one to the redundancy of what we send it, up to 6 (game data is small; repeating it is cheap).
  std::uint32_t loss_signs = 0, extra_redundancy = 0;
  TimePoint loss_window{};

  std::uint32_t game_id = 0;  // 0 = lobby

  explicit Session(std::size_t max_datagram) : tx(32, max_datagram) {}
};

enum class GameState : std::uint8_t { kWaiting, kNetsync, kPlaying };

struct Player {
  std::uint16_t user_id = 0;
  std::uint8_t conn_type = 1;
  bool ready = false;                 // sent 0x15 in this game
  bool playing = false;               // in the lock-step (not dropped)
  bool left = false;                  // quit the room mid-game: the slot stays (zeros) until the game ends
  std::uint32_t bytes_per_frame = 0;  // learned from the first 0x12
  // Received frames not yet assembled: a byte FIFO (read offset, compacted now and then) so that relaying
  // allocates nothing once warm.
  std::vector<std::uint8_t> in_bytes;
  std::size_t in_read = 0;
  std::uint32_t in_frames = 0;
  std::vector<std::uint8_t> out_accum;  // assembled frames waiting for a whole block
  std::uint32_t accum_frames = 0;
  proto::GameDataCache in_cache;  // mirror of what this client sent (resolves its 0x13)
  // How often this client's recent input came as 0x13 (hits) or 0x12 (misses), halved every 64 messages: the
  // best guess of how many of the messages it lost for good were 0x12 that its own cache took in.
  std::uint16_t recent_hits = 0, recent_misses = 0;
  proto::GameDataCache out_cache;  // mirror of what we sent it
  TimePoint last_data{};
  LagWindow lag;                         // what this player cost the game in the lag window (lag.hpp)
  std::optional<TimePoint> lag_noticed;  // lag_notice: the room was told, at; once per window
  std::uint64_t blocks_in = 0;
  // After 0x15: when to repeat our newest messages if this player's first game data has not come (and the
  // gap to the repeat after that). Unset once it has.
  std::optional<TimePoint> start_repeat_at;
  Millis start_repeat_gap{0};
  AutofireScanner autofire;  // used only while the room's /detectautofire is on
};

struct Game {
  std::uint32_t id = 0;
  std::string rom;
  std::uint16_t owner = 0;
  std::string emulator;  // the owner's login emulator string
  GameState state = GameState::kWaiting;
  std::uint32_t max_players = 8;
  std::uint32_t max_ping = 0;           // 0 = no room limit
  std::vector<Player> players;          // player number = index + 1
  std::vector<std::uint16_t> watchers;  // admins in the room in stealth: see its chat, invisible to the rest
  std::unordered_set<std::uint32_t> banned_ips;  // kicked from this room by its owner
  std::unordered_set<std::uint32_t> muted_ips;   // /mute: no room chat, kept when they rejoin
  bool emu_locked = false;                       // /setemu: only the owner's emulator may join
  bool conn_locked = false;                      // /setconn: only the owner's connection type may join
  bool same_delay = false;     // /samedelay: every player gets the delay of the highest ping
  std::uint32_t start_at = 0;  // /startn: start once this many players are in (0 = off)
  std::uint8_t autofire = 0;   // /detectautofire: sensitivity 1..5, 0 = off
  std::deque<std::pair<std::uint32_t, TimePoint>> recent_joins;  // (ip, when): join spam
  TimePoint started{}, last_emit{}, last_stall_resend{};
  std::uint64_t frames_emitted = 0;
  // Lag statistics (lag.hpp): the game's frame clock and what it lost, over the window.
  double fps = 60;  // /fps
  FrameClock clock;
  LagWindow lag;
  bool chat_room() const { return !rom.empty() && rom[0] == '*'; }
};

struct Server::Impl {
  explicit Impl(Config c);

  Config cfg;
  mutable Counters counters;  // mutable: formatting a text (const) counts English fallbacks
  Admission admission;        // admission.hpp: refusing new load while over the limits
  std::uint16_t handshake_port = 0;
  std::vector<std::uint16_t> game_ports;
  bool per_client_ports = false;
  bool shutdown_requested = false;
  FairHook fair_hook;

  std::unordered_map<std::uint16_t, std::unique_ptr<Session>> sessions;  // by user id
  std::unordered_map<std::uint64_t, Session*> by_addr;                   // by (local port, ip, port)
  std::map<std::uint32_t, std::unique_ptr<Game>> games;                  // by game id, ordered for lists
  std::uint16_t next_user_id = 1;
  std::uint32_t next_game_id = 1;

  // HELLOs not yet followed by a login: shared port keyed by IP (count), per-client ports keyed by port.
  struct PendingHello {
    std::uint32_t ip;
    TimePoint expires;
  };
  std::unordered_map<std::uint32_t, std::vector<TimePoint>> pending_by_ip;
  std::unordered_map<std::uint16_t, PendingHello> pending_by_port;
  std::vector<std::uint16_t> free_ports;  // per-client mode

  net::RateLimiter hello_limiter;
  Moderation mod;              // access levels, bans, silences, grants (moderation.hpp)
  Journal* journal = nullptr;  // the shell's store and audit log; null: memory only
  ReloadHook reload_hook;
  // Staff acknowledgements waiting for the shell to say a change is written (change_written).
  struct PendingAck {
    std::uint16_t user_id;
    std::string line;
  };
  std::unordered_map<std::uint64_t, PendingAck> pending_acks;
  std::uint64_t next_change_id = 1;
  // The latest logins, newest last, for /info.
  struct LoginRecord {
    std::string name, emulator;
    std::uint32_t ip;
    std::uint32_t ping_ms;
    std::uint8_t conn_type;
    TimePoint when;
  };
  static constexpr std::size_t kMaxRecentLogins = 1024;
  std::deque<LoginRecord> recent_logins;

  // Latest measurement per (ip, source), bounded.
  std::unordered_map<std::uint64_t, PeerMeasurement> measurements;
  // Roms of the latest game starts, the newest last; the front one is start number
  // counters.games_started - recent_starts.size() + 1.
  static constexpr std::size_t kMaxRecentStarts = 64;
  std::deque<std::string> recent_starts;
  TimePoint last_housekeeping{};

  std::vector<Session*> dirty;
  std::vector<std::uint16_t> stall_resends;  // players a stalled game waits for: repeat our newest messages
  std::vector<std::uint16_t> closing;        // sessions to drain and free at the end of this step
  std::array<std::uint8_t, 8192> scratch{};

  // --- helpers (server.cpp) ---
  static std::uint64_t addr_key(std::uint16_t local_port, const net::Endpoint& e) {
    return (static_cast<std::uint64_t>(local_port) << 48) | e.key();
  }
  Session* session(std::uint16_t id) {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.get();
  }
  const Session* session_const(std::uint16_t id) const {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.get();
  }
  Game* game(std::uint32_t id) {
    auto it = games.find(id);
    return it == games.end() ? nullptr : it->second.get();
  }
  template <class T>
  void send(Session& s, const T& m) {
    if (!s.tx.push(m)) return;  // cannot exceed a datagram: our own messages are bounded before this
    if (!s.dirty) {
      s.dirty = true;
      dirty.push_back(&s);
    }
  }
  template <class T>
  void send_all(const T& m) {
    for (auto& [id, s] : sessions) {
      if (s->state == SessionState::kLoggedIn) send(*s, m);
    }
  }
  // Lobby traffic (chat, joins, quits, other rooms): not to players who asked for quiet while they play
  // (/p2pon, or everyone above p2p_forced_above users), except those in `game_id`'s room.
  template <class T>
  void send_lobby(const T& m, std::uint32_t game_id = 0) {
    const bool forced = cfg.p2p_forced_above != 0 && logged_in_count() > cfg.p2p_forced_above;
    for (auto& [id, s] : sessions) {
      if (s->state != SessionState::kLoggedIn) continue;
      if ((s->p2p || forced) && s->game_id != 0 && s->game_id != game_id && playing(*s)) continue;
      send(*s, m);
    }
  }
  template <class T>
  void send_room(const Game& g, const T& m) {
    for (const auto& p : g.players) {
      if (Session* s = session(p.user_id)) send(*s, m);
    }
    for (std::uint16_t id : g.watchers) {
      if (Session* s = session(id)) send(*s, m);
    }
  }
  bool playing(const Session& s) const;  // in a game that has started
  // Lobby chat (0x07 lines, /me): the flood limit (true: refused and told), and the broadcast that skips
  // those who ignore the sender and those playing in quiet mode.
  bool chat_flooding(Session& s, TimePoint now);
  template <class T>
  void send_lobby_chat(const Session& from, const T& m) {
    const bool forced = cfg.p2p_forced_above != 0 && logged_in_count() > cfg.p2p_forced_above;
    for (auto& [id, o] : sessions) {
      if (o->state != SessionState::kLoggedIn || ignores(*o, from)) continue;
      if ((o->p2p || forced) && playing(*o)) continue;
      send(*o, m);
    }
  }
  void audit(AuditEvent e) {
    if (journal) journal->audit(std::move(e));
  }
  // A text of the catalog (cfg.messages) with its placeholders filled; English fallbacks are counted.
  std::string t(std::string_view key, std::initializer_list<MessageArg> args = {}) const {
    bool fallback = false;
    std::string text = cfg.messages.format(key, args, &fallback);
    if (fallback) ++counters.texts_in_english;
    return text;
  }
  std::string level_text(Level l) const { return t("level." + std::string(level_name(l))); }
  // A command's usage line ("/kick <player number>"): usage.<word>; the owner's /kick is usage.kick_player.
  std::string usage_text(const CommandInfo& c) const {
    return t("usage." + (c.verb == Verb::kRoomKick ? std::string("kick_player") : std::string(c.word)));
  }
  void info(Session& s, std::string_view text);        // 0x17 from "Server"
  void room_info(Session& s, std::string_view text);   // 0x08 from "Server"
  void room_error(Session& s, std::string_view text);  // 0x08 from "Error"
  void flush(TimePoint now, Sink& out);
  void flush_one(Session& s, Sink& out);
  void resend(Session& s, TimePoint now, Sink& out);
  void note_loss(Session& s, TimePoint now);
  void remove_session(Session& s, std::string_view quit_message, TimePoint now);
  void record(std::uint32_t ip, std::uint8_t ttl, std::uint32_t rtt_ms, PeerMeasurement::Source src,
              TimePoint now);
  std::uint32_t logged_in_count() const;
  std::uint8_t user_status(const Session& s) const;
  std::uint8_t game_status(const Game& g) const;

  void on_handshake(std::uint16_t local_port, const net::Endpoint& from, ByteSpan data, TimePoint now,
                    Sink& out);
  void on_bundle(std::uint16_t local_port, const net::Endpoint& from, std::uint8_t ttl, ByteSpan data,
                 TimePoint now, Sink& out);
  void on_message(Session& s, std::uint8_t type, ByteSpan body, TimePoint now, Sink& out);
  void on_login_packet(std::uint16_t local_port, const net::Endpoint& from, const proto::Bundle& b,
                       ByteSpan data, TimePoint now, Sink& out);
  bool has_pending_hello(std::uint16_t local_port, std::uint32_t ip) const;
  void on_client_ack(Session& s, TimePoint now);
  void complete_login(Session& s, TimePoint now);
  void send_server_status(Session& s);
  void on_global_chat(Session& s, std::string_view text, TimePoint now);
  void on_user_quit(Session& s, std::string_view message, TimePoint now);
  void housekeeping(TimePoint now);

  // --- rooms.cpp ---
  void on_create_game(Session& s, const proto::CreateGame& m, TimePoint now);
  void on_join_game(Session& s, const proto::JoinGame& m, TimePoint now);
  void on_game_chat(Session& s, std::string_view text, TimePoint now);
  void on_start_game(Session& s, TimePoint now);
  void on_all_ready(Session& s, TimePoint now);
  void repeat_start(Game& g, TimePoint now);
  static Millis start_repeat_delay(std::uint32_t ping_ms);
  void maybe_begin_play(Game& g, TimePoint now);
  void on_game_data(Session& s, ByteSpan data, TimePoint now);
  void on_cached_game_data(Session& s, std::uint8_t index, TimePoint now);
  void on_drop(Session& s, TimePoint now, std::string_view why = {});
  void on_kick(Session& s, std::uint16_t target, TimePoint now);
  void leave_game(Session& s, TimePoint now, bool kicked = false);
  void close_game(Game& g, TimePoint now);
  void game_status_to_all(const Game& g);
  void emit_frames(Game& g, TimePoint now, Player* cause = nullptr);
  // Lag statistics (lockstep.cpp, lag.hpp).
  Micros lag_slot() const;
  void frame_complete(Game& g, Player* cause, TimePoint now);
  void maybe_lag_notice(Game& g, Player& p, TimePoint now);
  void note_resend_request(Session& s, TimePoint now);
  std::int64_t window_seconds(const Game& g, TimePoint now) const;
  std::string seconds_text(Micros t) const;  // "1.25 s" (lag.seconds)
  void restart_lag(Game& g, TimePoint now);
  bool playing_zeros = false;  // play_zeros is feeding lost input: lag from it is lost input's
  void send_block(Player& p, Session& s);
  void on_input(Game& g, Player& p, ByteSpan data, TimePoint now);
  void note_cache_use(Player& p, bool hit);
  void scan_autofire(Game& g, Player& p, ByteSpan data);
  void play_zeros(Game& g, Player& p, std::uint16_t packets, TimePoint now);
  void fill_lost_input(Session& s, std::uint16_t lost, TimePoint now);
  std::uint32_t common_bytes_per_frame(const Game& g) const;
  std::uint32_t player_count(const Game& g) const;
  void check_games(TimePoint now);
  Player* player_of(Game& g, std::uint16_t user_id);
  std::string start_refusal(const Game& g);  // also counts busy refusals
  std::uint32_t allocate_game_id();

  void announce_to_room(const Game& g, std::string_view line);  // 0x08 from "Server" to everyone present
  void start_game(Game& g, TimePoint now);
  void watch_game(Session& s, Game& g);
  std::uint32_t delay_ping(const Game& g, std::uint32_t own_ping) const;  // the ping a player's delay is from
  bool join_spam(Game& g, std::uint32_t ip, TimePoint now);

  // --- commands.cpp: everyone's and the room owner's commands ---
  // `room`: the room whose chat the command was typed in; null: the lobby chat.
  void command(Session& s, std::string_view text, Game* room, TimePoint now);
  Game* command_room_ = nullptr;                  // while a command runs: where it was typed
  void reply(Session& s, std::string_view text);  // to where the command was typed: 0x08 or 0x17
  bool command_allowed(Session& s, TimePoint now);
  void help(Session& s, Game* room);
  void player_command(Session& s, const Command& c, Game* room, TimePoint now);
  void room_command(Session& s, Game& g, const Command& c, TimePoint now);
  void private_message(Session& s, std::uint16_t to, std::string_view text, TimePoint now);
  bool ignores(const Session& receiver, const Session& sender) const;
  std::vector<std::string> lagstat(const Game& g, TimePoint now) const;
  Snapshot::PlayingGame playing_lag(const Game& g, TimePoint now) const;   // for the master's reports
  void lag_command(Game& g, Session& s, const Command& c, TimePoint now);  // lag.cpp
  std::vector<FairPlayer> fair_players(const Game& g) const;
  static constexpr std::uint32_t kMinFps = 1, kMaxFps = 240;

  // --- staff.cpp: moderation (levels, admission, staff commands, lasting changes) ---
  std::string policy_refusal(Session& s, TimePoint now);  // at login: ban, filters, limits; "" = admitted
  void staff_command(Session& s, const Command& c, Game* room, TimePoint now);
  std::uint8_t owner_conn_type(const Game& g) const;
  std::vector<std::string> player_names(const Game& g) const;  // for audit events
  Session* find_user(std::uint16_t id);
  bool outranks(const Session& issuer, Level target) const;
  std::size_t refresh_levels(TimePoint now);  // how many users' levels changed
  void journal_change(ModerationChange c, Session& issuer, std::string ack);
  std::string sanction_text(const Sanction& x, TimePoint now) const;
  void remove_banned(const AddressRange& range, std::string_view reason, TimePoint now);
};

}  // namespace kaillera::relay
