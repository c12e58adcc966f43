// Which announcements a webhook makes (issue 17), as pure code with time as an argument: the sender
// (sender.hpp) hands every webhook's Announcer what the master's list shows now (an Observation, built from
// the Catalog's snapshot) and gets back the events to deliver.
//
// - game_opened: a waiting game that has been in the list for `debounce_ms` (continuously: a game that
//   leaves before that is never announced), whose relay and name pass the filters and that has at least
//   `min_players` players, and is not full already. Each game once: a game is known by its server, its id and
//   its name, and remembered for kForgetMs after it leaves the list, so a relay that drops out and comes back
//   does not announce its games again.
// - game_started: a game that passed the debounce and filters above (whether or not game_opened is
//   subscribed) filled every seat, or left the waiting list into its relay's games being played (relays of
//   ours report them with their lag, issue 18). For a server that does not list all its playing games, a
//   game that left while its count of playing games rose counts as started (lowest ids first); one that
//   left otherwise was closed: nothing is said. At most once per game.
// - relay_online / relay_offline: a server's online state changed between two observations.
// Nothing is announced for what the first observation shows (a restarted master does not repeat itself).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "master/webhook/config.hpp"

namespace kaillera::master::webhook {

using UnixMillis = std::int64_t;

struct RelayView {
  std::string id;  // "42" for a relay, "ext:HOST:PORT" for a third-party or mirrored server
  bool external = false;
  bool online = false;
  std::string name, location;  // UTF-8
  std::string address;         // host:port players connect to
  std::int64_t users = 0, max_users = 0, games = 0, playing_games = 0;
  std::vector<std::int64_t> playing_ids;  // the ids of its games being played, where it reports them
};

struct GameView {
  std::string server_id;  // RelayView::id
  std::int64_t game_id = 0;
  std::string name, owner, emulator;  // UTF-8
  std::int64_t players = 0, max_players = 0;
};

struct Observation {
  UnixMillis now = 0;
  std::vector<RelayView> relays;
  std::vector<GameView> games;  // waiting games of online servers
};

struct Event {
  EventType type = EventType::kGameOpened;
  UnixMillis at = 0;
  RelayView relay;
  std::optional<GameView> game;
  std::string reason;            // game_started: "full" or "started"
  UnixMillis waiting_since = 0;  // games: when the game was first seen waiting
};

// '*' matches any run of characters, '?' one character (UTF-8 aware); ASCII letters match either case.
bool glob_match(std::string_view pattern, std::string_view text);
// The relay filters (relays, locations, external).
bool relay_passes(const Filter& f, const RelayView& r);
// The game filters (games, min_players); the relay's are separate.
bool game_passes(const Filter& f, const GameView& g);

class Announcer {
 public:
  static constexpr UnixMillis kForgetMs = 10 * 60 * 1000;

  explicit Announcer(WebhookConfig config) : config_(std::move(config)) {}

  // What changed since the previous observation: relay events first, then games in the observation's
  // order, then games that left the list.
  std::vector<Event> observe(const Observation& obs);

  std::size_t tracked_games() const { return games_.size(); }

 private:
  struct Track {
    UnixMillis first_seen = 0;
    UnixMillis last_seen = 0;
    bool present = false;
    bool eligible = false;  // passed debounce and filters (game_opened said or would have said so)
    bool done = false;      // game_started said, or the game ended: nothing more about it
    GameView game;          // as last seen
  };

  WebhookConfig config_;
  bool first_ = true;
  std::map<std::string, Track> games_;  // by server id, game id and name
  std::map<std::string, bool> online_;  // by server id
  std::map<std::string, std::int64_t> playing_;
};

}  // namespace kaillera::master::webhook
