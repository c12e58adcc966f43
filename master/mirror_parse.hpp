// Reading other masters' public lists (KAILLERA.md §7), for mirroring (DESIGN.md data flow 3). Pure
// functions: no sockets, no clock. Every entry that does not fit its format is skipped and counted, never
// guessed at.
//
// Formats:
//   two-line text   server_list.php, raw_server_list.php, raw_server_list2.php (§7.1): per server
//                   "<name>\r\n" + "<host>:<port>;<users>/<max>;<games>;<version>;<location>\r\n"
//                   (LF alone works too; a data line without the games field, as in SFDOC's example, is
//                   read as host:port;users/max;version;location)
//   games line      game_list.php, raw_server_list2.php?wg=1: 7 '|'-terminated fields per waiting game,
//                   "<game>|<host>:<port>|<owner>|<emulator>|<players>/<max>|<server name>|<location>|"
//   JSON            server_list.json / game_list.json: an array, or {"data": [...]}, of objects with the
//   Kaillera
//                   Reborn keys (serverName, ipAddress, location, website, numUsers, maxUsers, numGames,
//                   maxGames, version; gameName, emulatorName, userName, playerCount, serverName, location,
//                   ipAddress). Numbers may also come as strings of digits.
//
// Text lists carry names as bytes in the list's charset and are kept that way (the classic formats serve them
// unchanged); JSON is UTF-8 (RFC 8259), and a JSON body that is not is repaired (undecodable bytes become
// U+FFFD) before it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaillera::master {

inline constexpr std::size_t kMaxMirrorServers = 10'000;  // per source; more are skipped and counted
inline constexpr std::size_t kMaxMirrorGames = 10'000;

// One server of an external list. Texts are raw bytes in MirrorList::charset.
struct MirrorServer {
  std::string name, location, website, version;
  std::string host;  // dotted IPv4 or a DNS name, as listed
  int port = 0;
  std::int64_t users = 0, max_users = 0, games = 0, max_games = 0;
};

// One waiting game of an external list; the server is named by its address (and its name and location, so a
// games-only list can still show where the game is).
struct MirrorGame {
  std::string rom, owner, emulator;
  std::string host;
  int port = 0;
  std::int64_t players = 0, max_players = 0;
  std::string server_name, location;
};

struct MirrorList {
  bool ok = false;    // false: the document as a whole could not be read (`error` says why)
  std::string error;  // also set when ok: a note such as "JSON was not valid UTF-8; repaired"
  std::string charset;
  std::vector<MirrorServer> servers;
  std::vector<MirrorGame> games;
  std::size_t skipped = 0;  // entries (or runs of lines/fields) that did not fit the format
};

enum class MirrorFormat { kTextServers, kTextGames, kJson };

// A `--mirror` value: http://HOST[:PORT]/PATH[?QUERY][#charset=NAME]. The fragment is never sent (RFC 3986);
// it carries this master's options for the list: `charset` = the charset of a text list's names.
struct MirrorUrl {
  std::string url;   // without the fragment: what the list is called in the `source` of its entries
  std::string host;  // lower-case
  std::uint16_t port = 80;
  std::string target;   // "/path?query"
  std::string charset;  // from #charset=, "" = decide from the response (see choose_charset)
};

// Returns the parsed URL, or nullopt with `error` naming the problem ("https is not supported ...").
std::optional<MirrorUrl> parse_mirror_url(std::string_view text, std::string& error);

// From the target's path and query, then the content: *.json -> JSON; game_list.php or wg=1 -> games line;
// other *.php -> two-line text; anything else: JSON when the body starts with '[' or '{', else two-line text.
MirrorFormat detect_format(std::string_view target, std::string_view body);

// The charset of a text list's names: the mirror's own option, else the response's Content-Type charset (a
// declared UTF-8 only when the body is valid UTF-8: servers often declare it for bytes that are not), else
// UTF-8 when the body is valid UTF-8 with some non-ASCII, else `fallback` (the master's default_charset).
std::string choose_charset(std::string_view option, std::string_view content_type, std::string_view body,
                           std::string_view fallback);

// The charset parameter of a Content-Type value, lower-case, or "".
std::string content_type_charset(std::string_view content_type);

MirrorList parse_server_list_text(std::string_view body, std::string_view charset);
MirrorList parse_game_line(std::string_view body, std::string_view charset);
// `charset`: what the body is in (normally utf-8); it is converted to UTF-8 first.
MirrorList parse_json_list(std::string_view body, std::string_view charset);

// The whole step for one response: format, charset, parse. A document that yields no entry but skipped some
// (an HTML error page served with 200, say) is not ok, so it cannot wipe the last good copy.
MirrorList parse_mirror_response(const MirrorUrl& url, std::string_view content_type, std::string_view body,
                                 std::string_view default_charset);

}  // namespace kaillera::master
