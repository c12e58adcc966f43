// Chat commands (KAILLERA.md §6.5): lines starting with '/' are commands, never broadcast. Parsed once into
// a Command (command_parse.hpp); this file checks who may use it and where, and runs everyone's commands and
// the room owner's. Staff commands are in staff.cpp.
// Answers go where the command was typed: 0x08 lines from "Server" (or "Error") in a room, 0x17 in the lobby.
#include <algorithm>

#include "common/kaillera/conn_type.hpp"
#include "relay/core/server_impl.hpp"
#include "relay/core/text_util.hpp"

#ifndef KF_VERSION
#define KF_VERSION "dev"
#endif

namespace kaillera::relay {

namespace {
constexpr std::size_t kMaxIgnored = 64;
constexpr std::size_t kMaxFound = 10;
constexpr std::size_t kHelpLine = 72;  // clients show about 80 characters a line

bool name_matches(std::string_view pattern, std::string_view name) {
  if (pattern.find_first_of("*?") != std::string_view::npos) return glob_match(pattern, name);
  return contains_ignore_case(name, pattern);
}
}  // namespace

void Server::Impl::reply(Session& s, std::string_view text) {
  if (s.game_id != 0 && command_room_ != nullptr) {
    room_info(s, text);
  } else {
    info(s, text);
  }
}

bool Server::Impl::command_allowed(Session& s, TimePoint now) {
  if (s.exempt() || cfg.chat_flood.count() == 0) return true;
  // A bucket of command_burst commands, one more every chat_flood.
  const double cap = cfg.command_burst;
  if (s.command_tokens < 0) {
    s.command_tokens = cap;
  } else {
    const double refill =
        std::chrono::duration<double>(now - s.command_last) / std::chrono::duration<double>(cfg.chat_flood);
    s.command_tokens = std::min(cap, s.command_tokens + refill);
  }
  s.command_last = now;
  if (s.command_tokens < 1) return false;
  s.command_tokens -= 1;
  return true;
}

void Server::Impl::command(Session& s, std::string_view text, Game* room, TimePoint now) {
  command_room_ = room;
  const Command c = parse_command(text, room != nullptr);
  const std::string word(c.word);
  auto error = [&](std::string_view line) {
    if (room) {
      room_error(s, line);
    } else {
      info(s, line);
    }
  };
  if (!command_allowed(s, now)) {
    ++counters.refused_command_flood;
    error(t("command.flood"));
  } else if (c.info == nullptr) {
    error(t("command.unknown", {{"command", word}}));
  } else if (s.level < c.info->level) {
    error(t("command.level",
            {{"command", word}, {"levels", t("levels." + std::string(level_name(c.info->level)))}}));
  } else if (c.info->scope == Scope::kRoom && room == nullptr) {
    error(t("command.room_only", {{"command", word}}));
  } else if (c.info->scope == Scope::kLobby && room != nullptr) {
    error(t("command.lobby_only", {{"command", word}}));
  } else if (c.info->owner && room->owner != s.id && s.level < Level::kAdmin) {
    error(t("command.owner_only", {{"command", word}}));
  } else if (!c.ok) {
    error(t("command.usage", {{"usage", usage_text(*c.info)}}));
  } else if (c.info->level >= Level::kModerator) {
    staff_command(s, c, room, now);
  } else if (c.info->scope == Scope::kRoom) {
    room_command(s, *room, c, now);
  } else {
    player_command(s, c, room, now);
  }
  command_room_ = nullptr;
}

void Server::Impl::help(Session& s, Game* room) {
  const bool owner = room && (room->owner == s.id || s.level >= Level::kAdmin);
  // The first line starts with the title, the next ones are indented (help.more_line).
  auto list = [&](const std::string& title, auto keep) {
    std::string words;
    bool first = true;
    auto emit = [&] {
      reply(s, first ? t("help.first_line", {{"title", title}, {"commands", words}})
                     : t("help.more_line", {{"commands", words}}));
      first = false;
      words.clear();
    };
    for (const auto& c : command_table()) {
      if (!keep(c)) continue;
      const std::string w = " /" + std::string(c.word);
      if ((first ? title.size() : 1) + words.size() + w.size() > kHelpLine && !words.empty()) emit();
      words += w;
    }
    if (!words.empty()) emit();
  };
  auto here = [&](const CommandInfo& c) {
    return c.scope == Scope::kBoth || (c.scope == Scope::kRoom) == (room != nullptr);
  };
  list(t("help.commands"),
       [&](const CommandInfo& c) { return c.level == Level::kNormal && !c.owner && here(c); });
  if (owner) list(t("help.owner"), [&](const CommandInfo& c) { return c.owner; });
  for (Level l : {Level::kModerator, Level::kAdmin, Level::kOwner}) {
    if (s.level < l) break;
    const std::string title = t("help.level", {{"level", level_text(l)}});
    list(title, [&](const CommandInfo& c) { return c.level == l && here(c); });
  }
  reply(s, room ? t("help.more_in_lobby") : t("help.more_in_room"));
}

// ---------------------------------------------------------------------------------------------------------------
// Everyone's commands.

bool Server::Impl::ignores(const Session& receiver, const Session& sender) const {
  if (&receiver == &sender || sender.staff()) return false;  // staff cannot be ignored
  if (receiver.ignore_all) return true;
  return std::find(receiver.ignored.begin(), receiver.ignored.end(), sender.addr.ip) !=
         receiver.ignored.end();
}

void Server::Impl::private_message(Session& s, std::uint16_t to, std::string_view text, TimePoint now) {
  Session* t = find_user(to);
  if (!t) {
    reply(s, this->t("user.no_such_id", {{"id", to}}));
    return;
  }
  if (t == &s) {
    reply(s, this->t("user.is_you"));
    return;
  }
  if (!s.staff() && mod.silenced(s.addr.ip, now)) {
    ++counters.refused_silenced;
    reply(s, this->t("pm.silenced"));
    return;
  }
  if (text.size() > cfg.max_chat_length || has_control_chars(text)) {
    reply(s, this->t("pm.too_long", {{"max", cfg.max_chat_length}}));
    return;
  }
  if (!s.staff() && (t->msg_off || ignores(*t, s))) {
    reply(s, this->t("pm.refused", {{"player", t->name}}));
    return;
  }
  const std::string in = this->t("pm.from", {{"player", s.name}, {"id", s.id}, {"text", text}});
  if (t->game_id != 0) {
    room_info(*t, in);
  } else {
    info(*t, in);
  }
  reply(s, this->t("pm.to", {{"player", t->name}, {"id", t->id}, {"text", text}}));
  t->reply_to = s.id;
  s.reply_to = t->id;
  if (cfg.audit_chat) {
    audit(AuditEvent{"chat", {}}
              .text("where", "private")
              .num("user_id", s.id)
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .num("to_id", t->id)
              .text("to", t->name)
              .text("text", text));
  }
}

void Server::Impl::player_command(Session& s, const Command& c, Game* room, TimePoint now) {
  switch (c.info->verb) {
    case Verb::kHelp:
      help(s, room);
      return;
    case Verb::kVersion:
      reply(s, t("version.line", {{"version", KF_VERSION}}));
      if (s.level >= Level::kAdmin) {
        std::size_t playing_games = 0;
        for (const auto& [id, g] : games)
          playing_games += g->state != GameState::kWaiting ? 1 : 0;
        reply(s,
              t("version.admin", {{"users", logged_in_count()},
                                  {"games", games.size()},
                                  {"playing", playing_games},
                                  {"charset", cfg.charset},
                                  {"state", journal && journal->has_state_file() ? t("version.state_saved")
                                                                                 : t("version.state_memory")},
                                  {"bans", mod.bans(now).size()},
                                  {"silences", mod.silences(now).size()}}));
      }
      return;
    case Verb::kFindUser: {
      std::size_t found = 0;
      for (const auto& [id, o] : sessions) {
        if (o->state != SessionState::kLoggedIn || !name_matches(c.text, o->name)) continue;
        if (++found > kMaxFound) continue;
        std::string line = t("finduser.line", {{"id", o->id}, {"player", o->name}});
        if (const Game* g = o->game_id ? game(o->game_id) : nullptr) {
          line += t("finduser.in_game", {{"game", g->id}, {"rom", g->rom.substr(0, 24)}});
        }
        if (s.staff()) {
          line +=
              t("finduser.staff", {{"ip", net::ip_to_string(o->addr.ip)}, {"level", level_text(o->level)}});
        }
        reply(s, line);
      }
      if (found == 0) reply(s, t("finduser.none", {{"pattern", c.text}}));
      if (found > kMaxFound) reply(s, t("list.more", {{"count", found - kMaxFound}}));
      return;
    }
    case Verb::kMsg:
      private_message(s, c.target->user_id, c.text, now);
      return;
    case Verb::kReply:
      if (s.reply_to == 0) {
        reply(s, t("pm.no_reply"));
      } else {
        private_message(s, s.reply_to, c.text, now);
      }
      return;
    case Verb::kMsgOn:
    case Verb::kMsgOff:
      s.msg_off = c.info->verb == Verb::kMsgOff;
      reply(s, s.msg_off ? t("pm.off") : t("pm.on"));
      return;
    case Verb::kIgnore:
    case Verb::kUnignore: {
      Session* t = find_user(c.target->user_id);
      if (!t || t == &s) {
        reply(s, this->t("ignore.no_user", {{"id", c.target->user_id}}));
        return;
      }
      auto it = std::find(s.ignored.begin(), s.ignored.end(), t->addr.ip);
      if (c.info->verb == Verb::kUnignore) {
        if (it != s.ignored.end()) s.ignored.erase(it);
        reply(s, this->t("ignore.off", {{"player", t->name}}));
        return;
      }
      if (t->staff()) {
        reply(s, this->t("ignore.staff"));
        return;
      }
      if (it == s.ignored.end()) {
        if (s.ignored.size() >= kMaxIgnored) s.ignored.erase(s.ignored.begin());
        s.ignored.push_back(t->addr.ip);
      }
      reply(s, this->t("ignore.on", {{"player", t->name}, {"id", t->id}}));
      return;
    }
    case Verb::kIgnoreAll:
      s.ignore_all = true;
      reply(s, t("ignore.all"));
      return;
    case Verb::kUnignoreAll:
      s.ignore_all = false;
      s.ignored.clear();
      reply(s, t("ignore.none"));
      return;
    case Verb::kMe: {
      if (!s.staff() && mod.silenced(s.addr.ip, now)) {
        ++counters.refused_silenced;
        reply(s, t("chat.silenced"));
        return;
      }
      if (c.text.size() > cfg.max_chat_length || has_control_chars(c.text)) {
        reply(s, t("me.refused"));
        return;
      }
      if (room) {
        if (!s.staff() && room->muted_ips.count(s.addr.ip)) {
          ++counters.refused_silenced;
          room_error(s, t("chat.muted"));
          return;
        }
        const std::string line = t("me.line", {{"player", s.name}, {"text", c.text}});
        for (const auto& p : room->players) {
          if (Session* o = session(p.user_id); o && !p.left && !ignores(*o, s)) room_info(*o, line);
        }
        return;
      }
      if (chat_flooding(s, now)) return;
      send_lobby_chat(
          s, proto::ServerInformation{"Server", t("me.line", {{"player", s.name}, {"text", c.text}})});
      return;
    }
    case Verb::kMyIp:
      reply(s, t("myip.line", {{"ip", net::ip_to_string(s.addr.ip)}, {"port", s.addr.port}}));
      return;
    case Verb::kAliveCheck:
      // The machine-read answer clients poll for (EmuLinker-K's ":ALIVECHECK=" prefix), in the lobby window.
      info(s, ":ALIVECHECK=" + t("alivecheck.line"));
      return;
    case Verb::kP2pOn:
    case Verb::kP2pOff:
      s.p2p = c.info->verb == Verb::kP2pOn;
      reply(s, s.p2p ? t("p2p.on") : t("p2p.off"));
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Room commands: everyone's (lagstat, fair, num) and the owner's.

// The room's players as the master's pick needs them.
std::vector<Server::FairPlayer> Server::Impl::fair_players(const Game& g) const {
  std::vector<FairPlayer> players;
  for (const auto& p : g.players) {
    if (const Session* o = session_const(p.user_id); o && !p.left) players.push_back({o->addr.ip, o->name});
  }
  return players;
}

void Server::Impl::room_command(Session& s, Game& g, const Command& c, TimePoint now) {
  switch (c.info->verb) {
    case Verb::kLagstat:
    case Verb::kLagreset:
    case Verb::kFps:
      lag_command(g, s, c, now);
      return;
    case Verb::kFair: {
      const bool asked = fair_hook && fair_hook(g.id, fair_players(g), FairPurpose::kFair);
      announce_to_room(g, asked ? t("fair.asking") : t("fair.no_master"));
      return;
    }
    case Verb::kNum:
      room_info(s, t("num.line", {{"count", player_count(g)}, {"max", g.max_players}}));
      return;
    case Verb::kStart:
      on_start_game(s, now);
      return;
    case Verb::kStartN:
      if (g.state != GameState::kWaiting) {
        room_error(s, t("start.already_started"));
      } else if (c.number < 1 || c.number > g.max_players) {
        room_error(s, t("startn.usage", {{"max", g.max_players}}));
      } else if (player_count(g) >= c.number) {
        on_start_game(s, now);
      } else {
        g.start_at = c.number;
        announce_to_room(g, t("startn.set", {{"count", c.number}}));
      }
      return;
    case Verb::kMaxUsers:
      if (c.number < std::max<std::uint32_t>(1, player_count(g)) || c.number > cfg.max_players) {
        room_error(s, t("maxusers.usage", {{"max", cfg.max_players}}));
        return;
      }
      g.max_players = c.number;
      room_info(s, t("maxusers.set", {{"count", c.number}}));
      game_status_to_all(g);
      return;
    case Verb::kMaxPing:
      if (c.number > 10000) {
        room_error(s, t("maxping.usage"));
        return;
      }
      g.max_ping = c.number;
      room_info(s, c.number ? t("maxping.set", {{"ms", c.number}}) : t("maxping.off"));
      return;
    case Verb::kRoomKick:
      if (c.number < 1 || c.number > g.players.size() || g.players[c.number - 1].left) {
        room_error(s, t("kick.usage"));
        return;
      }
      on_kick(s, g.players[c.number - 1].user_id, now);
      return;
    case Verb::kKickAll: {
      std::vector<std::uint16_t> ids;
      for (const auto& p : g.players) {
        if (!p.left && p.user_id != s.id && p.user_id != g.owner) ids.push_back(p.user_id);
      }
      for (std::uint16_t id : ids) {
        if (Game* still = game(s.game_id); still == &g) on_kick(s, id, now);
      }
      return;
    }
    case Verb::kMute:
    case Verb::kUnmute: {
      Session* t = find_user(c.target->user_id);
      // A mute outlives leaving the room, so /unmute takes any logged-in user; /mute, players present.
      if (!t || (c.info->verb == Verb::kMute && t->game_id != g.id)) {
        room_error(s, this->t("mute.no_player", {{"id", c.target->user_id}}));
        return;
      }
      if (c.info->verb == Verb::kUnmute) {
        g.muted_ips.erase(t->addr.ip);
        announce_to_room(g, this->t("mute.off", {{"player", t->name}}));
        return;
      }
      if (t == &s || t->id == g.owner || (t->staff() && t->level >= s.level)) {
        room_error(s, this->t("mute.refused", {{"player", t->name}}));
        return;
      }
      g.muted_ips.insert(t->addr.ip);
      announce_to_room(g, this->t("mute.on", {{"player", t->name}}));
      return;
    }
    case Verb::kMuteAll:
      for (const auto& p : g.players) {
        const Session* o = session(p.user_id);
        if (o && !p.left && o->id != g.owner && o != &s && !(o->staff() && o->level >= s.level))
          g.muted_ips.insert(o->addr.ip);
      }
      announce_to_room(g, t("mute.all"));
      return;
    case Verb::kUnmuteAll:
      g.muted_ips.clear();
      announce_to_room(g, t("mute.none"));
      return;
    case Verb::kSwap: {
      if (g.state != GameState::kWaiting) {
        room_error(s, t("swap.started"));
        return;
      }
      if (c.number != g.players.size()) {
        room_error(s, t("swap.usage_count", {{"count", g.players.size()}}));
        return;
      }
      for (std::uint32_t i = 0; i < c.number; ++i) {
        if (c.order[i] > g.players.size()) {  // checked before anything moves
          room_error(s, t("swap.usage_range", {{"count", g.players.size()}}));
          return;
        }
      }
      std::vector<Player> reordered;
      for (std::uint32_t i = 0; i < c.number; ++i)
        reordered.push_back(std::move(g.players[c.order[i] - 1u]));
      g.players = std::move(reordered);
      std::string line = t("swap.title");
      for (std::size_t i = 0; i < g.players.size(); ++i) {
        if (const Session* o = session(g.players[i].user_id))
          line += t("swap.player", {{"number", i + 1}, {"player", o->name}});
      }
      announce_to_room(g, line);
      return;
    }
    case Verb::kSetEmu:
      g.emu_locked = !c.on;
      announce_to_room(g, g.emu_locked ? t("setemu.on", {{"emulator", g.emulator}}) : t("setemu.off"));
      return;
    case Verb::kSetConn: {
      g.conn_locked = !c.on;
      const std::uint8_t conn = owner_conn_type(g);
      announce_to_room(
          g, g.conn_locked ? t("setconn.on", {{"conn", proto::conn_type_name(conn)}}) : t("setconn.off"));
      return;
    }
    case Verb::kDetectAutofire:
      if (c.number > 5) {
        room_error(s, t("autofire.usage"));
        return;
      }
      g.autofire = static_cast<std::uint8_t>(c.number);
      for (auto& p : g.players) {
        p.autofire.reset();
        p.autofire.set_sensitivity(g.autofire);
      }
      announce_to_room(g, g.autofire ? t("autofire.on", {{"level", g.autofire}}) : t("autofire.off"));
      return;
    case Verb::kSameDelay:
      g.same_delay = c.on;
      announce_to_room(g, g.same_delay ? t("samedelay.on") : t("samedelay.off"));
      return;
    default:
      return;
  }
}

}  // namespace kaillera::relay
