#include "master/settings.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "common/build_info/build_info.hpp"
#include "common/config/toml_settings.hpp"

#include "common/net/address.hpp"
#include "master/charset.hpp"
#include "master/mirror_parse.hpp"
#include "master/webhook/config_toml.hpp"

namespace kaillera::master {

namespace {

using Setter = config::Setter<Settings>;

template <typename T>
Setter int_key(T Settings::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& n, Settings& s) {
    std::int64_t x = 0;
    std::string problem = config::get_int(n, min, max, x);
    if (problem.empty()) s.*field = static_cast<T>(x);
    return problem;
  };
}

Setter string_key(std::string Settings::*field) {
  return [=](const toml::node& n, Settings& s) { return config::get_string(n, s.*field); };
}

Setter bool_key(bool Settings::*field) {
  return [=](const toml::node& n, Settings& s) { return config::get_bool(n, s.*field); };
}

std::string get_strings(const toml::node& n, std::vector<std::string>& out) {
  return config::get_strings(n, out, true);
}

constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

const config::Keys<Settings>& toml_keys() {
  static const config::Keys<Settings> keys = {
      {"db", string_key(&Settings::db)},
      {"grpc", string_key(&Settings::grpc)},
      {"http", string_key(&Settings::http)},
      {"check_bind", string_key(&Settings::check_bind)},
      {"open_registration", bool_key(&Settings::open_registration)},
      {"report_interval_ms", int_key(&Settings::report_interval_ms, 50, kHourMs)},
      {"max_relays_per_ip", int_key(&Settings::max_relays_per_ip, 1, 1000)},
      {"mirrors", [](const toml::node& n, Settings& s) { return get_strings(n, s.mirrors); }},
      {"mirror_interval_s", int_key(&Settings::mirror_interval_s, 1, 86'400)},
      {"mirror_keep_s", int_key(&Settings::mirror_keep_s, 1, 7 * 86'400)},
      {"mirror_timeout_ms", int_key(&Settings::mirror_timeout_ms, 100, 120'000)},
      {"mirror_max_bytes", int_key(&Settings::mirror_max_bytes, 1024, 64 * 1024 * 1024)},
      {"tls_cert", string_key(&Settings::tls_cert)},
      {"tls_key", string_key(&Settings::tls_key)},
      {"touch_ttl_ms", int_key(&Settings::touch_ttl_ms, 100, kDayMs)},
      {"check_timeout_ms", int_key(&Settings::check_timeout_ms, 50, 60'000)},
      {"default_charset", string_key(&Settings::default_charset)},
      {"measurement_retention_s", int_key(&Settings::measurement_retention_s, 60, 365 * 86'400)},
      {"log_level", string_key(&Settings::log_level)},
      {"log_file", string_key(&Settings::log_file)},
      {"pick_objective", string_key(&Settings::pick_objective)},
      {"pick_deadline_ms", int_key(&Settings::pick_deadline_ms, 0, 10'000)},
      {"pick_fresh_s", int_key(&Settings::pick_fresh_s, 10, 7 * 86'400)},
      {"pick_hop_slack", int_key(&Settings::pick_hop_slack, 0, 32)},
      {"pick_peer_probe_s", int_key(&Settings::pick_peer_probe_s, 0, 86'400)},
      {"pick_estimate", bool_key(&Settings::pick_estimate)},
      {"group_ttl_s", int_key(&Settings::group_ttl_s, 60, 30 * 86'400)},
      {"webhook", [](const toml::node& n, Settings& s) { return webhook::parse_webhooks(n, s.webhooks); }},
  };
  return keys;
}

LoadResult fail(std::string message) {
  LoadResult r;
  r.exit = true;
  r.exit_code = kExitConfig;
  r.error = std::move(message);
  return r;
}

bool readable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return static_cast<bool>(in);
}

}  // namespace

bool valid_log_level(std::string_view level) {
  return config::valid_log_level(level);
}

std::string apply_toml(std::string_view text, std::string_view source, Settings& s) {
  return config::apply_toml_keys(text, source, toml_keys(), s);
}

std::string apply_toml_file(const std::string& path, Settings& s) {
  return config::apply_toml_file(
      path, [&](std::string_view text, std::string_view src) { return apply_toml(text, src, s); });
}

std::string check_settings(const Settings& s) {
  if (s.db.empty()) return "db: must not be empty";
  if (!net::parse_endpoint(s.grpc)) return "grpc: '" + s.grpc + "' is not IPv4:PORT";
  if (!net::parse_endpoint(s.http)) return "http: '" + s.http + "' is not IPv4:PORT";
  if (!net::parse_endpoint(s.check_bind)) return "check_bind: '" + s.check_bind + "' is not IPv4:PORT";
  if (s.report_interval_ms < 50 || s.report_interval_ms > kHourMs) {
    return "report_interval_ms: must be 50.." + std::to_string(kHourMs) + " (got " +
           std::to_string(s.report_interval_ms) + ")";
  }
  if (s.max_relays_per_ip < 1 || s.max_relays_per_ip > 1000) {
    return "max_relays_per_ip: must be 1..1000 (got " + std::to_string(s.max_relays_per_ip) + ")";
  }
  if (s.touch_ttl_ms < 100 || s.touch_ttl_ms > kDayMs) {
    return "touch_ttl_ms: must be 100.." + std::to_string(kDayMs) + " (got " +
           std::to_string(s.touch_ttl_ms) + ")";
  }
  if (s.check_timeout_ms < 50 || s.check_timeout_ms > 60'000) {
    return "check_timeout_ms: must be 50..60000 (got " + std::to_string(s.check_timeout_ms) + ")";
  }
  for (const auto& url : s.mirrors) {
    std::string problem;
    if (!parse_mirror_url(url, problem)) return "mirrors: " + problem;
  }
  if (s.mirror_interval_s < 1 || s.mirror_interval_s > 86'400) {
    return "mirror_interval_s: must be 1..86400 (got " + std::to_string(s.mirror_interval_s) + ")";
  }
  if (s.mirror_keep_s < s.mirror_interval_s || s.mirror_keep_s > 7 * 86'400) {
    return "mirror_keep_s: must be mirror_interval_s (" + std::to_string(s.mirror_interval_s) +
           ")..604800, or a list's entries would vanish between two good fetches (got " +
           std::to_string(s.mirror_keep_s) + ")";
  }
  if (s.mirror_timeout_ms < 100 || s.mirror_timeout_ms > 120'000) {
    return "mirror_timeout_ms: must be 100..120000 (got " + std::to_string(s.mirror_timeout_ms) + ")";
  }
  if (s.mirror_max_bytes < 1024 || s.mirror_max_bytes > 64 * 1024 * 1024) {
    return "mirror_max_bytes: must be 1024..67108864 (got " + std::to_string(s.mirror_max_bytes) + ")";
  }
  if (s.tls_cert.empty() != s.tls_key.empty()) return "tls_cert and tls_key: give both or neither";
  if (!s.tls_cert.empty() && !readable(s.tls_cert)) return "tls_cert: cannot read '" + s.tls_cert + "'";
  if (!s.tls_key.empty() && !readable(s.tls_key)) return "tls_key: cannot read '" + s.tls_key + "'";
  if (s.pick_objective != "hops" && s.pick_objective != "latency" && s.pick_objective != "balanced") {
    return "pick_objective: must be hops, latency or balanced (got '" + s.pick_objective + "')";
  }
  if (s.pick_deadline_ms < 0 || s.pick_deadline_ms > 10'000) {
    return "pick_deadline_ms: must be 0..10000 (got " + std::to_string(s.pick_deadline_ms) + ")";
  }
  if (std::string problem = webhook::check_webhooks(s.webhooks); !problem.empty()) return problem;
  if (!charset_known(s.default_charset))
    return "default_charset: unknown charset '" + s.default_charset + "'";
  if (!valid_log_level(s.log_level)) {
    return "log_level: '" + s.log_level + "' is not one of trace, debug, info, warn, error, critical, off";
  }
  return {};
}

LoadResult load_settings(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return load_settings(args);
}

LoadResult load_settings(const std::vector<std::string>& args) {
  CLI::App app{
      "kaillera-master: the directory of Kaillera Federation relays (gRPC, SQLite, classic list formats, web "
      "page).\n"
      "Flags override the config file.",
      "kaillera-master"};
  app.require_subcommand(0, 1);
  std::string config_file, db, grpc, http, check_bind, tls_cert, tls_key, default_charset, log_level,
      log_file, ready_file, pick_objective;
  std::int64_t report_interval_ms = 0, touch_ttl_ms = 0, check_timeout_ms = 0, pick_deadline_ms = 0,
               mirror_interval_s = 0, mirror_keep_s = 0, mirror_timeout_ms = 0, mirror_max_bytes = 0;
  int max_relays_per_ip = 0;
  std::vector<std::string> mirrors;
  bool open_registration = false, version = false;

  app.add_option("--config", config_file, "TOML config file (keys in docs/OPERATING.md)");
  auto* o_db = app.add_option("--db", db, "SQLite database file [kaillera-master.db]");
  auto* o_grpc = app.add_option("--grpc", grpc, "gRPC address IPv4:PORT [127.0.0.1:27800]");
  auto* o_http = app.add_option("--http", http, "HTTP address IPv4:PORT [127.0.0.1:8080]");
  auto* o_check =
      app.add_option("--check-bind", check_bind, "UDP address the PING checks go out from [0.0.0.0:0]");
  auto* o_open = app.add_flag("--open-registration", open_registration,
                              "let relays register without a token after a PING/PONG check of their address");
  auto* o_interval = app.add_option("--report-interval-ms", report_interval_ms,
                                    "how often relays report; offline after 3 missed [10000]");
  auto* o_per_ip = app.add_option("--max-relays-per-ip", max_relays_per_ip,
                                  "open registrations (and touch servers) per IP [4]");
  auto* o_mirror = app.add_option("--mirror", mirrors,
                                  "a public list to mirror: http://HOST/server_list.php, "
                                  "...raw_server_list2.php?wg=1, ...server_list.json (repeatable; "
                                  "#charset=NAME after the URL: the charset of its names)")
                       ->allow_extra_args(false);
  auto* o_mirror_interval = app.add_option("--mirror-interval-s", mirror_interval_s,
                                           "how often each mirrored list is fetched [60]");
  auto* o_mirror_keep = app.add_option("--mirror-keep-s", mirror_keep_s,
                                       "how long a list that cannot be fetched keeps its entries [600]");
  auto* o_mirror_timeout =
      app.add_option("--mirror-timeout-ms", mirror_timeout_ms, "time limit of one fetch of a list [10000]");
  auto* o_mirror_max = app.add_option("--mirror-max-bytes", mirror_max_bytes,
                                      "size limit of a list's body; a longer one fails the fetch [1048576]");
  auto* o_cert = app.add_option("--tls-cert", tls_cert, "PEM certificate chain for gRPC TLS");
  auto* o_key = app.add_option("--tls-key", tls_key, "PEM private key for gRPC TLS");
  auto* o_ttl = app.add_option("--touch-ttl-ms", touch_ttl_ms,
                               "third-party servers leave the list after this [120000]");
  auto* o_timeout =
      app.add_option("--check-timeout-ms", check_timeout_ms, "how long to wait for a PONG [3000]");
  auto* o_charset = app.add_option("--default-charset", default_charset,
                                   "charset of non-UTF-8 touch requests [windows-1252]");
  auto* o_log =
      app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off [info]");
  auto* o_log_file = app.add_option("--log-file", log_file,
                                    "append the log to this file instead of stderr; SIGHUP reopens it");
  auto* o_objective = app.add_option("--pick-objective", pick_objective,
                                     "default objective of the fair pick: hops, latency, balanced");
  auto* o_deadline =
      app.add_option("--pick-deadline-ms", pick_deadline_ms, "how long a pick waits for probes [3000]");
  app.add_option("--ready-file", ready_file, "write the bound addresses as JSON to this file once serving");
  app.add_flag("--version", version, "print the version and exit");

  std::string relay_name, relay_ref;
  bool json = false;
  auto* relay = app.add_subcommand("relay", "operator commands for token relays")->require_subcommand(1, 1);
  relay->fallthrough();
  auto* add =
      relay->add_subcommand("add", "issue a token for a new relay NAME (printed once, stored hashed)");
  add->add_option("NAME", relay_name, "the relay's name for operators")->required();
  add->fallthrough();
  auto* list = relay->add_subcommand("list", "list every relay this master knows");
  list->add_flag("--json", json, "print JSON");
  list->fallthrough();
  auto* remove = relay->add_subcommand("remove", "remove a relay (by NAME or ID) and its token");
  remove->add_option("NAME_OR_ID", relay_ref, "the relay's name or numeric id")->required();
  remove->fallthrough();
  auto* migrate = app.add_subcommand("migrate", "apply the database schema migrations and exit");
  migrate->fallthrough();
  std::string backup_out;
  bool backup_force = false;
  auto* backup = app.add_subcommand(
      "backup",
      "copy the database (--db, or any SQLite file such as a relay's state file) to OUT while it is in use, "
      "then check the copy with PRAGMA integrity_check");
  backup->add_option("OUT", backup_out, "the file to write")->required();
  backup->add_flag("--force", backup_force, "replace OUT if it exists");
  backup->fallthrough();

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    LoadResult r;
    r.exit = true;
    r.output = app.help();
    return r;
  } catch (const CLI::CallForAllHelp&) {
    LoadResult r;
    r.exit = true;
    r.output = app.help("", CLI::AppFormatMode::All);
    return r;
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see --help)");
  }
  if (version) {
    LoadResult r;
    r.exit = true;
    r.output = build_info::version_line("kaillera-master") + "\n";
    return r;
  }

  LoadResult r;
  if (add->parsed()) {
    r.command = Command::kRelayAdd;
    r.argument = relay_name;
  } else if (list->parsed()) {
    r.command = Command::kRelayList;
    r.json = json;
  } else if (remove->parsed()) {
    r.command = Command::kRelayRemove;
    r.argument = relay_ref;
  } else if (migrate->parsed()) {
    r.command = Command::kMigrate;
  } else if (backup->parsed()) {
    r.command = Command::kBackup;
    r.argument = backup_out;
    r.force = backup_force;
  }

  Settings& s = r.settings;
  s.args = args;
  if (!config_file.empty()) {
    s.config_file = config_file;
    const std::string problem =
        config::apply_toml_file(config_file, [&](std::string_view text, std::string_view src) {
          s.config_text = std::string(text);
          return apply_toml(text, src, s);
        });
    if (!problem.empty()) return fail(problem);
  }
  if (o_db->count()) s.db = db;
  if (o_grpc->count()) s.grpc = grpc;
  if (o_http->count()) s.http = http;
  if (o_check->count()) s.check_bind = check_bind;
  if (o_open->count()) s.open_registration = open_registration;
  if (o_interval->count()) s.report_interval_ms = report_interval_ms;
  if (o_per_ip->count()) s.max_relays_per_ip = max_relays_per_ip;
  if (o_mirror->count()) s.mirrors = mirrors;
  if (o_mirror_interval->count()) s.mirror_interval_s = mirror_interval_s;
  if (o_mirror_keep->count()) s.mirror_keep_s = mirror_keep_s;
  if (o_mirror_timeout->count()) s.mirror_timeout_ms = mirror_timeout_ms;
  if (o_mirror_max->count()) s.mirror_max_bytes = mirror_max_bytes;
  if (o_cert->count()) s.tls_cert = tls_cert;
  if (o_key->count()) s.tls_key = tls_key;
  if (o_ttl->count()) s.touch_ttl_ms = touch_ttl_ms;
  if (o_timeout->count()) s.check_timeout_ms = check_timeout_ms;
  if (o_charset->count()) s.default_charset = default_charset;
  if (o_log->count()) s.log_level = log_level;
  if (o_log_file->count()) s.log_file = log_file;
  if (o_objective->count()) s.pick_objective = pick_objective;
  if (o_deadline->count()) s.pick_deadline_ms = pick_deadline_ms;
  s.ready_file = ready_file;

  if (std::string problem = check_settings(s); !problem.empty()) return fail("invalid setting: " + problem);
  if (r.command == Command::kRelayAdd) {
    const auto& n = r.argument;
    const bool printable = std::all_of(
        n.begin(), n.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7F; });
    if (n.empty() || n.size() > 64 || !printable) {
      return fail("relay add: NAME must be 1..64 printable characters");
    }
    if (std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fail("relay add: NAME must not be all digits (numbers name relay ids)");
    }
  }
  if (r.command == Command::kBackup && r.argument.empty()) return fail("backup: OUT must not be empty");
  return r;
}

namespace {

// The running value of a reloadable key, as the log shows it.
std::string reloadable_value(const Settings& s, std::string_view key) {
  if (key == "mirrors") return config::list_text(s.mirrors);
  if (key == "mirror_interval_s") return std::to_string(s.mirror_interval_s);
  if (key == "mirror_keep_s") return std::to_string(s.mirror_keep_s);
  if (key == "mirror_timeout_ms") return std::to_string(s.mirror_timeout_ms);
  if (key == "mirror_max_bytes") return std::to_string(s.mirror_max_bytes);
  if (key == "log_level") return s.log_level;
  return {};
}

}  // namespace

ReloadPlan plan_reload(const Settings& running) {
  return config::reload_plan<ReloadPlan>(
      running, [&] { return load_settings(running.args); }, kReloadableKeys, &reloadable_value, "server",
      [](ReloadPlan& plan, const Settings& next) {
        plan.mirrors_changed = config::any_changed(plan.changed, "mirror");
        Settings& s = plan.settings;
        s.mirrors = next.mirrors;
        s.mirror_interval_s = next.mirror_interval_s;
        s.mirror_keep_s = next.mirror_keep_s;
        s.mirror_timeout_ms = next.mirror_timeout_ms;
        s.mirror_max_bytes = next.mirror_max_bytes;
        s.log_level = next.log_level;
      });
}

}  // namespace kaillera::master
