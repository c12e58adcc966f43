// Start-up settings of kaillera-relay: the core's Config plus what only the shell uses (metrics address, log
// level, masters, ...). Read from a TOML file (--config) and the command line; flags override the file.
// Every problem names its key or flag; the process then exits with kExitConfig (docs/OPERATING.md lists the
// keys). Kept free of Asio and spdlog so tests can call it without starting a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/core/config.hpp"
#include "relay/core/moderation.hpp"

namespace kaillera::relay::shell {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // e.g. a port could not be bound
inline constexpr int kExitConfig = 2;   // bad flag, bad config key or value

struct Settings {
  Config core;                        // handed to the Server
  std::vector<std::string> masters;   // HOST:PORT of each master to report to (the first answers /fair)
  std::string token;                  // the relay's token at its masters
  std::string master_tls_ca;          // PEM of the CA for TLS to the masters; empty = plaintext
  bool probe = true;                  // answer masters' probe requests with ICMP echo / UDP probes
  std::vector<std::string> announce;  // public list URLs, ending in touch_server.php or touch_list.php
  std::string metrics;                // "ADDR:PORT" of the Prometheus endpoint; empty = off
  std::string log_level = "info";     // trace debug info warn error critical off
  std::string log_file;               // append the log here instead of stderr; SIGHUP reopens it
  std::string config_file;            // --config, empty when none
  std::string ready_file;             // --ready-file: JSON with the bound ports, written once serving
  // For SIGHUP: the command line (without the program name) to load the settings again with, and the text of
  // the config file as read at start-up.
  std::vector<std::string> args;
  std::string config_text;

  // Moderation (docs/OPERATING.md "Staff"): the access file (levels by address, reloaded on SIGHUP and
  // /reload) and its dns: names' refresh; the SQLite state file of bans, silences and grants (empty: they
  // last until restart); the audit log of JSON lines (empty: none).
  std::string access_file;
  std::uint32_t access_dns_refresh_s = 60;
  AccessList access;  // the access file as read at start-up (load_settings), relay.toml's admins after it
  std::vector<std::string> access_warnings;  // what in it is probably a mistake (logged at start-up)
  std::string state_db;
  std::string audit_log;

  // Languages (docs/OPERATING.md "Languages"): the texts sent to players come from relay/messages/
  // <language>.toml (in messages_dir, or where the relay is installed), with messages_file's keys over them.
  // load_settings puts the result, in the charset, into core.messages.
  std::string language = "en";
  std::string messages_file;
  std::string messages_dir;
  std::vector<std::string> message_fallbacks;  // keys sent in English: the charset cannot encode them
  std::string messages_source;                 // the language file read ("" for the built-in English)
  Messages messages_utf8;                      // core.messages before the charset (for /fair's lines)

  // The announcements to `announce`: the first touch this long after start, then one every interval, each
  // bounded (connect, request and answer) by the timeout.
  std::uint32_t announce_first_s = 10;
  std::uint32_t announce_interval_s = 60;
  std::uint32_t announce_timeout_s = 10;
};

enum class Command {
  kServe,
  kBackup,  // `kaillera-relay backup OUT [--force]`: an online copy of the state file
            // (common/store/backup.hpp)
};

struct LoadResult {
  bool exit = false;  // true: do not start; print `output` / `error` and return `exit_code`
  int exit_code = kExitOk;
  std::string output;  // for stdout (--help, --version)
  std::string error;   // for stderr, names the bad key or flag
  Settings settings;
  Command command = Command::kServe;
  std::string backup_out;  // backup: OUT
  bool force = false;      // backup --force
};

// Parses the command line (argv[0] is the program name): reads --config first, then applies the flags on top,
// then checks everything (validate() of the core included) and reads the access file (unless
// `read_access_file` is false, or for `backup`).
LoadResult load_settings(int argc, const char* const* argv);
LoadResult load_settings(const std::vector<std::string>& args,
                         bool read_access_file = true);  // args without the program name

// What SIGHUP does with relay.toml (docs/OPERATING.md "Health checks, logs and backups"): the command line
// and the file are loaded again; the keys that can change at runtime (kReloadableKeys) take their new values,
// every other key that differs from the file the relay started with needs a restart and keeps its value.
// The access file itself is reloaded by the shell, not here.
inline constexpr std::string_view kReloadableKeys[] = {"announce",
                                                       "announce_first_s",
                                                       "announce_interval_s",
                                                       "announce_timeout_s",
                                                       "access_file",
                                                       "access_dns_refresh_s",
                                                       "admins",
                                                       "log_level",
                                                       "busy_limit",
                                                       "busy_resume",
                                                       "drop_limit",
                                                       "resume_after_s",
                                                       "refuse_new_load"};
struct ReloadPlan {
  std::string error;                 // relay.toml or the command line is refused now: nothing changes
  Settings settings;                 // `running` with the reloadable keys' new values
  std::vector<std::string> changed;  // one line per reloadable key that changed: "key: old -> new"
  std::vector<std::string> restart;  // the other keys that differ from the start-up file
  bool announce_changed = false;     // any announce* key
};
ReloadPlan plan_reload(const Settings& running);

// Applies a TOML document to `s`. Returns "" or "<source>: <problem naming the key>".
std::string apply_toml(std::string_view text, std::string_view source, Settings& s);
// Reads `path` and applies it; the message starts with `path`.
std::string apply_toml_file(const std::string& path, Settings& s);

// The shell's own checks plus validate(): "" or the first problem, naming the key as the TOML file spells it.
std::string check_settings(const Settings& s);

// The config's own texts (name, location, website, motd) are UTF-8 in the TOML file and on the command line;
// the relay sends them in its charset, like the players' bytes. Converts them once, at start-up
// (load_settings calls it before check_settings). "" or a problem naming the key: an unknown charset, or a
// text that is not UTF-8 or has characters the charset cannot encode.
std::string encode_config_texts(Settings& s);

// "27889" (one shared port), "27889-28200" (a port per client), "0" (one ephemeral shared port).
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_game_ports(std::string_view text);

// True for the levels --log-level accepts.
bool valid_log_level(std::string_view level);

}  // namespace kaillera::relay::shell
