#include "client/player.hpp"

#include <algorithm>
#include <utility>

namespace kaillera::client {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string hex_prefix(const std::vector<std::uint8_t>& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < d.size() && i < 24; ++i) {
    s += kDigits[d[i] >> 4];
    s += kDigits[d[i] & 15];
  }
  if (d.size() > 24) s += "...";
  return s + " (" + std::to_string(d.size()) + " bytes)";
}

}  // namespace

Player::Player(PlayerOptions options) : options_(std::move(options)), session_(options_.session) {
  if (options_.session.conn_type == 0) options_.session.conn_type = 1;
  if (options_.bytes_per_frame == 0) options_.bytes_per_frame = 1;
}

std::vector<std::uint8_t> Player::input_for(std::uint32_t player_number, std::uint64_t frame,
                                            std::uint32_t bytes_per_frame, std::uint32_t repeat_period) {
  const std::uint64_t f = repeat_period != 0 ? frame % repeat_period : frame;
  std::vector<std::uint8_t> out(bytes_per_frame);
  std::uint64_t word = 0;
  for (std::uint32_t i = 0; i < bytes_per_frame; ++i) {
    if (i % 8 == 0) word = splitmix64((static_cast<std::uint64_t>(player_number) << 56) ^ (f << 8) ^ (i / 8));
    out[i] = static_cast<std::uint8_t>(word >> (8 * (i % 8)));
  }
  return out;
}

std::vector<std::uint8_t> Player::expected_block(std::uint64_t block, std::uint32_t num_players,
                                                 std::uint8_t conn_type, std::uint32_t bytes_per_frame,
                                                 std::uint32_t repeat_period) {
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(num_players) * conn_type * bytes_per_frame);
  for (std::uint32_t i = 0; i < conn_type; ++i) {
    const std::uint64_t frame = block * conn_type + i;
    for (std::uint32_t p = 1; p <= num_players; ++p) {
      const auto in = input_for(p, frame, bytes_per_frame, repeat_period);
      out.insert(out.end(), in.begin(), in.end());
    }
  }
  return out;
}

std::string_view Player::to_string(Phase p) {
  switch (p) {
    case Phase::kIdle:
      return "idle";
    case Phase::kConnecting:
      return "connecting";
    case Phase::kFinding:
      return "finding";
    case Phase::kEntering:
      return "entering";
    case Phase::kInRoom:
      return "in_room";
    case Phase::kStarting:
      return "starting";
    case Phase::kPlaying:
      return "playing";
    case Phase::kEnding:
      return "ending";
    case Phase::kLeaving:
      return "leaving";
    case Phase::kQuitting:
      return "quitting";
    case Phase::kDone:
      return "done";
  }
  return "?";
}

std::uint64_t Player::total_packets() const {
  const std::uint32_t c = options_.session.conn_type;
  return (static_cast<std::uint64_t>(options_.frames) + c - 1) / c;
}

void Player::error(std::string text) {
  if (errors_.size() < 32) errors_.push_back(std::move(text));
}

void Player::start(TimePoint now, Sink& out) {
  if (phase_ != Phase::kIdle) return;
  phase_ = Phase::kConnecting;
  phase_since_ = now;
  session_.connect(now, out);
}

void Player::on_datagram(const net::Endpoint& from, Bytes data, TimePoint now, Sink& out) {
  session_.on_datagram(from, data, now, out);
  step(now);
  send_packets(now, out);
  session_.flush(now, out);
}

void Player::on_tick(TimePoint now, Sink& out) {
  if (phase_ == Phase::kIdle) start(now, out);
  session_.on_tick(now, out);
  step(now);
  send_packets(now, out);
  poke(now, out);
  session_.flush(now, out);
}

void Player::poke(TimePoint now, Sink& out) {
  const bool waiting = phase_ == Phase::kFinding || phase_ == Phase::kInRoom || phase_ == Phase::kEnding;
  if (!waiting || options_.poke_interval.count() <= 0) return;
  if (now - session_.last_message_in() >= options_.poke_interval &&
      now - last_poke_ >= options_.poke_interval) {
    last_poke_ = now;
    session_.request_resend(now, out);
  }
}

void Player::handle(const Event& e, TimePoint now) {
  switch (e.kind) {
    case EventKind::kGameStarted:
      if (phase_ == Phase::kInRoom || phase_ == Phase::kEntering) {
        started_ = true;
        delay_ = static_cast<std::uint16_t>(e.value);
        player_number_ = e.a;
        num_players_ = e.b;
        dropped_.assign(static_cast<std::size_t>(num_players_) + 1, false);
        session_.ready();
        phase_ = Phase::kStarting;
        phase_since_ = now;
      }
      break;
    case EventKind::kAllReady:
      if (phase_ == Phase::kStarting) {
        phase_ = Phase::kPlaying;
        phase_since_ = now;
        play_start_ = now;
        last_block_ = now;
      }
      break;
    case EventKind::kGameData:
      if (phase_ == Phase::kPlaying) on_block(e.data, now);
      break;
    case EventKind::kLost:
      if (phase_ == Phase::kPlaying) pending_lost_ += e.value;
      break;
    case EventKind::kCacheMiss:
      if (phase_ == Phase::kPlaying) {
        error("0x13 names cache index " + std::to_string(e.a) + " which the client does not hold");
        ++blocks_received_;
        ++mismatches_;
        ++blocks_accounted_;
        last_block_ = now;
      }
      break;
    case EventKind::kPlayerDropped:
      // A player who drops after its last block is normal; one who drops early makes the relay fill its slot
      // with zeros, which the block check then reports as mismatches.
      if (e.a < dropped_.size()) dropped_[e.a] = true;
      break;
    case EventKind::kRoomRefused:
      error("the server refused the room request");
      break;
    case EventKind::kRejected:
      error("login rejected: " + e.text);
      break;
    case EventKind::kServerFull:
    case EventKind::kVersionMismatch:
    case EventKind::kHandshakeTimeout:
      error(e.text);
      break;
    case EventKind::kGameChat:
      if (e.user == "Error") error("server: " + e.text);
      break;
    case EventKind::kRoomLeft:
      if (phase_ == Phase::kInRoom || phase_ == Phase::kStarting || phase_ == Phase::kPlaying) {
        error("left the room before the game ended");
      }
      break;
    case EventKind::kRoomEntered:
      game_id_ = e.id;
      break;
    default:
      break;
  }
}

void Player::on_block(const std::vector<std::uint8_t>& data, TimePoint now) {
  ++blocks_received_;
  last_block_ = now;
  const std::uint64_t total = total_packets();
  if (blocks_accounted_ >= total) return;  // after the script's last frame (e.g. zeros for dropped players)
  const std::uint8_t c = options_.session.conn_type;
  auto expected = [&](std::uint64_t k) {
    return expected_block(k, num_players_, c, options_.bytes_per_frame, options_.repeat_period);
  };
  if (data == expected(blocks_accounted_)) {
    ++verified_;
    ++blocks_accounted_;
  } else {
    // The server's seqs skipped some messages for good: this may be a later block.
    bool found = false;
    for (std::uint64_t j = 1; j <= pending_lost_ && blocks_accounted_ + j < total; ++j) {
      if (data == expected(blocks_accounted_ + j)) {
        skipped_ += j;
        blocks_accounted_ += j + 1;
        ++verified_;
        found = true;
        break;
      }
    }
    if (!found) {
      if (mismatches_ == 0) {
        error("block " + std::to_string(blocks_accounted_) + " differs from lock-step: got " +
              hex_prefix(data) + ", expected " + hex_prefix(expected(blocks_accounted_)));
      }
      ++mismatches_;
      ++blocks_accounted_;
    }
  }
  pending_lost_ = 0;
}

void Player::send_packets(TimePoint now, Sink& out) {
  if (phase_ != Phase::kPlaying) return;
  const std::uint8_t c = options_.session.conn_type;
  const std::uint64_t total = total_packets();
  const std::uint64_t window = static_cast<std::uint64_t>(delay_) + 1;
  while (packets_sent_ < total && packets_sent_ < blocks_accounted_ + window) {
    if (options_.fps > 0) {
      const auto due =
          play_start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            static_cast<double>(packets_sent_ * c) / options_.fps));
      if (now < due) break;
    }
    std::vector<std::uint8_t> packet;
    packet.reserve(static_cast<std::size_t>(c) * options_.bytes_per_frame);
    for (std::uint32_t i = 0; i < c; ++i) {
      const auto in =
          input_for(player_number_, packets_sent_ * c + i, options_.bytes_per_frame, options_.repeat_period);
      packet.insert(packet.end(), in.begin(), in.end());
    }
    session_.send_game_data(packet);
    ++packets_sent_;
  }
  // Packets that are due at the same moment share one datagram (up to 8 new messages each), as a bundle
  // may; separate datagrams sent in one instant could arrive in any order.
  session_.flush(now, out);
}

void Player::finish_playing(TimePoint now) {
  session_.drop();
  phase_ = Phase::kEnding;
  phase_since_ = now;
}

void Player::step(TimePoint now) {
  for (auto& e : session_.take_events()) {
    handle(e, now);
    e.data.clear();
    e.data.shrink_to_fit();
    log_.push_back(std::move(e));
  }
  if (phase_ == Phase::kDone || phase_ == Phase::kIdle) return;

  if (session_.state() == SessionState::kFailed) {
    if (errors_.empty()) error(session_.error());
    phase_ = Phase::kDone;
    return;
  }
  if (session_.state() == SessionState::kClosed) {
    if (phase_ != Phase::kQuitting) error("the server ended the session: " + session_.error());
    phase_ = Phase::kDone;
    return;
  }

  auto give_up = [&](std::string why) {
    error(std::move(why));
    if (session_.game_id()) session_.leave_game();
    session_.quit(options_.quit_message);
    phase_ = Phase::kQuitting;
    phase_since_ = now;
  };
  auto set_phase = [&](Phase p) {
    phase_ = p;
    phase_since_ = now;
  };

  switch (phase_) {
    case Phase::kConnecting:
      if (session_.logged_in()) {
        switch (options_.role) {
          case PlayerOptions::Role::kCreate:
            session_.create_game(options_.game);
            set_phase(Phase::kEntering);
            break;
          case PlayerOptions::Role::kJoinById:
            session_.join_game(options_.game_id);
            set_phase(Phase::kEntering);
            break;
          case PlayerOptions::Role::kJoinByName:
            set_phase(Phase::kFinding);
            break;
        }
      } else if (now - phase_since_ >= options_.room_wait) {
        give_up("login did not complete");
      }
      break;
    case Phase::kFinding: {
      for (const auto& [id, g] : session_.games()) {
        if (g.rom == options_.game && g.status == 0) {
          session_.join_game(id);
          set_phase(Phase::kEntering);
          break;
        }
      }
      if (phase_ == Phase::kFinding && now - phase_since_ >= options_.room_wait) {
        give_up("no waiting game named \"" + options_.game + "\"");
      }
      break;
    }
    case Phase::kEntering:
      if (session_.state() == SessionState::kInRoom) {
        set_phase(Phase::kInRoom);
      } else if (session_.state() == SessionState::kLobby || now - phase_since_ >= options_.room_wait) {
        give_up("could not enter the room");
      }
      break;
    case Phase::kInRoom:
      if (!room_chat_sent_ && session_.state() == SessionState::kInRoom &&
          session_.room().size() >= options_.room_chat_players) {
        room_chat_sent_ = true;
        for (const auto& line : options_.room_chat)
          session_.game_chat(line);
      }
      if (session_.state() == SessionState::kLobby) {
        give_up("the room closed before the game started");
      } else if (session_.owner() && session_.room().size() >= options_.players && !start_requested_) {
        start_requested_ = true;
        session_.start_game();
      } else if (now - phase_since_ >= options_.room_wait) {
        give_up("the game did not start");
      }
      break;
    case Phase::kStarting:
      if (now - phase_since_ >= options_.room_wait) give_up("no 0x15 from the server");
      break;
    case Phase::kPlaying:
      if (!play_chat_sent_ && !options_.play_chat.empty() &&
          blocks_received_ >= options_.play_chat_after_blocks) {
        play_chat_sent_ = true;
        for (const auto& line : options_.play_chat)
          session_.game_chat(line);
      }
      if (blocks_accounted_ >= total_packets()) {
        finish_playing(now);
      } else if (now - last_block_ >= options_.stall_timeout) {
        error("stalled: no game data for " +
              std::to_string(std::chrono::duration_cast<Millis>(now - last_block_).count()) +
              " ms after block " + std::to_string(blocks_accounted_));
        finish_playing(now);
      }
      break;
    case Phase::kEnding: {
      bool others_done = true;
      if (session_.owner()) {
        for (std::size_t p = 1; p < dropped_.size(); ++p)
          others_done = others_done && (dropped_[p] || p == player_number_);
      } else {
        others_done = player_number_ < dropped_.size() && dropped_[player_number_];
      }
      if (others_done || now - phase_since_ >= options_.end_wait ||
          session_.state() == SessionState::kLobby) {
        if (session_.game_id()) session_.leave_game();
        set_phase(Phase::kLeaving);
      }
      break;
    }
    case Phase::kLeaving:
      if (!session_.game_id() || now - phase_since_ >= options_.end_wait) {
        session_.quit(options_.quit_message);
        set_phase(Phase::kQuitting);
      }
      break;
    case Phase::kQuitting:
    case Phase::kIdle:
    case Phase::kDone:
      break;
  }
}

PlayerResult Player::result() const {
  PlayerResult r;
  const std::uint8_t c = options_.session.conn_type;
  r.name = options_.session.name;
  r.started = started_;
  r.player_number = player_number_;
  r.num_players = static_cast<std::uint8_t>(num_players_);
  r.delay = delay_;
  r.game_id = game_id_;
  r.packets_sent = packets_sent_;
  r.frames_sent = packets_sent_ * c;
  r.blocks_received = blocks_received_;
  r.frames_received = blocks_received_ * c;
  r.frames_verified = verified_ * c;
  r.mismatches = mismatches_;
  r.blocks_skipped = skipped_;
  const auto& s = session_.stats();
  r.cache_hits_sent = s.cache_sent;
  r.cache_hits_received = s.cache_received;
  r.resends = s.resends;
  r.lost_messages = s.lost;
  if (started_ && last_block_ > play_start_) {
    r.play_seconds = std::chrono::duration<double>(last_block_ - play_start_).count();
  }
  r.phase = std::string(to_string(phase_));
  r.errors = errors_;
  r.completed = started_ && blocks_accounted_ >= total_packets() && mismatches_ == 0 && errors_.empty() &&
                phase_ == Phase::kDone;
  return r;
}

}  // namespace kaillera::client
