// The list in every format players and their tools read (KAILLERA.md §7), rendered from a Snapshot.
// Classic text formats pass the name bytes through in the server's own charset; only the characters that
// would break the format's framing are replaced (CR and LF by a space everywhere, ';' by ',' in the fields of
// the two-line format, '|' by '/' in the games line). JSON formats carry UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "master/catalog.hpp"

namespace kaillera::master {

// Cache slots of Snapshot::cached().
enum FormatSlot : std::size_t {
  kSlotServerList = 0,
  kSlotGameLine,
  kSlotServerListJson,
  kSlotGameListJson,
  kSlotApiRelays,
  kSlotApiGames,
};

// /raw_server_list.php, /raw_server_list2.php, /server_list.php — two CRLF-terminated lines per online
// server:
//   <name>\r\n<host>:<port>;<users>/<maxusers>;<games>;<version>;<location>\r\n
std::string render_server_list(const Snapshot& s);

// /game_list.php and ?wg=1 — one line, seven '|'-terminated fields per waiting game, then "\n":
//   <game>|<host>:<port>|<owner>|<emulator>|<players>/<max>|<server name>|<location>|
std::string render_game_line(const Snapshot& s);

// /server_list.json and /game_list.json — JSON arrays with the keys of the Kaillera Reborn lists.
std::string render_server_list_json(const Snapshot& s);
std::string render_game_list_json(const Snapshot& s);

struct RelayFilter {
  bool online_only = false;
  bool has_room = false;          // max_users == 0 (unlimited) or users < max_users
  std::string location_contains;  // case-insensitive (ASCII letters), UTF-8
  bool any() const { return online_only || has_room || !location_contains.empty(); }
};
bool matches(const ListedServer& s, const RelayFilter& f);

// /api/v1/relays and /api/v1/games.
std::string render_api_relays(const Snapshot& s, const RelayFilter& f = {});
std::string render_api_games(const Snapshot& s);

// "27889" or "27889-28200".
std::string game_ports_text(int first, int last);

// The replacement rules above, exposed for tests.
std::string classic_line_text(std::string_view raw);   // CR, LF -> ' '
std::string classic_field_text(std::string_view raw);  // CR, LF -> ' ', ';' -> ','
std::string classic_game_text(std::string_view raw);   // CR, LF -> ' ', '|' -> '/'

}  // namespace kaillera::master
