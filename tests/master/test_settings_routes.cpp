// kaillera-master's settings (TOML + flags + subcommands) and its HTTP routes without sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "master/catalog.hpp"
#include "master/http_routes.hpp"
#include "master/settings.hpp"
#include "master/store/migrations.hpp"
#include "master/tokens.hpp"
#include "tests/master/master_harness.hpp"

namespace kaillera::master {
namespace {

using kf_master_test::TempDir;

// ---- settings
// -----------------------------------------------------------------------------------------------

TEST(MasterSettings, DefaultsAreTheDocumentedOnes) {
  const auto r = load_settings(std::vector<std::string>{});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.command, Command::kServe);
  EXPECT_EQ(r.settings.grpc, "127.0.0.1:27800");
  EXPECT_EQ(r.settings.http, "127.0.0.1:8080");
  EXPECT_EQ(r.settings.report_interval_ms, 10'000);
  EXPECT_FALSE(r.settings.open_registration);
  // The fair pick: balanced by default (docs/PICK.md explains the benchmark behind it), 3 s for probes.
  EXPECT_EQ(r.settings.pick_objective, "balanced");
  EXPECT_EQ(r.settings.pick_deadline_ms, 3000);
  EXPECT_EQ(r.settings.pick_hop_slack, 3);
}

TEST(MasterSettings, PickKeysAreChecked) {
  auto r = load_settings(std::vector<std::string>{"--pick-objective", "fastest"});
  EXPECT_EQ(r.error, "invalid setting: pick_objective: must be hops, latency or balanced (got 'fastest')");
  r = load_settings(std::vector<std::string>{"--pick-deadline-ms", "20000"});
  EXPECT_EQ(r.error, "invalid setting: pick_deadline_ms: must be 0..10000 (got 20000)");
  r = load_settings(std::vector<std::string>{"--pick-objective", "hops", "--pick-deadline-ms", "500"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.pick_objective, "hops");
  EXPECT_EQ(r.settings.pick_deadline_ms, 500);
}

TEST(MasterSettings, FlagsOverrideTheConfigFile) {
  TempDir dir;
  const std::string file = dir / "master.toml";
  std::ofstream(file) << "db = \"from-file.db\"\nhttp = \"127.0.0.1:9000\"\nopen_registration = true\n"
                         "mirrors = [\"http://a.example/raw_server_list.php\"]\nreport_interval_ms = 2000\n";
  const auto r =
      load_settings(std::vector<std::string>{"--config", file, "--http", "127.0.0.1:9100", "--mirror",
                                             "http://b.example/x", "--mirror", "http://c.example/y"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.db, "from-file.db");
  EXPECT_EQ(r.settings.http, "127.0.0.1:9100");
  EXPECT_TRUE(r.settings.open_registration);
  EXPECT_EQ(r.settings.report_interval_ms, 2000);
  EXPECT_EQ(r.settings.mirrors, (std::vector<std::string>{"http://b.example/x", "http://c.example/y"}));
}

TEST(MasterSettings, ProblemsNameTheKeyOrFlag) {
  TempDir dir;
  const std::string file = dir / "master.toml";
  std::ofstream(file) << "db = \"x.db\"\nreport_interval_ms = \"fast\"\n";
  auto r = load_settings(std::vector<std::string>{"--config", file});
  EXPECT_TRUE(r.exit);
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_EQ(r.error,
            file + ": key 'report_interval_ms' must be an integer 50..3600000 (got a string) (line 2)");

  std::ofstream(file) << "colour = 1\n";
  r = load_settings(std::vector<std::string>{"--config", file});
  EXPECT_EQ(r.error, file + ": unknown key 'colour' (line 1)");

  r = load_settings(std::vector<std::string>{"--grpc", "localhost"});
  EXPECT_EQ(r.error, "invalid setting: grpc: 'localhost' is not IPv4:PORT");
  r = load_settings(std::vector<std::string>{"--tls-cert", "/nonexistent.pem"});
  EXPECT_EQ(r.error, "invalid setting: tls_cert and tls_key: give both or neither");
  r = load_settings(std::vector<std::string>{"--mirror", "ftp://x"});
  EXPECT_EQ(r.error, "invalid setting: mirrors: 'ftp://x' is not an http:// URL");
  r = load_settings(
      std::vector<std::string>{"--mirror", "https://kaillerareborn.2manygames.fr/server_list.json"});
  EXPECT_EQ(r.error,
            "invalid setting: mirrors: 'https://kaillerareborn.2manygames.fr/server_list.json': https is not "
            "supported (this master reads lists over plain HTTP only; give the list's http:// address)");
  r = load_settings(std::vector<std::string>{"--mirror", "http://x/list", "--mirror-interval-s", "60",
                                             "--mirror-keep-s", "30"});
  EXPECT_EQ(
      r.error,
      "invalid setting: mirror_keep_s: must be mirror_interval_s (60)..604800, or a list's entries would "
      "vanish between two good fetches (got 30)");
  r = load_settings(std::vector<std::string>{"--mirror", "http://x/list#charset=shift_jis",
                                             "--mirror-interval-s", "1", "--mirror-keep-s", "3",
                                             "--mirror-timeout-ms", "500", "--mirror-max-bytes", "2048"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.mirror_interval_s, 1);
  EXPECT_EQ(r.settings.mirror_keep_s, 3);
  EXPECT_EQ(r.settings.mirror_timeout_ms, 500);
  EXPECT_EQ(r.settings.mirror_max_bytes, 2048);
  r = load_settings(std::vector<std::string>{"--default-charset", "klingon"});
  EXPECT_EQ(r.error, "invalid setting: default_charset: unknown charset 'klingon'");
  r = load_settings(std::vector<std::string>{"--report-interval-ms", "10"});
  EXPECT_EQ(r.error, "invalid setting: report_interval_ms: must be 50..3600000 (got 10)");
}

TEST(MasterSettings, TheExampleConfigIsValid) {
  Settings s;
  EXPECT_EQ(apply_toml_file(std::string(KF_SOURCE_DIR) + "/master/master.example.toml", s), "");
  EXPECT_EQ(check_settings(s), "");
  EXPECT_EQ(s.db, "var/kaillera-master.db");
}

TEST(MasterSettings, Subcommands) {
  auto r = load_settings(std::vector<std::string>{"relay", "add", "Alpha relay", "--db", "x.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.command, Command::kRelayAdd);
  EXPECT_EQ(r.argument, "Alpha relay");
  EXPECT_EQ(r.settings.db, "x.db");
  r = load_settings(std::vector<std::string>{"--db", "y.db", "relay", "list", "--json"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.command, Command::kRelayList);
  EXPECT_TRUE(r.json);
  r = load_settings(std::vector<std::string>{"relay", "remove", "7"});
  EXPECT_EQ(r.command, Command::kRelayRemove);
  EXPECT_EQ(r.argument, "7");
  r = load_settings(std::vector<std::string>{"migrate"});
  EXPECT_EQ(r.command, Command::kMigrate);
  r = load_settings(std::vector<std::string>{"relay", "add", "123"});
  EXPECT_EQ(r.error, "relay add: NAME must not be all digits (numbers name relay ids)");
  r = load_settings(std::vector<std::string>{"relay"});
  EXPECT_TRUE(r.exit);
  EXPECT_EQ(r.exit_code, kExitConfig);
}

TEST(MasterSettings, LogFileAndBackup) {
  auto r = load_settings(std::vector<std::string>{"--log-file", "/var/log/kaillera/master.log"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.settings.log_file, "/var/log/kaillera/master.log");
  Settings s;
  EXPECT_EQ(apply_toml("log_file = \"m.log\"\n", "master.toml", s), "");
  EXPECT_EQ(s.log_file, "m.log");
  EXPECT_EQ(apply_toml("log_file = true\n", "master.toml", s),
            "master.toml: key 'log_file' must be a string (got a boolean) (line 1)");

  r = load_settings(std::vector<std::string>{"backup", "copy.db", "--db", "m.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_EQ(r.command, Command::kBackup);
  EXPECT_EQ(r.argument, "copy.db");
  EXPECT_EQ(r.settings.db, "m.db");
  EXPECT_FALSE(r.force);
  r = load_settings(std::vector<std::string>{"--db", "m.db", "backup", "--force", "copy.db"});
  ASSERT_FALSE(r.exit) << r.error;
  EXPECT_TRUE(r.force);
  r = load_settings(std::vector<std::string>{"backup"});
  EXPECT_EQ(r.exit_code, kExitConfig);
  EXPECT_NE(r.error.find("OUT"), std::string::npos) << r.error;
}

// SIGHUP's plan (settings.hpp plan_reload): the mirror keys and log_level take their new values; other keys
// that changed in the file are named and keep their running values.
TEST(MasterSettings, ReloadPlan) {
  TempDir dir;
  const std::string toml = dir / "master.toml";
  std::ofstream(toml) << "mirrors = [\"http://a.example/server_list.php\"]\nreport_interval_ms = 5000\n";
  const auto start = load_settings(std::vector<std::string>{"--config", toml});
  ASSERT_FALSE(start.exit) << start.error;
  ReloadPlan plan = plan_reload(start.settings);
  EXPECT_EQ(plan.error, "");
  EXPECT_TRUE(plan.changed.empty());
  EXPECT_TRUE(plan.restart.empty());
  EXPECT_FALSE(plan.mirrors_changed);

  std::ofstream(toml)
      << "report_interval_ms = 7000\nmirrors = [\"http://b.example/server_list.json\", "
         "\"http://a.example/server_list.php\"]\nmirror_interval_s = 30\nhttp = \"0.0.0.0:80\"\n";
  plan = plan_reload(start.settings);
  ASSERT_EQ(plan.error, "");
  EXPECT_EQ(plan.changed,
            (std::vector<std::string>{"mirrors: [http://a.example/server_list.php] -> [http://b.example/"
                                      "server_list.json, http://a.example/server_list.php]",
                                      "mirror_interval_s: 60 -> 30"}));
  EXPECT_EQ(plan.restart, (std::vector<std::string>{"http", "report_interval_ms"}));
  EXPECT_TRUE(plan.mirrors_changed);
  EXPECT_EQ(plan.settings.mirrors.size(), 2u);
  EXPECT_EQ(plan.settings.mirror_interval_s, 30);
  EXPECT_EQ(plan.settings.report_interval_ms, 5000);
  EXPECT_EQ(plan.settings.http, "127.0.0.1:8080");

  std::ofstream(toml) << "mirror_keep_s = 1\nmirror_interval_s = 30\n";  // keep shorter than the interval
  plan = plan_reload(start.settings);
  EXPECT_NE(plan.error.find("mirror_keep_s"), std::string::npos) << plan.error;
  EXPECT_EQ(plan.settings.mirrors, start.settings.mirrors);
  std::ofstream(toml) << "colour = \"red\"\n";
  plan = plan_reload(start.settings);
  EXPECT_EQ(plan.error, toml + ": unknown key 'colour' (line 1)");
}

// ---- routes
// -------------------------------------------------------------------------------------------------

class MasterRoutes : public ::testing::Test {
 protected:
  MasterRoutes() : db_(dir_ / "m.db") {
    store::migrate(db_, store::embedded_migrations(), now_);
    store_ = std::make_unique<store::Store>(db_);
    catalog_ = std::make_unique<Catalog>(*store_, CatalogSettings{}, now_);
    ctx_ = std::make_unique<RouteContext>(RouteContext{*catalog_, [this] { return now_; },
                                                       [] { return std::string("metrics\n"); },
                                                       [this](const net::Endpoint& at) {
                                                         checks_.push_back(at);
                                                         return true;
                                                       },
                                                       "<html>page</html>", nullptr});
  }

  HttpResponse get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    req.remote_ip = 0x7F000001;
    req.headers = std::move(headers);
    return route(*ctx_, req);
  }

  UnixMillis now_ = 1'700'000'000'000;
  TempDir dir_;
  store::Db db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<RouteContext> ctx_;
  std::vector<net::Endpoint> checks_;
};

TEST_F(MasterRoutes, HealthzAlwaysReadyzFollowsTheReadiness) {
  auto r = get("/readyz");  // no readiness given: serving
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.payload(), "ready\n");
  std::string reason = "the database m.db is locked by another connection";
  ctx_->not_ready = [&] { return reason; };
  r = get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.payload(), "not ready: the database m.db is locked by another connection\n");
  r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.payload(), "ok\n");
  reason.clear();
  r = get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.payload(), "ready\n");
}

TEST(MasterStartupRoute, OnlyHealthAnswersWhileTheDatabaseOpens) {
  HttpRequest req;
  req.method = "GET";
  const auto answer = [&](const std::string& target) {
    req.target = target;
    return startup_route(req, "opening the database m.db");
  };
  auto r = answer("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  r = answer("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: opening the database m.db\n");
  r = answer("/server_list.php");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "error: the master is starting: opening the database m.db\n");
  EXPECT_NE(
      std::find(r.headers.begin(), r.headers.end(), std::pair<std::string, std::string>{"Retry-After", "1"}),
      r.headers.end());
  r = answer("/api/v1/relays?online=1");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"error\":\"the master is starting: opening the database m.db\"}\n");
}

TEST_F(MasterRoutes, ServesEveryList) {
  for (const char* path :
       {"/raw_server_list.php", "/raw_server_list2.php?version=0.9", "/server_list.php", "/game_list.php",
        "/raw_server_list2.php?version=0.9&wg=1", "/server_list.json", "/game_list.json", "/api/v1/relays",
        "/api/v1/relays?online=1&has_room=1&location=x", "/api/v1/games", "/metrics", "/healthz", "/"}) {
    const auto r = get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.payload();
  }
  EXPECT_EQ(get("/game_list.php").payload(), "\n");
  EXPECT_EQ(get("/raw_server_list2.php?wg=1").payload(), "\n");
  EXPECT_EQ(get("/server_list.json").payload(), "[]");
  EXPECT_EQ(get("/").payload(), "<html>page</html>");
  EXPECT_EQ(get("/").content_type, "text/html; charset=utf-8");
}

TEST_F(MasterRoutes, TouchStartsACheckAndListsAfterThePong) {
  auto r = get("/touch_server.php?servername=Emu&port=27888&nbusers=1&maxconn=8&nbgames=1",
               {{"kaillera-wgames", "4|Tekken|ann|ePSXe|1|"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "OK checking 127.0.0.1:27888: the master sent PING there; the server is listed after its PONG\n");
  ASSERT_EQ(checks_.size(), 1u);
  EXPECT_EQ(get("/server_list.php").payload(), "");
  catalog_->touch_checked(checks_[0], true, now_);
  EXPECT_EQ(get("/server_list.php").payload(), "Emu\r\n127.0.0.1:27888;1/8;1;;\r\n");
  EXPECT_EQ(get("/game_list.php").payload(), "Tekken|127.0.0.1:27888|ann|ePSXe|1|Emu||\n");
  r = get("/touch_server.php?servername=Emu&port=27888&nbusers=2&maxconn=8");
  EXPECT_EQ(r.body, "OK listed 127.0.0.1:27888\n");
  EXPECT_EQ(checks_.size(), 1u);
}

TEST_F(MasterRoutes, BadRequestsGetPreciseErrorsAndChangeNothing) {
  const auto expect = [&](const std::string& target, int status, const std::string& body) {
    const auto r = get(target);
    EXPECT_EQ(r.status, status) << target;
    EXPECT_EQ(r.payload(), body) << target;
  };
  expect("/touch_server.php?port=27888", 400, "error: servername: required\n");
  expect("/touch_server.php?servername=x&port=abc", 400,
         "error: port: must be an integer 1..65535 (got \"abc\")\n");
  expect("/touch_list.php?serverName=x&port=1&numUsers=-1", 400,
         "error: numUsers: must be an integer 0..1000000 (got \"-1\")\n");
  expect("/server_list.php?wg=maybe", 400, "error: query parameter wg: must be 1 or 0 (got \"maybe\")\n");
  expect("/server_list.php?a=%G0", 400, "error: bad percent-encoding in query parameter \"a\"\n");
  expect("/api/v1/relays?online=perhaps", 400,
         "{\"error\":\"query parameter online: must be 1 or 0 (got \\\"perhaps\\\")\"}\n");
  expect("/api/v1/relays?colour=red", 400,
         "{\"error\":\"unknown query parameter \\\"colour\\\" (known: online, has_room, location)\"}\n");
  expect("/nowhere", 404,
         "error: not found: /nowhere (try /, /server_list.php, /game_list.php, /api/v1/relays)\n");
  expect("/" + std::string(5000, 'a'), 414, "error: request target longer than 4096 bytes\n");
  EXPECT_TRUE(checks_.empty());
  EXPECT_EQ(catalog_->stats(now_).third_party, 0u);

  HttpRequest post;
  post.method = "POST";
  post.target = "/touch_server.php";
  const auto r = route(*ctx_, post);
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD"}));
  HttpRequest absolute;
  absolute.method = "GET";
  absolute.target = "http://example.org/x";
  EXPECT_EQ(route(*ctx_, absolute).status, 400);
}

}  // namespace
}  // namespace kaillera::master
