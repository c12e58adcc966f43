// The master's SQLite repository: relays, tokens, their latest status and waiting games, third-party (touch)
// servers, measurements and mirrors (schema: migrations/). Plain rows in, plain rows out; every write that
// belongs together runs in one transaction. Throws StoreError (sqlite.hpp) on any SQLite failure, after which
// nothing of the failed call is stored. One Store per connection, used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/store/sqlite.hpp"

namespace kaillera::master::store {

inline constexpr std::string_view kSourceToken = "token";
inline constexpr std::string_view kSourceOpen = "open";

struct RelayRow {
  std::int64_t id = 0;
  std::optional<std::string> label;  // the operator's NAME (token relays)
  std::string source{kSourceToken};
  std::string name;  // raw bytes in `charset`
  std::string charset = "windows-1252";
  std::string public_host;
  std::string observed_ip;
  int handshake_port = 0;
  int game_port_first = 0;
  int game_port_last = 0;
  std::string location;  // raw bytes in `charset`
  std::string website;
  std::string version;
  std::int64_t max_users = 0;
  std::int64_t max_games = 0;
  std::string session_key_hash;  // 32 bytes, or empty before the first Register
  std::int64_t created_unix_ms = 0;
  std::optional<std::int64_t> registered_unix_ms;
  std::optional<std::int64_t> last_report_unix_ms;
  bool listed = false;
  bool verified = false;
  bool external = false;
};

struct StatusRow {
  std::int64_t users = 0;
  std::int64_t games = 0;
  std::int64_t playing_games = 0;
  std::int64_t updated_unix_ms = 0;
};

struct GameRow {
  std::int64_t game_id = 0;
  std::string rom, owner, emulator;  // raw bytes
  std::int64_t players = 0;
  std::int64_t max_players = 0;
};

// A game being played and its lag over the relay's lag window (migrations/0003_playing_games.sql).
struct PlayingRow {
  std::int64_t game_id = 0;
  std::string rom, emulator;  // raw bytes
  std::int64_t players = 0;
  std::int64_t window_ms = 0;      // what the figures cover
  std::int64_t wait_ms = 0;        // the time the game lost in it
  std::int64_t worst_wait_ms = 0;  // the most one player made it lose
};

struct MeasurementRow {
  std::string player_address;
  std::int64_t hops = -1;    // -1 = unknown (NULL); 0 = the relay's own network
  std::int64_t rtt_ms = -1;  // -1 (or 0) = unknown (NULL)
  std::int64_t source = 0;
  std::int64_t measured_unix_ms = 0;
};

struct RelayRecord {
  RelayRow relay;
  std::optional<StatusRow> status;
  std::vector<GameRow> waiting;
  std::vector<PlayingRow> playing;
};

inline constexpr std::string_view kProtocolTouchServer = "touch_server";
inline constexpr std::string_view kProtocolTouchList = "touch_list";

struct ThirdPartyRow {
  std::string ip;  // dotted IPv4
  int port = 0;
  std::string protocol{kProtocolTouchServer};
  std::string name, charset, location, website, version;  // raw bytes as received
  std::int64_t users = 0, max_users = 0, games = 0, max_games = 0;
  std::int64_t first_seen_unix_ms = 0;
  std::int64_t last_touch_unix_ms = 0;
  std::optional<std::int64_t> verified_unix_ms;
  std::vector<GameRow> waiting;
};

class Store {
 public:
  // The schema must be migrated already (migrations.hpp).
  explicit Store(Db& db);

  Db& db() { return db_; }

  // ---- relays and tokens
  std::vector<RelayRecord> load_relays();
  std::optional<RelayRecord> load_relay(std::int64_t id);
  // A token relay named `label` with the token's SHA-256; returns its id. Throws when the label is taken.
  std::int64_t add_token_relay(std::string_view label, std::string_view token_hash, std::int64_t now_unix_ms);
  std::optional<std::int64_t> relay_for_token(std::string_view token_hash);
  void mark_token_used(std::string_view token_hash, std::int64_t now_unix_ms);
  // By label, or by id when `label_or_id` is all digits and no relay has it as label.
  std::optional<std::int64_t> find_relay(std::string_view label_or_id);
  std::optional<std::int64_t> find_open_relay(std::string_view host, int handshake_port);
  std::int64_t count_open_relays(std::string_view host);
  // Deletes the relay and everything that belongs to it (tokens, status, games, measurements).
  bool remove_relay(std::int64_t id);
  // Writes every column of `row` (row.id must exist).
  void save_relay(const RelayRow& row);
  // Inserts an open registration; returns its id.
  std::int64_t insert_relay(const RelayRow& row);

  // ---- reports
  // One transaction: the status, the waiting and the playing games (replacing the previous ones), the
  // measurements, and the relay's last_report_unix_ms.
  void save_report(std::int64_t relay_id, const StatusRow& status, const std::vector<GameRow>& waiting,
                   const std::vector<MeasurementRow>& measurements, std::int64_t now_unix_ms,
                   const std::vector<PlayingRow>& playing = {});
  void add_measurements(std::int64_t relay_id, const std::vector<MeasurementRow>& measurements,
                        std::int64_t now_unix_ms);
  std::int64_t prune_measurements(std::int64_t received_before_unix_ms);
  std::int64_t count_measurements();
  // Every measurement received at or after `since`, oldest first, with its relay (to rebuild the pick's
  // index).
  std::vector<std::pair<std::int64_t, MeasurementRow>> load_measurements(std::int64_t since_unix_ms);

  // ---- pick groups (a shareable code; each visitor adds their address)
  void create_group(std::string_view code, std::int64_t now_unix_ms, std::int64_t expires_unix_ms);
  bool group_exists(std::string_view code, std::int64_t now_unix_ms);
  // Adds `address` (once); false when the group does not exist or has expired.
  bool join_group(std::string_view code, std::string_view address, std::int64_t now_unix_ms);
  // Members in the order they joined; empty when the group does not exist or has expired.
  std::vector<std::string> group_members(std::string_view code, std::int64_t now_unix_ms);
  std::int64_t prune_groups(std::int64_t now_unix_ms);

  // ---- third-party servers
  std::vector<ThirdPartyRow> load_third_party();
  void save_third_party(const ThirdPartyRow& row);  // insert or replace, with its games
  void remove_third_party(std::string_view ip, int port);
  std::int64_t prune_third_party(std::int64_t touched_before_unix_ms);

  // ---- mirrors
  void set_mirrors(const std::vector<std::string>& urls, std::int64_t now_unix_ms);
  std::vector<std::string> mirrors();

 private:
  void write_games(std::int64_t relay_id, const std::vector<GameRow>& games);
  void write_measurements(std::int64_t relay_id, const std::vector<MeasurementRow>& m, std::int64_t now);
  std::vector<GameRow> read_games(std::int64_t relay_id);
  void write_playing(std::int64_t relay_id, const std::vector<PlayingRow>& games);
  std::vector<PlayingRow> read_playing(std::int64_t relay_id);

  Db& db_;
  Stmt update_relay_;
  Stmt upsert_status_;
  Stmt delete_games_;
  Stmt insert_game_;
  Stmt insert_measurement_;
  Stmt set_last_report_;
};

}  // namespace kaillera::master::store
