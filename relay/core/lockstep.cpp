// The lock-step engine (KAILLERA.md §5.5): game data in, frames assembled in player order, blocks out with
// the game cache (§5.6), lost input played as zeros, deadlines of running games. The per-frame path of the
// relay: it allocates nothing once warm (tests/unit/test_relay_alloc.cpp), and rooms, commands and moderation
// live in other files so that their code stays out of this one's way.
#include <algorithm>
#include <array>
#include <cstring>

#include "relay/core/server_impl.hpp"

namespace kaillera::relay {

namespace {
constexpr auto kStallResendInterval = std::chrono::milliseconds(250);
constexpr auto kNetsyncTimeout = std::chrono::seconds(60);
}  // namespace
// ---------------------------------------------------------------------------------------------------------------
// Game data: the lock-step engine (§5.5).

void Server::Impl::on_game_data(Session& s, ByteSpan data, TimePoint now) {
  ++counters.game_data_in;
  s.start_pacing = false;  // its game has begun (docs/RELAY.md "Game start")
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  Player* p = g ? player_of(*g, s.id) : nullptr;
  if (!g || !p || g->state != GameState::kPlaying) {
    ++counters.drop_bad_message;
    return;
  }
  p->in_cache.append(data);  // the mirror of the client's cache takes every full 0x12
  note_cache_use(*p, false);
  if (!p->playing) return;  // a dropped player's input no longer counts
  on_input(*g, *p, data, now);
}

void Server::Impl::on_cached_game_data(Session& s, std::uint8_t index, TimePoint now) {
  ++counters.game_data_in;
  s.start_pacing = false;  // its game has begun (docs/RELAY.md "Game start")
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  Player* p = g ? player_of(*g, s.id) : nullptr;
  if (!g || !p || g->state != GameState::kPlaying) {
    ++counters.drop_bad_message;
    return;
  }
  auto entry = p->in_cache.at(index);
  if (!entry) {
    ++counters.drop_bad_message;
    room_info(s, t("game.cache_error", {{"index", index}}));
    return;
  }
  note_cache_use(*p, true);
  if (!p->playing) return;
  if (p->in_cache.is_unknown(index)) {
    // Its 0x12 was lost for good: the input is not known. Zeros keep the stream aligned, as for lost input.
    ++counters.lost_cache_refs;
    play_zeros(*g, *p, 1, now);
    return;
  }
  // The cache entry may be replaced while we read it only by an append, which on_input does not do.
  on_input(*g, *p, *entry, now);
}

void Server::Impl::note_cache_use(Player& p, bool hit) {
  if (p.recent_hits + p.recent_misses >= 64) {
    p.recent_hits /= 2;
    p.recent_misses /= 2;
  }
  ++(hit ? p.recent_hits : p.recent_misses);
}

void Server::Impl::play_zeros(Game& g, Player& p, std::uint16_t packets, TimePoint now) {
  if (p.bytes_per_frame == 0) p.bytes_per_frame = common_bytes_per_frame(g);  // its first packets were lost
  if (p.bytes_per_frame == 0) return;
  static const std::array<std::uint8_t, 8192> kZeros{};
  const std::size_t packet = std::size_t{p.conn_type} * p.bytes_per_frame;
  if (packet > kZeros.size()) return;
  p.lag.at(now, lag_slot()).zeros += packets;
  g.lag.at(now, lag_slot()).zeros += packets;
  playing_zeros = true;
  for (std::uint16_t i = 0; i < packets; ++i)
    on_input(g, p, ByteSpan(kZeros.data(), packet), now);
  playing_zeros = false;
}

std::uint32_t Server::Impl::common_bytes_per_frame(const Game& g) const {
  for (const auto& p : g.players) {
    if (p.bytes_per_frame != 0) return p.bytes_per_frame;
  }
  return 0;
}

void Server::Impl::on_input(Game& g, Player& p, ByteSpan data, TimePoint now) {
  if (p.bytes_per_frame == 0) {
    // Learned from the first block: connType frames per packet (§5.5). Odd sizes count as one frame.
    p.bytes_per_frame = data.size() % p.conn_type == 0 ? static_cast<std::uint32_t>(data.size() / p.conn_type)
                                                       : static_cast<std::uint32_t>(data.size());
  }
  const std::size_t frames = data.size() / p.bytes_per_frame;
  if (frames == 0) {
    ++counters.drop_bad_message;
    return;
  }
  if (p.in_read > 4096 && p.in_read * 2 > p.in_bytes.size()) {
    p.in_bytes.erase(p.in_bytes.begin(), p.in_bytes.begin() + static_cast<std::ptrdiff_t>(p.in_read));
    p.in_read = 0;
  }
  if (g.autofire != 0) scan_autofire(g, p, data.first(frames * p.bytes_per_frame));
  p.in_bytes.insert(p.in_bytes.end(), data.begin(),
                    data.begin() + static_cast<std::ptrdiff_t>(frames * p.bytes_per_frame));
  p.in_frames += static_cast<std::uint32_t>(frames);
  p.last_data = now;
  ++p.blocks_in;
  emit_frames(g, now, &p);
}

void Server::Impl::emit_frames(Game& g, TimePoint now, Player* cause) {
  const std::uint32_t fallback_bpf = common_bytes_per_frame(g);
  bool first = true;
  for (;;) {
    bool any_playing = false;
    for (const auto& p : g.players) {
      if (!p.playing) continue;
      any_playing = true;
      if (p.in_frames == 0) return;  // lock-step: wait for this player's frame
    }
    if (!any_playing) return;
    if (first) {
      // Of the frames complete now only the first can be late: the others are due later still.
      first = false;
      frame_complete(g, cause, now);
    }
    // Frame f = every player's frame f in player order; dropped or departed players contribute zeros.
    for (auto& r : g.players) {
      if (!r.playing) continue;
      for (auto& q : g.players) {
        if (q.playing) {
          r.out_accum.insert(r.out_accum.end(), q.in_bytes.begin() + static_cast<std::ptrdiff_t>(q.in_read),
                             q.in_bytes.begin() + static_cast<std::ptrdiff_t>(q.in_read + q.bytes_per_frame));
        } else {
          const std::uint32_t bpf = q.bytes_per_frame ? q.bytes_per_frame : fallback_bpf;
          r.out_accum.insert(r.out_accum.end(), bpf, 0);
        }
      }
      ++r.accum_frames;
    }
    for (auto& q : g.players) {
      if (!q.playing) continue;
      q.in_read += q.bytes_per_frame;
      --q.in_frames;
    }
    ++g.frames_emitted;
    g.last_emit = now;
    // Each receiver gets a block every connType frames, interleaved by frame (§5.5).
    for (auto& r : g.players) {
      if (!r.playing || r.accum_frames < r.conn_type) continue;
      if (Session* s = session(r.user_id)) send_block(r, *s);
      r.out_accum.clear();
      r.accum_frames = 0;
    }
  }
}

void Server::Impl::send_block(Player& p, Session& s) {
  if (p.out_accum.empty()) return;  // never an empty 0x12 (§9.14)
  const ByteSpan data(p.out_accum.data(), p.out_accum.size());
  const auto d = proto::cache_for_send(p.out_cache, data);
  ++counters.game_data_out;
  if (d.cached) {
    ++counters.cache_hits_out;
    send(s, proto::CachedGameData{"", d.index});
  } else {
    send(s, proto::GameData{"", data});
  }
}

void Server::Impl::fill_lost_input(Session& s, std::uint16_t lost, TimePoint now) {
  // Client messages lost for good during play are (nearly always) input packets. Each becomes a packet of
  // zeros in that player's queue, so its stream stays aligned with what the client believes it sent: without
  // the fill, every loss would take one packet out of the client's lock-step pipeline and `delay` losses
  // would stall the game until the data deadline.
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  Player* p = g ? player_of(*g, s.id) : nullptr;
  if (!g || !p || g->state != GameState::kPlaying || !p->playing) return;
  ++counters.desyncs;
  const std::string line = t("game.input_lost", {{"player", s.name}, {"count", lost}});
  for (const auto& q : g->players) {
    if (Session* o = session(q.user_id); o && !q.left) room_info(*o, line);
  }
  // The lost messages that were 0x12 went into the client's cache: the mirror takes as many unknown entries,
  // estimated from how this client's recent input split between 0x12 and 0x13, so later 0x13 positions stay
  // aligned (a mirror off by one would turn every later cached input into another one).
  const std::uint32_t seen = std::uint32_t{p->recent_hits} + p->recent_misses;
  const std::uint32_t misses = seen == 0 ? lost : (std::uint32_t{lost} * p->recent_misses + seen / 2) / seen;
  for (std::uint32_t i = 0; i < misses; ++i)
    p->in_cache.append_unknown();
  play_zeros(*g, *p, lost, now);
}

// ---------------------------------------------------------------------------------------------------------------
// Deadlines of running games.

void Server::Impl::check_games(TimePoint now) {
  std::vector<std::pair<std::uint16_t, std::string>> to_drop;
  for (auto& [id, gp] : games) {
    Game& g = *gp;
    if (g.state == GameState::kNetsync) {
      for (const auto& p : g.players) {
        if (p.playing && !p.ready && now - g.started > kNetsyncTimeout) {
          to_drop.emplace_back(p.user_id, t("drop.not_ready"));
        }
      }
      continue;
    }
    if (g.state != GameState::kPlaying) continue;
    repeat_start(g, now);
    const bool stalled = now - g.last_emit > kStallResendInterval;
    if (!stalled) continue;
    const bool resend_now = now - g.last_stall_resend >= kStallResendInterval;
    if (resend_now) g.last_stall_resend = now;
    for (const auto& p : g.players) {
      if (!p.playing || p.in_frames > 0) continue;
      // The game waits for this player.
      if (now - p.last_data > cfg.data_deadline) {
        to_drop.emplace_back(
            p.user_id,
            t("drop.no_data",
              {{"seconds", std::chrono::duration_cast<std::chrono::seconds>(cfg.data_deadline).count()}}));
      } else if (resend_now) {
        // It may have lost our last block: repeat our newest messages to it.
        stall_resends.push_back(p.user_id);
      }
    }
  }
  for (auto& [uid, why] : to_drop) {
    if (Session* s = session(uid)) {
      ++counters.desyncs;
      on_drop(*s, now, why);
    }
  }
}

// A player whose first game data has not come after its 0x15 may not have handled the 0x15 (lost, or behind
// messages an n02 client handles one per datagram): our newest messages again, then again at twice the gap,
// each resend datagram letting such a client handle one more. Sooner than the stall repeat, which waits for
// the whole game.
void Server::Impl::repeat_start(Game& g, TimePoint now) {
  for (auto& p : g.players) {
    if (!p.start_repeat_at || now < *p.start_repeat_at) continue;
    Session* o = session(p.user_id);
    if (!o || !o->start_pacing || !p.playing) {
      p.start_repeat_at.reset();  // its data came (or it is gone): the start is over for it
      continue;
    }
    stall_resends.push_back(p.user_id);
    p.start_repeat_gap = std::min<Millis>(2 * p.start_repeat_gap, kStallResendInterval);
    p.start_repeat_at = now + p.start_repeat_gap;
  }
}

// The first repeat of a 0x15: when the player's first game data is late by more than its round trip allows.
Millis Server::Impl::start_repeat_delay(std::uint32_t ping_ms) {
  return std::max(Millis(2 * ping_ms), Millis(50));
}

// /detectautofire: each frame of the player's input through its scanner; the room hears of it once per game.
void Server::Impl::scan_autofire(Game& g, Player& p, ByteSpan data) {
  for (std::size_t at = 0; at + p.bytes_per_frame <= data.size(); at += p.bytes_per_frame) {
    if (!p.autofire.scan(data.subspan(at, p.bytes_per_frame))) continue;
    const Session* s = session(p.user_id);
    const auto number = static_cast<std::size_t>(&p - g.players.data()) + 1;
    announce_to_room(g, t("autofire.suspected", {{"number", number},
                                                 {"player", s ? s->name : std::string("?")},
                                                 {"frames", p.autofire.half_period()}}));
  }
}

}  // namespace kaillera::relay
