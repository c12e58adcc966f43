#include "relay/shell/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <iconv.h>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "common/build_info/build_info.hpp"
#include "common/config/toml_settings.hpp"

#include "common/net/address.hpp"
#include "common/text/charset.hpp"
#include "relay/announce/touch.hpp"
#include "relay/shell/access_file.hpp"
#include "relay/shell/messages_file.hpp"

namespace kaillera::relay::shell {
namespace {

// ---- TOML -------------------------------------------------------------------------------------------------

using Setter = config::Setter<Settings>;
using config::type_name;

template <typename T>
Setter uint_key(T Config::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& n, Settings& s) {
    std::int64_t x = 0;
    std::string problem = config::get_int(n, min, max, x);
    if (problem.empty()) s.core.*field = static_cast<T>(x);
    return problem;
  };
}

Setter millis_key(Millis Config::*field, std::int64_t max) {
  return [=](const toml::node& n, Settings& s) {
    std::int64_t x = 0;
    std::string problem =
        config::get_int(n, 0, max, x, "must be an integer number of milliseconds 0.." + std::to_string(max));
    if (problem.empty()) s.core.*field = Millis(x);
    return problem;
  };
}

// A share of the time, 0..1, of the admission limits.
Setter share_key(double AdmissionLimits::*field) {
  return [=](const toml::node& n, Settings& s) -> std::string {
    double x = 0;
    if (const auto* i = n.as_integer()) {
      x = static_cast<double>(i->get());
    } else if (const auto* f = n.as_floating_point()) {
      x = f->get();
    } else {
      return "must be a number 0..1 (got " + type_name(n) + ")";
    }
    if (!std::isfinite(x) || x < 0 || x > 1) return "must be a number 0..1 (got " + std::to_string(x) + ")";
    s.core.admission.*field = x;
    return {};
  };
}

Setter bool_key(bool Config::*field) {
  return [=](const toml::node& n, Settings& s) { return config::get_bool(n, s.core.*field); };
}

Setter double_key(double Config::*field, double min, double max) {
  return [=](const toml::node& n, Settings& s) -> std::string {
    std::ostringstream want;
    want << "must be a number " << min << ".." << max;
    double x = 0;
    if (const auto* i = n.as_integer()) {
      x = static_cast<double>(i->get());
    } else if (const auto* f = n.as_floating_point()) {
      x = f->get();
    } else {
      return want.str() + " (got " + type_name(n) + ")";
    }
    if (!std::isfinite(x) || x < min || x > max) return want.str() + " (got " + std::to_string(x) + ")";
    s.core.*field = x;
    return {};
  };
}

using config::get_string;

Setter string_key(std::string Config::*field) {
  return [=](const toml::node& n, Settings& s) { return get_string(n, s.core.*field); };
}

Setter shell_uint_key(std::uint32_t Settings::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& n, Settings& s) {
    std::int64_t x = 0;
    std::string problem = config::get_int(n, min, max, x);
    if (problem.empty()) s.*field = static_cast<std::uint32_t>(x);
    return problem;
  };
}

Setter shell_bool_key(bool Settings::*field) {
  return [=](const toml::node& n, Settings& s) { return config::get_bool(n, s.*field); };
}

Setter shell_string_key(std::string Settings::*field) {
  return [=](const toml::node& n, Settings& s) { return get_string(n, s.*field); };
}

using config::get_strings;

const std::map<std::string, Setter, std::less<>>& toml_keys() {
  constexpr std::int64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  constexpr std::int64_t kWeekMs = 7ll * 24 * 3600 * 1000;
  static const std::map<std::string, Setter, std::less<>> keys = {
      // Identity and addresses.
      {"name", string_key(&Config::name)},
      {"location", string_key(&Config::location)},
      {"website", string_key(&Config::website)},
      {"public_address", string_key(&Config::public_address)},
      {"listen", string_key(&Config::listen)},
      {"game_ports",
       [](const toml::node& n, Settings& s) -> std::string {
         const std::string want = "must be a port, \"PORT\" or \"FIRST-LAST\"";
         std::optional<std::pair<std::uint16_t, std::uint16_t>> ports;
         if (const auto* i = n.as_integer()) {
           if (i->get() < 0 || i->get() > 65535) return want + " (got " + std::to_string(i->get()) + ")";
           ports = std::pair{static_cast<std::uint16_t>(i->get()), static_cast<std::uint16_t>(i->get())};
         } else if (const auto* t = n.as_string()) {
           ports = parse_game_ports(t->get());
           if (!ports) return want + " (got \"" + t->get() + "\")";
         } else {
           return want + " (got " + type_name(n) + ")";
         }
         s.core.game_port_first = ports->first;
         s.core.game_port_last = ports->second;
         return {};
       }},
      {"charset", string_key(&Config::charset)},
      // Admission.
      {"max_users", uint_key(&Config::max_users, 0, kU32)},
      {"max_ping_ms", uint_key(&Config::max_ping_ms, 1, kU32)},
      {"allowed_conn_types",
       [](const toml::node& n, Settings& s) -> std::string {
         const std::string want = "must be an array of connection types 1..6 (1 LAN .. 6 Bad)";
         const auto* a = n.as_array();
         if (a == nullptr) return want + " (got " + type_name(n) + ")";
         std::uint8_t mask = 0;
         for (std::size_t i = 0; i < a->size(); ++i) {
           const auto* v = (*a)[i].as_integer();
           if (v == nullptr || v->get() < 1 || v->get() > 6) {
             return want + " (element " + std::to_string(i) + " is not one)";
           }
           mask = static_cast<std::uint8_t>(mask | (1u << v->get()));
         }
         s.core.allowed_conn_types = mask;
         return {};
       }},
      {"admins", [](const toml::node& n, Settings& s) { return get_strings(n, s.core.admins, false); }},
      {"motd", [](const toml::node& n, Settings& s) { return get_strings(n, s.core.motd, false); }},
      // Limits.
      {"max_name_length", uint_key(&Config::max_name_length, 1, 31)},
      {"max_emulator_length", uint_key(&Config::max_emulator_length, 1, 127)},
      {"max_game_name_length", uint_key(&Config::max_game_name_length, 1, 127)},
      {"max_chat_length", uint_key(&Config::max_chat_length, 1, 1000)},
      {"max_game_chat_length", uint_key(&Config::max_game_chat_length, 1, 1000)},
      {"max_quit_length", uint_key(&Config::max_quit_length, 0, 127)},
      {"max_players", uint_key(&Config::max_players, 1, 8)},
      {"max_games", uint_key(&Config::max_games, 0, kU32)},
      {"chat_flood_ms", millis_key(&Config::chat_flood, kWeekMs)},
      {"create_flood_ms", millis_key(&Config::create_flood, kWeekMs)},
      {"allow_mixed_conn_types", bool_key(&Config::allow_mixed_conn_types)},
      {"allow_single_player", bool_key(&Config::allow_single_player)},
      // Timeouts.
      {"login_timeout_ms", millis_key(&Config::login_timeout, kWeekMs)},
      {"keepalive_timeout_ms", millis_key(&Config::keepalive_timeout, kWeekMs)},
      {"idle_timeout_ms", millis_key(&Config::idle_timeout, kWeekMs)},
      {"data_deadline_ms", millis_key(&Config::data_deadline, kWeekMs)},
      {"resend_min_interval_ms", millis_key(&Config::resend_min_interval, kWeekMs)},
      {"gap_wait_ms", millis_key(&Config::gap_wait, kWeekMs)},
      // Wire.
      {"redundancy", uint_key(&Config::redundancy, 0, 8)},
      {"max_datagram", uint_key(&Config::max_datagram, 512, 8192)},
      {"burst_redundancy", uint_key(&Config::burst_redundancy, 0, 16)},
      // Status bytes.
      {"user_status_playing", uint_key(&Config::user_status_playing, 0, 2)},
      {"user_status_idle", uint_key(&Config::user_status_idle, 0, 2)},
      {"user_status_connecting", uint_key(&Config::user_status_connecting, 0, 2)},
      {"game_status_waiting", uint_key(&Config::game_status_waiting, 0, 2)},
      {"game_status_playing", uint_key(&Config::game_status_playing, 0, 2)},
      {"game_status_netsync", uint_key(&Config::game_status_netsync, 0, 2)},
      // Handshake port abuse limits.
      {"hello_rate", double_key(&Config::hello_rate, 0.001, 1e6)},
      {"hello_burst", double_key(&Config::hello_burst, 1, 1e6)},
      // Abuse limits, moderation, play.
      {"max_logins_per_address", uint_key(&Config::max_logins_per_address, 0, 65535)},
      {"refuse_url_names", bool_key(&Config::refuse_url_names)},
      {"join_spam_limit", uint_key(&Config::join_spam_limit, 0, 1000)},
      {"join_spam_window_ms", millis_key(&Config::join_spam_window, kWeekMs)},
      {"command_burst", uint_key(&Config::command_burst, 1, 1000)},
      {"p2p_forced_above", uint_key(&Config::p2p_forced_above, 0, kU32)},
      {"moderator_max_silence_min",
       [](const toml::node& n, Settings& s) {
         std::int64_t x = 0;
         std::string problem =
             config::get_int(n, 1, 525600, x, "must be an integer number of minutes 1..525600");
         if (problem.empty()) s.core.moderator_max_silence = std::chrono::minutes(x);
         return problem;
       }},
      {"audit_chat", bool_key(&Config::audit_chat)},
      {"same_delay", bool_key(&Config::same_delay)},
      {"lagstat_window_s",
       [](const toml::node& n, Settings& s) {
         std::int64_t x = 0;
         std::string problem = config::get_int(n, 6, 3600, x, "must be an integer number of seconds 6..3600");
         if (problem.empty()) s.core.lagstat_window = std::chrono::seconds(x);
         return problem;
       }},
      {"lag_notice_ms", millis_key(&Config::lag_notice, kWeekMs)},
      // Admission before overload (docs/OPERATING.md "Admission").
      {"busy_limit", share_key(&AdmissionLimits::busy_limit)},
      {"busy_resume", share_key(&AdmissionLimits::busy_resume)},
      {"drop_limit",
       [](const toml::node& n, Settings& s) {
         std::int64_t x = 0;
         std::string problem = config::get_int(n, 0, 1'000'000, x, "must be an integer 0..1000000");
         if (problem.empty()) s.core.admission.drop_limit = static_cast<std::uint64_t>(x);
         return problem;
       }},
      {"resume_after_s",
       [](const toml::node& n, Settings& s) {
         std::int64_t x = 0;
         std::string problem = config::get_int(n, 1, 3600, x, "must be an integer number of seconds 1..3600");
         if (problem.empty()) s.core.admission.resume_after = std::chrono::seconds(x);
         return problem;
       }},
      {"refuse_new_load",
       [](const toml::node& n, Settings& s) { return config::get_bool(n, s.core.admission.force_busy); }},
      {"access_file", shell_string_key(&Settings::access_file)},
      {"access_dns_refresh_s", shell_uint_key(&Settings::access_dns_refresh_s, 10, 86400)},
      {"state_db", shell_string_key(&Settings::state_db)},
      {"audit_log", shell_string_key(&Settings::audit_log)},
      {"language", shell_string_key(&Settings::language)},
      {"messages_file", shell_string_key(&Settings::messages_file)},
      {"messages_dir", shell_string_key(&Settings::messages_dir)},
      // Shell.
      {"master", [](const toml::node& n, Settings& s) { return get_strings(n, s.masters, true); }},
      {"token", shell_string_key(&Settings::token)},
      {"master_tls_ca", shell_string_key(&Settings::master_tls_ca)},
      {"probe", shell_bool_key(&Settings::probe)},
      {"announce", [](const toml::node& n, Settings& s) { return get_strings(n, s.announce, true); }},
      {"announce_first_s", shell_uint_key(&Settings::announce_first_s, 0, 86400)},
      {"announce_interval_s", shell_uint_key(&Settings::announce_interval_s, 1, 86400)},
      {"announce_timeout_s", shell_uint_key(&Settings::announce_timeout_s, 1, 600)},
      {"metrics", shell_string_key(&Settings::metrics)},
      {"log_level", shell_string_key(&Settings::log_level)},
      {"log_file", shell_string_key(&Settings::log_file)},
  };
  return keys;
}

// validate() names Config fields; the TOML file spells durations with a unit suffix.
std::string with_toml_key_names(std::string message) {
  static constexpr std::string_view kDurations[] = {
      "chat_flood",    "create_flood",        "login_timeout", "keepalive_timeout", "idle_timeout",
      "data_deadline", "resend_min_interval", "gap_wait",      "join_spam_window"};
  for (std::string_view field : kDurations) {
    if (message.size() > field.size() && message.compare(0, field.size(), field) == 0 &&
        message[field.size()] == ':') {
      return std::string(field) + "_ms" + message.substr(field.size());
    }
  }
  return message;
}

// ---- command line
// ------------------------------------------------------------------------------------------

std::optional<std::uint32_t> parse_u32(std::string_view text) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

bool valid_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto port = parse_u32(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return false;
  const std::string_view host = text.substr(0, colon);
  return std::none_of(host.begin(), host.end(), [](char c) { return c == ' ' || c == '/' || c < 0x21; });
}

// The charsets the relay can read and write: the names of common/text/charset.hpp, and iconv must have them.
std::string check_charset(const std::string& charset) {
  const std::string name = text::iconv_name(charset);
  iconv_t cd = name.empty() ? reinterpret_cast<iconv_t>(-1) : iconv_open("UTF-8", name.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return "charset: '" + charset +
           "' is not a charset this relay knows (windows-1252, shift_jis, gbk, cp949, windows-1251, utf-8, "
           "big5, windows-1250, iso-8859-1)";
  }
  iconv_close(cd);
  return {};
}

LoadResult fail(std::string message) {
  LoadResult r;
  r.exit = true;
  r.exit_code = kExitConfig;
  r.error = std::move(message);
  return r;
}

}  // namespace

std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_game_ports(std::string_view text) {
  const auto dash = text.find('-');
  const auto first = parse_u32(text.substr(0, dash));
  if (!first || *first > 65535) return std::nullopt;
  if (dash == std::string_view::npos) {
    return std::pair{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*first)};
  }
  const auto last = parse_u32(text.substr(dash + 1));
  if (!last || *last > 65535 || *first == 0 || *last < *first) return std::nullopt;
  return std::pair{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
}

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
  if (std::string problem = validate(s.core); !problem.empty())
    return with_toml_key_names(std::move(problem));
  if (!valid_log_level(s.log_level)) {
    return "log_level: '" + s.log_level + "' is not one of trace, debug, info, warn, error, critical, off";
  }
  if (!s.metrics.empty() && !net::parse_endpoint(s.metrics)) {
    return "metrics: '" + s.metrics + "' is not IPv4:PORT";
  }
  for (const auto& m : s.masters) {
    if (!valid_host_port(m)) return "master: '" + m + "' is not HOST:PORT";
  }
  if (!s.master_tls_ca.empty() && !std::ifstream(s.master_tls_ca).good()) {
    return "master_tls_ca: cannot read '" + s.master_tls_ca + "'";
  }
  for (const auto& url : s.announce) {
    std::string why;
    if (!announce::parse_list_url(url, &why)) return "announce: " + why;
  }
  if (s.announce_interval_s == 0) return "announce_interval_s: must be at least 1";
  if (s.announce_timeout_s == 0) return "announce_timeout_s: must be at least 1";
  if (s.core.public_address.find_first_of(" \t\r\n/") != std::string::npos) {
    return "public_address: '" + s.core.public_address + "' is not a host name or address";
  }
  if (std::string problem = check_charset(s.core.charset); !problem.empty()) return problem;
  return {};
}

std::string encode_config_texts(Settings& s) {
  if (std::string problem = check_charset(s.core.charset); !problem.empty()) return problem;
  const std::string& cs = s.core.charset;
  // A strict conversion: a text that is not UTF-8, or has a character the charset lacks, is refused. (A round
  // trip would refuse good text too: Shift_JIS reads back its wave dash as a full-width tilde.)
  auto encode = [&](std::string& text, std::string_view key) -> std::string {
    auto bytes = text::encode_exact(text, cs);
    if (!bytes) {
      return std::string(key) + ": '" + text + "' is not UTF-8 or has characters that charset '" + cs +
             "' cannot encode";
    }
    text = std::move(*bytes);
    return {};
  };
  for (auto [field, key] : {std::pair{&Config::name, "name"}, std::pair{&Config::location, "location"},
                            std::pair{&Config::website, "website"}}) {
    if (std::string problem = encode(s.core.*field, key); !problem.empty()) return problem;
  }
  for (auto& line : s.core.motd) {
    if (std::string problem = encode(line, "motd"); !problem.empty()) return problem;
  }
  return {};
}

LoadResult load_settings(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return load_settings(args);
}

LoadResult load_settings(const std::vector<std::string>& args, bool read_access_file) {
  CLI::App app{
      "kaillera-relay: a Kaillera netplay relay server (Kaillera Federation).\n"
      "Flags override the config file; docs/OPERATING.md describes every key.",
      "kaillera-relay"};
  std::string config_file, listen, game_ports, name, location, website, max_users, token, public_address,
      master_tls_ca, charset, language;
  std::string metrics, log_level, log_file, ready_file, access_file, state_db, audit_log;
  std::vector<std::string> masters, announce;
  bool version = false;
  bool probe = true;

  app.add_option("--config", config_file, "TOML config file (keys in docs/OPERATING.md)");
  auto* o_listen = app.add_option("--listen", listen, "handshake UDP address ADDR:PORT [0.0.0.0:27888]");
  auto* o_game =
      app.add_option("--game-ports", game_ports,
                     "game UDP port: PORT (one shared port) or FIRST-LAST (a port per client) [27889]");
  auto* o_name = app.add_option("--name", name, "server name shown in the lists");
  auto* o_location = app.add_option("--location", location, "location shown in the lists");
  auto* o_charset = app.add_option("--charset", charset,
                                   "how clients' text is read and the relay's own is written [windows-1252]");
  auto* o_language = app.add_option(
      "--language", language, "language of the texts sent to players: en, pt-BR, es, ja, ko, zh-CN, ru [en]");
  auto* o_website = app.add_option("--website", website, "website URL shown in the lists");
  auto* o_max_users = app.add_option("--max-users", max_users, "most users at once, 0 = unlimited [100]");
  auto* o_master = app.add_option("--master", masters, "master HOST:PORT to report to (repeatable)")
                       ->allow_extra_args(false);
  auto* o_token = app.add_option("--token", token, "this relay's token at its masters");
  auto* o_tls_ca =
      app.add_option("--master-tls-ca", master_tls_ca,
                     "PEM file of the CA that signed the masters' certificates: report over TLS");
  auto* o_probe = app.add_option("--probe", probe,
                                 "answer masters' probe requests: ICMP echo or UDP probes to the players' "
                                 "addresses they name (true|false) [true]");
  auto* o_public = app.add_option("--public-address", public_address, "address players reach this relay at");
  auto* o_announce =
      app.add_option(
             "--announce", announce,
             "announce to a public list: http://.../touch_server.php or .../touch_list.php (repeatable)")
          ->allow_extra_args(false);
  auto* o_metrics = app.add_option("--metrics", metrics, "serve Prometheus /metrics over HTTP on ADDR:PORT");
  auto* o_log =
      app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off [info]");
  auto* o_log_file = app.add_option("--log-file", log_file,
                                    "append the log to this file instead of stderr; SIGHUP reopens it");
  app.add_option("--ready-file", ready_file, "write the bound ports as JSON to this file once serving");
  auto* o_access =
      app.add_option("--access-file", access_file,
                     "TOML access file: levels by address, CIDR or dns: name (docs/OPERATING.md)");
  auto* o_state = app.add_option("--state-db", state_db,
                                 "SQLite file for bans, silences and grants (created; kept across restarts)");
  auto* o_audit = app.add_option("--audit-log", audit_log, "append one JSON line per event to this file");
  app.add_flag("--version", version, "print the version and exit");

  app.require_subcommand(0, 1);
  std::string backup_out;
  bool backup_force = false;
  auto* backup = app.add_subcommand(
      "backup",
      "copy the state file (--state-db or state_db) to OUT while the relay runs, then check the copy with "
      "PRAGMA integrity_check");
  backup->add_option("OUT", backup_out, "the file to write")->required();
  backup->add_flag("--force", backup_force, "replace OUT if it exists");
  backup->fallthrough();

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes its argument vector reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    LoadResult r;
    r.exit = true;
    r.output = app.help();
    return r;
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see --help)");
  }
  if (version) {
    LoadResult r;
    r.exit = true;
    r.output = build_info::version_line("kaillera-relay") + "\n";
    return r;
  }

  LoadResult r;
  if (backup->parsed()) {
    r.command = Command::kBackup;
    r.backup_out = backup_out;
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
  if (o_listen->count()) s.core.listen = listen;
  if (o_game->count()) {
    auto ports = parse_game_ports(game_ports);
    if (!ports) return fail("--game-ports: '" + game_ports + "' is not PORT or FIRST-LAST");
    s.core.game_port_first = ports->first;
    s.core.game_port_last = ports->second;
  }
  if (o_name->count()) s.core.name = name;
  if (o_location->count()) s.core.location = location;
  if (o_charset->count()) s.core.charset = charset;
  if (o_language->count()) s.language = language;
  if (o_website->count()) s.core.website = website;
  if (o_max_users->count()) {
    auto n = parse_u32(max_users);
    if (!n) return fail("--max-users: '" + max_users + "' is not an integer 0..4294967295");
    s.core.max_users = *n;
  }
  if (o_master->count()) s.masters = masters;
  if (o_token->count()) s.token = token;
  if (o_tls_ca->count()) s.master_tls_ca = master_tls_ca;
  if (o_probe->count()) s.probe = probe;
  if (o_public->count()) s.core.public_address = public_address;
  if (o_announce->count()) s.announce = announce;
  if (o_metrics->count()) s.metrics = metrics;
  if (o_log->count()) s.log_level = log_level;
  if (o_log_file->count()) s.log_file = log_file;
  s.ready_file = ready_file;
  if (o_access->count()) s.access_file = access_file;
  if (o_state->count()) s.state_db = state_db;
  if (o_audit->count()) s.audit_log = audit_log;

  if (std::string problem = encode_config_texts(s); !problem.empty()) {
    return fail("invalid setting: " + problem);
  }
  if (std::string problem = check_settings(s); !problem.empty()) {
    return fail("invalid setting: " + problem);
  }
  {
    CatalogLoad catalog =
        load_messages(s.language, s.messages_file, s.core.charset, message_dirs(s.messages_dir));
    if (!catalog.messages) return fail("invalid setting: " + catalog.error);
    s.core.messages = std::move(*catalog.messages);
    s.message_fallbacks = std::move(catalog.fallbacks);
    s.messages_source = std::move(catalog.file);
    s.messages_utf8 = std::move(catalog.utf8);
  }
  if (r.command == Command::kBackup) {
    if (r.backup_out.empty()) return fail("backup: OUT must not be empty");
    if (s.state_db.empty())
      return fail("backup: no state file to copy: give --state-db FILE or state_db in the config");
    return r;
  }
  // The access file is checked now, so a bad one stops the relay before it serves anyone.
  AccessList access;
  if (read_access_file && !s.access_file.empty()) {
    AccessLoad a = load_access_file(s.access_file, s.core.charset);
    if (!a.list) return fail("invalid access file: " + a.error);
    access = std::move(*a.list);
    s.access_warnings = std::move(a.warnings);
  }
  s.access = merge_admins(std::move(access), s.core.admins, &s.access_warnings);
  return r;
}

namespace {

// The running value of a reloadable key, as the log shows it.
std::string reloadable_value(const Settings& s, std::string_view key) {
  if (key == "announce") return config::list_text(s.announce);
  if (key == "announce_first_s") return std::to_string(s.announce_first_s);
  if (key == "announce_interval_s") return std::to_string(s.announce_interval_s);
  if (key == "announce_timeout_s") return std::to_string(s.announce_timeout_s);
  if (key == "access_file") return s.access_file.empty() ? "(none)" : s.access_file;
  if (key == "access_dns_refresh_s") return std::to_string(s.access_dns_refresh_s);
  if (key == "admins") return config::list_text(s.core.admins);
  if (key == "log_level") return s.log_level;
  const AdmissionLimits& a = s.core.admission;
  if (key == "busy_limit") return std::to_string(a.busy_limit);
  if (key == "busy_resume") return std::to_string(a.busy_resume);
  if (key == "drop_limit") return std::to_string(a.drop_limit);
  if (key == "resume_after_s") return std::to_string(a.resume_after.count());
  if (key == "refuse_new_load") return a.force_busy ? "true" : "false";
  return {};
}

}  // namespace

ReloadPlan plan_reload(const Settings& running) {
  return config::reload_plan<ReloadPlan>(
      running, [&] { return load_settings(running.args, false); }, kReloadableKeys, &reloadable_value,
      "relay",
      [](ReloadPlan& plan, const Settings& next) {
        plan.announce_changed = config::any_changed(plan.changed, "announce");
        Settings& s = plan.settings;
        s.announce = next.announce;
        s.announce_first_s = next.announce_first_s;
        s.announce_interval_s = next.announce_interval_s;
        s.announce_timeout_s = next.announce_timeout_s;
        s.access_file = next.access_file;
        s.access_dns_refresh_s = next.access_dns_refresh_s;
        s.core.admins = next.core.admins;
        s.log_level = next.log_level;
        s.core.admission = next.core.admission;
      });
}

}  // namespace kaillera::relay::shell
