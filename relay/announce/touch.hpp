// The "touch" requests with which a server announces itself to the classic public server lists that players'
// clients read (KAILLERA.md §7): kaillera.com's touch_server.php and the Kaillera Reborn touch_list.php.
// Pure functions over bytes: no sockets, no clock, no threads; announcer.hpp sends what these build.
//
// Text travels as the relay's charset bytes (config `charset`), never re-encoded: the server name, location
// and website are already in the charset (settings.cpp converts them from the UTF-8 config once at start-up),
// players' names and game names are the bytes the clients sent. In the query string every byte outside
// A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); in the headers the bytes go as they are, with control
// bytes (CR, LF, NUL, ...) replaced by a space so that no text can end a header line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaillera::relay::announce {

// Which request a list URL takes: it follows from the last segment of the URL's path.
enum class ListKind : std::uint8_t {
  kTouchServer = 0,  // .../touch_server.php, kaillera.com (§7.1)
  kTouchList = 1,    // .../touch_list.php, Kaillera Reborn (§7.2)
};
inline constexpr std::size_t kListKinds = 2;
// "touch_server" / "touch_list" (the metrics label).
std::string_view kind_name(ListKind kind);

// The longest version each list accepts (§7.1: kaillera.com 8 characters; §7.2: EmuLinker-K up to 30).
inline constexpr std::size_t kTouchServerVersionChars = 8;
inline constexpr std::size_t kTouchListVersionChars = 30;

struct ListUrl {
  std::string url;  // as configured
  ListKind kind = ListKind::kTouchServer;
  std::string host;  // name or address, without [] around an IPv6 literal
  std::uint16_t port = 80;
  std::string target;  // the path, plus "?query" when the URL has one
};

// Parses `http://HOST[:PORT]/.../touch_server.php` or `.../touch_list.php` (a query may follow). Anything
// else, https:// included, gives nullopt and a message in `error` that names the URL and the accepted forms.
std::optional<ListUrl> parse_list_url(std::string_view url, std::string* error = nullptr);

// What the relay says about itself; text in the charset.
struct Identity {
  std::string name, location, website;
  std::string public_host;  // the `ip` / `ipAddress` field; "" when not configured
  std::string version;      // cut to each list's limit when sent
  std::string charset = "windows-1252";
  std::uint16_t port = 27888;  // the handshake port
  std::uint32_t max_users = 0, max_games = 0;
};

struct WaitingGame {
  std::uint32_t id = 0;
  std::string rom, owner, emulator;
  std::uint32_t players = 0, max_players = 0;
};

// The relay's load at the time of a touch.
struct Load {
  std::uint32_t users = 0;
  std::uint32_t games = 0;           // open rooms, waiting or playing (EmuLinker's nbgames / numGames)
  std::vector<WaitingGame> waiting;  // rooms waiting for players now
  std::vector<std::string> started;  // roms of games started since the previous touch of this list
};

struct Request {
  std::string target;                                        // what follows GET: path?query
  std::vector<std::pair<std::string, std::string>> headers;  // beside Host, User-Agent, Connection
};

// The request for `list` (its kind decides the fields, §7.1 or §7.2).
Request build_request(const ListUrl& list, const Identity& id, const Load& load);

// Percent-encoding of raw bytes: every byte but A-Z a-z 0-9 - . _ ~ as %XX.
std::string url_encode(std::string_view bytes);
// At most `max_chars` characters of `bytes` read in `charset`, never cutting a multi-byte character; a byte
// that does not decode counts as one character.
std::string truncate_chars(std::string_view bytes, std::size_t max_chars, std::string_view charset);
// `bytes` with every control byte (below 0x20, and 0x7F) replaced by a space.
std::string header_text(std::string_view bytes);

// The header values of §7.1 and §7.2, each entry's fields followed by '|'.
std::string kaillera_games(const std::vector<std::string>& started);   // rom|rom|
std::string kaillera_wgames(const std::vector<WaitingGame>& waiting);  // id|rom|owner|emulator|players|
std::string waiting_games(const std::vector<WaitingGame>& waiting);    // rom|owner|emulator|players/max|

}  // namespace kaillera::relay::announce
