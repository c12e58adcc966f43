// The master's model: every relay and third-party server it knows, their latest status and waiting games.
// Writes go to SQLite first (store/) and then to memory, so a failed write changes nothing and a restarted
// master finds everything again. Readers get an immutable Snapshot of the public list, rebuilt only when
// something visible changed (or a relay's 3-report window ran out), with its rendered formats cached, so the
// list endpoints cost a lookup. Thread-safe: gRPC, HTTP and timers call it from their own threads. Time is an
// argument (Unix milliseconds); the Catalog never reads a clock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/address.hpp"
#include "master/lag_mark.hpp"
#include "master/mirror_parse.hpp"
#include "master/pick/measurements.hpp"
#include "master/store/store.hpp"

namespace kaillera::master {

using UnixMillis = std::int64_t;

// ---- limits on what relays and touch requests may send
// -------------------------------------------------------
inline constexpr std::size_t kMaxNameBytes = 128;
inline constexpr std::size_t kMaxLocationBytes = 128;
inline constexpr std::size_t kMaxWebsiteBytes = 256;
inline constexpr std::size_t kMaxVersionBytes = 64;
inline constexpr std::size_t kMaxHostBytes = 253;
inline constexpr std::size_t kMaxGameTextBytes = 128;  // rom, owner, emulator
inline constexpr std::size_t kMaxWaitingGames = 1024;  // per report or touch; also playing games per report
inline constexpr std::uint32_t kMaxLagWindowMs = 3'600'000;  // a relay's lagstat_window_s is at most 3600
inline constexpr std::size_t kMaxMeasurements = 4096;        // per report or probe result
inline constexpr std::int64_t kMaxCount = 1'000'000;         // users, games, capacities
inline constexpr std::size_t kMaxGroupMembers = 8;  // players in one pick group (a Kaillera game's limit)

// Outcomes, with the codes gRPC and HTTP map them to.
enum class Code {
  kOk,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kInternal,
};

struct Status {
  Code code = Code::kOk;
  std::string message;
  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
};

// Bytes as received, their charset, and the same text as UTF-8.
struct Text {
  std::string raw;
  std::string charset;
  std::string utf8;
};
Text make_text(std::string raw, std::string_view charset);

// ---- inputs (already checked for size and form by proto_convert / touch) ---------------------------------
struct RelayInfoInput {
  std::string name;  // raw bytes
  std::string charset;
  std::string public_host;  // empty: the observed address
  int handshake_port = 0;
  int game_port_first = 0;
  int game_port_last = 0;
  std::string location;  // raw bytes
  std::string website;
  std::string version;
  std::int64_t max_users = 0;
  std::int64_t max_games = 0;
};

struct RegisterInput {
  RelayInfoInput info;
  std::string token;        // empty: open registration
  std::string observed_ip;  // dotted IPv4 of the caller, or "" when unknown
};

struct RegisterResult {
  Status status;
  std::int64_t relay_id = 0;
  std::string session_key;
  bool listed = false;
  // Open registration: PING this address; call address_checked() with the outcome.
  std::optional<net::Endpoint> check;
};

struct ReportInput {
  std::int64_t users = 0;
  std::int64_t games = 0;
  std::int64_t playing_games = 0;
  std::vector<store::GameRow> waiting;
  std::vector<store::MeasurementRow> measurements;
  std::vector<store::PlayingRow> playing;
};

struct TouchInput {
  std::string protocol;                          // store::kProtocolTouchServer or kProtocolTouchList
  net::Endpoint address;                         // the request's source IP and the announced port
  std::string name, location, website, version;  // raw bytes
  std::int64_t users = 0, max_users = 0, games = 0, max_games = 0;
  std::vector<store::GameRow> waiting;
};

struct TouchResult {
  Status status;
  bool listed = false;
  std::optional<net::Endpoint> check;  // PING this address; call touch_checked() with the outcome
};

// ---- the public list
// -----------------------------------------------------------------------------------------
struct ListedServer {
  std::string id;             // "42" for a relay, "ext:1.2.3.4:27888" for a third-party server
  std::int64_t relay_id = 0;  // 0 for third-party servers
  std::string source;         // token, open, touch_server, touch_list, or "mirror:" + the list's URL
  bool external = false;
  bool online = false;
  Text name, location, website, version;
  std::string host;  // what clients connect to
  int port = 0;      // handshake port
  int game_port_first = 0, game_port_last = 0;
  std::int64_t users = 0, max_users = 0, games = 0, playing_games = 0, max_games = 0, waiting_games = 0;
  UnixMillis last_report_unix_ms = 0;  // last report or touch
  LagMark lag = LagMark::kUnknown;     // the worst mark of its playing games (lag_mark.hpp)
};

struct ListedGame {
  std::int64_t game_id = 0;
  Text rom, owner, emulator;
  std::int64_t players = 0, max_players = 0;
  std::size_t server = 0;  // index into Snapshot::servers
};

// A game being played on one of our relays, with its lag (lag_mark.hpp).
struct ListedPlaying {
  std::int64_t game_id = 0;
  Text rom, emulator;
  std::int64_t players = 0;
  std::int64_t window_ms = 0, wait_ms = 0, worst_wait_ms = 0;
  LagMark lag = LagMark::kUnknown;
  std::size_t server = 0;  // index into Snapshot::servers
};

class Snapshot {
 public:
  Snapshot() = default;
  // Copies the list, not the renderings.
  Snapshot(const Snapshot& o)
      : built_unix_ms(o.built_unix_ms),
        version(o.version),
        servers(o.servers),
        games(o.games),
        playing(o.playing) {}
  Snapshot& operator=(const Snapshot&) = delete;

  UnixMillis built_unix_ms = 0;
  std::uint64_t version = 0;
  // Every listed relay (online or not) and every verified third-party server; online ones first.
  std::vector<ListedServer> servers;
  // Waiting games of online servers.
  std::vector<ListedGame> games;
  // Games being played on online relays of ours (third-party servers do not report them).
  std::vector<ListedPlaying> playing;

  // The rendering of `slot` (formats.hpp numbers them), made once per snapshot.
  static constexpr std::size_t kSlots = 8;
  const std::string& cached(std::size_t slot,
                            const std::function<std::string(const Snapshot&)>& render) const;

 private:
  mutable std::array<std::once_flag, kSlots> once_;
  mutable std::array<std::string, kSlots> rendered_;
};

struct CatalogSettings {
  UnixMillis report_interval_ms = 10'000;
  int missed_reports = 3;  // offline after this many report intervals without a report
  bool open_registration = false;
  int max_relays_per_ip = 4;  // open registrations per IP; also third-party servers per IP
  UnixMillis touch_ttl_ms = 120'000;
  std::size_t max_third_party = 10'000;
  std::string default_charset = "windows-1252";  // for touch requests whose text is not UTF-8
  UnixMillis measurement_retention_ms = 24ll * 3600 * 1000;
  UnixMillis group_ttl_ms = 24ll * 3600 * 1000;  // how long a pick group link works
  // Mirrored lists: a list's last good copy is kept this long after it was fetched, then its entries go.
  UnixMillis mirror_keep_ms = 600'000;
  // Their URLs (MirrorUrl::url) in the order given: when two lists name one address, the first one's entry
  // is shown.
  std::vector<std::string> mirrors{};
};

// What the Catalog holds of one mirrored list (for /metrics).
struct MirrorHeld {
  std::string url;
  std::size_t servers = 0, games = 0;  // held now (0 once the last good copy has expired)
  UnixMillis last_good_unix_ms = 0;    // 0 = never fetched
};

struct CatalogStats {
  std::size_t relays = 0;  // known (listed or not)
  std::size_t relays_listed = 0;
  std::size_t relays_online = 0;
  std::size_t relays_pending = 0;  // open registrations waiting for their PONG
  std::size_t third_party = 0;     // known, verified or not
  std::size_t third_party_listed = 0;
  std::int64_t users = 0, games = 0, waiting_games = 0;  // over online servers
};

class Catalog {
 public:
  // Loads everything from `store` (already migrated). Throws store::StoreError.
  Catalog(store::Store& store, CatalogSettings settings, UnixMillis now);

  const CatalogSettings& settings() const { return settings_; }

  RegisterResult register_relay(const RegisterInput& in, UnixMillis now);
  // The outcome of the PING/PONG check of an open registration.
  void address_checked(std::int64_t relay_id, const net::Endpoint& at, bool pong, UnixMillis now);
  // The first message of a Report stream.
  Status check_session(std::int64_t relay_id, std::string_view session_key);
  Status apply_report(std::int64_t relay_id, const ReportInput& report, UnixMillis now);
  Status add_measurements(std::int64_t relay_id, const std::vector<store::MeasurementRow>& m, UnixMillis now);

  TouchResult touch(const TouchInput& in, UnixMillis now);
  void touch_checked(const net::Endpoint& at, bool pong, UnixMillis now);

  // A good fetch of the mirrored list `url`: its entries replace that list's previous ones wholesale (what
  // the list stopped naming drops out). They are kept in memory only (the list is fetched again after a
  // restart) and never change a relay or a touch server: in the Snapshot an address is shown once, with this
  // precedence: registered relay > touch server > mirrored list (the first of CatalogSettings::mirrors).
  // Mirrored servers are external, online while held, and named "ext:HOST:PORT".
  void mirror_update(const std::string& url, const MirrorList& list, UnixMillis now);
  std::vector<MirrorHeld> mirror_held(UnixMillis now);
  // A reload (SIGHUP) changed the mirrored lists: `urls` in their new order (a list named before keeps what
  // it holds), the lists no longer named drop out with their entries, and `keep_ms` replaces mirror_keep_ms.
  void set_mirrors(const std::vector<std::string>& urls, UnixMillis keep_ms);

  std::shared_ptr<const Snapshot> snapshot(UnixMillis now);
  CatalogStats stats(UnixMillis now);

  // Periodic work: drops third-party servers not touched within the TTL, old measurements, and reloads the
  // relays when another process (the operator subcommands) changed the database. Returns what it did.
  std::string maintain(UnixMillis now);

  bool online(const store::RelayRow& r, UnixMillis now) const;

  // The newest hop count and RTT per (relay, player), for the fair pick.
  const pick::MeasurementIndex& measurements() const { return measurements_; }

  // Pick groups: a code people share; each visitor's address joins (at most kMaxGroupMembers).
  Status create_group(std::string_view code, UnixMillis now);
  Status join_group(std::string_view code, std::string_view address, UnixMillis now);
  std::optional<std::vector<std::string>> group_members(std::string_view code, UnixMillis now);

 private:
  struct RelayState {
    store::RelayRecord record;
    Text name, location;
    bool checking = false;  // an open registration's PING is out
  };
  struct ThirdParty {
    store::ThirdPartyRow row;
    bool checking = false;
  };
  struct MirroredGame {
    std::string host;  // lower-case
    int port = 0;
    ListedGame game;
    Text server_name, location;  // for a games-only list whose server no list names
  };
  struct MirrorSource {
    std::string url;
    UnixMillis last_good = 0;
    std::vector<ListedServer> servers;  // host lower-case
    std::vector<MirroredGame> games;
  };

  void load_relays_locked();
  void index_measurement(std::int64_t relay_id, const store::MeasurementRow& m);
  RelayState make_state(store::RelayRecord rec) const;
  std::shared_ptr<Snapshot> build_locked(UnixMillis now);
  bool third_party_listed(const ThirdParty& t, UnixMillis now) const;
  bool mirror_held(const MirrorSource& m, UnixMillis now) const;
  void changed() { ++version_; }

  store::Store& store_;
  CatalogSettings settings_;
  std::mutex mu_;
  std::map<std::int64_t, RelayState> relays_;
  std::map<std::uint64_t, ThirdParty> third_party_;  // by Endpoint::key()
  std::vector<MirrorSource> mirrors_;                // in the order of settings_.mirrors, then as seen
  pick::MeasurementIndex measurements_;
  std::uint64_t version_ = 1;
  std::shared_ptr<const Snapshot> snapshot_;
  std::uint64_t snapshot_version_ = 0;
  UnixMillis snapshot_valid_until_ = 0;
  UnixMillis snapshot_built_ = 0;
  std::uint64_t numbers_version_ = 0;  // report-only changes of listed relays (rebuilt at most every 250 ms)
  std::uint64_t snapshot_numbers_ = 0;
  static constexpr UnixMillis kMinRebuildMs = 250;
  std::int64_t data_version_ = 0;
  UnixMillis next_prune_ms_ = 0;
};

}  // namespace kaillera::master
