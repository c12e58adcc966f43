// The classic registration requests of third-party Kaillera servers (KAILLERA.md §7), and the query-string
// parsing they and the JSON API share. Pure functions: no sockets, no clock.
//
//   GET /touch_server.php?servername=&port=&nbusers=&maxconn=&version=&nbgames=&location=&ip=&url=
//       Kaillera-wgames: <id>|<rom>|<owner>|<emulator>|<players>|...      (EmuLinker, EmuLinker-K, direlera)
//   GET /touch_list.php?serverName=&ipAddress=&location=&website=&port=&numUsers=&maxUsers=&numGames=
//       &maxGames=&version=
//       Waiting-games: <rom>|<owner>|<emulator>|<players>/<max>|...       (EmuLinkerSF, EmuLinker-K)
//
// A server is keyed by the request's source IP and its `port`; the `ip` / `ipAddress` parameters are ignored,
// so nobody can list an address they do not send from (as KEMU does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "master/catalog.hpp"

namespace kaillera::master {

inline constexpr std::size_t kMaxQueryParams = 64;

struct QueryParam {
  std::string key, value;  // percent-decoded, '+' as space
};

class Query {
 public:
  // The first value of `key` (matched without regard to ASCII case), or nullptr.
  const std::string* get(std::string_view key) const;
  std::vector<QueryParam> params;
};

// Parses "a=1&b=x%20y". Returns "" or an error naming the parameter.
std::string parse_query(std::string_view query, Query& out);

// Decodes %XX and '+'. Returns nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s);

// "1", "0", "true", "false", "yes", "no", "" (= true, for "?online"). Returns nullopt on anything else.
std::optional<bool> parse_flag(std::string_view s);

struct TouchParse {
  Status status;
  TouchInput input;
};

// `protocol` is store::kProtocolTouchServer or kProtocolTouchList; `games_header` is the Kaillera-wgames or
// Waiting-games header value (empty when absent).
TouchParse parse_touch(std::string_view protocol, const Query& q, std::string_view games_header,
                       std::uint32_t source_ip);

}  // namespace kaillera::master
