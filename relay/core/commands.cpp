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
    error("Commands: flood control, wait a moment");
  } else if (c.info == nullptr) {
    error("Unknown command /" + word + ". Try /help");
  } else if (s.level < c.info->level) {
    error("/" + word + " is for " + std::string(level_name(c.info->level)) + "s of this relay");
  } else if (c.info->scope == Scope::kRoom && room == nullptr) {
    error("/" + word + " works inside a game room");
  } else if (c.info->scope == Scope::kLobby && room != nullptr) {
    error("/" + word + " works in the lobby chat");
  } else if (c.info->owner && room->owner != s.id && s.level < Level::kAdmin) {
    error("/" + word + " is for the room's owner");
  } else if (!c.ok) {
    error("Usage: " + std::string(c.info->usage));
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
  auto list = [&](std::string_view title, auto keep) {
    std::string line(title);
    bool any = false;
    for (const auto& c : command_table()) {
      if (!keep(c)) continue;
      const std::string w = " /" + std::string(c.word);
      if (line.size() + w.size() > kHelpLine && any) {
        reply(s, line);
        line = " ";
      }
      line += w;
      any = true;
    }
    if (any) reply(s, line);
  };
  auto here = [&](const CommandInfo& c) {
    return c.scope == Scope::kBoth || (c.scope == Scope::kRoom) == (room != nullptr);
  };
  list("Commands:", [&](const CommandInfo& c) { return c.level == Level::kNormal && !c.owner && here(c); });
  if (owner) list("Owner:", [&](const CommandInfo& c) { return c.owner; });
  for (Level l : {Level::kModerator, Level::kAdmin, Level::kOwner}) {
    if (s.level < l) break;
    const std::string title = std::string(level_name(l)) + ":";
    list(title, [&](const CommandInfo& c) { return c.level == l && here(c); });
  }
  reply(s,
        room ? "In the lobby chat there are more; /<command> alone shows its usage"
             : "In a game room there are more (/lagstat, /fair, the owner's); bad arguments show the usage");
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
    reply(s, "No user has id " + std::to_string(to));
    return;
  }
  if (t == &s) {
    reply(s, "That is you");
    return;
  }
  if (!s.staff() && mod.silenced(s.addr.ip, now)) {
    ++counters.refused_silenced;
    reply(s, "You are silenced: no private messages");
    return;
  }
  if (text.size() > cfg.max_chat_length || has_control_chars(text)) {
    reply(s, "Message not sent: too long (max " + std::to_string(cfg.max_chat_length) +
                 ") or control characters");
    return;
  }
  if (!s.staff() && (t->msg_off || ignores(*t, s))) {
    reply(s, t->name + " does not take private messages now");
    return;
  }
  const std::string in = "PM from " + s.name + " (id " + std::to_string(s.id) + "): " + std::string(text);
  if (t->game_id != 0) {
    room_info(*t, in + "  (/r to reply)");
  } else {
    info(*t, in + "  (/r to reply)");
  }
  reply(s, "PM to " + t->name + " (id " + std::to_string(t->id) + "): " + std::string(text));
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
      reply(s, "kaillera-relay " KF_VERSION);
      if (s.level >= Level::kAdmin) {
        std::size_t playing_games = 0;
        for (const auto& [id, g] : games)
          playing_games += g->state != GameState::kWaiting ? 1 : 0;
        reply(s, std::to_string(logged_in_count()) + " users, " + std::to_string(games.size()) + " games (" +
                     std::to_string(playing_games) + " playing), charset " + cfg.charset + ", state " +
                     (journal && journal->has_state_file() ? "saved" : "in memory only") + ", " +
                     std::to_string(mod.bans(now).size()) + " bans, " +
                     std::to_string(mod.silences(now).size()) + " silences");
      }
      return;
    case Verb::kFindUser: {
      std::size_t found = 0;
      for (const auto& [id, o] : sessions) {
        if (o->state != SessionState::kLoggedIn || !name_matches(c.text, o->name)) continue;
        if (++found > kMaxFound) continue;
        std::string line = "id " + std::to_string(o->id) + ": " + o->name;
        if (const Game* g = o->game_id ? game(o->game_id) : nullptr) {
          line += " in game " + std::to_string(g->id) + " (" + g->rom.substr(0, 24) + ")";
        }
        if (s.staff()) {
          line += " " + net::ip_to_string(o->addr.ip) + " " + std::string(level_name(o->level));
        }
        reply(s, line);
      }
      if (found == 0) reply(s, "No user's name matches " + std::string(c.text));
      if (found > kMaxFound) reply(s, "... and " + std::to_string(found - kMaxFound) + " more");
      return;
    }
    case Verb::kMsg:
      private_message(s, c.target->user_id, c.text, now);
      return;
    case Verb::kReply:
      if (s.reply_to == 0) {
        reply(s, "No private message to reply to");
      } else {
        private_message(s, s.reply_to, c.text, now);
      }
      return;
    case Verb::kMsgOn:
    case Verb::kMsgOff:
      s.msg_off = c.info->verb == Verb::kMsgOff;
      reply(s, s.msg_off ? "Private messages: off (staff can still reach you)" : "Private messages: on");
      return;
    case Verb::kIgnore:
    case Verb::kUnignore: {
      Session* t = find_user(c.target->user_id);
      if (!t || t == &s) {
        reply(s, "No other user has id " + std::to_string(c.target->user_id));
        return;
      }
      auto it = std::find(s.ignored.begin(), s.ignored.end(), t->addr.ip);
      if (c.info->verb == Verb::kUnignore) {
        if (it != s.ignored.end()) s.ignored.erase(it);
        reply(s, "No longer ignoring " + t->name);
        return;
      }
      if (t->staff()) {
        reply(s, "Staff of this relay cannot be ignored");
        return;
      }
      if (it == s.ignored.end()) {
        if (s.ignored.size() >= kMaxIgnored) s.ignored.erase(s.ignored.begin());
        s.ignored.push_back(t->addr.ip);
      }
      reply(s, "Ignoring " + t->name + " (and others at that address): /unignore " + std::to_string(t->id));
      return;
    }
    case Verb::kIgnoreAll:
      s.ignore_all = true;
      reply(s, "Ignoring everyone's chat but staff's: /unignoreall to undo");
      return;
    case Verb::kUnignoreAll:
      s.ignore_all = false;
      s.ignored.clear();
      reply(s, "Ignoring no one");
      return;
    case Verb::kMe: {
      if (!s.staff() && mod.silenced(s.addr.ip, now)) {
        ++counters.refused_silenced;
        reply(s, "You are silenced");
        return;
      }
      if (c.text.size() > cfg.max_chat_length || has_control_chars(c.text)) {
        reply(s, "Too long or control characters");
        return;
      }
      if (room) {
        if (!s.staff() && room->muted_ips.count(s.addr.ip)) {
          ++counters.refused_silenced;
          room_error(s, "You are muted in this room");
          return;
        }
        const std::string line = "* " + s.name + " " + std::string(c.text);
        for (const auto& p : room->players) {
          if (Session* o = session(p.user_id); o && !p.left && !ignores(*o, s)) room_info(*o, line);
        }
        return;
      }
      if (chat_flooding(s, now)) return;
      send_lobby_chat(s, proto::ServerInformation{"Server", "* " + s.name + " " + std::string(c.text)});
      return;
    }
    case Verb::kMyIp:
      reply(s,
            "Your address: " + net::ip_to_string(s.addr.ip) + " (port " + std::to_string(s.addr.port) + ")");
      return;
    case Verb::kAliveCheck:
      // The machine-read answer clients poll for (EmuLinker-K's ":ALIVECHECK=" prefix), in the lobby window.
      info(s, ":ALIVECHECK=kaillera-relay Alive Check: You are still logged in.");
      return;
    case Verb::kP2pOn:
    case Verb::kP2pOff:
      s.p2p = c.info->verb == Verb::kP2pOn;
      reply(s, s.p2p ? "P2P mode on: no lobby chat, joins or quits while you play"
                     : "P2P mode off: lobby traffic while you play");
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
      announce_to_room(g, asked
                              ? "Asking the master for the fairest relay for this room's players..."
                              : "The fair relay pick needs a master directory; this relay reports to none.");
      return;
    }
    case Verb::kNum:
      room_info(s, std::to_string(player_count(g)) + " player(s) in the room (max " +
                       std::to_string(g.max_players) + ")");
      return;
    case Verb::kStart:
      on_start_game(s, now);
      return;
    case Verb::kStartN:
      if (g.state != GameState::kWaiting) {
        room_error(s, "The game has already started");
      } else if (c.number < 1 || c.number > g.max_players) {
        room_error(s, "Usage: /startn <players>, 1 to " + std::to_string(g.max_players));
      } else if (player_count(g) >= c.number) {
        on_start_game(s, now);
      } else {
        g.start_at = c.number;
        announce_to_room(g, "The game starts by itself once " + std::to_string(c.number) + " players are in");
      }
      return;
    case Verb::kMaxUsers:
      if (c.number < std::max<std::uint32_t>(1, player_count(g)) || c.number > cfg.max_players) {
        room_error(s, "Usage: /maxusers <n>, from the players present to " + std::to_string(cfg.max_players));
        return;
      }
      g.max_players = c.number;
      room_info(s, "Max players: " + std::to_string(c.number));
      game_status_to_all(g);
      return;
    case Verb::kMaxPing:
      if (c.number > 10000) {
        room_error(s, "Usage: /maxping <ms> (0 = no limit)");
        return;
      }
      g.max_ping = c.number;
      room_info(
          s, c.number ? "Max ping: " + std::to_string(c.number) + " ms" : std::string("Max ping: no limit"));
      return;
    case Verb::kRoomKick:
      if (c.number < 1 || c.number > g.players.size() || g.players[c.number - 1].left) {
        room_error(s, "Usage: /kick <player number>");
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
        room_error(s, "No player in this room has id " + std::to_string(c.target->user_id));
        return;
      }
      if (c.info->verb == Verb::kUnmute) {
        g.muted_ips.erase(t->addr.ip);
        announce_to_room(g, t->name + " may chat in this room again");
        return;
      }
      if (t == &s || t->id == g.owner || (t->staff() && t->level >= s.level)) {
        room_error(s, "You cannot mute " + t->name);
        return;
      }
      g.muted_ips.insert(t->addr.ip);
      announce_to_room(g, t->name + " was muted in this room");
      return;
    }
    case Verb::kMuteAll:
      for (const auto& p : g.players) {
        const Session* o = session(p.user_id);
        if (o && !p.left && o->id != g.owner && o != &s && !(o->staff() && o->level >= s.level))
          g.muted_ips.insert(o->addr.ip);
      }
      announce_to_room(g, "Everyone but the owner was muted in this room");
      return;
    case Verb::kUnmuteAll:
      g.muted_ips.clear();
      announce_to_room(g, "Everyone may chat in this room again");
      return;
    case Verb::kSwap: {
      if (g.state != GameState::kWaiting) {
        room_error(s, "/swap works before the game starts");
        return;
      }
      if (c.number != g.players.size()) {
        room_error(s, "Usage: /swap <order>: each of the " + std::to_string(g.players.size()) +
                          " player numbers once, e.g. /swap 21");
        return;
      }
      for (std::uint32_t i = 0; i < c.number; ++i) {
        if (c.order[i] > g.players.size()) {  // checked before anything moves
          room_error(s, "Usage: /swap <order>: numbers 1 to " + std::to_string(g.players.size()));
          return;
        }
      }
      std::vector<Player> reordered;
      for (std::uint32_t i = 0; i < c.number; ++i)
        reordered.push_back(std::move(g.players[c.order[i] - 1u]));
      g.players = std::move(reordered);
      std::string line = "Player numbers:";
      for (std::size_t i = 0; i < g.players.size(); ++i) {
        if (const Session* o = session(g.players[i].user_id))
          line += " P" + std::to_string(i + 1) + " " + o->name;
      }
      announce_to_room(g, line);
      return;
    }
    case Verb::kSetEmu:
      g.emu_locked = !c.on;
      announce_to_room(g, g.emu_locked ? "Only " + g.emulator + " may join this room"
                                       : std::string("Any emulator may join this room"));
      return;
    case Verb::kSetConn: {
      g.conn_locked = !c.on;
      const std::uint8_t conn = owner_conn_type(g);
      announce_to_room(g, g.conn_locked ? "Only connection type " + std::string(proto::conn_type_name(conn)) +
                                              " may join this room"
                                        : std::string("Any connection type may join this room"));
      return;
    }
    case Verb::kDetectAutofire:
      if (c.number > 5) {
        room_error(s,
                   "Usage: /detectautofire <0-5>: 0 = off, 1 = only the fastest autofire ... 5 = slower too");
        return;
      }
      g.autofire = static_cast<std::uint8_t>(c.number);
      for (auto& p : g.players) {
        p.autofire.reset();
        p.autofire.set_sensitivity(g.autofire);
      }
      announce_to_room(g, g.autofire
                              ? "Autofire detection: sensitivity " + std::to_string(g.autofire) + " of 5"
                              : std::string("Autofire detection: off"));
      return;
    case Verb::kSameDelay:
      g.same_delay = c.on;
      announce_to_room(g, g.same_delay ? "Same delay: every player gets the delay of the highest ping"
                                       : "Own delay: every player gets the delay of its own ping");
      return;
    default:
      return;
  }
}

}  // namespace kaillera::relay
