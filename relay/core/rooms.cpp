// Rooms (create, join, start, ready, drop, leave, kick, close) (KAILLERA.md §5). The lock-step engine is in
// lockstep.cpp.
#include <algorithm>
#include <cstring>

#include "common/kaillera/conn_type.hpp"
#include "relay/core/server_impl.hpp"
#include "relay/core/text_util.hpp"

namespace kaillera::relay {

Player* Server::Impl::player_of(Game& g, std::uint16_t user_id) {
  for (auto& p : g.players) {
    if (p.user_id == user_id && !p.left) return &p;
  }
  return nullptr;
}

std::vector<std::string> Server::Impl::player_names(const Game& g) const {
  std::vector<std::string> names;
  for (const auto& p : g.players) {
    auto it = sessions.find(p.user_id);
    if (it != sessions.end()) names.push_back(it->second->name);
  }
  return names;
}

std::uint8_t Server::Impl::owner_conn_type(const Game& g) const {
  auto it = sessions.find(g.owner);
  return it != sessions.end() ? it->second->conn_type : std::uint8_t{1};
}

std::uint32_t Server::Impl::player_count(const Game& g) const {
  return static_cast<std::uint32_t>(
      std::count_if(g.players.begin(), g.players.end(), [](const Player& p) { return !p.left; }));
}

void Server::Impl::game_status_to_all(const Game& g) {
  send_lobby(proto::GameStatus{"", g.id, game_status(g), static_cast<std::uint8_t>(player_count(g)),
                               static_cast<std::uint8_t>(g.max_players)},
             g.id);
}

void Server::Impl::announce_to_room(const Game& g, std::string_view line) {
  for (const auto& p : g.players) {
    if (Session* o = session(p.user_id); o && !p.left && o->game_id == g.id) room_info(*o, line);
  }
  for (std::uint16_t id : g.watchers) {
    if (Session* o = session(id)) room_info(*o, line);
  }
}

// An admin in stealth joins as a watcher: any room, waiting or playing, full or not; it gets the room's chat
// and notices, nobody else learns it is there, and it plays no part in the lock-step.
void Server::Impl::watch_game(Session& s, Game& g) {
  proto::PlayerInformation pi;
  for (const auto& p : g.players) {
    if (p.left) continue;
    if (const Session* o = session(p.user_id))
      pi.players.push_back({o->name, o->ping_ms, o->id, o->conn_type});
  }
  g.watchers.push_back(s.id);
  s.game_id = g.id;
  send(s, pi);
  send(s, proto::JoinGame{"", g.id, s.name, s.ping_ms, s.id, s.conn_type});
  room_info(s, t("stealth.watching"));
}

bool Server::Impl::join_spam(Game& g, std::uint32_t ip, TimePoint now) {
  if (cfg.join_spam_window.count() == 0 || cfg.join_spam_limit == 0) return false;
  while (!g.recent_joins.empty() && now - g.recent_joins.front().second > cfg.join_spam_window)
    g.recent_joins.pop_front();
  const auto n = std::count_if(g.recent_joins.begin(), g.recent_joins.end(),
                               [ip](const auto& j) { return j.first == ip; });
  if (static_cast<std::uint32_t>(n) >= cfg.join_spam_limit) return true;
  if (g.recent_joins.size() < 256) g.recent_joins.emplace_back(ip, now);
  return false;
}

std::uint32_t Server::Impl::allocate_game_id() {
  for (int tries = 0; tries < 0x10000; ++tries) {
    const std::uint32_t id = next_game_id;
    next_game_id = next_game_id >= 0xFFFF ? 1 : next_game_id + 1;  // ids below 65,536 (§3 field notes)
    if (games.count(id) == 0) return id;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Create and join. Refusals: 0x17 with the reason plus a 0x0B about the requester (§9.2).

void Server::Impl::on_create_game(Session& s, const proto::CreateGame& m, TimePoint now) {
  std::string reason;
  std::string_view rom = m.rom;
  if (s.game_id != 0) {
    reason = t("create.in_game");
  } else if (rom.empty() || rom.find_first_not_of(' ') == std::string_view::npos) {
    reason = t("create.empty_name");
  } else if (rom.size() > cfg.max_game_name_length) {
    reason = t("create.name_too_long");
  } else if (has_control_chars(rom) || rom.find('|') != std::string_view::npos) {
    reason = t("create.name_illegal");
  } else if (!s.exempt() && s.last_create && now - *s.last_create < cfg.create_flood) {
    reason = t("create.flood");
  } else if (!s.exempt() && !mod.access().game_allowed(rom)) {
    ++counters.refused_game;
    reason = t("create.game_denied");
  } else if (cfg.max_games != 0 && games.size() >= cfg.max_games) {
    reason = t("create.too_many_games");
  }
  const std::uint32_t id = reason.empty() ? allocate_game_id() : 0;
  if (reason.empty() && id == 0) reason = t("create.no_id");
  if (!reason.empty()) {
    audit(AuditEvent{"refused", {}}
              .text("what", "create_game")
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .text("game", rom)
              .text("reason", reason));
    info(s, t("create.denied", {{"reason", reason}}));
    send(s, proto::QuitGame{s.name, s.id});
    return;
  }
  auto owned = std::make_unique<Game>();
  Game& g = *owned;
  g.id = id;
  g.rom.assign(rom);
  g.owner = s.id;
  g.emulator = s.emulator;
  g.max_players = cfg.max_players;
  g.same_delay = cfg.same_delay;
  Player p;
  p.user_id = s.id;
  p.conn_type = s.conn_type;
  g.players.push_back(std::move(p));
  games.emplace(id, std::move(owned));
  s.game_id = id;  // the creator is in the room before anyone can learn the id (§9.23)
  s.last_create = now;
  ++counters.games_created;
  send_lobby(proto::CreateGame{s.name, g.rom, g.emulator, id}, id);
  game_status_to_all(g);
  audit(AuditEvent{"game_created", {}}
            .num("game_id", id)
            .text("game", g.rom)
            .text("emulator", g.emulator)
            .num("owner_id", s.id)
            .text("owner", s.name)
            .text("ip", net::ip_to_string(s.addr.ip)));
  send(s, proto::PlayerInformation{});
  send(s, proto::JoinGame{"", id, s.name, s.ping_ms, s.id, s.conn_type});
}

void Server::Impl::on_join_game(Session& s, const proto::JoinGame& m, TimePoint now) {
  Game* g = game(m.game_id);
  std::string reason;
  if (s.game_id == 0 && g && s.stealth && s.level >= Level::kAdmin) {
    watch_game(s, *g);
    return;
  }
  if (s.game_id != 0) {
    reason = t("join.in_game");
  } else if (!g) {
    reason = t("join.no_game");
  } else if (g->state != GameState::kWaiting) {
    reason = t("join.started");
  } else if (player_count(*g) >= g->max_players) {
    reason = t("join.full");
  } else if (g->banned_ips.count(s.addr.ip) != 0) {
    reason = t("join.kicked");
  } else if (g->max_ping != 0 && s.ping_ms > g->max_ping) {
    reason = t("join.ping", {{"ping", s.ping_ms}, {"max", g->max_ping}});
  } else if (g->emu_locked && s.emulator != g->emulator) {
    reason = t("join.emulator", {{"emulator", g->emulator}});
  } else if (g->conn_locked && s.conn_type != owner_conn_type(*g)) {
    reason = t("join.conn_type", {{"conn", proto::conn_type_name(owner_conn_type(*g))}});
  } else if (!s.exempt() && join_spam(*g, s.addr.ip, now)) {
    ++counters.refused_join_spam;
    reason = t("join.spam");
  }
  if (!reason.empty()) {
    audit(AuditEvent{"refused", {}}
              .text("what", "join_game")
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .num("game_id", m.game_id)
              .text("reason", reason));
    info(s, t("join.denied", {{"reason", reason}}));
    send(s, proto::QuitGame{s.name, s.id});
    return;
  }
  // Tell the joiner who is there (before it is added), then add it.
  proto::PlayerInformation pi;
  for (const auto& p : g->players) {
    if (p.left) continue;
    if (const Session* o = session(p.user_id))
      pi.players.push_back({o->name, o->ping_ms, o->id, o->conn_type});
  }
  Player p;
  p.user_id = s.id;
  p.conn_type = s.conn_type;
  g->players.push_back(std::move(p));
  s.game_id = g->id;
  game_status_to_all(*g);
  send(s, pi);
  send_room(*g, proto::JoinGame{"", g->id, s.name, s.ping_ms, s.id, s.conn_type});
  if (s.emulator != g->emulator) {
    announce_to_room(*g, t("join.other_emulator",
                           {{"player", s.name}, {"emulator", s.emulator}, {"owner_emulator", g->emulator}}));
  }
  if (g->start_at != 0 && player_count(*g) >= g->start_at && g->state == GameState::kWaiting &&
      !g->chat_room()) {
    // A start like the owner's /start: players who cannot play together are not started (§5.3); /startn
    // stays on, so a later join may start the game.
    if (std::string why = start_refusal(*g); !why.empty()) {
      announce_to_room(*g, t("start.denied", {{"reason", why}}));
    } else {
      announce_to_room(*g, t("startn.starting", {{"count", g->start_at}}));
      g->start_at = 0;
      start_game(*g, now);
    }
  }
}

void Server::Impl::on_game_chat(Session& s, std::string_view text, TimePoint now) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  if (!g) {
    ++counters.drop_bad_message;
    return;
  }
  if (!text.empty() && text[0] == '/') {
    command(s, text, g, now);
    return;
  }
  // Game chat may carry game data (§9.15): no content filter, only a length bound.
  if (text.size() > cfg.max_game_chat_length) {
    room_error(s, t("chat.room_too_long", {{"max", cfg.max_game_chat_length}}));
    return;
  }
  if (!s.staff() && (g->muted_ips.count(s.addr.ip) != 0 || mod.silenced(s.addr.ip, now))) {
    ++counters.refused_silenced;
    room_error(s, g->muted_ips.count(s.addr.ip) ? t("chat.muted") : t("chat.silenced"));
    return;
  }
  const proto::GameChat m{s.name, text};
  for (const auto& p : g->players) {
    if (Session* o = session(p.user_id); o && !ignores(*o, s)) send(*o, m);
  }
  for (std::uint16_t id : g->watchers) {
    if (Session* o = session(id); o && !ignores(*o, s)) send(*o, m);
  }
  if (cfg.audit_chat) {
    audit(AuditEvent{"chat", {}}
              .text("where", "game")
              .num("game_id", g->id)
              .num("user_id", s.id)
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .text("text", text));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Start, ready.

std::string Server::Impl::start_refusal(const Game& g) {
  if (admission.refusing()) {
    ++counters.refused_busy_start;
    return t("start.busy");
  }
  if (player_count(g) < 2 && !cfg.allow_single_player) return t("start.two_players");
  for (const auto& p : g.players) {
    if (p.left) continue;
    const auto it = sessions.find(p.user_id);
    if (it == sessions.end()) continue;
    const Session& s = *it->second;
    if (s.emulator != g.emulator)
      return t("start.other_emulator", {{"player", s.name}, {"emulator", s.emulator}});
    if (!cfg.allow_mixed_conn_types && p.conn_type != g.players.front().conn_type) {
      return t("start.other_conn_type", {{"player", s.name}, {"conn", proto::conn_type_name(p.conn_type)}});
    }
  }
  return {};
}

void Server::Impl::on_start_game(Session& s, TimePoint now) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  if (!g) {
    ++counters.drop_bad_message;
    return;
  }
  if (g->owner != s.id && s.level < Level::kAdmin) {
    room_error(s, t("start.owner_only"));
    return;
  }
  if (g->chat_room()) {
    room_info(s, t("start.chat_room"));
    return;
  }
  if (g->state != GameState::kWaiting) {
    room_error(s, t("start.already_started"));
    return;
  }
  if (std::string why = start_refusal(*g); !why.empty()) {
    room_error(s, t("start.denied", {{"reason", why}}));
    return;
  }
  start_game(*g, now);
}

// Each player's frame delay (KAILLERA.md §5.3): from its own ping, or with /samedelay from the highest ping
// in the room.
std::uint32_t Server::Impl::delay_ping(const Game& g, std::uint32_t own_ping) const {
  if (!g.same_delay) return own_ping;
  std::uint32_t worst = 0;
  for (const auto& p : g.players) {
    auto it = sessions.find(p.user_id);
    if (it != sessions.end()) worst = std::max(worst, it->second->ping_ms);
  }
  return worst;
}

void Server::Impl::start_game(Game& game_ref, TimePoint now) {
  Game* g = &game_ref;
  // Compact slots of players who left a previous game.
  std::erase_if(g->players, [](const Player& p) { return p.left; });
  g->state = GameState::kNetsync;
  g->started = g->last_emit = now;
  g->frames_emitted = 0;
  g->start_at = 0;
  for (auto& p : g->players) {
    p.ready = false;
    p.playing = true;
    p.bytes_per_frame = 0;
    p.in_bytes.clear();
    p.in_read = 0;
    p.in_frames = 0;
    p.out_accum.clear();
    p.accum_frames = 0;
    p.in_cache.clear();
    p.out_cache.clear();
    p.autofire.reset();
    p.autofire.set_sensitivity(g->autofire);
    p.blocks_in = 0;
    p.last_data = now;
    p.start_repeat_at.reset();
  }
  ++counters.games_started;
  recent_starts.push_back(g->rom);
  if (recent_starts.size() > kMaxRecentStarts) recent_starts.pop_front();
  game_status_to_all(*g);
  // Each player gets the delay of its own ping (or, with /samedelay, of the highest), at its connection type.
  const auto n = static_cast<std::uint8_t>(g->players.size());
  std::vector<std::string> names;
  for (std::size_t i = 0; i < g->players.size(); ++i) {
    const Player& p = g->players[i];
    if (Session* o = session(p.user_id)) {
      send(*o, proto::StartGame{"", proto::frame_delay(delay_ping(*g, o->ping_ms), p.conn_type),
                                static_cast<std::uint8_t>(i + 1), n});
      names.push_back(o->name);
    }
  }
  audit(AuditEvent{"game_started", {}}
            .num("game_id", g->id)
            .text("game", g->rom)
            .text("emulator", g->emulator)
            .flag("same_delay", g->same_delay)
            .list("players", std::move(names)));
}

void Server::Impl::on_all_ready(Session& s, TimePoint now) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  Player* me = g ? player_of(*g, s.id) : nullptr;
  if (!g || !me || g->state != GameState::kNetsync) return;  // late or repeated: nothing to do
  me->ready = true;
  s.start_pacing = true;  // from its 0x15 on, an n02 client handles one message per datagram
  maybe_begin_play(*g, now);
}

void Server::Impl::maybe_begin_play(Game& game_ref, TimePoint now) {
  Game* g = &game_ref;
  for (const auto& p : g->players) {
    if (p.playing && !p.ready) return;
  }
  g->state = GameState::kPlaying;
  g->last_emit = now;
  for (auto& p : g->players) {
    // Caches start empty for every game (§5.6): clients clear theirs around their 0x15.
    p.in_cache.clear();
    p.out_cache.clear();
    p.last_data = now;
  }
  restart_lag(*g, now);
  // Status first, then 0x15 (the order of every server), each in a datagram of its own for the players
  // (start_pacing): an n02 client waiting for 0x15 handles one queued message per datagram it receives, so
  // the 0x15 is handled on the datagram that brings it. Should that datagram be lost, or the client have
  // messages queued, the 0x15 is repeated soon if its game data does not come (check_games).
  game_status_to_all(*g);
  for (std::size_t i = 0; i < g->players.size(); ++i) {
    Player& p = g->players[i];
    Session* o = session(p.user_id);
    if (!o || !p.playing) continue;
    send(*o, proto::AllReady{});
    p.start_repeat_gap = start_repeat_delay(o->ping_ms);
    p.start_repeat_at = now + p.start_repeat_gap;
  }
  for (std::size_t i = 0; i < g->players.size(); ++i) {
    const Player& p = g->players[i];
    const Session* o = session(p.user_id);
    if (!o || !p.playing) continue;
    const auto d = proto::frame_delay(delay_ping(*g, o->ping_ms), p.conn_type);
    const std::string line = t(g->same_delay ? "start.delay_same" : "start.delay",
                               {{"number", i + 1},
                                {"player", o->name},
                                {"delay", d},
                                {"frames", proto::input_lag_frames(d, p.conn_type)},
                                {"conn", proto::conn_type_name(p.conn_type)},
                                {"ping", o->ping_ms}});
    for (const auto& q : g->players) {
      if (Session* r = session(q.user_id)) room_info(*r, line);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Drop, leave, kick, close.

void Server::Impl::on_drop(Session& s, TimePoint now, std::string_view why) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  if (!g) return;
  Player* p = player_of(*g, s.id);
  if (!p || !p->playing || g->state == GameState::kWaiting) return;
  p->playing = false;
  p->ready = false;
  p->start_repeat_at.reset();
  s.start_pacing = false;
  const auto number = static_cast<std::uint8_t>(p - g->players.data() + 1);
  if (!why.empty()) {
    for (const auto& q : g->players) {
      if (Session* o = session(q.user_id))
        room_info(*o, t("drop.line", {{"player", s.name}, {"reason", why}}));
    }
  }
  send_room(*g, proto::PlayerDrop{s.name, number});
  const bool anyone =
      std::any_of(g->players.begin(), g->players.end(), [](const Player& q) { return q.playing; });
  if (!anyone) {
    audit(AuditEvent{"game_ended", {}}
              .num("game_id", g->id)
              .text("game", g->rom)
              .list("players", player_names(*g))
              .text("reason", "every player dropped")
              .num("frames", static_cast<std::int64_t>(g->frames_emitted))
              .num("seconds", std::chrono::duration_cast<std::chrono::seconds>(now - g->started).count()));
    g->state = GameState::kWaiting;
    g->clock.stop();
    std::erase_if(g->players, [](const Player& q) { return q.left; });
    game_status_to_all(*g);
    return;
  }
  if (g->state == GameState::kNetsync) {
    maybe_begin_play(*g, now);  // the dropped player may have been the last one not ready
    return;
  }
  emit_frames(*g, now);  // the others may proceed with zeros in this slot
}

void Server::Impl::leave_game(Session& s, TimePoint now, bool kicked) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  if (!g) {
    s.game_id = 0;
    return;
  }
  if (auto w = std::find(g->watchers.begin(), g->watchers.end(), s.id); w != g->watchers.end()) {
    g->watchers.erase(w);  // a watcher leaves as unseen as it came
    send(s, proto::QuitGame{s.name, s.id});
    s.game_id = 0;
    return;
  }
  if (Player* p = player_of(*g, s.id); p && p->playing && g->state != GameState::kWaiting) {
    on_drop(s, now);
    g = game(s.game_id);
    if (!g) return;
  }
  if (g->owner == s.id && !kicked) {
    close_game(*g, now);
    return;
  }
  send_room(*g, proto::QuitGame{s.name, s.id});  // the leaver included (§5.8)
  if (g->state == GameState::kWaiting) {
    std::erase_if(g->players, [&](const Player& p) { return p.user_id == s.id; });
  } else if (Player* p = player_of(*g, s.id)) {
    p->left = true;  // keep the slot so player numbers stay put for the others
  }
  s.game_id = 0;
  game_status_to_all(*g);
}

void Server::Impl::close_game(Game& g, TimePoint now) {
  Session* owner = session(g.owner);
  audit(AuditEvent{"game_closed", {}}
            .num("game_id", g.id)
            .text("game", g.rom)
            .list("players", player_names(g))
            .text("state", g.state == GameState::kWaiting ? "waiting" : "playing")
            .num("frames", static_cast<std::int64_t>(g.frames_emitted))
            .num("seconds", g.state == GameState::kWaiting
                                ? 0
                                : std::chrono::duration_cast<std::chrono::seconds>(now - g.started).count()));
  const std::uint32_t id = g.id;
  // Order seen in the captures: 0x0B about the owner to the others, 0x10 to all, 0x0B to the owner itself.
  if (owner) {
    for (const auto& p : g.players) {
      if (p.left || p.user_id == owner->id) continue;
      if (Session* o = session(p.user_id)) send(*o, proto::QuitGame{owner->name, owner->id});
    }
  }
  send_lobby(proto::CloseGame{"", id}, id);
  if (owner) send(*owner, proto::QuitGame{owner->name, owner->id});
  for (const auto& p : g.players) {
    if (Session* o = session(p.user_id); o && o->game_id == id) {
      o->game_id = 0;
      o->start_pacing = false;
    }
  }
  for (std::uint16_t w : g.watchers) {
    if (Session* o = session(w); o && o->game_id == id) {
      send(*o, proto::QuitGame{o->name, o->id});
      o->game_id = 0;
    }
  }
  games.erase(id);
}

void Server::Impl::on_kick(Session& s, std::uint16_t target_id, TimePoint now) {
  Game* g = s.game_id ? game(s.game_id) : nullptr;
  if (!g) {
    ++counters.drop_bad_message;
    return;
  }
  if (g->owner != s.id && s.level < Level::kAdmin) {
    room_error(s, t("kick.owner_only"));
    return;
  }
  Session* t = session(target_id);
  if (!t || t->game_id != g->id || !player_of(*g, target_id)) {
    room_error(s, this->t("kick.no_player"));
    return;
  }
  if (t->id == s.id) {
    room_error(s, this->t("kick.self"));
    return;
  }
  if (t->level >= Level::kModerator && t->level >= s.level) {
    room_error(s, this->t("kick.staff"));
    return;
  }
  g->banned_ips.insert(t->addr.ip);
  for (const auto& p : g->players) {
    if (Session* o = session(p.user_id)) room_info(*o, this->t("kick.done", {{"player", t->name}}));
  }
  leave_game(*t, now, true);
}

}  // namespace kaillera::relay
