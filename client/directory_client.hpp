// Asks a master's gRPC Directory for its relay list (`kaillera list`), and renders the answer as a table or
// JSON. The header carries no gRPC types, so main.cpp stays light; directory_client.cpp talks gRPC.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kaillera::client {

// One relay (or third-party server) of a master's list, text already UTF-8.
struct ListedRelay {
  std::string relay_id;
  std::string name;
  std::string host;
  std::uint32_t port = 0;
  std::string location;
  std::string website;
  std::string version;
  std::uint32_t users = 0;
  std::uint32_t max_users = 0;  // 0 = unlimited
  std::uint32_t games = 0;
  std::uint32_t playing_games = 0;
  bool online = false;
  bool external = false;
  std::int64_t last_report_unix_ms = 0;

  std::string address() const { return host + ":" + std::to_string(port); }
};

struct ListRelaysQuery {
  bool online_only = true;
  bool has_room = false;
  std::string location_contains;
};

struct ListRelaysResult {
  bool ok = false;
  std::string error;  // when !ok: why, naming the master
  std::vector<ListedRelay> relays;
};

// Calls Directory.ListRelays on `master` (HOST:PORT, plaintext). Gives up after `timeout` (connecting
// included): an unreachable master is an error, never a hang.
ListRelaysResult list_relays(const std::string& master, const ListRelaysQuery& query,
                             std::chrono::milliseconds timeout);

// By name (ASCII letters compared without case), then by address.
void sort_by_name(std::vector<ListedRelay>& relays);

// An aligned text table (name, address, location, users/max, games, version, online), one line per relay.
std::string relays_to_table(const std::vector<ListedRelay>& relays);

// A JSON array of objects: name, address, host, port, location, users, max_users, games, playing_games,
// version, website, online, external, relay_id, last_report_unix_ms.
std::string relays_to_json(const std::vector<ListedRelay>& relays);

// Columns a UTF-8 string takes in a terminal (East Asian wide characters count 2).
std::size_t display_width(const std::string& utf8);

// Text from relays for a terminal: control characters become '?' so they cannot move the cursor.
std::string printable(std::string_view utf8);

// "INVALID_ARGUMENT: message": a gRPC status code's name and its message.
std::string status_text(int code, const std::string& message);

}  // namespace kaillera::client
