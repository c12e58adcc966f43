#include "master/formats.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kaillera::master {

namespace {

using nlohmann::json;

std::string replace_chars(std::string_view raw, std::string_view from, std::string_view to) {
  std::string out(raw);
  for (char& c : out) {
    const auto i = from.find(c);
    if (i != std::string_view::npos) c = to[i];
  }
  return out;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string address(const ListedServer& s) {
  return s.host + ":" + std::to_string(s.port);
}

std::string players_text(std::int64_t players, std::int64_t max_players) {
  if (max_players <= 0) return std::to_string(players);
  return std::to_string(players) + "/" + std::to_string(max_players);
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

}  // namespace

std::string classic_line_text(std::string_view raw) {
  return replace_chars(raw, "\r\n", "  ");
}

std::string classic_field_text(std::string_view raw) {
  return replace_chars(raw, "\r\n;", "  ,");
}

std::string classic_game_text(std::string_view raw) {
  return replace_chars(raw, "\r\n|", "  /");
}

std::string game_ports_text(int first, int last) {
  if (last <= first) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

std::string render_server_list(const Snapshot& s) {
  std::string out;
  out.reserve(s.servers.size() * 96);
  for (const auto& srv : s.servers) {
    if (!srv.online) continue;
    out += classic_line_text(srv.name.raw);
    out += "\r\n";
    out += address(srv);
    out += ';';
    out += std::to_string(srv.users);
    out += '/';
    out += std::to_string(srv.max_users);
    out += ';';
    out += std::to_string(srv.games);
    out += ';';
    out += classic_field_text(srv.version.raw);
    out += ';';
    out += classic_field_text(srv.location.raw);
    out += "\r\n";
  }
  return out;
}

std::string render_game_line(const Snapshot& s) {
  std::string out;
  out.reserve(s.games.size() * 96 + 1);
  for (const auto& g : s.games) {
    const ListedServer& srv = s.servers[g.server];
    out += classic_game_text(g.rom.raw);
    out += '|';
    out += address(srv);
    out += '|';
    out += classic_game_text(g.owner.raw);
    out += '|';
    out += classic_game_text(g.emulator.raw);
    out += '|';
    out += players_text(g.players, g.max_players);
    out += '|';
    out += classic_game_text(srv.name.raw);
    out += '|';
    out += classic_game_text(srv.location.raw);
    out += '|';
  }
  out += '\n';
  return out;
}

std::string render_server_list_json(const Snapshot& s) {
  json a = json::array();
  for (const auto& srv : s.servers) {
    if (!srv.online) continue;
    a.push_back({{"serverName", srv.name.utf8},
                 {"ipAddress", address(srv)},
                 {"location", srv.location.utf8},
                 {"website", srv.website.utf8},
                 {"numUsers", srv.users},
                 {"maxUsers", srv.max_users},
                 {"numGames", srv.games},
                 {"maxGames", srv.max_games},
                 {"version", srv.version.utf8},
                 {"external", srv.external}});
  }
  return dump(a);
}

std::string render_game_list_json(const Snapshot& s) {
  json a = json::array();
  for (const auto& g : s.games) {
    const ListedServer& srv = s.servers[g.server];
    a.push_back({{"gameName", g.rom.utf8},
                 {"emulatorName", g.emulator.utf8},
                 {"userName", g.owner.utf8},
                 {"playerCount", players_text(g.players, g.max_players)},
                 {"serverName", srv.name.utf8},
                 {"location", srv.location.utf8},
                 {"ipAddress", address(srv)}});
  }
  return dump(a);
}

// A lag mark (lag_mark.hpp) in JSON: its key, or null when there is none.
json lag_json(LagMark m) {
  return m == LagMark::kUnknown ? json(nullptr) : json(lag_mark_key(m));
}

bool matches(const ListedServer& s, const RelayFilter& f) {
  if (f.online_only && !s.online) return false;
  if (f.has_room && s.max_users > 0 && s.users >= s.max_users) return false;
  if (!f.location_contains.empty() &&
      lower_ascii(s.location.utf8).find(lower_ascii(f.location_contains)) == std::string::npos) {
    return false;
  }
  return true;
}

std::string render_api_relays(const Snapshot& s, const RelayFilter& f) {
  json relays = json::array();
  for (const auto& srv : s.servers) {
    if (!matches(srv, f)) continue;
    relays.push_back({{"id", srv.id},
                      {"name", srv.name.utf8},
                      {"charset", srv.name.charset},
                      {"host", srv.host},
                      {"port", srv.port},
                      {"address", address(srv)},
                      {"game_ports", srv.external ? std::string()
                                                  : game_ports_text(srv.game_port_first, srv.game_port_last)},
                      {"location", srv.location.utf8},
                      {"website", srv.website.utf8},
                      {"version", srv.version.utf8},
                      {"users", srv.users},
                      {"max_users", srv.max_users},
                      {"games", srv.games},
                      {"playing_games", srv.playing_games},
                      {"waiting_games", srv.waiting_games},
                      {"max_games", srv.max_games},
                      {"online", srv.online},
                      {"external", srv.external},
                      {"source", srv.source},
                      {"last_report_unix_ms", srv.last_report_unix_ms},
                      {"lag", lag_json(srv.lag)}});
  }
  return dump(json{{"generated_unix_ms", s.built_unix_ms}, {"relays", std::move(relays)}});
}

std::string render_api_games(const Snapshot& s) {
  json games = json::array();
  for (const auto& g : s.games) {
    const ListedServer& srv = s.servers[g.server];
    games.push_back({{"relay_id", srv.id},
                     {"relay_name", srv.name.utf8},
                     {"address", address(srv)},
                     {"location", srv.location.utf8},
                     {"game_id", g.game_id},
                     {"rom", g.rom.utf8},
                     {"owner", g.owner.utf8},
                     {"emulator", g.emulator.utf8},
                     {"players", g.players},
                     {"max_players", g.max_players},
                     {"external", srv.external}});
  }
  json playing = json::array();
  for (const auto& g : s.playing) {
    const ListedServer& srv = s.servers[g.server];
    playing.push_back({{"relay_id", srv.id},
                       {"relay_name", srv.name.utf8},
                       {"address", address(srv)},
                       {"location", srv.location.utf8},
                       {"game_id", g.game_id},
                       {"rom", g.rom.utf8},
                       {"emulator", g.emulator.utf8},
                       {"players", g.players},
                       {"lag", lag_json(g.lag)},
                       {"window_ms", g.window_ms},
                       {"wait_ms", g.wait_ms},
                       {"worst_player_wait_ms", g.worst_wait_ms}});
  }
  return dump(json{{"generated_unix_ms", s.built_unix_ms},
                   {"games", std::move(games)},
                   {"playing", std::move(playing)}});
}

}  // namespace kaillera::master
