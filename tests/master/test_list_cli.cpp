// `kaillera list` against the real kaillera-master on loopback: relays register and report over real gRPC,
// then the real `kaillera` binary runs as a subprocess and must print them (JSON and table), sorted by name,
// online only unless --all; a master that refuses or never answers gives exit code 1 and a message naming it,
// within a few seconds. Every process is stopped by its RAII guard and every wait is bounded.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/cli_harness.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

const std::string kCafe = std::string("Caf\xE9 Relay");  // windows-1252
const std::string kCafeUtf8 = "Caf\xC3\xA9 Relay";

v1::RegisterRequest register_request(const std::string& token, const std::string& name, std::uint32_t port,
                                     std::uint32_t max_users) {
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
  info->set_max_users(max_users);
  return req;
}

v1::RelayMessage hello(const v1::RegisterResponse& reg) {
  v1::RelayMessage m;
  m.mutable_hello()->set_relay_id(reg.relay_id());
  m.mutable_hello()->set_session_key(reg.session_key());
  return m;
}

v1::RelayMessage load(std::uint32_t users, std::uint32_t games) {
  v1::RelayMessage m;
  auto* r = m.mutable_report();
  r->set_users(users);
  r->set_games(games);
  r->set_playing_games(games > 0 ? 1 : 0);
  return m;
}

// A relay's Report stream; cancelled and finished when it goes out of scope.
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

class ListCli : public ::testing::Test {
 protected:
  void start() {
    master_ = std::make_unique<Master>(dir_, std::vector<std::string>{});
    channel_ = grpc::CreateChannel(master_->grpc_address(), grpc::InsecureChannelCredentials());
    registry_ = v1::RelayRegistry::NewStub(channel_);
    directory_ = v1::Directory::NewStub(channel_);
  }

  v1::RegisterResponse do_register(const v1::RegisterRequest& req) {
    v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    const auto status = registry_->Register(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }

  // Waits (bounded) until the master's own Directory shows `users` on relay `id`.
  bool wait_for_users(const std::string& id, std::uint32_t users) {
    return poll_until(
        [&] {
          v1::ListRelaysRequest req;
          v1::ListRelaysResponse resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          if (!directory_->ListRelays(&ctx, req, &resp).ok()) return false;
          for (const auto& r : resp.relays())
            if (r.relay_id() == id && r.online() && r.users() == users) return true;
          return false;
        },
        5s, 20ms);
  }

  void TearDown() override {
    streams_.clear();
    registry_.reset();
    directory_.reset();
    channel_.reset();
    if (master_) master_->stop();
  }

  TempDir dir_;
  std::unique_ptr<Master> master_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RelayRegistry::Stub> registry_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

TEST_F(ListCli, PrintsOnlineRelaysAsJsonAndTableSortedByName) {
  start();
  // Three relays: two report (one with a windows-1252 name), one registers and never reports (offline).
  const auto cafe = do_register(register_request(add_relay(dir_, "cafe"), kCafe, 27888, 16));
  const auto alpha = do_register(register_request(add_relay(dir_, "alpha"), "alpha", 27900, 0));
  do_register(register_request(add_relay(dir_, "zeta"), "Zeta offline", 27910, 8));
  for (const auto& [reg, report] : {std::pair{cafe, load(3, 2)}, std::pair{alpha, load(1, 0)}}) {
    streams_.push_back(std::make_unique<Stream>(*registry_));
    ASSERT_TRUE(streams_.back()->rw->Write(hello(reg)));
    ASSERT_TRUE(streams_.back()->rw->Write(report));
  }
  ASSERT_TRUE(wait_for_users(cafe.relay_id(), 3)) << master_->log();
  ASSERT_TRUE(wait_for_users(alpha.relay_id(), 1)) << master_->log();

  const std::string at = master_->grpc_address();
  {
    const auto r = run_cli(dir_, {"list", "--master", at, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto list = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(list.is_array()) << r.out;
    ASSERT_EQ(list.size(), 2u) << r.out;
    // Sorted by name, case folded: "alpha" before "Café Relay".
    EXPECT_EQ(list[0]["name"], "alpha");
    EXPECT_EQ(list[0]["users"], 1);
    EXPECT_EQ(list[0]["max_users"], 0);
    EXPECT_EQ(list[0]["address"], "127.0.0.1:27900");
    const auto& c = list[1];
    EXPECT_EQ(c["name"], kCafeUtf8);  // the raw windows-1252 name, as UTF-8
    EXPECT_EQ(c["users"], 3);
    EXPECT_EQ(c["max_users"], 16);
    EXPECT_EQ(c["games"], 2);
    EXPECT_EQ(c["address"], "127.0.0.1:27888");
    EXPECT_EQ(c["host"], "127.0.0.1");
    EXPECT_EQ(c["port"], 27888);
    EXPECT_EQ(c["location"], "Berlin");
    EXPECT_EQ(c["version"], "kf 0.1.0");
    EXPECT_EQ(c["online"], true);
    EXPECT_EQ(c["relay_id"], cafe.relay_id());
  }
  {
    const auto r = run_cli(dir_, {"list", "--master", at, "--json", "--all"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto list = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(list.is_array()) << r.out;
    ASSERT_EQ(list.size(), 3u) << r.out;
    EXPECT_EQ(list[2]["name"], "Zeta offline");
    EXPECT_EQ(list[2]["online"], false);
    EXPECT_EQ(list[2]["address"], "127.0.0.1:27910");
  }
  {
    const auto r = run_cli(dir_, {"list", "--master", at});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::vector<std::string> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    EXPECT_EQ(lines[0].rfind("NAME", 0), 0u) << r.out;
    for (const char* column : {"ADDRESS", "LOCATION", "USERS", "GAMES", "VERSION", "ONLINE"})
      EXPECT_NE(lines[0].find(column), std::string::npos) << r.out;
    EXPECT_EQ(lines[1].rfind("alpha ", 0), 0u) << r.out;
    EXPECT_NE(lines[1].find("1/-"), std::string::npos) << r.out;
    EXPECT_EQ(lines[2].rfind(kCafeUtf8 + " ", 0), 0u) << r.out;
    for (const char* cell : {"127.0.0.1:27888", "Berlin", "3/16", "kf 0.1.0", "yes"})
      EXPECT_NE(lines[2].find(cell), std::string::npos) << cell << "\n" << r.out;
    // Columns line up: the address starts at the same column on every line ("é" is one column, two bytes).
    EXPECT_EQ(lines[0].find("ADDRESS"), lines[1].find("127.0.0.1"));
    EXPECT_EQ(lines[0].find("ADDRESS") + 1, lines[2].find("127.0.0.1"));
  }
}

TEST_F(ListCli, RefusedMasterIsExitOneWithClearMessage) {
  const DeadPort closed(false);
  const auto r = run_cli(dir_, {"list", "--master", closed.address(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("kaillera list: cannot reach the master at " + closed.address()), std::string::npos)
      << r.err;
  EXPECT_LT(r.took, 5000ms);
}

TEST_F(ListCli, SilentMasterTimesOutWithinAFewSeconds) {
  const DeadPort silent(true);  // accepts TCP, never speaks HTTP/2
  const auto r = run_cli(dir_, {"list", "--master", silent.address(), "--timeout", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(silent.address()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kaillera list: "), std::string::npos) << r.err;
  EXPECT_GE(r.took, 1500ms);
  EXPECT_LT(r.took, 8000ms);
}

}  // namespace
