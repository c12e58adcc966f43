// The Kaillera server as a state machine (DESIGN.md "Time is an argument"): no clock, no sockets, no threads.
// The shell feeds it datagrams and ticks with the current time; it answers through a Sink.
//
//   on_datagram(local_port, from, ttl, bytes, now, sink)   a datagram arrived on one of our ports
//   on_tick(now, sink)                                     timers: timeouts, paced sends, deadlines
//
// local_port is the port the datagram arrived on (the handshake port or a game port); replies go out from the
// same port, as clients require (KAILLERA.md §1.2).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <memory>
#include <string>
#include <vector>

#include "common/net/address.hpp"
#include "relay/core/config.hpp"
#include "relay/core/journal.hpp"
#include "relay/core/moderation.hpp"

namespace kaillera::relay {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using ByteSpan = std::span<const std::uint8_t>;

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(std::uint16_t local_port, const net::Endpoint& to, ByteSpan data) = 0;
};

// Counters by reason, for /metrics and the master reports. Plain numbers: the core is single-threaded.
struct Counters {
  std::uint64_t datagrams_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t drop_malformed = 0;        // undecodable bundle or handshake
  std::uint64_t drop_rate_limited = 0;     // handshake port flood
  std::uint64_t drop_unknown_session = 0;  // v086 from an address with no session
  std::uint64_t drop_bad_message = 0;      // a message that decoded but makes no sense in the session's state
  std::uint64_t hellos = 0;
  std::uint64_t pings = 0;
  std::uint64_t server_full = 0;
  std::uint64_t version_mismatch = 0;
  std::uint64_t logins = 0;
  std::uint64_t login_rejected = 0;
  std::uint64_t quits = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t games_created = 0;
  std::uint64_t games_started = 0;
  std::uint64_t desyncs = 0;  // players dropped by the data deadline or lost input
  std::uint64_t resends = 0;
  std::uint64_t lost_messages = 0;    // client seqs lost for good
  std::uint64_t lost_cache_refs = 0;  // 0x13 naming a cache entry whose 0x12 was lost for good: zeros played
  std::uint64_t gaps = 0;             // holes in client seqs waited for (most filled by the client's resend)
  std::uint64_t game_data_in = 0;
  std::uint64_t game_data_out = 0;
  std::uint64_t cache_hits_out = 0;  // 0x13 sent instead of 0x12
  // Lag (lag.hpp): time games lost, by cause, and how late the frames that came late were.
  std::uint64_t lag_wait_us_late_input = 0;  // a player's input came after its frame was due
  std::uint64_t lag_wait_us_lost_input = 0;  // ... was lost and played as zeros
  std::uint64_t lag_wait_us_drop = 0;        // the game waited for a player who then dropped
  static constexpr std::array<std::uint32_t, 7> kFrameWaitBoundsMs = {2, 5, 17, 33, 67, 133, 267};
  std::array<std::uint64_t, 8> frame_wait_hist{};  // late frames by how late: <= each bound, then more
  std::uint64_t frame_wait_ms_sum = 0;             // of the late frames' lateness

  // Refusals by abuse limits and moderation (on /metrics as kaillera_relay_refused_total{reason}).
  std::uint64_t refused_banned = 0;            // a login from a banned address or range
  std::uint64_t refused_address_limit = 0;     // more logins from one address than max_logins_per_address
  std::uint64_t refused_url_name = 0;          // a name that advertises (www., http://, ...)
  std::uint64_t refused_emulator = 0;          // an emulator the access file denies
  std::uint64_t refused_game = 0;              // a game name the access file denies
  std::uint64_t refused_join_spam = 0;         // too many joins of one room from one address
  std::uint64_t refused_chat_flood = 0;        // lobby chat faster than chat_flood
  std::uint64_t refused_command_flood = 0;     // commands faster than the command bucket allows
  std::uint64_t refused_silenced = 0;          // chat from a silenced or muted user
  std::uint64_t refused_busy_hello = 0;        // HELLOs answered TOO while the relay refused new load
  std::uint64_t refused_busy_login = 0;        // logins refused while the relay refused new load
  std::uint64_t refused_busy_start = 0;        // game starts refused while the relay refused new load
  std::uint64_t staff_actions = 0;             // staff commands that changed something
  std::uint64_t moderation_writes_failed = 0;  // lasting changes the shell could not write

  // Texts sent in English because their translation cannot be written in the relay's charset (messages.hpp).
  std::uint64_t texts_in_english = 0;
};

// A measurement the relay takes of a peer: hop count from TTL and, when known, the round-trip time.
struct PeerMeasurement {
  std::uint32_t ip = 0;
  std::uint8_t hops = 0;
  std::uint32_t rtt_ms = 0;  // 0 = unknown
  TimePoint when{};
  enum class Source : std::uint8_t { kPing, kHello, kGameTraffic, kLoginAck } source = Source::kPing;
};

// A snapshot of the relay's load, for the master reporter and /metrics.
struct Snapshot {
  std::uint32_t users = 0;
  std::uint32_t games = 0;
  std::uint32_t playing_games = 0;
  struct WaitingGame {
    std::uint32_t id;
    std::string rom, owner, emulator;
    std::uint32_t players, max_players;
  };
  std::vector<WaitingGame> waiting;
  // Games past their start with their lag over the lag window (docs/RELAY.md "Lag statistics"); only
  // snapshot(now) fills it.
  struct PlayingGame {
    std::uint32_t id;
    std::string rom, emulator;
    std::uint32_t players;    // still playing
    std::uint32_t window_ms;  // what the figures cover: the window, or less since play (or /lagreset) began
    std::uint32_t wait_ms;    // the time the game lost in it, <= window_ms
    std::uint32_t worst_wait_ms;  // the most one player made it lose, <= wait_ms
  };
  std::vector<PlayingGame> playing;
  // Headroom (admission.hpp): the shell's figures of the last second, and whether new load is refused.
  LoadFigures load;
  bool refusing = false;
  std::string refusing_cause;  // Admission::cause_key
};

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void on_datagram(std::uint16_t local_port, const net::Endpoint& from, std::uint8_t ttl, ByteSpan data,
                   TimePoint now, Sink& out);
  void on_tick(TimePoint now, Sink& out);

  // Says goodbye to everyone (0x01 from "Server" with `reason`), e.g. on SIGTERM or /shutdown.
  void shutdown(std::string_view reason, TimePoint now, Sink& out);
  // True once an admin asked for /shutdown; the shell then stops.
  bool shutdown_requested() const;

  const Counters& counters() const;
  Snapshot snapshot() const;
  // The same with the playing games' lag at `now`, for the master reporter.
  Snapshot snapshot(TimePoint now) const;
  // Recent per-IP measurements (hops from TTL, RTT from login ACKs); oldest dropped past a bound.
  std::vector<PeerMeasurement> measurements() const;
  // Roms of the games started after the one numbered `after` (counters().games_started counts them: the
  // n-th start is number n), oldest first; only the newest 64 starts are remembered. For the public list
  // announcements (KAILLERA.md §7.1 `Kaillera-games`).
  std::vector<std::string> started_since(std::uint64_t after) const;
  const Config& config() const;

  // The handshake port and the game ports, as given in the config.
  std::uint16_t handshake_port() const;
  std::vector<std::uint16_t> game_ports() const;

  // Hook for "/fair": called with the room's game id and its players' addresses. It returns false when no
  // master can be asked (the room is told the pick needs one); otherwise the room is told the relay is
  // asking, and the answer comes later through fair_answer(). /lagstat asks too, for kNearer: the answer is
  // one line naming a relay nearer to all of the players than this one, or nothing.
  struct FairPlayer {
    std::uint32_t ip = 0;
    std::string name;  // raw bytes as the client sent them
  };
  enum class FairPurpose : std::uint8_t { kFair, kNearer };
  using FairHook =
      std::function<bool(std::uint32_t game_id, const std::vector<FairPlayer>& players, FairPurpose purpose)>;
  void set_fair_hook(FairHook hook);
  // The answer to a /fair: each line goes to the room's chat; nothing happens when the room has closed.
  void fair_answer(std::uint32_t game_id, const std::vector<std::string>& lines, TimePoint now, Sink& out);

  // --- Admission (admission.hpp, docs/OPERATING.md "Admission") ---
  // The shell's measured load of the last second; true when the relay starts or stops refusing new load.
  bool set_load(const LoadFigures& figures, TimePoint now);
  const Admission& admission() const;
  // Changes the limits at run time (SIGHUP, tests); the next set_load applies them.
  void set_admission_limits(const AdmissionLimits& limits);

  // --- Lag statistics (docs/RELAY.md "Lag statistics") ---
  // The addresses of the players in games being played, each once: the shell probes them now and then.
  std::vector<std::uint32_t> playing_addresses() const;
  // A round trip to `ip` measured since its players logged in (0 is ignored): /lagstat shows it, and its
  // advice uses it, instead of the login ping.
  void note_rtt(std::uint32_t ip, std::uint32_t rtt_ms);

  // --- Moderation (relay/core/moderation.hpp, docs/OPERATING.md "Staff") ---
  // Where lasting changes and audit events go; null (the default): memory only, no audit.
  void set_journal(Journal* journal);
  // The state the store held at start-up.
  void load_moderation(ModerationState state);
  // A new access list (start-up, SIGHUP, /reload): levels of logged-in users change at once; nobody is
  // dropped (bans and filters apply to new logins).
  // Returns how many logged-in users' levels changed.
  std::size_t set_access(AccessList list, TimePoint now, Sink& out);
  // The shell wrote (ok) or could not write a change the core handed it; the staff member who made it is
  // told now.
  void change_written(std::uint64_t change_id, bool ok, TimePoint now, Sink& out);
  // /reload: the shell reloads what it can, then answers the user with notice().
  using ReloadHook = std::function<void(std::uint16_t user_id)>;
  void set_reload_hook(ReloadHook hook);
  // A line (0x17 from "Server") to one logged-in user; nothing when the user is gone.
  void notice(std::uint16_t user_id, std::string_view line, TimePoint now, Sink& out);
  const Moderation& moderation() const;
  // The level of a logged-in user (kNormal when there is none with that id).
  Level user_level(std::uint16_t user_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kaillera::relay
