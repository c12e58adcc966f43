// Start-up settings of kaillera-master: a plain struct with defaults, read from a TOML file (--config) and
// the command line (flags override the file), checked once; every problem names its key or flag. Also parses
// the operator subcommands (relay add|list|remove, migrate, backup) and plans what a SIGHUP reloads
// (plan_reload). Free of gRPC, Asio and spdlog so tests call it directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "master/webhook/config.hpp"

namespace kaillera::master {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // e.g. a port could not be bound, the database is newer than us
inline constexpr int kExitConfig = 2;   // bad flag, bad config key or value

struct Settings {
  std::string db = "kaillera-master.db";  // SQLite file
  std::string grpc = "127.0.0.1:27800";   // RelayRegistry + Directory
  std::string http = "127.0.0.1:8080";    // lists, touch requests, JSON API, web page, /metrics
  std::string check_bind = "0.0.0.0:0";   // UDP source of the PING address checks
  bool open_registration = false;
  std::int64_t report_interval_ms = 10'000;
  int max_relays_per_ip = 4;
  // Lists to mirror: http://HOST[:PORT]/PATH[#charset=NAME] (mirror_parse.hpp); also stored in the database.
  std::vector<std::string> mirrors;
  std::int64_t mirror_interval_s = 60;          // each list is fetched this often
  std::int64_t mirror_keep_s = 600;             // a list that cannot be fetched keeps its entries this long
  std::int64_t mirror_timeout_ms = 10'000;      // one whole fetch
  std::int64_t mirror_max_bytes = 1024 * 1024;  // a longer body fails the fetch
  std::string tls_cert, tls_key;                // PEM files; both or neither
  std::int64_t touch_ttl_ms = 120'000;
  std::int64_t check_timeout_ms = 3'000;
  std::string default_charset = "windows-1252";
  std::int64_t measurement_retention_s = 86'400;
  // The fair pick (docs/PICK.md).
  std::string pick_objective = "balanced";  // hops, latency, balanced: when a request names none
  std::int64_t pick_deadline_ms = 3'000;    // how long a pick waits for probes unless the request says
  std::int64_t pick_fresh_s = 3'600;        // older measurements are used, marked stale, and re-probed
  int pick_hop_slack = 3;                   // balanced: hops within this of the smallest count as equal
  std::int64_t pick_peer_probe_s = 300;     // relays probe each other this often (estimates; 0 = never)
  bool pick_estimate = true;                // estimate pairs no probe could measure (docs/PICK.md)
  std::int64_t group_ttl_s = 86'400;        // how long a group link works
  // [[webhook]] entries: waiting games announced where players talk (master/webhook/config.hpp).
  std::vector<webhook::WebhookConfig> webhooks;
  std::string log_level = "info";
  std::string log_file;     // append the log here instead of stderr; SIGHUP reopens it (log rotation)
  std::string config_file;  // --config
  std::string ready_file;   // --ready-file: JSON with the bound addresses, written once serving
  // For SIGHUP: the command line (without the program name) to load the settings again with, and the text of
  // the config file as read.
  std::vector<std::string> args;
  std::string config_text;
};

enum class Command { kServe, kRelayAdd, kRelayList, kRelayRemove, kMigrate, kBackup };

struct LoadResult {
  bool exit = false;  // true: do not run; print output / error and return exit_code
  int exit_code = kExitOk;
  std::string output;
  std::string error;
  Settings settings;
  Command command = Command::kServe;
  std::string argument;  // NAME for relay add, NAME|ID for relay remove, OUT for backup
  bool json = false;     // relay list --json
  bool force = false;    // backup --force
};

LoadResult load_settings(const std::vector<std::string>& args);  // without the program name
LoadResult load_settings(int argc, const char* const* argv);

std::string apply_toml(std::string_view text, std::string_view source, Settings& s);
std::string apply_toml_file(const std::string& path, Settings& s);
std::string check_settings(const Settings& s);
bool valid_log_level(std::string_view level);

// What SIGHUP does with the config file (docs/OPERATING.md "Health checks, logs and backups"): the command
// line and the file are loaded again; the keys that can change at runtime (kReloadableKeys) take their new
// values, every other key that differs from the file the master started with needs a restart and keeps its
// value.
inline constexpr std::string_view kReloadableKeys[] = {
    "mirrors", "mirror_interval_s", "mirror_keep_s", "mirror_timeout_ms", "mirror_max_bytes", "log_level"};
struct ReloadPlan {
  std::string error;                 // the file or command line is refused now: nothing changes
  Settings settings;                 // `running` with the reloadable keys' new values
  std::vector<std::string> changed;  // one line per reloadable key that changed: "key: old -> new"
  std::vector<std::string> restart;  // the other keys that differ from the start-up file
  bool mirrors_changed = false;      // any mirror* key
};
ReloadPlan plan_reload(const Settings& running);

}  // namespace kaillera::master
