// Config loading of kaillera-relay (relay/shell/settings.hpp) without starting a server: TOML keys, flags
// over the file, and the messages that name a bad key.
#include <gtest/gtest.h>

#include <fstream>

#include "relay/shell/settings.hpp"
#include "tests/integration/relay_process.hpp"

namespace {

using kaillera::relay::Millis;
using namespace kaillera::relay::shell;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RelaySettings, DefaultsAreValid) {
  LoadResult r = load_settings(std::vector<std::string>{});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.core.listen, "0.0.0.0:27888");
  EXPECT_EQ(r.settings.core.game_port_first, 27889);
  EXPECT_EQ(r.settings.core.game_port_last, 27889);
  EXPECT_EQ(r.settings.log_level, "info");
  EXPECT_TRUE(r.settings.metrics.empty());
}

TEST(RelaySettings, EveryTomlKey) {
  Settings s;
  const std::string text = R"(
name = "Test relay"
location = "Berlin"
website = "https://example.org"
public_address = "relay.example.org"
listen = "127.0.0.1:27000"
game_ports = "27001-27010"
charset = "shift_jis"
max_users = 42
max_ping_ms = 250
allowed_conn_types = [1, 2, 3]
admins = ["127.0.0.1", "10.0.0.2"]
motd = ["line one", "line two"]
max_name_length = 20
max_emulator_length = 100
max_game_name_length = 90
max_chat_length = 120
max_game_chat_length = 300
max_quit_length = 50
max_players = 4
max_games = 10
chat_flood_ms = 1500
create_flood_ms = 2500
allow_mixed_conn_types = true
allow_single_player = false
login_timeout_ms = 12000
keepalive_timeout_ms = 120000
idle_timeout_ms = 0
data_deadline_ms = 8000
resend_min_interval_ms = 50
redundancy = 4
max_datagram = 1200
burst_redundancy = 10
user_status_playing = 2
user_status_idle = 1
user_status_connecting = 0
game_status_waiting = 0
game_status_playing = 1
game_status_netsync = 2
hello_rate = 2.5
hello_burst = 10
master = ["master.example.org:27800", "10.0.0.1:27800"]
token = "secret"
announce = ["http://list.example.org/touch_server.php"]
metrics = "127.0.0.1:9100"
log_level = "debug"
)";
  ASSERT_EQ(apply_toml(text, "relay.toml", s), "");
  const auto& c = s.core;
  EXPECT_EQ(c.name, "Test relay");
  EXPECT_EQ(c.location, "Berlin");
  EXPECT_EQ(c.website, "https://example.org");
  EXPECT_EQ(c.public_address, "relay.example.org");
  EXPECT_EQ(c.listen, "127.0.0.1:27000");
  EXPECT_EQ(c.game_port_first, 27001);
  EXPECT_EQ(c.game_port_last, 27010);
  EXPECT_EQ(c.charset, "shift_jis");
  EXPECT_EQ(c.max_users, 42u);
  EXPECT_EQ(c.max_ping_ms, 250u);
  EXPECT_EQ(c.allowed_conn_types, 0x0E);
  EXPECT_EQ(c.admins, (std::vector<std::string>{"127.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(c.motd, (std::vector<std::string>{"line one", "line two"}));
  EXPECT_EQ(c.max_name_length, 20u);
  EXPECT_EQ(c.max_emulator_length, 100u);
  EXPECT_EQ(c.max_game_name_length, 90u);
  EXPECT_EQ(c.max_chat_length, 120u);
  EXPECT_EQ(c.max_game_chat_length, 300u);
  EXPECT_EQ(c.max_quit_length, 50u);
  EXPECT_EQ(c.max_players, 4u);
  EXPECT_EQ(c.max_games, 10u);
  EXPECT_EQ(c.chat_flood, Millis(1500));
  EXPECT_EQ(c.create_flood, Millis(2500));
  EXPECT_TRUE(c.allow_mixed_conn_types);
  EXPECT_FALSE(c.allow_single_player);
  EXPECT_EQ(c.login_timeout, Millis(12000));
  EXPECT_EQ(c.keepalive_timeout, Millis(120000));
  EXPECT_EQ(c.idle_timeout, Millis(0));
  EXPECT_EQ(c.data_deadline, Millis(8000));
  EXPECT_EQ(c.resend_min_interval, Millis(50));
  EXPECT_EQ(c.redundancy, 4u);
  EXPECT_EQ(c.max_datagram, 1200u);
  EXPECT_EQ(c.burst_redundancy, 10u);
  EXPECT_EQ(c.user_status_playing, 2);
  EXPECT_EQ(c.user_status_idle, 1);
  EXPECT_EQ(c.user_status_connecting, 0);
  EXPECT_EQ(c.game_status_waiting, 0);
  EXPECT_EQ(c.game_status_playing, 1);
  EXPECT_EQ(c.game_status_netsync, 2);
  EXPECT_DOUBLE_EQ(c.hello_rate, 2.5);
  EXPECT_DOUBLE_EQ(c.hello_burst, 10);
  EXPECT_EQ(s.masters, (std::vector<std::string>{"master.example.org:27800", "10.0.0.1:27800"}));
  EXPECT_EQ(s.token, "secret");
  EXPECT_EQ(s.announce, (std::vector<std::string>{"http://list.example.org/touch_server.php"}));
  EXPECT_EQ(s.metrics, "127.0.0.1:9100");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(check_settings(s), "");
}

TEST(RelaySettings, UnknownKeyIsNamed) {
  Settings s;
  const std::string err = apply_toml("name = \"x\"\nmax_userz = 5\n", "relay.toml", s);
  EXPECT_TRUE(contains(err, "relay.toml: unknown key 'max_userz'")) << err;
  EXPECT_TRUE(contains(err, "line 2")) << err;
  // A table is not a key of ours either.
  EXPECT_TRUE(contains(apply_toml("[relay]\nname = \"x\"\n", "relay.toml", s), "unknown key 'relay'"));
}

TEST(RelaySettings, WrongTypeOrRangeIsNamed) {
  struct Case {
    const char* text;
    const char* key;
  };
  const Case cases[] = {
      {"max_users = \"many\"", "'max_users'"},
      {"max_users = -1", "'max_users'"},
      {"max_users = 4294967296", "'max_users'"},
      {"max_players = 9", "'max_players'"},
      {"max_name_length = 32", "'max_name_length'"},
      {"name = 5", "'name'"},
      {"allow_single_player = 1", "'allow_single_player'"},
      {"game_ports = \"a-b\"", "'game_ports'"},
      {"game_ports = 70000", "'game_ports'"},
      {"game_ports = \"0-5\"", "'game_ports'"},
      {"allowed_conn_types = [0]", "'allowed_conn_types'"},
      {"allowed_conn_types = 126", "'allowed_conn_types'"},
      {"admins = \"127.0.0.1\"", "'admins'"},
      {"motd = [1, 2]", "'motd'"},
      {"keepalive_timeout_ms = -5", "'keepalive_timeout_ms'"},
      {"keepalive_timeout_ms = 1.5", "'keepalive_timeout_ms'"},
      {"hello_rate = 0", "'hello_rate'"},
      {"hello_rate = \"fast\"", "'hello_rate'"},
      {"master = 5", "'master'"},
      {"redundancy = 9", "'redundancy'"},
      {"user_status_idle = 3", "'user_status_idle'"},
  };
  for (const auto& c : cases) {
    Settings s;
    const std::string err = apply_toml(c.text, "relay.toml", s);
    EXPECT_TRUE(contains(err, std::string("relay.toml: key ") + c.key)) << c.text << " -> " << err;
  }
}

TEST(RelaySettings, SyntaxErrorHasLineAndColumn) {
  Settings s;
  const std::string err = apply_toml("name = \"x\"\nmax_users = = 3\n", "relay.toml", s);
  EXPECT_TRUE(contains(err, "relay.toml:2:")) << err;
}

TEST(RelaySettings, ValidateNamesTheTomlKey) {
  Settings s;
  ASSERT_EQ(apply_toml("data_deadline_ms = 100", "relay.toml", s), "");
  const std::string err = check_settings(s);
  EXPECT_TRUE(contains(err, "data_deadline_ms")) << err;

  Settings t;
  ASSERT_EQ(apply_toml("admins = [\"not-an-ip\"]", "relay.toml", t), "");
  EXPECT_TRUE(contains(check_settings(t), "admins")) << check_settings(t);

  Settings u;
  u.log_level = "loud";
  EXPECT_TRUE(contains(check_settings(u), "log_level"));
  Settings v;
  v.metrics = "localhost";
  EXPECT_TRUE(contains(check_settings(v), "metrics"));
  Settings w;
  w.masters = {"no-port"};
  EXPECT_TRUE(contains(check_settings(w), "master"));
  Settings x;
  x.announce = {"ftp://x"};
  EXPECT_TRUE(contains(check_settings(x), "announce"));
}

// Admission keys (docs/OPERATING.md "Admission"): read, ranged, and checked against each other.
TEST(RelaySettings, AdmissionKeys) {
  Settings s;
  ASSERT_EQ(apply_toml("busy_limit = 0.9\nbusy_resume = 0.5\ndrop_limit = 7\nresume_after_s = 30\n"
                       "refuse_new_load = true",
                       "relay.toml", s),
            "");
  EXPECT_DOUBLE_EQ(s.core.admission.busy_limit, 0.9);
  EXPECT_DOUBLE_EQ(s.core.admission.busy_resume, 0.5);
  EXPECT_EQ(s.core.admission.drop_limit, 7u);
  EXPECT_EQ(s.core.admission.resume_after, std::chrono::seconds(30));
  EXPECT_TRUE(s.core.admission.force_busy);
  EXPECT_EQ(check_settings(s), "");
  Settings t;
  EXPECT_TRUE(contains(apply_toml("busy_limit = 1.5", "relay.toml", t), "must be a number 0..1"));
  Settings u;
  ASSERT_EQ(apply_toml("busy_limit = 0.5\nbusy_resume = 0.7", "relay.toml", u), "");
  EXPECT_TRUE(contains(check_settings(u), "busy_resume: must not be above busy_limit")) << check_settings(u);
  Settings v;  // busy_limit 0 turns the loop figure off: the default resume figure does not matter then
  ASSERT_EQ(apply_toml("busy_limit = 0", "relay.toml", v), "");
  EXPECT_EQ(check_settings(v), "");
}

TEST(RelaySettings, GamePorts) {
  using P = std::pair<std::uint16_t, std::uint16_t>;
  EXPECT_EQ(parse_game_ports("27889"), P(27889, 27889));
  EXPECT_EQ(parse_game_ports("27889-28200"), P(27889, 28200));
  EXPECT_EQ(parse_game_ports("0"), P(0, 0));
  EXPECT_FALSE(parse_game_ports(""));
  EXPECT_FALSE(parse_game_ports("0-10"));
  EXPECT_FALSE(parse_game_ports("28200-27889"));
  EXPECT_FALSE(parse_game_ports("65536"));
  EXPECT_FALSE(parse_game_ports("1-"));
  EXPECT_FALSE(parse_game_ports("x"));
}

TEST(RelaySettings, FlagsOverrideTheFile) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  std::ofstream(toml) << "name = \"From file\"\nlocation = \"File town\"\nmax_users = 10\n"
                         "game_ports = \"27889-27900\"\nmaster = [\"file.example:1\"]\n";
  LoadResult r =
      load_settings(std::vector<std::string>{"--config",         toml.string(),
                                             "--name",           "From flag",
                                             "--max-users",      "20",
                                             "--game-ports",     "0",
                                             "--master",         "a.example:27800",
                                             "--master",         "b.example:27800",
                                             "--announce",       "http://list.example/touch_list.php",
                                             "--listen",         "127.0.0.1:0",
                                             "--metrics",        "127.0.0.1:0",
                                             "--log-level",      "warn",
                                             "--token",          "t",
                                             "--public-address", "relay.example",
                                             "--website",        "http://w.example",
                                             "--location",       "Flag town"});
  ASSERT_FALSE(r.exit) << r.error;
  const Settings& s = r.settings;
  EXPECT_EQ(s.config_file, toml.string());
  EXPECT_EQ(s.core.name, "From flag");
  EXPECT_EQ(s.core.location, "Flag town");
  EXPECT_EQ(s.core.max_users, 20u);
  EXPECT_EQ(s.core.game_port_first, 0);
  EXPECT_EQ(s.core.game_port_last, 0);
  EXPECT_EQ(s.core.listen, "127.0.0.1:0");
  EXPECT_EQ(s.core.public_address, "relay.example");
  EXPECT_EQ(s.core.website, "http://w.example");
  EXPECT_EQ(s.masters, (std::vector<std::string>{"a.example:27800", "b.example:27800"}));
  EXPECT_EQ(s.announce, (std::vector<std::string>{"http://list.example/touch_list.php"}));
  EXPECT_EQ(s.metrics, "127.0.0.1:0");
  EXPECT_EQ(s.log_level, "warn");
  EXPECT_EQ(s.token, "t");

  // Without flags the file wins over the defaults.
  LoadResult f = load_settings(std::vector<std::string>{"--config", toml.string()});
  ASSERT_FALSE(f.exit) << f.error;
  EXPECT_EQ(f.settings.core.name, "From file");
  EXPECT_EQ(f.settings.core.max_users, 10u);
  EXPECT_EQ(f.settings.core.game_port_first, 27889);
  EXPECT_EQ(f.settings.core.game_port_last, 27900);
  EXPECT_EQ(f.settings.masters, (std::vector<std::string>{"file.example:1"}));
}

TEST(RelaySettings, CommandLineErrorsExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--max-users", "lots"},
      {"--game-ports", "1-"},
      {"--listen", "nowhere"},
      {"--metrics", "x:y"},
      {"--log-level", "chatty"},
      {"--unknown"},
      {"--master", "a:1", "b:2"},  // one value per --master
      {"--config", "/nonexistent/relay.toml"},
  };
  for (const auto& args : bad) {
    LoadResult r = load_settings(args);
    EXPECT_TRUE(r.exit) << args[0];
    EXPECT_EQ(r.exit_code, kExitConfig) << args[0];
    EXPECT_FALSE(r.error.empty()) << args[0];
  }
  LoadResult r = load_settings(std::vector<std::string>{"--max-users", "lots"});
  EXPECT_TRUE(contains(r.error, "--max-users")) << r.error;
}

// The example shipped in deploy/ loads, validates, and holds the defaults apart from the values it marks.
TEST(RelaySettings, ExampleConfigLoads) {
  Settings s;
  ASSERT_EQ(apply_toml_file(KF_SOURCE_DIR "/deploy/relay.example.toml", s), "");
  EXPECT_EQ(check_settings(s), "");
  const kaillera::relay::Config d;
  const auto& c = s.core;
  EXPECT_EQ(c.listen, d.listen);
  EXPECT_EQ(c.game_port_first, d.game_port_first);
  EXPECT_EQ(c.game_port_last, d.game_port_last);
  EXPECT_EQ(c.charset, d.charset);
  EXPECT_EQ(c.max_users, d.max_users);
  EXPECT_EQ(c.max_ping_ms, d.max_ping_ms);
  EXPECT_EQ(c.allowed_conn_types, d.allowed_conn_types);
  EXPECT_EQ(c.admins, d.admins);
  EXPECT_EQ(c.motd, d.motd);
  EXPECT_EQ(c.max_name_length, d.max_name_length);
  EXPECT_EQ(c.max_emulator_length, d.max_emulator_length);
  EXPECT_EQ(c.max_game_name_length, d.max_game_name_length);
  EXPECT_EQ(c.max_chat_length, d.max_chat_length);
  EXPECT_EQ(c.max_game_chat_length, d.max_game_chat_length);
  EXPECT_EQ(c.max_quit_length, d.max_quit_length);
  EXPECT_EQ(c.max_players, d.max_players);
  EXPECT_EQ(c.max_games, d.max_games);
  EXPECT_EQ(c.chat_flood, d.chat_flood);
  EXPECT_EQ(c.create_flood, d.create_flood);
  EXPECT_EQ(c.allow_mixed_conn_types, d.allow_mixed_conn_types);
  EXPECT_EQ(c.allow_single_player, d.allow_single_player);
  EXPECT_EQ(c.login_timeout, d.login_timeout);
  EXPECT_EQ(c.keepalive_timeout, d.keepalive_timeout);
  EXPECT_EQ(c.idle_timeout, d.idle_timeout);
  EXPECT_EQ(c.data_deadline, d.data_deadline);
  EXPECT_EQ(c.resend_min_interval, d.resend_min_interval);
  EXPECT_EQ(c.redundancy, d.redundancy);
  EXPECT_EQ(c.max_datagram, d.max_datagram);
  EXPECT_EQ(c.burst_redundancy, d.burst_redundancy);
  EXPECT_EQ(c.user_status_playing, d.user_status_playing);
  EXPECT_EQ(c.user_status_idle, d.user_status_idle);
  EXPECT_EQ(c.user_status_connecting, d.user_status_connecting);
  EXPECT_EQ(c.game_status_waiting, d.game_status_waiting);
  EXPECT_EQ(c.game_status_playing, d.game_status_playing);
  EXPECT_EQ(c.game_status_netsync, d.game_status_netsync);
  EXPECT_DOUBLE_EQ(c.hello_rate, d.hello_rate);
  EXPECT_DOUBLE_EQ(c.hello_burst, d.hello_burst);
  EXPECT_EQ(s.metrics, "127.0.0.1:9100");
  EXPECT_EQ(s.log_level, "info");
  const Settings defaults;
  EXPECT_TRUE(s.announce.empty());  // the example announces nowhere
  EXPECT_EQ(s.announce_first_s, defaults.announce_first_s);
  EXPECT_EQ(s.announce_interval_s, defaults.announce_interval_s);
  EXPECT_EQ(s.announce_timeout_s, defaults.announce_timeout_s);
}

TEST(RelaySettings, AnnounceKeys) {
  const Settings d;
  EXPECT_TRUE(d.announce.empty());  // off unless configured
  EXPECT_EQ(d.announce_first_s, 10u);
  EXPECT_EQ(d.announce_interval_s, 60u);
  EXPECT_EQ(d.announce_timeout_s, 10u);
  Settings s;
  ASSERT_EQ(apply_toml("announce = [\"http://www.kaillera.com/touch_server.php\", "
                       "\"http://kaillerareborn.2manygames.fr/touch_list.php\"]\n"
                       "announce_first_s = 0\nannounce_interval_s = 5\nannounce_timeout_s = 2\n",
                       "relay.toml", s),
            "");
  EXPECT_EQ(s.announce.size(), 2u);
  EXPECT_EQ(s.announce_first_s, 0u);
  EXPECT_EQ(s.announce_interval_s, 5u);
  EXPECT_EQ(s.announce_timeout_s, 2u);
  EXPECT_EQ(check_settings(s), "");
  for (const char* bad : {"announce_interval_s = 0", "announce_interval_s = \"1m\"", "announce_first_s = -1",
                          "announce_timeout_s = 0"}) {
    Settings t;
    const std::string key = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_TRUE(contains(apply_toml(bad, "relay.toml", t), "key '" + key + "'")) << bad;
  }
}

TEST(RelaySettings, AnnounceUrlOfAnotherKindExitsTwoNamingItAndTheAcceptedForms) {
  for (const std::string url : {"http://www.kaillera.com/raw_server_list.php", "http://list.example/",
                                "https://kaillerareborn.2manygames.fr/touch_list.php"}) {
    LoadResult r = load_settings(std::vector<std::string>{"--announce", url});
    EXPECT_TRUE(r.exit) << url;
    EXPECT_EQ(r.exit_code, kExitConfig) << url;
    EXPECT_TRUE(contains(r.error, "announce: '" + url + "'")) << r.error;
    EXPECT_TRUE(contains(r.error, "touch_server.php")) << r.error;
    EXPECT_TRUE(contains(r.error, "touch_list.php")) << r.error;
  }
}

TEST(RelaySettings, CharsetIsCheckedAtStartUp) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  for (const char* cs : {"windows-1252", "shift_jis", "gbk", "cp949", "windows-1251", "utf-8", "Shift_JIS"}) {
    std::ofstream(toml) << "charset = \"" << cs << "\"\n";
    LoadResult r = load_settings(std::vector<std::string>{"--config", toml.string()});
    EXPECT_FALSE(r.exit) << cs << ": " << r.error;
  }
  std::ofstream(toml) << "charset = \"klingon-8\"\n";
  LoadResult r = load_settings(std::vector<std::string>{"--config", toml.string()});
  EXPECT_TRUE(r.exit);
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.error, "charset: 'klingon-8'")) << r.error;
}

// The config is UTF-8; the relay's own texts go out in its charset like the players' bytes (KAILLERA.md
// §2.6).
TEST(RelaySettings, ConfigTextsAreConvertedToTheCharsetOnce) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  std::ofstream(toml) << "charset = \"shift_jis\"\nname = \"日本語サーバ\"\nlocation = \"東京\"\n"
                         "motd = [\"ようこそ\", \"plain\"]\n";
  LoadResult r = load_settings(std::vector<std::string>{"--config", toml.string()});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.core.name, "\x93\xFA\x96\x7B\x8C\xEA\x83\x54\x81\x5B\x83\x6F");
  EXPECT_EQ(r.settings.core.location, "\x93\x8C\x8B\x9E");
  EXPECT_EQ(r.settings.core.motd, (std::vector<std::string>{"\x82\xE6\x82\xA4\x82\xB1\x82\xBB", "plain"}));

  // The default windows-1252, from a flag as well.
  LoadResult f = load_settings(std::vector<std::string>{"--name", "Café", "--location", "Zürich"});
  ASSERT_FALSE(f.exit) << f.error;
  EXPECT_EQ(f.settings.core.name, "Caf\xE9");
  EXPECT_EQ(f.settings.core.location, "Z\xFCrich");

  // A character the charset lacks stops the relay, naming the key.
  LoadResult g = load_settings(std::vector<std::string>{"--name", "Snow ☃"});
  EXPECT_TRUE(g.exit);
  EXPECT_EQ(g.exit_code, kExitConfig);
  EXPECT_TRUE(contains(g.error, "name: 'Snow ☃'")) << g.error;
  EXPECT_TRUE(contains(g.error, "windows-1252")) << g.error;
  std::ofstream(toml) << "motd = [\"日本\"]\n";
  LoadResult m = load_settings(std::vector<std::string>{"--config", toml.string()});
  EXPECT_TRUE(contains(m.error, "motd:")) << m.error;
}

TEST(RelaySettings, LogFileKeyAndFlag) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  std::ofstream(toml) << "log_file = \"/var/log/kaillera/relay.log\"\n";
  LoadResult r = load_settings(std::vector<std::string>{"--config", toml.string()});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.log_file, "/var/log/kaillera/relay.log");
  r = load_settings(std::vector<std::string>{"--config", toml.string(), "--log-file", "here.log"});
  EXPECT_EQ(r.settings.log_file, "here.log");
  EXPECT_TRUE(load_settings(std::vector<std::string>{}).settings.log_file.empty());  // stderr by default
  std::ofstream(toml) << "log_file = 3\n";
  r = load_settings(std::vector<std::string>{"--config", toml.string()});
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.error, "key 'log_file' must be a string (got an integer)")) << r.error;
}

TEST(RelaySettings, BackupSubcommand) {
  kf_test::TempDir dir;
  LoadResult r = load_settings(std::vector<std::string>{"backup", "copy.db", "--state-db", "state.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.command, Command::kBackup);
  EXPECT_EQ(r.backup_out, "copy.db");
  EXPECT_EQ(r.settings.state_db, "state.db");
  EXPECT_FALSE(r.force);
  r = load_settings(std::vector<std::string>{"--state-db", "state.db", "backup", "--force", "copy.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_TRUE(r.force);
  EXPECT_EQ(r.command, Command::kBackup);
  EXPECT_EQ(load_settings(std::vector<std::string>{}).command, Command::kServe);

  // The state file from relay.toml; its access file is not read for a backup.
  const auto toml = dir / "relay.toml";
  std::ofstream(toml)
      << "state_db = \"/var/lib/kaillera/state.db\"\naccess_file = \"/nonexistent/access.toml\"\n";
  r = load_settings(std::vector<std::string>{"--config", toml.string(), "backup", "copy.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.state_db, "/var/lib/kaillera/state.db");

  r = load_settings(std::vector<std::string>{"backup", "copy.db"});
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_EQ(r.error, "backup: no state file to copy: give --state-db FILE or state_db in the config");
  r = load_settings(std::vector<std::string>{"backup", "--state-db", "s.db"});
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_TRUE(contains(r.error, "OUT")) << r.error;
}

// SIGHUP's plan (settings.hpp plan_reload): reloadable keys take their new values, the others are named.
TEST(RelaySettings, ReloadPlanAppliesReloadableKeysAndNamesTheRest) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  std::ofstream(toml)
      << "announce = \"http://a.example/touch_list.php\"\nmax_users = 10\nlog_level = \"info\"\n";
  LoadResult start = load_settings(std::vector<std::string>{"--config", toml.string()});
  ASSERT_FALSE(start.exit) << start.error;

  ReloadPlan same = plan_reload(start.settings);
  EXPECT_EQ(same.error, "");
  EXPECT_TRUE(same.changed.empty());
  EXPECT_TRUE(same.restart.empty());
  EXPECT_FALSE(same.announce_changed);

  std::ofstream(toml)
      << "max_users = 20\nannounce = [\"http://b.example/touch_server.php\"]\nlog_level = \"debug\"\n"
         "admins = [\"10.0.0.1\"]\nlisten = \"0.0.0.0:27999\"\n";
  ReloadPlan plan = plan_reload(start.settings);
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(plan.changed,
            (std::vector<std::string>{
                "announce: [http://a.example/touch_list.php] -> [http://b.example/touch_server.php]",
                "admins: [] -> [10.0.0.1]", "log_level: info -> debug"}));
  EXPECT_EQ(plan.restart, (std::vector<std::string>{"listen", "max_users"}));
  EXPECT_TRUE(plan.announce_changed);
  EXPECT_EQ(plan.settings.announce, std::vector<std::string>{"http://b.example/touch_server.php"});
  EXPECT_EQ(plan.settings.log_level, "debug");
  EXPECT_EQ(plan.settings.core.admins, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(plan.settings.core.max_users, 10u);           // needs a restart: the running value stays
  EXPECT_EQ(plan.settings.core.listen, "0.0.0.0:27888");  // likewise
  EXPECT_EQ(plan.settings.config_text, start.settings.config_text);  // still named until a restart

  // A bad file changes nothing and says what is wrong, naming the key.
  std::ofstream(toml) << "max_users = 20\ncolour = \"red\"\n";
  plan = plan_reload(start.settings);
  EXPECT_EQ(plan.error, toml.string() + ": unknown key 'colour' (line 2)");
  EXPECT_TRUE(plan.changed.empty());
}

TEST(RelaySettings, ReloadKeepsWhatTheCommandLineSets) {
  kf_test::TempDir dir;
  const auto toml = dir / "relay.toml";
  std::ofstream(toml) << "announce = \"http://a.example/touch_list.php\"\n";
  LoadResult start = load_settings(std::vector<std::string>{"--config", toml.string(), "--announce",
                                                            "http://flag.example/touch_list.php"});
  ASSERT_FALSE(start.exit) << start.error;
  std::ofstream(toml) << "announce = \"http://b.example/touch_list.php\"\n";
  const ReloadPlan plan = plan_reload(start.settings);
  EXPECT_EQ(plan.error, "");
  EXPECT_TRUE(plan.changed.empty());  // the flag still wins
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_EQ(plan.settings.announce, std::vector<std::string>{"http://flag.example/touch_list.php"});
}

TEST(RelaySettings, VersionAndHelp) {
  LoadResult v = load_settings(std::vector<std::string>{"--version"});
  EXPECT_TRUE(v.exit);
  EXPECT_EQ(v.exit_code, 0);
  // "kaillera-relay 0.1.0 (git bf01b25)": tests/package/check_version.sh compares the commit with git's HEAD.
  EXPECT_TRUE(v.output.starts_with("kaillera-relay " KF_VERSION " (git ")) << v.output;
  EXPECT_TRUE(v.output.ends_with(")\n")) << v.output;
  LoadResult h = load_settings(std::vector<std::string>{"--help"});
  EXPECT_TRUE(h.exit);
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_TRUE(contains(h.output, "--game-ports"));
}

}  // namespace
