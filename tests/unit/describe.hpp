// Test helper: a message as JSON with the field names of shared/protocol/vectors.json, strings converted from
// the wire charset (CP932 for the captures) to UTF-8 so they compare with the vectors' text.
#pragma once

#include <iconv.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/kaillera/messages.hpp"

namespace kf_test {

inline std::string convert(std::string_view in, const char* from, const char* to) {
  iconv_t cd = iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(in);
  std::string out(in.size() * 4 + 4, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (r == static_cast<size_t>(-1)) return "<iconv failed>";
  out.resize(out.size() - dst_left);
  return out;
}
inline std::string sjis_to_utf8(std::string_view s) {
  return convert(s, "CP932", "UTF-8");
}
inline std::string utf8_to_sjis(std::string_view s) {
  return convert(s, "UTF-8", "CP932");
}

inline std::string hex(kaillera::proto::Bytes b) {
  std::string s;
  char buf[3];
  for (auto c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}
inline std::vector<std::uint8_t> unhex(std::string_view h) {
  std::vector<std::uint8_t> v;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    v.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return v;
}

using nlohmann::json;
namespace p = kaillera::proto;

inline std::string t(std::string_view s) {
  return sjis_to_utf8(s);
}

inline json describe(const p::Message& msg) {
  return std::visit(
      [](const auto& m) -> json {
        using T = std::decay_t<decltype(m)>;
        json j;
        if constexpr (std::is_same_v<T, p::UserQuit> || std::is_same_v<T, p::ConnectionRejected>) {
          j = {{"user", t(m.user)}, {"user_id", m.user_id}, {"message", t(m.message)}};
        } else if constexpr (std::is_same_v<T, p::UserJoined>) {
          j = {{"user", t(m.user)}, {"user_id", m.user_id}, {"ping", m.ping}, {"conn_type", m.conn_type}};
        } else if constexpr (std::is_same_v<T, p::UserInformation>) {
          j = {{"user", t(m.user)}, {"emulator", t(m.emulator)}, {"conn_type", m.conn_type}};
        } else if constexpr (std::is_same_v<T, p::ServerStatus>) {
          json users = json::array(), games = json::array();
          for (auto& u : m.users)
            users.push_back({{"name", t(u.name)},
                             {"ping", u.ping},
                             {"status", u.status},
                             {"user_id", u.user_id},
                             {"conn_type", u.conn_type}});
          for (auto& g : m.games)
            games.push_back({{"rom", t(g.rom)},
                             {"game_id", g.game_id},
                             {"emulator", t(g.emulator)},
                             {"owner", t(g.owner)},
                             {"players", t(g.players)},
                             {"status", g.status}});
          j = {{"empty", t(m.empty)},
               {"num_users", m.users.size()},
               {"num_games", m.games.size()},
               {"users", users},
               {"games", games}};
        } else if constexpr (std::is_same_v<T, p::ServerAck> || std::is_same_v<T, p::ClientAck>) {
          j = {{"empty", t(m.empty)}, {"values", {m.values[0], m.values[1], m.values[2], m.values[3]}}};
        } else if constexpr (std::is_same_v<T, p::GlobalChat> || std::is_same_v<T, p::GameChat>) {
          j = {{"user", t(m.user)}, {"message", t(m.message)}};
        } else if constexpr (std::is_same_v<T, p::KeepAlive> || std::is_same_v<T, p::AllReady>) {
          j = {{"empty", t(m.empty)}};
        } else if constexpr (std::is_same_v<T, p::CreateGame>) {
          j = {{"user", t(m.user)},
               {"game_name", t(m.rom)},
               {"emulator", t(m.emulator)},
               {"game_id", m.game_id & 0xFFFF},
               {"val1", m.game_id >> 16}};
        } else if constexpr (std::is_same_v<T, p::QuitGame>) {
          j = {{"user", t(m.user)}, {"user_id", m.user_id}};
        } else if constexpr (std::is_same_v<T, p::JoinGame>) {
          j = {{"empty", t(m.empty)},     {"game_id", m.game_id & 0xFFFF},
               {"val1", m.game_id >> 16}, {"user", t(m.user)},
               {"ping", m.ping},          {"user_id", m.user_id},
               {"conn_type", m.conn_type}};
        } else if constexpr (std::is_same_v<T, p::PlayerInformation>) {
          json players = json::array();
          for (auto& e : m.players)
            players.push_back(
                {{"name", t(e.name)}, {"ping", e.ping}, {"user_id", e.user_id}, {"conn_type", e.conn_type}});
          j = {{"empty", t(m.empty)}, {"num_players", m.players.size()}, {"players", players}};
        } else if constexpr (std::is_same_v<T, p::GameStatus>) {
          j = {{"empty", t(m.empty)}, {"game_id", m.game_id & 0xFFFF}, {"val1", m.game_id >> 16},
               {"status", m.status},  {"num_players", m.num_players},  {"max_players", m.max_players}};
        } else if constexpr (std::is_same_v<T, p::KickUser>) {
          j = {{"empty", t(m.empty)}, {"user_id", m.user_id}};
        } else if constexpr (std::is_same_v<T, p::CloseGame>) {
          j = {{"empty", t(m.empty)}, {"game_id", m.game_id & 0xFFFF}, {"val1", m.game_id >> 16}};
        } else if constexpr (std::is_same_v<T, p::StartGame>) {
          j = {{"empty", t(m.empty)},
               {"delay", m.delay},
               {"player_number", m.player_number},
               {"num_players", m.num_players}};
        } else if constexpr (std::is_same_v<T, p::GameData>) {
          j = {{"empty", t(m.empty)}, {"data_len", m.data.size()}, {"data", hex(m.data)}};
        } else if constexpr (std::is_same_v<T, p::CachedGameData>) {
          j = {{"empty", t(m.empty)}, {"cache_index", m.index}};
        } else if constexpr (std::is_same_v<T, p::PlayerDrop>) {
          j = {{"user", t(m.user)}, {"player_number", m.player_number}};
        } else if constexpr (std::is_same_v<T, p::ServerInformation>) {
          j = {{"user", t(m.source)}, {"message", t(m.message)}};
        }
        return j;
      },
      msg);
}

}  // namespace kf_test
