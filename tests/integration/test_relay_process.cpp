// The real kaillera-relay binary on loopback: handshake replies, a login on the game port, the metrics
// endpoint, config errors and signals. The relay is started with ephemeral ports (--listen 127.0.0.1:0
// --game-ports 0
// --metrics 127.0.0.1:0) and tells the test its ports through --ready-file (JSON written once it serves).
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "common/kaillera/bundle.hpp"
#include "common/kaillera/messages.hpp"
#include "tests/integration/relay_process.hpp"

namespace {

using namespace kf_test;
using namespace std::chrono_literals;
namespace proto = kaillera::proto;

constexpr auto kStartTimeout = 10s;
constexpr auto kReplyTimeout = 3s;
constexpr auto kExitTimeout = 5s;

struct Relay {
  std::unique_ptr<Process> process;
  std::uint16_t handshake_port = 0;
  std::uint16_t game_port = 0;
  std::uint16_t metrics_port = 0;
};

class RelayProcessTest : public ::testing::Test {
 protected:
  // Starts the relay and waits for its ready file; fails the test (with the relay's log) otherwise.
  Relay start(std::vector<std::string> extra = {}, bool metrics = true) {
    Relay r;
    const auto ready = dir_ / ("ready-" + std::to_string(++started_) + ".json");
    std::vector<std::string> args = {"--listen",     "127.0.0.1:0",  "--game-ports", "0",
                                     "--ready-file", ready.string(), "--log-level",  "debug"};
    if (metrics) {
      args.push_back("--metrics");
      args.push_back("127.0.0.1:0");
    }
    args.insert(args.end(), extra.begin(), extra.end());
    r.process =
        std::make_unique<Process>(KF_RELAY_BIN, args, dir_ / ("relay-" + std::to_string(started_) + ".log"));
    const bool ok = poll_until(
        [&] { return std::filesystem::exists(ready) || r.process->poll_exit().has_value(); }, kStartTimeout);
    if (!ok || !std::filesystem::exists(ready)) {
      ADD_FAILURE() << "the relay did not become ready; log:\n" << r.process->log();
      return r;
    }
    const auto j = nlohmann::json::parse(read_file(ready));
    r.handshake_port = j.at("handshake_port").get<std::uint16_t>();
    r.game_port = j.at("game_port_first").get<std::uint16_t>();
    r.metrics_port = j.at("metrics_port").get<std::uint16_t>();
    EXPECT_EQ(j.at("pid").get<int>(), r.process->pid());
    return r;
  }

  // Runs the relay to completion (config errors, --version) and returns its exit code.
  std::optional<int> run_to_exit(const std::vector<std::string>& args, std::string* log) {
    Process p(KF_RELAY_BIN, args, dir_ / ("run-" + std::to_string(++started_) + ".log"));
    auto code = p.wait_exit(kExitTimeout);
    *log = p.log();
    return code;
  }

  static std::string raw(std::string_view text) { return std::string(text) + '\0'; }

  TempDir dir_;
  int started_ = 0;
};

TEST_F(RelayProcessTest, PingGetsPong) {
  Relay r = start();
  ASSERT_NE(r.handshake_port, 0);
  UdpClient c;
  c.send(r.handshake_port, raw("PING"));
  auto reply = c.receive(kReplyTimeout);
  ASSERT_TRUE(reply) << r.process->log();
  EXPECT_EQ(reply->bytes, raw("PONG"));
  EXPECT_EQ(reply->from_port, r.handshake_port);
}

TEST_F(RelayProcessTest, Hello083GetsTheGamePort) {
  Relay r = start();
  ASSERT_NE(r.handshake_port, 0);
  ASSERT_NE(r.game_port, 0);
  EXPECT_NE(r.game_port, r.handshake_port);
  UdpClient c;
  c.send(r.handshake_port, raw("HELLO0.83"));
  auto reply = c.receive(kReplyTimeout);
  ASSERT_TRUE(reply) << r.process->log();
  EXPECT_EQ(reply->bytes, raw("HELLOD00D" + std::to_string(r.game_port)));
  EXPECT_EQ(reply->from_port, r.handshake_port);
}

TEST_F(RelayProcessTest, Hello082GetsVer) {
  Relay r = start();
  ASSERT_NE(r.handshake_port, 0);
  UdpClient c;
  c.send(r.handshake_port, raw("HELLO0.82"));
  auto reply = c.receive(kReplyTimeout);
  ASSERT_TRUE(reply) << r.process->log();
  EXPECT_EQ(reply->bytes, raw("VER"));
}

// The start-up line names the bound ports, once.
TEST_F(RelayProcessTest, LogsOneStartupLine) {
  Relay r = start();
  ASSERT_NE(r.handshake_port, 0);
  const std::string log = r.process->log();
  std::size_t lines = 0;
  std::string line;
  for (std::istringstream in(log); std::getline(in, line);) {
    if (line.find("listening:") == std::string::npos) continue;
    ++lines;
    EXPECT_NE(line.find("kaillera-relay " KF_VERSION), std::string::npos) << line;
    EXPECT_NE(line.find("handshake udp 127.0.0.1:" + std::to_string(r.handshake_port)), std::string::npos)
        << line;
    EXPECT_NE(line.find("game udp " + std::to_string(r.game_port) + " (shared)"), std::string::npos) << line;
    EXPECT_NE(line.find("metrics http://127.0.0.1:" + std::to_string(r.metrics_port) + "/metrics"),
              std::string::npos)
        << line;
  }
  EXPECT_EQ(lines, 1u) << log;
}

TEST_F(RelayProcessTest, MetricsCountWhatTheTestDid) {
  Relay r = start();
  ASSERT_NE(r.metrics_port, 0);
  UdpClient c;
  c.send(r.handshake_port, raw("PING"));
  ASSERT_TRUE(c.receive(kReplyTimeout));
  c.send(r.handshake_port, raw("HELLO0.82"));
  ASSERT_TRUE(c.receive(kReplyTimeout));

  const HttpResponse res = http_get(r.metrics_port, "/metrics");
  ASSERT_EQ(res.status, 200) << res.head;
  EXPECT_NE(res.head.find("text/plain; version=0.0.4"), std::string::npos) << res.head;
  EXPECT_NE(res.body.find("\nkaillera_relay_pings_total 1\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_version_mismatch_total 1\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_hellos_total 0\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_datagrams_in_total 2\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_dropped_datagrams_total{reason=\"malformed\"} 0\n"),
            std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_users 0\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("\nkaillera_relay_games 0\n"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("# TYPE kaillera_relay_pings_total counter\n"), std::string::npos) << res.body;
}

TEST_F(RelayProcessTest, MetricsRejectsOtherPathsAndBadRequests) {
  Relay r = start();
  ASSERT_NE(r.metrics_port, 0);
  EXPECT_EQ(http_get(r.metrics_port, "/").status, 404);
  EXPECT_EQ(http_get(r.metrics_port, "/metricsx").status, 404);
  EXPECT_EQ(http_get(r.metrics_port, "/metrics?format=text").status, 200);
  EXPECT_EQ(http_exchange(r.metrics_port,
                          "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n")
                .status,
            405);
  EXPECT_EQ(http_exchange(r.metrics_port, "NOT HTTP AT ALL\r\n\r\n").status, 400);
  // A header far beyond the limit: refused, and the server lives on.
  const std::string huge =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  const HttpResponse big = http_exchange(r.metrics_port, huge);
  EXPECT_TRUE(big.status == 400 || big.status == 0) << big.head;
  // A body beyond the limit.
  const HttpResponse body =
      http_exchange(r.metrics_port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                                        std::string(8192, 'b'));
  EXPECT_TRUE(body.status == 400 || body.status == 0) << body.head;
  // Keep-alive: two requests on one connection.
  const HttpResponse two = http_exchange(r.metrics_port,
                                         "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.status, 200);
  EXPECT_NE(two.body.find("HTTP/1.1 404"), std::string::npos);

  EXPECT_FALSE(r.process->poll_exit()) << r.process->log();
  EXPECT_EQ(http_get(r.metrics_port, "/metrics").status, 200);
  UdpClient c;
  c.send(r.handshake_port, raw("PING"));
  EXPECT_TRUE(c.receive(kReplyTimeout));
}

// A login on the game port (KAILLERA.md §4.1): the game socket is read and answered from the game port, and a
// SIGTERM says goodbye to the logged-in user before the process exits 0.
TEST_F(RelayProcessTest, LoginOnTheGamePortThenGoodbyeOnSigterm) {
  Relay r = start();
  ASSERT_NE(r.game_port, 0);
  UdpClient c;
  c.send(r.handshake_port, raw("HELLO0.83"));
  ASSERT_TRUE(c.receive(kReplyTimeout));

  // The client's outgoing messages, newest first when framed.
  std::vector<proto::Message> sent;
  auto send_all = [&] {
    std::vector<proto::Framed> framed;
    for (std::size_t i = sent.size(); i-- > 0 && framed.size() < 3;) {
      framed.push_back({static_cast<std::uint16_t>(i), sent[i]});
    }
    std::uint8_t buf[1500];
    auto n = proto::write_bundle(buf, framed);
    ASSERT_TRUE(n.ok());
    c.send(r.game_port, buf, *n);
  };
  sent.push_back(proto::UserInformation{"tester", "integration", 1});
  send_all();

  int acks_seen = 0;
  bool status_seen = false;
  int last_server_seq = -1;
  const auto deadline = Clock::now() + 5s;
  while (!status_seen && Clock::now() < deadline) {
    auto d = c.receive(500ms);
    if (!d) {
      send_all();  // resend, as clients do while logging in
      continue;
    }
    EXPECT_EQ(d->from_port, r.game_port);
    auto b = proto::parse_bundle(
        proto::Bytes(reinterpret_cast<const std::uint8_t*>(d->bytes.data()), d->bytes.size()));
    ASSERT_TRUE(b.ok()) << "undecodable datagram from the relay";
    // Messages are newest first: walk them oldest first and handle those not seen yet.
    for (std::size_t i = b->count; i-- > 0;) {
      const auto& m = b->messages[i];
      if (static_cast<int>(m.seq) <= last_server_seq) continue;
      last_server_seq = m.seq;
      if (m.type == static_cast<std::uint8_t>(proto::MessageType::kServerAck)) {
        ++acks_seen;
        sent.push_back(proto::ClientAck{});
        send_all();
      } else if (m.type == static_cast<std::uint8_t>(proto::MessageType::kServerStatus)) {
        status_seen = true;
      }
    }
  }
  ASSERT_TRUE(status_seen) << "acks seen: " << acks_seen << "\n" << r.process->log();
  EXPECT_GE(acks_seen, 4);

  ASSERT_TRUE(poll_until(
      [&] {
        return http_get(r.metrics_port, "/metrics").body.find("\nkaillera_relay_users 1\n") !=
               std::string::npos;
      },
      kReplyTimeout));
  EXPECT_NE(http_get(r.metrics_port, "/metrics").body.find("\nkaillera_relay_logins_total 1\n"),
            std::string::npos);

  r.process->signal(SIGTERM);
  bool goodbye = false;
  const auto bye_deadline = Clock::now() + kReplyTimeout;
  while (!goodbye && Clock::now() < bye_deadline) {
    auto d = c.receive(200ms);
    if (!d) continue;
    auto b = proto::parse_bundle(
        proto::Bytes(reinterpret_cast<const std::uint8_t*>(d->bytes.data()), d->bytes.size()));
    if (!b.ok()) continue;
    for (const auto& m : b->view()) {
      if (m.type == static_cast<std::uint8_t>(proto::MessageType::kUserQuit)) goodbye = true;
    }
  }
  EXPECT_TRUE(goodbye) << "no 0x01 goodbye after SIGTERM";
  EXPECT_EQ(r.process->wait_exit(kExitTimeout), std::optional<int>(0)) << r.process->log();
}

TEST_F(RelayProcessTest, SigtermExitsZero) {
  Relay r = start();
  ASSERT_NE(r.handshake_port, 0);
  r.process->signal(SIGTERM);
  const auto code = r.process->wait_exit(kExitTimeout);
  ASSERT_TRUE(code) << "still running " << kExitTimeout.count() << " s after SIGTERM";
  EXPECT_EQ(*code, 0) << r.process->log();
  EXPECT_NE(r.process->log().find("stopped"), std::string::npos);
}

TEST_F(RelayProcessTest, SigintExitsZero) {
  Relay r = start({}, /*metrics=*/false);
  ASSERT_NE(r.handshake_port, 0);
  EXPECT_EQ(r.metrics_port, 0);
  r.process->signal(SIGINT);
  EXPECT_EQ(r.process->wait_exit(kExitTimeout), std::optional<int>(0)) << r.process->log();
}

TEST_F(RelayProcessTest, UnknownConfigKeyExitsTwoNamingTheKey) {
  const auto toml = dir_ / "relay.toml";
  std::ofstream(toml) << "name = \"ok\"\nmax_userz = 5\n";
  std::string log;
  const auto code =
      run_to_exit({"--config", toml.string(), "--listen", "127.0.0.1:0", "--game-ports", "0"}, &log);
  ASSERT_TRUE(code) << "did not exit";
  EXPECT_EQ(*code, 2) << log;
  EXPECT_NE(log.find("unknown key 'max_userz'"), std::string::npos) << log;
  EXPECT_NE(log.find(toml.string()), std::string::npos) << log;
}

TEST_F(RelayProcessTest, BadValueAndBadFlagExitTwo) {
  const auto toml = dir_ / "relay.toml";
  std::ofstream(toml) << "max_users = \"many\"\n";
  std::string log;
  EXPECT_EQ(run_to_exit({"--config", toml.string()}, &log), std::optional<int>(2)) << log;
  EXPECT_NE(log.find("'max_users'"), std::string::npos) << log;

  EXPECT_EQ(run_to_exit({"--game-ports", "30000-20000"}, &log), std::optional<int>(2)) << log;
  EXPECT_NE(log.find("--game-ports"), std::string::npos) << log;

  EXPECT_EQ(run_to_exit({"--no-such-flag"}, &log), std::optional<int>(2)) << log;
  EXPECT_EQ(run_to_exit({"--config", (dir_ / "missing.toml").string()}, &log), std::optional<int>(2)) << log;
}

TEST_F(RelayProcessTest, VersionFlag) {
  std::string log;
  EXPECT_EQ(run_to_exit({"--version"}, &log), std::optional<int>(0));
  EXPECT_TRUE(log.starts_with("kaillera-relay " KF_VERSION " (git ")) << log;
  EXPECT_TRUE(log.ends_with(")\n")) << log;
}

// A port that is taken: the relay says which and exits 1 instead of serving half its ports.
TEST_F(RelayProcessTest, PortInUseExitsOne) {
  Relay first = start({}, /*metrics=*/false);
  ASSERT_NE(first.handshake_port, 0);
  std::string log;
  const auto code = run_to_exit(
      {"--listen", "127.0.0.1:" + std::to_string(first.handshake_port), "--game-ports", "0"}, &log);
  EXPECT_EQ(code, std::optional<int>(1)) << log;
  EXPECT_NE(log.find(std::to_string(first.handshake_port)), std::string::npos) << log;
}

}  // namespace
