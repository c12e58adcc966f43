// A scripted player on top of a Session, for tests and load runs:
//
//   log in → create the game (or join the waiting game whose rom name matches, or a game id)
//   → the owner starts once `players` are in the room → on 0x11 send 0x15 → play `frames` frames
//   → drop → (the owner waits for the others' drops) → leave → quit.
//
// Each 0x12 carries connType frames of the player's own input; frame f of player n is input_for(n, f), a
// deterministic function, so every player can compute what lock-step must deliver. Block k received from the
// server must equal, frame by frame, the concatenation of every player's frame in player order
// (KAILLERA.md §5.5, frame interleaving) of the players' packet k.
//
// Pacing: at most delay+1 packets in flight (a real client runs (delay+1)*connType-1 frames ahead of the
// server, KAILLERA.md §5.3), and, with fps > 0, no packet before its frame time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/session.hpp"

namespace kaillera::client {

struct PlayerOptions {
  SessionOptions session;
  enum class Role : std::uint8_t { kCreate, kJoinByName, kJoinById } role = Role::kCreate;
  std::string game = "Kaillera Federation test";  // rom name to create, or to look for
  std::uint32_t game_id = 0;                      // kJoinById
  std::uint32_t players = 2;                      // the owner starts when this many are in the room
  std::uint32_t frames = 600;                     // rounded up to a multiple of connType
  std::uint32_t bytes_per_frame = 2;
  std::uint32_t repeat_period = 0;  // 0: inputs never repeat; n: frame f's input equals frame f % n's (cache)
  double fps = 0;                   // 0: as fast as lock-step allows
  Millis stall_timeout{10000};      // no game data for this long while playing: give up
  Millis end_wait{5000};            // the owner waits this long for the others' drops before it leaves
  Millis room_wait{30000};          // to find/enter the room and for the game to start
  // While waiting for others (a game to appear, players to join, the start, the others' drops), a lost
  // notification would never come back by itself: after this much silence send a duplicate-only datagram,
  // which asks the server to resend its last messages. 0 = never.
  Millis poke_interval{1000};
  std::string quit_message = "bye";
  // Room chat lines (e.g. "/fair") the player sends once the room holds `room_chat_players` players.
  std::vector<std::string> room_chat;
  std::uint32_t room_chat_players = 1;
  // Room chat lines (e.g. "/lagstat") the player sends once during play, after this many blocks.
  std::vector<std::string> play_chat;
  std::uint64_t play_chat_after_blocks = 0;
};

struct PlayerResult {
  std::string name;
  bool completed = false;  // every block arrived and matched, and the player left cleanly
  bool started = false;
  std::uint8_t player_number = 0;
  std::uint8_t num_players = 0;
  std::uint16_t delay = 0;
  std::uint32_t game_id = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t blocks_received = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t frames_verified = 0;
  std::uint64_t mismatches = 0;      // blocks that differ from what lock-step must produce
  std::uint64_t blocks_skipped = 0;  // blocks lost for good (the server's seqs skipped past them)
  std::uint64_t cache_hits_sent = 0;
  std::uint64_t cache_hits_received = 0;
  std::uint64_t resends = 0;
  std::uint64_t lost_messages = 0;
  double play_seconds = 0;  // 0x15 to the last block
  std::string phase;        // where the script stands (e.g. "connecting" after a timeout)
  std::vector<std::string> errors;
};

class Player : public Agent {
 public:
  explicit Player(PlayerOptions options);

  // Frame `frame` of player `player_number` (1-based): bytes_per_frame deterministic bytes.
  static std::vector<std::uint8_t> input_for(std::uint32_t player_number, std::uint64_t frame,
                                             std::uint32_t bytes_per_frame, std::uint32_t repeat_period);
  // What block `block` must hold for `num_players` players sending `conn_type` frames per packet.
  static std::vector<std::uint8_t> expected_block(std::uint64_t block, std::uint32_t num_players,
                                                  std::uint8_t conn_type, std::uint32_t bytes_per_frame,
                                                  std::uint32_t repeat_period);

  void start(TimePoint now, Sink& out);  // sends HELLO; also done by the first on_tick
  void on_datagram(const net::Endpoint& from, Bytes data, TimePoint now, Sink& out) override;
  void on_tick(TimePoint now, Sink& out) override;
  bool finished() const override { return phase_ == Phase::kDone; }

  PlayerResult result() const;
  const Session& session() const { return session_; }
  Session& session() { return session_; }
  // Every session event the player has seen, in order, without game-data payloads.
  const std::vector<Event>& log() const { return log_; }

  enum class Phase : std::uint8_t {
    kIdle,
    kConnecting,
    kFinding,   // joiner: waiting for the game to appear
    kEntering,  // create/join request sent
    kInRoom,
    kStarting,  // 0x11 received, 0x15 sent
    kPlaying,
    kEnding,   // dropped; the owner waits for the others
    kLeaving,  // 0x0B sent
    kQuitting,
    kDone,
  };
  Phase phase() const { return phase_; }
  static std::string_view to_string(Phase p);

 private:
  void step(TimePoint now);
  void handle(const Event& e, TimePoint now);
  void on_block(const std::vector<std::uint8_t>& data, TimePoint now);
  void send_packets(TimePoint now, Sink& out);
  void poke(TimePoint now, Sink& out);
  void finish_playing(TimePoint now);
  void error(std::string text);
  std::uint64_t total_packets() const;

  PlayerOptions options_;
  Session session_;
  bool room_chat_sent_ = false;
  bool play_chat_sent_ = false;
  Phase phase_ = Phase::kIdle;
  TimePoint phase_since_{};
  TimePoint last_poke_{};
  bool started_clock_ = false;

  // Game.
  std::uint64_t packets_sent_ = 0;
  std::uint64_t blocks_accounted_ = 0;  // received + skipped
  std::uint64_t blocks_received_ = 0;
  std::uint64_t verified_ = 0;
  std::uint64_t mismatches_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t pending_lost_ = 0;  // server seqs lost since the last block: blocks that may be missing
  std::uint32_t num_players_ = 0;
  std::uint8_t player_number_ = 0;
  std::uint16_t delay_ = 0;
  bool started_ = false;
  bool start_requested_ = false;
  std::uint32_t game_id_ = 0;
  TimePoint play_start_{};
  TimePoint last_block_{};
  std::vector<bool> dropped_;  // by player number

  std::vector<Event> log_;
  std::vector<std::string> errors_;
};

}  // namespace kaillera::client
