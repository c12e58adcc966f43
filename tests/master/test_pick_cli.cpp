// `kaillera probe` and `kaillera pick` against the real kaillera-master on loopback: relays register and
// report measurements over real gRPC, their handshake ports are UDP PONG responders (one stays silent), and
// the real `kaillera` binary runs as a subprocess. Expected rankings are worked out by hand from the reported
// hops and RTTs. Every process is stopped by its RAII guard and every wait is bounded.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/cli_harness.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

v1::RegisterRequest register_request(const std::string& token, const std::string& name, std::uint32_t port) {
  v1::RegisterRequest req;
  req.set_token(token);
  auto* info = req.mutable_info();
  info->mutable_name()->set_raw(name);
  info->mutable_name()->set_charset("windows-1252");
  info->set_charset("windows-1252");
  info->set_public_host("127.0.0.1");
  info->set_handshake_port(port);
  info->set_game_port_first(port);
  info->set_game_port_last(port);
  info->mutable_location()->set_raw("Loopback");
  info->set_version("kf test");
  return req;
}

struct Meas {
  std::string address;
  std::uint32_t hops;
  std::uint32_t rtt_ms;
};

// A relay's Report stream (hello sent); cancelled and finished when it goes out of scope. Probe requests the
// master pushes are never read: nobody answers them.
struct Stream {
  explicit Stream(v1::RelayRegistry::Stub& stub) {
    ctx.set_deadline(deadline(120s));
    rw = stub.Report(&ctx);
  }
  ~Stream() {
    ctx.TryCancel();
    rw->Finish();
  }
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RelayMessage, v1::MasterMessage>> rw;
};

const json* find_by_name(const json& list, const std::string& name, const char* key = nullptr) {
  for (const auto& e : list) {
    const json& n = key ? e[key]["name"] : e["name"];
    if (n == name) return &e;
  }
  return nullptr;
}

const json* player_at(const json& candidate, const std::string& address) {
  for (const auto& p : candidate["players"])
    if (p["address"] == address) return &p;
  return nullptr;
}

class PickCli : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = std::make_unique<Master>(dir_, std::vector<std::string>{});
    channel_ = grpc::CreateChannel(master_->grpc_address(), grpc::InsecureChannelCredentials());
    registry_ = v1::RelayRegistry::NewStub(channel_);
    directory_ = v1::Directory::NewStub(channel_);
    at_ = master_->grpc_address();
  }

  void TearDown() override {
    streams_.clear();
    registry_.reset();
    directory_.reset();
    channel_.reset();
    if (master_) master_->stop();
  }

  // Registers relay `name` with its handshake port at `port`, opens its stream and reports `users` users and
  // the measurements; returns once the master lists it online with those users (the report's measurements
  // are indexed under the same lock as its numbers, so they are in by then).
  std::string add_online_relay(const std::string& name, std::uint16_t port, std::uint32_t users,
                               const std::vector<Meas>& measurements = {}) {
    v1::RegisterResponse reg;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline());
      const auto status =
          registry_->Register(&ctx, register_request(add_relay(dir_, name), name, port), &reg);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    streams_.push_back(std::make_unique<Stream>(*registry_));
    auto& rw = *streams_.back()->rw;
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(reg.relay_id());
    hello.mutable_hello()->set_session_key(reg.session_key());
    EXPECT_TRUE(rw.Write(hello));
    v1::RelayMessage report;
    report.mutable_report()->set_users(users);
    for (const auto& m : measurements) {
      auto* o = report.mutable_report()->add_measurements();
      o->set_address(m.address);
      o->set_hops(m.hops);
      o->set_rtt_ms(m.rtt_ms);
      o->set_source(v1::Measurement::SOURCE_LOGIN_ACK);
    }
    EXPECT_TRUE(rw.Write(report));
    const bool online = poll_until(
        [&] {
          v1::ListRelaysRequest req;
          v1::ListRelaysResponse resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          if (!directory_->ListRelays(&ctx, req, &resp).ok()) return false;
          for (const auto& r : resp.relays())
            if (r.relay_id() == reg.relay_id() && r.online() && r.users() == users) return true;
          return false;
        },
        5s, 20ms);
    EXPECT_TRUE(online) << name << "\n" << master_->log();
    return reg.relay_id();
  }

  TempDir dir_;
  std::unique_ptr<Master> master_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RelayRegistry::Stub> registry_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::string at_;
};

TEST_F(PickCli, ProbePingsEveryListedRelayAndShowsTheSilentOne) {
  PongResponder alpha, bravo;
  PongResponder silent(false);
  add_online_relay("Alpha", alpha.port(), 1);
  add_online_relay("Bravo", bravo.port(), 2);
  add_online_relay("Silent", silent.port(), 3);

  const auto r = run_cli(dir_, {"probe", "--master", at_, "--json", "--count", "3", "--timeout-ms", "300"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto list = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << r.out;
  ASSERT_EQ(list.size(), 3u) << r.out;
  for (const auto& [name, port] : {std::pair{"Alpha", alpha.port()}, std::pair{"Bravo", bravo.port()}}) {
    const json* e = find_by_name(list, name);
    ASSERT_NE(e, nullptr) << name << "\n" << r.out;
    EXPECT_EQ((*e)["host"], "127.0.0.1");
    EXPECT_EQ((*e)["port"], port);
    EXPECT_EQ((*e)["hops"], 0) << "loopback: the PONG arrives with its initial TTL\n" << r.out;
    ASSERT_TRUE((*e)["rtt_ms"].is_number()) << r.out;
    EXPECT_GE((*e)["rtt_ms"].get<double>(), 0.0);
    EXPECT_LT((*e)["rtt_ms"].get<double>(), 300.0);
    EXPECT_EQ((*e)["sent"], 3);
    EXPECT_EQ((*e)["answered"], 3);
  }
  // Unanswered servers sort after every answered one.
  EXPECT_EQ(list[2]["name"], "Silent") << r.out;
  EXPECT_EQ(list[2]["port"], silent.port());
  EXPECT_TRUE(list[2]["hops"].is_null()) << r.out;
  EXPECT_TRUE(list[2]["rtt_ms"].is_null()) << r.out;
  EXPECT_EQ(list[2]["sent"], 3);
  EXPECT_EQ(list[2]["answered"], 0);
  // Each responder saw exactly --count PINGs (the silent one too: no answer is no reason to stop early).
  EXPECT_TRUE(poll_until([&] { return alpha.pings() == 3 && bravo.pings() == 3 && silent.pings() == 3; }, 2s))
      << alpha.pings() << " " << bravo.pings() << " " << silent.pings();

  const auto t = run_cli(dir_, {"probe", "--master", at_, "--count", "2", "--timeout-ms", "300"});
  ASSERT_EQ(t.exit_code, 0) << t.out << t.err;
  const auto lines = lines_of(t.out);
  ASSERT_EQ(lines.size(), 4u) << t.out;
  EXPECT_EQ(lines[0].rfind("NAME", 0), 0u) << t.out;
  for (const char* column : {"ADDRESS", "HOPS", "RTT", "ANSWERED"})
    EXPECT_NE(lines[0].find(column), std::string::npos) << t.out;
  for (std::size_t i = 1; i <= 2; ++i) {
    EXPECT_TRUE(lines[i].rfind("Alpha ", 0) == 0 || lines[i].rfind("Bravo ", 0) == 0) << t.out;
    EXPECT_NE(lines[i].find(" ms"), std::string::npos) << t.out;
    EXPECT_NE(lines[i].find("2/2"), std::string::npos) << t.out;
  }
  EXPECT_EQ(lines[3].rfind("Silent ", 0), 0u) << t.out;
  EXPECT_NE(lines[3].find("127.0.0.1:" + std::to_string(silent.port())), std::string::npos) << t.out;
  EXPECT_NE(lines[3].find("0/2 (no answer)"), std::string::npos) << t.out;
  EXPECT_EQ(lines[0].find("ADDRESS"), lines[3].find("127.0.0.1")) << t.out;
}

TEST_F(PickCli, ProbeWithoutMasterIsExitOneNamingIt) {
  const DeadPort closed(/*listen=*/false);  // connections are refused
  const auto r = run_cli(dir_, {"probe", "--master", closed.address(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("kaillera probe: cannot reach the master at " + closed.address()), std::string::npos)
      << r.err;
}

// Relay A: 10.0.0.1 at 2 hops / 10 ms, 10.0.0.2 at 9 hops / 20 ms -> max 9, spread 7, worst RTT 20.
// Relay B: 10.0.0.1 at 5 hops / 30 ms, 10.0.0.2 at 5 hops / 25 ms -> max 5, spread 0, worst RTT 30.
// hops: B (5 < 9). latency: A (20 < 30). balanced (slack 1): only B is within 1 hop of 5 -> B.
// Frame delay at B's 30 ms: floor(60 * 30 / (1000 * ct)) + 1 = 2 for LAN, 1 for the rest; input lag
// (delay + 1) * ct - 1 = 2 for LAN (ct 1) and 11 for Bad (ct 6).
TEST_F(PickCli, PickRanksByTheReportedMeasurements) {
  PongResponder a, b;
  const std::string id_a =
      add_online_relay("Relay A", a.port(), 1, {{"10.0.0.1", 2, 10}, {"10.0.0.2", 9, 20}});
  const std::string id_b =
      add_online_relay("Relay B", b.port(), 2, {{"10.0.0.1", 5, 30}, {"10.0.0.2", 5, 25}});

  const auto r = run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--player", "10.0.0.2",
                                "--objective", "hops", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["objective"], "hops");
  EXPECT_EQ(j["players"], json::array({"10.0.0.1", "10.0.0.2"}));
  ASSERT_TRUE(j["best"].is_object()) << r.out;
  EXPECT_EQ(j["best"]["relay"]["name"], "Relay B");
  EXPECT_EQ(j["best"]["relay"]["id"], id_b);
  ASSERT_EQ(j["ranking"].size(), 2u) << r.out;
  const auto& rb = j["ranking"][0];
  const auto& ra = j["ranking"][1];
  EXPECT_EQ(rb["relay"]["name"], "Relay B");
  EXPECT_EQ(rb["relay"]["host"], "127.0.0.1");
  EXPECT_EQ(rb["relay"]["port"], b.port());
  EXPECT_EQ(rb["max_hops"], 5);
  EXPECT_EQ(rb["spread"], 0);
  EXPECT_EQ(rb["max_rtt_ms"], 30);
  EXPECT_EQ(rb["missing"], 0);
  EXPECT_EQ(ra["relay"]["name"], "Relay A");
  EXPECT_EQ(ra["relay"]["id"], id_a);
  EXPECT_EQ(ra["max_hops"], 9);
  EXPECT_EQ(ra["spread"], 7);
  EXPECT_EQ(ra["max_rtt_ms"], 20);
  const json* p2 = player_at(rb, "10.0.0.2");
  ASSERT_NE(p2, nullptr) << r.out;
  EXPECT_EQ((*p2)["hops"], 5);
  EXPECT_EQ((*p2)["rtt_ms"], 25);
  EXPECT_EQ((*p2)["source"], "measured");
  const json* a1 = player_at(ra, "10.0.0.1");
  ASSERT_NE(a1, nullptr) << r.out;
  EXPECT_EQ((*a1)["hops"], 2);
  EXPECT_EQ((*a1)["rtt_ms"], 10);
  // The other objectives' picks.
  ASSERT_TRUE(j["alternatives"]["latency"].is_object()) << r.out;
  EXPECT_EQ(j["alternatives"]["latency"]["relay"]["name"], "Relay A");
  EXPECT_EQ(j["alternatives"]["balanced"]["relay"]["name"], "Relay B");
  EXPECT_FALSE(j["alternatives"].contains("hops")) << r.out;
  // Every pair was fresh: nothing to probe.
  EXPECT_EQ(j["probes"]["requested"], 0);
  EXPECT_EQ(j["excluded"].size(), 0u);
  const auto& fd = j["best"]["frame_delay"];
  ASSERT_EQ(fd.size(), 6u) << r.out;
  EXPECT_EQ(fd[0]["connection_type"], 1);
  EXPECT_EQ(fd[0]["name"], "LAN");
  EXPECT_EQ(fd[0]["frame_delay"], 2);
  EXPECT_EQ(fd[0]["input_lag_frames"], 2);
  EXPECT_EQ(fd[5]["connection_type"], 6);
  EXPECT_EQ(fd[5]["name"], "Bad");
  EXPECT_EQ(fd[5]["frame_delay"], 1);
  EXPECT_EQ(fd[5]["input_lag_frames"], 11);

  // The table names B first, then A, each with its players' values; then the alternatives.
  const auto t = run_cli(
      dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--player", "10.0.0.2", "--objective", "hops"});
  ASSERT_EQ(t.exit_code, 0) << t.out << t.err;
  const auto lines = lines_of(t.out);
  ASSERT_GE(lines.size(), 10u) << t.out;
  EXPECT_EQ(lines[0], "Best relay (objective hops): Relay B (127.0.0.1:" + std::to_string(b.port()) +
                          "): 5 hops max, spread 0, worst RTT 30 ms")
      << t.out;
  const auto header =
      std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.rfind("RANK", 0) == 0; });
  ASSERT_NE(header, lines.end()) << t.out;
  ASSERT_GE(lines.end() - header, 7) << t.out;
  EXPECT_EQ(header[1].rfind("1 ", 0), 0u) << t.out;
  EXPECT_NE(header[1].find("Relay B"), std::string::npos) << t.out;
  EXPECT_NE(header[2].find("10.0.0.1  5 hops / 30 ms (measured)"), std::string::npos) << t.out;
  EXPECT_NE(header[3].find("10.0.0.2  5 hops / 25 ms (measured)"), std::string::npos) << t.out;
  EXPECT_EQ(header[4].rfind("2 ", 0), 0u) << t.out;
  EXPECT_NE(header[4].find("Relay A"), std::string::npos) << t.out;
  EXPECT_NE(header[5].find("10.0.0.1  2 hops / 10 ms (measured)"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("  latency: Relay A (127.0.0.1:" + std::to_string(a.port()) +
                       "): 9 hops max, spread 7, "
                       "worst RTT 20 ms"),
            std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("Probes: 0 requested, 0 answered"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("Frame delay at Relay B (worst RTT 30 ms):"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("  1 LAN        delay 2, input lag 2 frames"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("  6 Bad        delay 1, input lag 11 frames"), std::string::npos) << t.out;

  // latency puts A first.
  const auto l = run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--player", "10.0.0.2",
                                "--objective", "latency", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.out << l.err;
  const auto lj = json::parse(l.out, nullptr, false);
  ASSERT_TRUE(lj.is_object()) << l.out;
  EXPECT_EQ(lj["objective"], "latency");
  EXPECT_EQ(lj["best"]["relay"]["name"], "Relay A") << l.out;
  EXPECT_EQ(lj["alternatives"]["hops"]["relay"]["name"], "Relay B") << l.out;
}

// The master knows 10.0.0.1 at A (3 hops / 12 ms) and nothing at B, and nothing about 127.0.0.1. With
// --self 127.0.0.1 the CLI pings A and B (both answer over loopback: 0 hops) and sends that as 127.0.0.1's
// own measurements: 127.0.0.1 is "reported" at both; at B 10.0.0.1 stays missing, so A (complete: max 3,
// spread 3) ranks before B. The master asks the relays to probe the 3 pairs it lacks (A: 127.0.0.1;
// B: both); nobody answers within the 300 ms deadline.
TEST_F(PickCli, SelfSendsOwnMeasurements) {
  PongResponder a, b;
  add_online_relay("Relay A", a.port(), 1, {{"10.0.0.1", 3, 12}});
  add_online_relay("Relay B", b.port(), 2);

  const auto r = run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--self", "127.0.0.1",
                                "--deadline-ms", "300", "--timeout-ms", "300", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["players"], json::array({"10.0.0.1", "127.0.0.1"}));
  ASSERT_EQ(j["ranking"].size(), 2u) << r.out;
  const auto& first = j["ranking"][0];
  const auto& second = j["ranking"][1];
  EXPECT_EQ(first["relay"]["name"], "Relay A");
  EXPECT_EQ(first["max_hops"], 3);
  EXPECT_EQ(first["spread"], 3);
  EXPECT_EQ(first["missing"], 0);
  EXPECT_EQ(second["relay"]["name"], "Relay B");
  EXPECT_EQ(second["missing"], 1);
  for (const auto* c : {&first, &second}) {
    const json* self = player_at(*c, "127.0.0.1");
    ASSERT_NE(self, nullptr) << r.out;
    EXPECT_EQ((*self)["source"], "reported") << r.out;
    EXPECT_EQ((*self)["hops"], 0) << r.out;
    ASSERT_TRUE((*self)["rtt_ms"].is_number()) << r.out;
    EXPECT_GE((*self)["rtt_ms"].get<int>(), 1) << "0 would mean unknown: a loopback RTT rounds up to 1 ms";
    EXPECT_LT((*self)["rtt_ms"].get<int>(), 300);
  }
  const json* b10 = player_at(second, "10.0.0.1");
  ASSERT_NE(b10, nullptr) << r.out;
  EXPECT_EQ((*b10)["source"], "missing");
  EXPECT_TRUE((*b10)["hops"].is_null());
  const json* a10 = player_at(first, "10.0.0.1");
  ASSERT_NE(a10, nullptr) << r.out;
  EXPECT_EQ((*a10)["source"], "measured");
  EXPECT_EQ((*a10)["hops"], 3);
  EXPECT_EQ(j["probes"]["requested"], 3) << r.out;
  EXPECT_EQ(j["probes"]["answered"], 0) << r.out;
  EXPECT_TRUE(poll_until([&] { return a.pings() == 3 && b.pings() == 3; }, 2s))
      << a.pings() << " " << b.pings();
}

TEST_F(PickCli, GroupCodeNamesThePlayers) {
  PongResponder a;
  add_online_relay("Relay A", a.port(), 1, {{"127.0.0.1", 4, 8}});
  // POST /api/v1/groups makes a group with the caller (127.0.0.1) in it.
  const auto made = http_exchange(master_->http_port(),
                                  "POST /api/v1/groups HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n");
  ASSERT_EQ(made.status, 201) << made.head << made.body;
  const auto group = json::parse(made.body, nullptr, false);
  ASSERT_TRUE(group.is_object() && group["code"].is_string()) << made.body;

  const auto r =
      run_cli(dir_, {"pick", "--master", at_, "--group", group["code"].get<std::string>(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["players"], json::array({"127.0.0.1"}));
  EXPECT_EQ(j["best"]["relay"]["name"], "Relay A");
  EXPECT_EQ(j["best"]["max_hops"], 4);

  const auto missing = run_cli(dir_, {"pick", "--master", at_, "--group", "nosuchgroup"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_TRUE(missing.out.empty()) << missing.out;
  EXPECT_NE(missing.err.find("NOT_FOUND: group: no group nosuchgroup"), std::string::npos) << missing.err;
}

TEST_F(PickCli, BadInputIsRefusedWithTheMastersMessage) {
  const auto r = run_cli(dir_, {"pick", "--master", at_, "--player", "nonsense", "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("kaillera pick: the master refused the request: players[0]: not an IPv4 address "
                       "(\"nonsense\")"),
            std::string::npos)
      << r.err;

  const auto twice =
      run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--player", "10.0.0.1", "--json"});
  EXPECT_EQ(twice.exit_code, 2) << twice.out << twice.err;
  EXPECT_NE(twice.err.find("players[1]: 10.0.0.1 is listed twice"), std::string::npos) << twice.err;

  const auto none = run_cli(dir_, {"pick", "--master", at_, "--json"});
  EXPECT_EQ(none.exit_code, 64) << none.out << none.err;
  EXPECT_TRUE(none.out.empty()) << none.out;
  EXPECT_NE(none.err.find("--player ADDR"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("--group CODE"), std::string::npos) << none.err;

  const auto objective =
      run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--objective", "fast"});
  EXPECT_EQ(objective.exit_code, 64) << objective.out << objective.err;
  EXPECT_NE(objective.err.find("--objective hops, latency or balanced"), std::string::npos) << objective.err;

  const auto self = run_cli(dir_, {"pick", "--master", at_, "--player", "10.0.0.1", "--self", "me"});
  EXPECT_EQ(self.exit_code, 64) << self.out << self.err;
  EXPECT_NE(self.err.find("--self"), std::string::npos) << self.err;
}

}  // namespace
