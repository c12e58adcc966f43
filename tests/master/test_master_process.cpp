// The real kaillera-master binary on loopback with a temporary SQLite file: relays register and report over
// real gRPC and appear in every list format with the right numbers; wrong tokens, bad sessions and bad
// reports get precise gRPC statuses; a relay that stops reporting goes offline after 3 missed reports; a
// restart keeps the list; third-party servers list themselves with touch requests after their PONG; malformed
// HTTP gets a precise 4xx; TLS; the operator subcommands. Every process is stopped by its RAII guard.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/master_harness.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

const std::string kCafe = std::string("Caf\xE9 Relay");  // windows-1252
const std::string kCafeUtf8 = "Caf\xC3\xA9 Relay";

std::string master_bin() {
  return KF_MASTER_BIN;
}

std::chrono::system_clock::time_point deadline(std::chrono::milliseconds ms = 5000ms) {
  return std::chrono::system_clock::now() + ms;
}

// `kaillera-master relay add NAME --db DB`: returns the token from the last line of its output.
std::string add_relay(const TempDir& dir, const std::string& name) {
  const auto r =
      run_command(master_bin(), {"relay", "add", name, "--db", dir / "master.db"}, dir / "relay-add.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto end = r.output.find_last_not_of("\n");
  const auto start = r.output.rfind('\n', end);
  std::string token = r.output.substr(start + 1, end - start);
  EXPECT_EQ(token.rfind("kf_", 0), 0u) << r.output;
  return token;
}

v1::RegisterRequest register_request(const std::string& token, std::uint32_t port = 27888,
                                     const std::string& name = kCafe) {
  v1::RegisterRequest req;
  req.set_token(token);
  auto* info = req.mutable_info();
  info->mutable_name()->set_raw(name);
  info->mutable_name()->set_charset("windows-1252");
  info->set_charset("windows-1252");
  info->set_public_host("127.0.0.1");
  info->set_handshake_port(port);
  info->set_game_port_first(port + 1);
  info->set_game_port_last(port + 1);
  info->mutable_location()->set_raw("Berlin");
  info->set_website("https://relay.example");
  info->set_version("kf 0.1.0");
  info->set_max_users(16);
  return req;
}

v1::RelayMessage hello(const v1::RegisterResponse& reg) {
  v1::RelayMessage m;
  m.mutable_hello()->set_relay_id(reg.relay_id());
  m.mutable_hello()->set_session_key(reg.session_key());
  return m;
}

v1::RelayMessage load(std::uint32_t users, std::uint32_t games, std::uint32_t playing,
                      bool with_game = true) {
  v1::RelayMessage m;
  auto* r = m.mutable_report();
  r->set_users(users);
  r->set_games(games);
  r->set_playing_games(playing);
  if (with_game) {
    auto* w = r->add_waiting();
    w->set_game_id(5);
    w->mutable_rom()->set_raw("Street Fighter II");
    w->mutable_owner()->set_raw(std::string("J\xF6rg"));
    w->mutable_emulator()->set_raw("MAME32k 0.64");
    w->set_players(1);
    w->set_max_players(2);
  }
  auto* meas = r->add_measurements();
  meas->set_address("10.1.2.3");
  meas->set_hops(7);
  meas->set_source(v1::Measurement::SOURCE_PING);
  return m;
}

// A relay's Report stream.
struct Stream {
  explicit Stream(v1::RelayRegistry::Stub& stub) {
    ctx.set_deadline(deadline(60s));
    rw = stub.Report(&ctx);
  }
  grpc::Status close() {
    rw->WritesDone();
    return rw->Finish();
  }
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RelayMessage, v1::MasterMessage>> rw;
};

class MasterProcess : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    master_.reset();
    master_ = std::make_unique<Master>(dir_, std::move(extra));
    channel_ = grpc::CreateChannel(master_->grpc_address(), grpc::InsecureChannelCredentials());
    registry_ = v1::RelayRegistry::NewStub(channel_);
    directory_ = v1::Directory::NewStub(channel_);
  }

  grpc::Status do_register(const v1::RegisterRequest& req, v1::RegisterResponse& resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    return registry_->Register(&ctx, req, &resp);
  }

  HttpResponse get(const std::string& target) { return http_get(master_->http_port(), target); }

  bool wait_for_body(const std::string& target, const std::function<bool(const std::string&)>& ok,
                     std::chrono::milliseconds timeout = 5000ms) {
    return poll_until(
        [&] {
          const auto r = get(target);
          return r.status == 200 && ok(r.body);
        },
        timeout, 20ms);
  }

  double metric(const std::string& sample) {
    const auto body = get("/metrics").body;
    const auto at = body.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::atof(body.c_str() + at + sample.size() + 2);
  }

  // gRPC's Server::Shutdown waits (up to the master's grace period) for connected clients to go away.
  void disconnect() {
    registry_.reset();
    directory_.reset();
    channel_.reset();
  }
  void TearDown() override {
    disconnect();
    if (master_) master_->stop();
  }
  TempDir dir_;
  std::unique_ptr<Master> master_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RelayRegistry::Stub> registry_;
  std::unique_ptr<v1::Directory::Stub> directory_;
};

TEST_F(MasterProcess, RegistersReportsAndListsInEveryFormat) {
  start();
  const std::string token = add_relay(dir_, "cafe");  // while the master runs
  v1::RegisterResponse reg;
  const auto status = do_register(register_request(token), reg);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(reg.listed());
  EXPECT_EQ(reg.observed_address(), "127.0.0.1");
  EXPECT_EQ(reg.report_interval_ms(), 10000u);

  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  ASSERT_TRUE(stream.rw->Write(load(3, 2, 1)));

  const std::string two_lines = kCafe + "\r\n127.0.0.1:27888;3/16;2;kf 0.1.0;Berlin\r\n";
  ASSERT_TRUE(wait_for_body("/server_list.php", [&](const std::string& b) { return b == two_lines; }))
      << get("/server_list.php").body << "\n"
      << master_->log();
  EXPECT_EQ(get("/raw_server_list.php").body, two_lines);
  {
    // Exactly what n02 sends (HTTP/1.0, "Host:" without a space); it reads until the server closes and calls
    // a reply of at most 150 bytes (200 for waiting games) an error.
    const auto n02 =
        http_exchange(master_->http_port(), "GET /server_list.php HTTP/1.0\r\nHost:127.0.0.1\r\n\r\n");
    EXPECT_EQ(n02.head.substr(0, 15), "HTTP/1.0 200 OK");
    EXPECT_EQ(n02.body, two_lines);
    EXPECT_GT(n02.head.size() + 4 + n02.body.size(), 150u);
  }
  EXPECT_EQ(get("/raw_server_list2.php?version=0.9").body, two_lines);
  const std::string games_line =
      "Street Fighter II|127.0.0.1:27888|J\xF6rg|MAME32k 0.64|1/2|" + kCafe + "|Berlin|\n";
  EXPECT_EQ(get("/raw_server_list2.php?version=0.9&wg=1").body, games_line);
  EXPECT_EQ(get("/game_list.php").body, games_line);
  {
    const auto n02 =
        http_exchange(master_->http_port(), "GET /game_list.php HTTP/1.0\r\nHost:127.0.0.1\r\n\r\n");
    EXPECT_EQ(n02.body, games_line);
    EXPECT_GT(n02.head.size() + 4 + n02.body.size(), 200u);
  }

  const auto servers = json::parse(get("/server_list.json").body);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]["serverName"], kCafeUtf8);
  EXPECT_EQ(servers[0]["ipAddress"], "127.0.0.1:27888");
  EXPECT_EQ(servers[0]["numUsers"], 3);
  EXPECT_EQ(servers[0]["numGames"], 2);
  EXPECT_EQ(servers[0]["location"], "Berlin");
  const auto games = json::parse(get("/game_list.json").body);
  ASSERT_EQ(games.size(), 1u);
  EXPECT_EQ(games[0]["gameName"], "Street Fighter II");
  EXPECT_EQ(games[0]["userName"], "J\xC3\xB6rg");
  EXPECT_EQ(games[0]["playerCount"], "1/2");

  const auto relays = json::parse(get("/api/v1/relays").body)["relays"];
  ASSERT_EQ(relays.size(), 1u);
  EXPECT_EQ(relays[0]["name"], kCafeUtf8);
  EXPECT_EQ(relays[0]["users"], 3);
  EXPECT_EQ(relays[0]["max_users"], 16);
  EXPECT_EQ(relays[0]["games"], 2);
  EXPECT_EQ(relays[0]["playing_games"], 1);
  EXPECT_EQ(relays[0]["online"], true);
  EXPECT_EQ(relays[0]["game_ports"], "27889");
  EXPECT_EQ(json::parse(get("/api/v1/relays?location=berl").body)["relays"].size(), 1u);
  EXPECT_EQ(json::parse(get("/api/v1/relays?location=tokyo").body)["relays"].size(), 0u);
  const auto api_games = json::parse(get("/api/v1/games").body)["games"];
  ASSERT_EQ(api_games.size(), 1u);
  EXPECT_EQ(api_games[0]["owner"], "J\xC3\xB6rg");

  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::ListRelaysRequest req;
    req.set_online_only(true);
    req.set_has_room(true);
    v1::ListRelaysResponse resp;
    ASSERT_TRUE(directory_->ListRelays(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.relays_size(), 1);
    const auto& r = resp.relays(0);
    EXPECT_EQ(r.relay_id(), reg.relay_id());
    EXPECT_EQ(r.info().name().raw(), kCafe);
    EXPECT_EQ(r.info().name().text(), kCafeUtf8);
    EXPECT_EQ(r.info().name().charset(), "windows-1252");
    EXPECT_EQ(r.users(), 3u);
    EXPECT_EQ(r.games(), 2u);
    EXPECT_TRUE(r.online());
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::ListWaitingGamesResponse resp;
    ASSERT_TRUE(directory_->ListWaitingGames(&ctx, v1::ListWaitingGamesRequest(), &resp).ok());
    ASSERT_EQ(resp.games_size(), 1);
    EXPECT_EQ(resp.games(0).game().rom().text(), "Street Fighter II");
    EXPECT_EQ(resp.games(0).relay_port(), 27888u);
  }

  // A new report replaces the numbers and the games.
  ASSERT_TRUE(stream.rw->Write(load(4, 1, 1, false)));
  ASSERT_TRUE(wait_for_body("/server_list.php", [&](const std::string& b) {
    return b == kCafe + "\r\n127.0.0.1:27888;4/16;1;kf 0.1.0;Berlin\r\n";
  }));
  EXPECT_EQ(get("/game_list.php").body, "\n");
  EXPECT_EQ(metric("kaillera_master_reports_total{result=\"ok\"}"), 2);
  EXPECT_EQ(metric("kaillera_master_relays{state=\"online\"}"), 1);
  const auto end = stream.close();
  EXPECT_TRUE(end.ok()) << end.error_message();
}

TEST_F(MasterProcess, RefusesWrongTokensAndBadMessagesWithPreciseStatuses) {
  start();
  const std::string token = add_relay(dir_, "one");
  v1::RegisterResponse resp;
  auto s = do_register(register_request("kf_0000"), resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "unknown or revoked token");
  s = do_register(register_request(""), resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("does not allow open registration"), std::string::npos);
  s = do_register(v1::RegisterRequest(), resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "info: required");
  auto bad = register_request(token);
  bad.mutable_info()->set_handshake_port(70000);
  s = do_register(bad, resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "info.handshake_port: must be 1..65535 (got 70000)");
  EXPECT_EQ(json::parse(get("/api/v1/relays").body)["relays"].size(), 0u);  // nothing changed

  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(token), reg).ok());
  {
    Stream stream(*registry_);  // a session key that is not the one Register gave
    v1::RelayMessage m = hello(reg);
    m.mutable_hello()->set_session_key("forged");
    stream.rw->Write(m);
    const auto end = stream.close();
    EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(end.error_message(), "unknown relay_id or session_key: call Register again");
  }
  {
    Stream stream(*registry_);  // a report before the hello
    stream.rw->Write(load(1, 1, 0));
    const auto end = stream.close();
    EXPECT_EQ(end.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    Stream stream(*registry_);
    ASSERT_TRUE(stream.rw->Write(hello(reg)));
    ASSERT_TRUE(stream.rw->Write(load(2, 1, 0)));
    ASSERT_TRUE(wait_for_body("/server_list.php",
                              [](const std::string& b) { return b.find(";2/16;1;") != std::string::npos; }));
    stream.rw->Write(load(5, 1, 3));  // more playing games than games
    const auto end = stream.close();
    EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(end.error_message(), "report.playing_games (3) exceeds report.games (1)");
    EXPECT_NE(get("/server_list.php").body.find(";2/16;1;"), std::string::npos);  // unchanged
    EXPECT_EQ(metric("kaillera_master_reports_total{result=\"rejected\"}"), 1);
  }
}

TEST_F(MasterProcess, ARelayThatStopsReportingGoesOfflineAfterThreeMissedReports) {
  start({"--report-interval-ms", "200"});
  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(add_relay(dir_, "one")), reg).ok());
  EXPECT_EQ(reg.report_interval_ms(), 200u);
  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  const auto sent = Clock::now();
  ASSERT_TRUE(stream.rw->Write(load(1, 0, 0, false)));
  ASSERT_TRUE(wait_for_body(
      "/server_list.php", [](const std::string& b) { return !b.empty(); }, 2000ms));
  ASSERT_TRUE(wait_for_body(
      "/server_list.php", [](const std::string& b) { return b.empty(); }, 5000ms));
  const auto gone = Clock::now() - sent;
  EXPECT_GE(gone, 590ms);  // not before three intervals
  EXPECT_LE(gone, 3000ms);
  const auto relays = json::parse(get("/api/v1/relays").body)["relays"];
  ASSERT_EQ(relays.size(), 1u);  // still known, shown offline
  EXPECT_EQ(relays[0]["online"], false);
  EXPECT_EQ(json::parse(get("/api/v1/relays?online=1").body)["relays"].size(), 0u);
  EXPECT_EQ(json::parse(get("/server_list.json").body).size(), 0u);
  stream.close();
}

TEST_F(MasterProcess, ANewerStreamOfTheSameRelayReplacesTheOlder) {
  start();
  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(add_relay(dir_, "one")), reg).ok());
  Stream first(*registry_);
  ASSERT_TRUE(first.rw->Write(hello(reg)));
  ASSERT_TRUE(first.rw->Write(load(1, 0, 0, false)));
  ASSERT_TRUE(wait_for_body("/server_list.php",
                            [](const std::string& b) { return b.find(";1/16;") != std::string::npos; }));
  Stream second(*registry_);
  ASSERT_TRUE(second.rw->Write(hello(reg)));
  ASSERT_TRUE(second.rw->Write(load(2, 0, 0, false)));
  v1::MasterMessage ignored;
  while (first.rw->Read(&ignored)) {
  }
  const auto end = first.rw->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(end.error_message(), "replaced by a newer Report stream of the same relay");
  EXPECT_TRUE(wait_for_body("/server_list.php",
                            [](const std::string& b) { return b.find(";2/16;") != std::string::npos; }));
  EXPECT_TRUE(second.close().ok());
}

TEST_F(MasterProcess, ARestartKeepsTheList) {
  start();
  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(add_relay(dir_, "one")), reg).ok());
  {
    Stream stream(*registry_);
    ASSERT_TRUE(stream.rw->Write(hello(reg)));
    ASSERT_TRUE(stream.rw->Write(load(3, 2, 1)));
    ASSERT_TRUE(wait_for_body("/server_list.php", [](const std::string& b) { return !b.empty(); }));
    stream.close();
  }
  const std::string before = get("/server_list.php").body;
  const std::string games_before = get("/game_list.php").body;
  disconnect();
  EXPECT_EQ(master_->stop(), 0);
  EXPECT_NE(master_->log().find("stopped"), std::string::npos);

  start();
  EXPECT_EQ(get("/server_list.php").body, before);
  EXPECT_EQ(get("/game_list.php").body, games_before);
  // The relay's session survives too: its stream resumes without a new Register.
  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  ASSERT_TRUE(stream.rw->Write(load(6, 2, 1)));
  EXPECT_TRUE(wait_for_body("/server_list.php",
                            [](const std::string& b) { return b.find(";6/16;2;") != std::string::npos; }));
  EXPECT_TRUE(stream.close().ok());
}

TEST_F(MasterProcess, TouchServersAppearAfterTheirPongKeyedByIpAndPort) {
  start({"--check-timeout-ms", "600"});
  PongResponder a, b;
  PongResponder silent(false);
  auto r = http_get(master_->http_port(),
                    "/touch_server.php?servername=EmuLinker%20A&port=" + std::to_string(a.port()) +
                        "&nbusers=2&maxconn=10&version=elk&nbgames=1&location=Lyon&ip=&url=",
                    "Kaillera-games: \r\nKaillera-wgames: 3|Tekken 3|bob|ePSXe|1|\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_get(master_->http_port(),
               "/touch_list.php?serverName=EmuLinkerSF%20B&ipAddress=&location=Kyoto&website=&port=" +
                   std::to_string(b.port()) + "&numUsers=5&maxUsers=20&numGames=0&maxGames=5&version=ESF",
               "Waiting-games: \r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = http_get(master_->http_port(),
               "/touch_server.php?servername=Silent&port=" + std::to_string(silent.port()));
  EXPECT_EQ(r.status, 200) << r.body;

  const std::string line_a = "EmuLinker A\r\n127.0.0.1:" + std::to_string(a.port()) + ";2/10;1;elk;Lyon\r\n";
  const std::string line_b =
      "EmuLinkerSF B\r\n127.0.0.1:" + std::to_string(b.port()) + ";5/20;0;ESF;Kyoto\r\n";
  ASSERT_TRUE(wait_for_body("/server_list.php",
                            [&](const std::string& body) {
                              return body.find(line_a) != std::string::npos &&
                                     body.find(line_b) != std::string::npos;
                            }))
      << get("/server_list.php").body << master_->log();
  EXPECT_GE(a.pings(), 1);
  EXPECT_GE(b.pings(), 1);
  EXPECT_EQ(get("/game_list.php").body,
            "Tekken 3|127.0.0.1:" + std::to_string(a.port()) + "|bob|ePSXe|1|EmuLinker A|Lyon|\n");

  // The silent one is pinged, times out, and never appears.
  ASSERT_TRUE(poll_until(
      [&] { return metric("kaillera_master_address_checks_total{result=\"timeout\"}") >= 1; }, 5000ms));
  EXPECT_GE(silent.pings(), 1);
  EXPECT_EQ(get("/server_list.php").body.find("Silent"), std::string::npos);
  const auto relays = json::parse(get("/api/v1/relays").body)["relays"];
  ASSERT_EQ(relays.size(), 2u);
  EXPECT_EQ(relays[0]["external"], true);
  EXPECT_EQ(metric("kaillera_master_address_checks_total{result=\"pong\"}"), 2);
}

TEST_F(MasterProcess, TouchServersLeaveTheListAfterTheirTtl) {
  start({"--touch-ttl-ms", "800"});
  PongResponder a;
  const std::string touch = "/touch_server.php?servername=Short&port=" + std::to_string(a.port());
  ASSERT_EQ(http_get(master_->http_port(), touch).status, 200);
  ASSERT_TRUE(wait_for_body("/server_list.php",
                            [](const std::string& b) { return b.find("Short") != std::string::npos; }));
  ASSERT_TRUE(wait_for_body(
      "/server_list.php", [](const std::string& b) { return b.empty(); }, 5000ms));
}

TEST_F(MasterProcess, OpenRegistrationListsARelayOnlyAfterItsPong) {
  start({"--open-registration", "--check-timeout-ms", "600", "--max-relays-per-ip", "2"});
  PongResponder relay;
  PongResponder silent(false);
  v1::RegisterResponse reg;
  auto s = do_register(register_request("", relay.port(), "Community"), reg);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(reg.listed());
  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  ASSERT_TRUE(stream.rw->Write(load(2, 0, 0, false)));
  ASSERT_TRUE(wait_for_body("/server_list.php", [](const std::string& b) {
    return b.find("Community") != std::string::npos;
  })) << master_->log();
  EXPECT_GE(relay.pings(), 1);

  v1::RegisterResponse reg2;
  ASSERT_TRUE(do_register(register_request("", silent.port(), "Ghost"), reg2).ok());
  Stream stream2(*registry_);
  ASSERT_TRUE(stream2.rw->Write(hello(reg2)));
  ASSERT_TRUE(stream2.rw->Write(load(1, 0, 0, false)));
  ASSERT_TRUE(poll_until(
      [&] { return metric("kaillera_master_address_checks_total{result=\"timeout\"}") >= 1; }, 5000ms));
  EXPECT_EQ(get("/server_list.php").body.find("Ghost"), std::string::npos);
  EXPECT_EQ(json::parse(get("/api/v1/relays").body)["relays"].size(), 1u);

  v1::RegisterResponse reg3;
  s = do_register(register_request("", 40000, "Third"), reg3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "at most 2 open registrations per IP address, and 127.0.0.1 has 2");
  stream.close();
  stream2.close();
}

TEST_F(MasterProcess, MalformedHttpRequestsGetPrecise4xx) {
  start();
  const auto port = master_->http_port();
  auto r = http_exchange(port, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed HTTP request"), std::string::npos) << r.body;
  r = http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  r = http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  r = http_exchange(
      port, "POST /touch_server.php HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  r = get("/touch_server.php?servername=x&port=99999");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "error: port: must be an integer 1..65535 (got \"99999\")\n");
  r = get("/touch_server.php?servername=%ZZ&port=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "error: bad percent-encoding in query parameter \"servername\"\n");
  r = get("/touch_server.php?servername=x&port=1");  // well formed, no PONG: accepted for checking
  EXPECT_EQ(r.status, 200);
  r = http_get(port, "/touch_server.php?servername=y&port=2", "Kaillera-wgames: 1|rom|\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Kaillera-wgames: expected 5"), std::string::npos) << r.body;
  r = get("/api/v1/relays?online=sometimes");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"], "query parameter online: must be 1 or 0 (got \"sometimes\")");
  r = get("/no/such/page");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(get("/healthz").status, 200);       // still serving
  EXPECT_EQ(get("/server_list.php").body, "");  // nothing listed by any of it
  EXPECT_TRUE(master_->process().running());
}

TEST_F(MasterProcess, KeepAliveAndHead) {
  start();
  const auto r =
      http_exchange(master_->http_port(),
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /server_list.json HTTP/1.1\r\nHost: "
                    "x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("HTTP/1.1 200 OK"), std::string::npos);  // the second response on the same connection
  EXPECT_NE(r.body.find("Content-Length: 2"), std::string::npos);
}

std::string openssl_cert(const TempDir& dir) {
  const auto r = run_command(
      "/usr/bin/openssl",
      {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir / "key.pem", "-out", dir / "cert.pem",
       "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
      dir / "openssl.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_file(dir / "cert.pem");
}

TEST_F(MasterProcess, GrpcOverTlsWithASelfSignedCertificate) {
  if (!std::filesystem::exists("/usr/bin/openssl")) GTEST_SKIP() << "openssl is not installed";
  const std::string cert = openssl_cert(dir_);
  start({"--tls-cert", dir_ / "cert.pem", "--tls-key", dir_ / "key.pem"});
  EXPECT_NE(master_->log().find("(TLS)"), std::string::npos);
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = cert;
  auto tls = grpc::CreateChannel(master_->grpc_address(), grpc::SslCredentials(opts));
  auto registry = v1::RelayRegistry::NewStub(tls);
  const std::string token = add_relay(dir_, "tls");
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline());
  v1::RegisterResponse reg;
  const auto s = registry->Register(&ctx, register_request(token), &reg);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(reg.listed());

  grpc::ClientContext plain_ctx;  // a plaintext client cannot talk to it
  plain_ctx.set_deadline(deadline(2000ms));
  v1::ListRelaysResponse resp;
  EXPECT_FALSE(directory_->ListRelays(&plain_ctx, v1::ListRelaysRequest(), &resp).ok());
}

TEST_F(MasterProcess, OperatorCommandsWhileTheMasterRuns) {
  start();
  const std::string token = add_relay(dir_, "gamma");
  auto list =
      run_command(master_bin(), {"relay", "list", "--db", dir_ / "master.db", "--json"}, dir_ / "list.log");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("\"label\": \"gamma\""), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find(token), std::string::npos);  // never shown again

  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(token), reg).ok());
  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  ASSERT_TRUE(stream.rw->Write(load(1, 0, 0, false)));
  ASSERT_TRUE(wait_for_body("/server_list.php", [](const std::string& b) { return !b.empty(); }));

  const auto removed =
      run_command(master_bin(), {"relay", "remove", "gamma", "--db", dir_ / "master.db"}, dir_ / "rm.log");
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_TRUE(
      wait_for_body("/api/v1/relays", [](const std::string& b) { return json::parse(b)["relays"].empty(); }));
  stream.rw->Write(load(2, 0, 0, false));
  const auto end = stream.close();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::NOT_FOUND) << end.error_message();
  v1::RegisterResponse again;
  EXPECT_EQ(do_register(register_request(token), again).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const auto missing =
      run_command(master_bin(), {"relay", "remove", "gamma", "--db", dir_ / "master.db"}, dir_ / "rm2.log");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no relay named or numbered \"gamma\""), std::string::npos);
}

TEST_F(MasterProcess, RefusesADatabaseNewerThanItself) {
  const std::string db = dir_ / "master.db";
  auto r = run_command(master_bin(), {"migrate", "--db", db}, dir_ / "migrate.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("schema migrated from version 0 to"), std::string::npos) << r.output;
  r = run_command(master_bin(), {"migrate", "--db", db}, dir_ / "migrate2.log");
  EXPECT_NE(r.output.find("schema up to date"), std::string::npos) << r.output;
  {
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(handle, "INSERT INTO schema_migrations VALUES (9999, 'future', 0)", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(handle);
  }
  r = run_command(master_bin(), {"migrate", "--db", db}, dir_ / "migrate3.log");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("use a newer kaillera-master"), std::string::npos) << r.output;
  Process serve(master_bin(), {"--db", db, "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"},
                dir_ / "serve.log");
  EXPECT_EQ(serve.wait_exit(10s), 1);
  EXPECT_NE(serve.log().find("9999"), std::string::npos) << serve.log();
}

TEST_F(MasterProcess, LogsItsAddressesAndStopsCleanlyOnSigint) {
  start();
  const std::string log = master_->log();
  EXPECT_NE(log.find("gRPC on " + master_->grpc_address()), std::string::npos) << log;
  EXPECT_NE(log.find("HTTP on http://127.0.0.1:" + std::to_string(master_->http_port())), std::string::npos)
      << log;
  master_->process().signal(SIGINT);
  EXPECT_EQ(master_->process().wait_exit(10s), 0);
}

TEST_F(MasterProcess, StoppingEndsOpenReportStreamsWithUnavailable) {
  start();
  v1::RegisterResponse reg;
  ASSERT_TRUE(do_register(register_request(add_relay(dir_, "one")), reg).ok());
  Stream stream(*registry_);
  ASSERT_TRUE(stream.rw->Write(hello(reg)));
  ASSERT_TRUE(stream.rw->Write(load(1, 0, 0, false)));
  ASSERT_TRUE(wait_for_body("/server_list.php", [](const std::string& b) { return !b.empty(); }));
  master_->process().signal(SIGTERM);
  v1::MasterMessage ignored;
  while (stream.rw->Read(&ignored)) {
  }
  const auto end = stream.rw->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(end.error_message(), "the master is shutting down");
  EXPECT_EQ(master_->process().wait_exit(10s), 0);
}

TEST_F(MasterProcess, ABusyPortIsAClearError) {
  start();
  Process second(master_bin(),
                 {"--db", dir_ / "other.db", "--grpc", "127.0.0.1:0", "--http",
                  "127.0.0.1:" + std::to_string(master_->http_port())},
                 dir_ / "second.log");
  EXPECT_EQ(second.wait_exit(10s), 1);
  EXPECT_NE(second.log().find("cannot listen for HTTP"), std::string::npos) << second.log();
}

}  // namespace
