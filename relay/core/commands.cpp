// Chat commands (KAILLERA.md §6.5): lines starting with '/' are commands, never broadcast.
// Lobby answers are 0x17 lines from "Server", room answers 0x08 lines from "Server" (or "Error").
#include <algorithm>
#include <charconv>

#include "relay/core/server_impl.hpp"

#ifndef KF_VERSION
#define KF_VERSION "dev"
#endif

namespace kaillera::relay {

namespace {

struct Parsed {
  std::string_view verb;
  std::string_view rest;
};

Parsed parse(std::string_view text) {
  text.remove_prefix(1);  // '/'
  const auto sp = text.find(' ');
  Parsed p{text.substr(0, sp), sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1)};
  while (!p.rest.empty() && p.rest.front() == ' ')
    p.rest.remove_prefix(1);
  return p;
}

std::optional<std::uint32_t> number(std::string_view s) {
  std::uint32_t v = 0;
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

void Server::Impl::lobby_command(Session& s, std::string_view text, TimePoint now) {
  const Parsed c = parse(text);
  if (c.verb == "help") {
    info(s, "Commands: /help /version; in a game room: /help /lagstat /fair");
    if (s.admin) info(s, "Admin: /announce <text>, /kick <user id>, /ban <user id>, /shutdown");
    return;
  }
  if (c.verb == "version") {
    info(s, "kaillera-relay " KF_VERSION);
    return;
  }
  if (c.verb == "fair") {
    info(s, "/fair works inside a game room: it names the relay fairest for the room's players");
    return;
  }
  const bool admin_verb = c.verb == "announce" || c.verb == "kick" || c.verb == "ban" || c.verb == "shutdown";
  if (admin_verb && !s.admin) {
    info(s, "/" + std::string(c.verb) + " is for administrators of this relay");
    return;
  }
  if (c.verb == "announce") {
    if (c.rest.empty()) {
      info(s, "Usage: /announce <text>");
      return;
    }
    send_all(proto::ServerInformation{"Server", c.rest});
    return;
  }
  if (c.verb == "kick" || c.verb == "ban") {
    auto id = number(c.rest);
    Session* t = id && *id <= 0xFFFF ? session(static_cast<std::uint16_t>(*id)) : nullptr;
    if (!t || t->state != SessionState::kLoggedIn) {
      info(s, "Usage: /" + std::string(c.verb) + " <user id> (no logged-in user has that id)");
      return;
    }
    if (c.verb == "ban") banned_ips.insert(t->addr.ip);
    info(s, (c.verb == "ban" ? "Banned " : "Kicked ") + t->name);
    remove_session(*t, c.verb == "ban" ? "Banned!" : "Kicked by an administrator", now);
    return;
  }
  if (c.verb == "shutdown") {
    shutdown_requested = true;
    info(s, "Shutting down");
    return;
  }
  info(s, "Unknown command /" + std::string(c.verb) + ". Try /help");
}

std::vector<std::string> Server::Impl::lagstat(const Game& g) const {
  std::vector<std::string> lines;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(g.last_emit - g.started).count();
  lines.push_back("Lag: " + std::to_string(g.frames_emitted) + " frames relayed in " + std::to_string(secs) +
                  " s");
  for (std::size_t i = 0; i < g.players.size(); ++i) {
    const Player& p = g.players[i];
    auto it = sessions.find(p.user_id);
    const std::string name = p.left || it == sessions.end() ? std::string("(left)") : it->second->name;
    lines.push_back("P" + std::to_string(i + 1) + " " + name + ": last in " + std::to_string(p.frames_last) +
                    " blocks, others waited " + std::to_string(p.waited_ms) + " ms" +
                    (p.playing ? "" : " (dropped)"));
  }
  return lines;
}

void Server::Impl::room_command(Session& s, Game& g, std::string_view text, TimePoint now) {
  const Parsed c = parse(text);
  const bool owner = g.owner == s.id || s.admin;
  if (c.verb == "help") {
    room_info(s, "Room commands: /help /lagstat /fair");
    if (owner) room_info(s, "Owner: /maxusers <n> /maxping <ms> /kick <player number> /start");
    return;
  }
  if (c.verb == "lagstat") {
    for (const auto& line : lagstat(g)) {
      for (const auto& p : g.players) {
        if (Session* o = session(p.user_id); o && !p.left) room_info(*o, line);
      }
    }
    return;
  }
  if (c.verb == "fair") {
    std::vector<FairPlayer> players;
    for (const auto& p : g.players) {
      if (const Session* o = session(p.user_id); o && !p.left) players.push_back({o->addr.ip, o->name});
    }
    const bool asked = fair_hook && fair_hook(g.id, players);
    const std::string line =
        asked ? "Asking the master for the fairest relay for this room's players..."
              : "The fair relay pick needs a master directory; this relay reports to none.";
    for (const auto& p : g.players) {
      if (Session* o = session(p.user_id); o && !p.left) room_info(*o, line);
    }
    return;
  }
  const bool owner_verb =
      c.verb == "maxusers" || c.verb == "maxping" || c.verb == "kick" || c.verb == "start";
  if (owner_verb && !owner) {
    room_error(s, "/" + std::string(c.verb) + " is for the room's owner");
    return;
  }
  if (c.verb == "maxusers") {
    auto n = number(c.rest);
    if (!n || *n < std::max<std::uint32_t>(1, player_count(g)) || *n > cfg.max_players) {
      room_error(s, "Usage: /maxusers <n>, from the players present to " + std::to_string(cfg.max_players));
      return;
    }
    g.max_players = *n;
    room_info(s, "Max players: " + std::to_string(*n));
    game_status_to_all(g);
    return;
  }
  if (c.verb == "maxping") {
    auto n = number(c.rest);
    if (!n || *n > 10000) {
      room_error(s, "Usage: /maxping <ms> (0 = no limit)");
      return;
    }
    g.max_ping = *n;
    room_info(s, *n ? "Max ping: " + std::to_string(*n) + " ms" : std::string("Max ping: no limit"));
    return;
  }
  if (c.verb == "kick") {
    auto n = number(c.rest);
    if (!n || *n < 1 || *n > g.players.size() || g.players[*n - 1].left) {
      room_error(s, "Usage: /kick <player number>");
      return;
    }
    on_kick(s, g.players[*n - 1].user_id, now);
    return;
  }
  if (c.verb == "start") {
    on_start_game(s, now);
    return;
  }
  room_error(s, "Unknown command /" + std::string(c.verb) + ". Try /help");
}

}  // namespace kaillera::relay
