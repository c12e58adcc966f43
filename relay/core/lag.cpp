// Lag statistics of running games (lag.hpp, docs/RELAY.md "Lag statistics"): the frame clock's bookkeeping
// that the lock-step engine calls, and /lagstat, /lagreset, /fps with their advice.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "common/kaillera/conn_type.hpp"
#include "relay/core/server_impl.hpp"

namespace kaillera::relay {

// ---------------------------------------------------------------------------------------------------------------
// Lag statistics (lag.hpp).

Micros Server::Impl::lag_slot() const {
  return std::chrono::duration_cast<Micros>(cfg.lagstat_window) / LagWindow::kSlots;
}

// The game's next frame is complete at `now` because `cause`'s input came (null: a player dropped). What it
// was late by is lost time, the cause's.
void Server::Impl::frame_complete(Game& g, Player* cause, TimePoint now) {
  const Micros extra = g.clock.complete(g.frames_emitted, now);
  if (extra.count() == 0) return;
  const bool late = extra >= Millis(1);
  const auto us = static_cast<std::uint64_t>(extra.count());
  LagCounts& total = g.lag.at(now, lag_slot());
  total.wait_us += us;
  total.late += late ? 1 : 0;
  if (cause == nullptr) {
    counters.lag_wait_us_drop += us;
  } else {
    LagCounts& mine = cause->lag.at(now, lag_slot());
    mine.wait_us += us;
    mine.late += late ? 1 : 0;
    (playing_zeros ? counters.lag_wait_us_lost_input : counters.lag_wait_us_late_input) += us;
  }
  if (late) {
    const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<Millis>(extra).count());
    std::size_t b = 0;
    while (b < Counters::kFrameWaitBoundsMs.size() && ms > Counters::kFrameWaitBoundsMs[b])
      ++b;
    ++counters.frame_wait_hist[b];
    counters.frame_wait_ms_sum += ms;
  }
  if (cause != nullptr && cfg.lag_notice.count() > 0) maybe_lag_notice(g, *cause, now);
}

// lag_notice: one line in the room when a player's waits in the window reach the threshold, at most once a
// window.
void Server::Impl::maybe_lag_notice(Game& g, Player& p, TimePoint now) {
  if (p.lag_noticed && now - *p.lag_noticed < cfg.lagstat_window) return;
  const auto waited = Micros(p.lag.sum(now, lag_slot()).wait_us);
  if (waited < cfg.lag_notice) return;
  p.lag_noticed = now;
  const Session* s = session(p.user_id);
  const auto number = static_cast<std::size_t>(&p - g.players.data()) + 1;
  announce_to_room(g, t("lag.notice", {{"number", number},
                                       {"player", s ? s->name : std::string("?")},
                                       {"waited", seconds_text(waited)},
                                       {"window", window_seconds(g, now)}}));
}

// A resend request (a datagram with nothing new) from a player during play.
void Server::Impl::note_resend_request(Session& s, TimePoint now) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  Player* p = g ? player_of(*g, s.id) : nullptr;
  if (!g || !p || g->state != GameState::kPlaying) return;
  ++p->lag.at(now, lag_slot()).resends;
  ++g->lag.at(now, lag_slot()).resends;
}

// The seconds the window covers now: the whole window, or less since the game (or /lagreset, /fps) began.
std::int64_t Server::Impl::window_seconds(const Game& g, TimePoint now) const {
  const auto since = std::chrono::duration_cast<Seconds>(now - g.clock.since());
  return std::max<std::int64_t>(1, std::min(since, cfg.lagstat_window).count());
}

std::string Server::Impl::seconds_text(Micros d) const {
  const auto cs = (d.count() + 5000) / 10000;  // hundredths, rounded
  const auto frac = cs % 100;
  return t("lag.seconds",
           {{"seconds", std::to_string(cs / 100) + (frac < 10 ? ".0" : ".") + std::to_string(frac)}});
}

// The window starts again (play begins, /lagreset, /fps): the clock at the next frame, nothing counted.
void Server::Impl::restart_lag(Game& g, TimePoint now) {
  g.lag.clear();
  for (auto& p : g.players) {
    p.lag.clear();
    p.lag_noticed.reset();
  }
  if (g.state == GameState::kPlaying) {
    g.clock.start(now, g.frames_emitted, g.fps);
  } else {
    g.clock.stop();
  }
}

std::vector<std::uint32_t> Server::playing_addresses() const {
  std::vector<std::uint32_t> ips;
  for (const auto& [id, g] : impl_->games) {
    if (g->state != GameState::kPlaying) continue;
    for (const Player& p : g->players) {
      const Session* s = p.playing ? impl_->session_const(p.user_id) : nullptr;
      if (s && std::find(ips.begin(), ips.end(), s->addr.ip) == ips.end()) ips.push_back(s->addr.ip);
    }
  }
  return ips;
}

void Server::note_rtt(std::uint32_t ip, std::uint32_t rtt_ms) {
  if (rtt_ms == 0) return;
  for (auto& [id, s] : impl_->sessions) {
    if (s->addr.ip == ip && s->state == SessionState::kLoggedIn) s->measured_ping_ms = rtt_ms;
  }
}

// A playing game's lag for the master: the window the figures cover, the game's loss in it and the largest
// share of one player. The slots may reach one slot further back than the window covers; the loss is capped
// at the window, as it is by construction over the whole slots.
Snapshot::PlayingGame Server::Impl::playing_lag(const Game& g, TimePoint now) const {
  Snapshot::PlayingGame out{g.id, g.rom, g.emulator, 0, 0, 0, 0};
  for (const Player& p : g.players)
    out.players += p.playing ? 1 : 0;
  if (g.state != GameState::kPlaying || !g.clock.running()) return out;
  const Micros slot = lag_slot();
  const auto window = std::min(std::chrono::duration_cast<Micros>(now - g.clock.since()),
                               std::chrono::duration_cast<Micros>(cfg.lagstat_window));
  const auto ms = [](std::uint64_t us) {
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(us / 1000, std::uint64_t{std::numeric_limits<std::uint32_t>::max()}));
  };
  out.window_ms = ms(static_cast<std::uint64_t>(std::max<std::int64_t>(0, window.count())));
  out.wait_ms = std::min(out.window_ms, ms(g.lag.sum(now, slot).wait_us));
  for (const Player& p : g.players)
    out.worst_wait_ms = std::max(out.worst_wait_ms, std::min(out.wait_ms, ms(p.lag.sum(now, slot).wait_us)));
  return out;
}

// /lagstat: a few short lines (clients show about 80 characters a line): the game's loss over the window,
// one line per player, then what to do about it.
std::vector<std::string> Server::Impl::lagstat(const Game& g, TimePoint now) const {
  std::vector<std::string> lines;
  if (g.state != GameState::kPlaying || !g.clock.running()) {
    lines.push_back(t("lag.not_playing"));
    return lines;
  }
  const Micros slot = lag_slot();
  const LagCounts total = g.lag.sum(now, slot);
  const auto fps_text = std::to_string(static_cast<long>(g.fps));
  lines.push_back(
      t(total.late == 1 ? "lag.total_one" : "lag.total", {{"window", window_seconds(g, now)},
                                                          {"fps", fps_text},
                                                          {"waited", seconds_text(Micros(total.wait_us))},
                                                          {"late", total.late}}));
  struct Row {
    std::size_t number;
    std::string name;
    LagCounts counts;
    std::uint32_t ping;
    std::uint8_t conn_type;
  };
  std::vector<Row> rows;
  for (std::size_t i = 0; i < g.players.size(); ++i) {
    const Player& p = g.players[i];
    const Session* s = session_const(p.user_id);
    Row r{i + 1, p.left || !s ? t("lag.left") : s->name, p.lag.sum(now, slot), s ? s->current_ping_ms() : 0,
          p.conn_type};
    std::string line = t("lag.player", {{"number", r.number},
                                        {"player", r.name},
                                        {"waited", seconds_text(Micros(r.counts.wait_us))},
                                        {"late", r.counts.late},
                                        {"ping", r.ping},
                                        {"conn", proto::conn_type_name(r.conn_type)}});
    if (r.counts.zeros != 0) line += t("lag.lost", {{"count", r.counts.zeros}});
    if (r.counts.resends != 0) line += t("lag.resends", {{"count", r.counts.resends}});
    if (!p.playing) line += t("lag.dropped");
    lines.push_back(std::move(line));
    rows.push_back(std::move(r));
  }
  // Advice. Below this much in the window the game played smoothly.
  constexpr Micros kWorthNaming = Millis(50);
  if (Micros(total.wait_us) < kWorthNaming) {
    lines.push_back(t("lag.smooth"));
    return lines;
  }
  const auto worst = std::max_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.counts.wait_us < b.counts.wait_us;
  });
  if (worst != rows.end() && worst->counts.wait_us > 0) {
    lines.push_back(t("lag.most_waits", {{"number", worst->number},
                                         {"player", worst->name},
                                         {"waited", seconds_text(Micros(worst->counts.wait_us))},
                                         {"total", seconds_text(Micros(total.wait_us))}}));
  }
  // A player who made the game wait on a connection type too low for its ping: the type that covers it
  // (KAILLERA.md §5.3) and the frame delay it would get. One type up is within a ping's noise (LAN at 20 ms
  // plays well with delay 2): named from two up.
  for (const Row& r : rows) {
    if (Micros(r.counts.wait_us) < kWorthNaming || r.ping == 0) continue;
    const std::uint8_t better = conn_type_for_ping(r.ping, g.fps);
    if (better < r.conn_type + 2) continue;
    const auto d = proto::frame_delay(r.ping, better);
    lines.push_back(t("lag.advice", {{"number", r.number},
                                     {"player", r.name},
                                     {"ping", r.ping},
                                     {"conn", proto::conn_type_name(r.conn_type)},
                                     {"better", proto::conn_type_name(better)},
                                     {"delay", d},
                                     {"frames", proto::input_lag_frames(d, better)}}));
  }
  return lines;
}

// /lagstat, /lagreset, /fps.
void Server::Impl::lag_command(Game& g, Session& s, const Command& c, TimePoint now) {
  switch (c.info->verb) {
    case Verb::kLagstat:
      for (const auto& line : lagstat(g, now))
        announce_to_room(g, line);
      // Moving is the real fix when every player's path is long: the master may know a relay nearer to all
      // of them; its line (or nothing) follows through fair_answer.
      if (fair_hook && g.state == GameState::kPlaying) fair_hook(g.id, fair_players(g), FairPurpose::kNearer);
      return;
    case Verb::kLagreset:
      restart_lag(g, now);
      announce_to_room(g, t("lag.reset", {{"player", s.name}}));
      return;
    case Verb::kFps:
      if (c.number < kMinFps || c.number > kMaxFps) {
        room_error(s, t("lag.fps_usage", {{"min", kMinFps}, {"max", kMaxFps}}));
        return;
      }
      g.fps = c.number;
      restart_lag(g, now);
      announce_to_room(g, t("lag.fps_set", {{"fps", c.number}}));
      return;
    default:
      return;
  }
}

}  // namespace kaillera::relay
