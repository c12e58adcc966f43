// The relay's master reporter against an in-process RelayRegistry over real gRPC on 127.0.0.1.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "relay/reporter/reporter.hpp"

namespace v1 = kaillera::directory::v1;
namespace r = kaillera::relay;
using namespace std::chrono_literals;

namespace {

// Waits for `pred` up to `limit`, polling; no fixed sleeps.
template <class F>
bool eventually(F pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class FakeMaster final : public v1::RelayRegistry::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* req,
                        v1::RegisterResponse* resp) override {
    std::lock_guard lock(mu);
    registrations.push_back(*req);
    if (req->token() != "good-token") return {grpc::StatusCode::UNAUTHENTICATED, "unknown token"};
    resp->set_relay_id("relay-1");
    resp->set_session_key("key-1");
    resp->set_report_interval_ms(50);
    return grpc::Status::OK;
  }
  grpc::Status Report(grpc::ServerContext* ctx,
                      grpc::ServerReaderWriter<v1::MasterMessage, v1::RelayMessage>* stream) override {
    v1::RelayMessage m;
    bool probed = false;
    while (stream->Read(&m)) {
      std::lock_guard lock(mu);
      if (m.has_hello()) hellos.push_back(m.hello());
      if (m.has_report()) reports.push_back(m.report());
      if (send_probe && !probed) {
        v1::MasterMessage p;
        p.mutable_probe()->set_request_id("probe-7");
        p.mutable_probe()->add_addresses("203.0.113.7");
        p.mutable_probe()->set_deadline_ms(3000);
        stream->Write(p);
        probed = true;
      }
      if (ctx->IsCancelled()) break;
    }
    return grpc::Status::OK;
  }
  std::mutex mu;
  std::vector<v1::RegisterRequest> registrations;
  std::vector<v1::ReportHello> hellos;
  std::vector<v1::LoadReport> reports;
  bool send_probe = false;
};

struct Running {
  explicit Running(FakeMaster& svc, std::string address = "127.0.0.1:0",
                   std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder b;
    b.AddListeningPort(address, creds, &port);
    b.RegisterService(&svc);
    server = b.BuildAndStart();
  }
  ~Running() { server->Shutdown(std::chrono::system_clock::now() + 1s); }
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

r::ReporterOptions options(int port, std::string token) {
  r::ReporterOptions o;
  o.master = "127.0.0.1:" + std::to_string(port);
  o.token = std::move(token);
  return o;
}

r::RelayIdentity identity() {
  r::RelayIdentity id;
  id.name = "\x93\xfa\x96\x7b";  // 日本 in Shift_JIS
  id.charset = "shift_jis";
  id.location = "Tokyo";
  id.version = "0.1.0";
  id.max_users = 50;
  return id;
}

r::ReportData data() {
  r::ReportData d;
  d.snapshot.users = 3;
  d.snapshot.games = 1;
  d.snapshot.waiting.push_back({5, "Street Fighter II", "alice", "MAME32k", 1, 4});
  d.measurements.push_back({0xCB007107, 9, 42, r::Clock::now() - 2s, r::PeerMeasurement::Source::kLoginAck});
  return d;
}

}  // namespace

TEST(Reporter, RegistersAndStreamsReports) {
  FakeMaster svc;
  Running m(svc);
  r::MasterReporter rep(options(m.port, "good-token"), identity());
  rep.publish(data());
  rep.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(svc.mu);
    return svc.reports.size() >= 3;
  }));
  rep.stop();
  std::lock_guard lock(svc.mu);
  ASSERT_EQ(svc.registrations.size(), 1u);
  const auto& info = svc.registrations[0].info();
  EXPECT_EQ(info.name().raw(), "\x93\xfa\x96\x7b");  // bytes as the relay has them
  EXPECT_EQ(info.name().text(), "日本");             // and as UTF-8
  EXPECT_EQ(info.charset(), "shift_jis");
  EXPECT_EQ(info.max_users(), 50u);
  ASSERT_EQ(svc.hellos.size(), 1u);
  EXPECT_EQ(svc.hellos[0].session_key(), "key-1");
  const auto& rep0 = svc.reports[0];
  EXPECT_EQ(rep0.users(), 3u);
  ASSERT_EQ(rep0.waiting_size(), 1);
  EXPECT_EQ(rep0.waiting(0).rom().text(), "Street Fighter II");
  EXPECT_EQ(rep0.waiting(0).max_players(), 4u);
  ASSERT_EQ(rep0.measurements_size(), 1);
  EXPECT_EQ(rep0.measurements(0).address(), "203.0.113.7");
  EXPECT_EQ(rep0.measurements(0).rtt_ms(), 42u);
  // Measured about two seconds before the report was sent.
  const auto age = rep0.sent_unix_ms() - rep0.measurements(0).measured_unix_ms();
  EXPECT_GE(age, 1900);
  EXPECT_LE(age, 5000);
}

TEST(Reporter, WrongTokenIsRefusedAndRetriedWithBackoff) {
  FakeMaster svc;
  Running m(svc);
  r::ReporterOptions o = options(m.port, "bad-token");
  o.initial_backoff = 20ms;
  o.max_backoff = 40ms;
  r::MasterReporter rep(o, identity());
  rep.start();
  ASSERT_TRUE(eventually([&] { return rep.connect_failures() >= 3; }));
  EXPECT_EQ(rep.state(), r::MasterReporter::State::kRefused);
  rep.stop();
  std::lock_guard lock(svc.mu);
  EXPECT_TRUE(svc.reports.empty());
}

TEST(Reporter, ReconnectsWhenTheMasterComesBack) {
  FakeMaster svc;
  int port = 0;
  {
    Running probe(svc);
    port = probe.port;
  }  // a port that nothing listens on now
  r::ReporterOptions o = options(port, "good-token");
  o.initial_backoff = 50ms;
  o.max_backoff = 100ms;
  o.rpc_deadline = 300ms;
  r::MasterReporter rep(o, identity());
  rep.publish(data());
  rep.start();
  ASSERT_TRUE(eventually([&] { return rep.connect_failures() >= 1; }));
  EXPECT_NE(rep.state(), r::MasterReporter::State::kStreaming);
  {
    Running m(svc, "127.0.0.1:" + std::to_string(port));
    ASSERT_EQ(m.port, port);
    ASSERT_TRUE(eventually([&] { return rep.reports_sent() >= 2; }));
    EXPECT_EQ(rep.state(), r::MasterReporter::State::kStreaming);
  }
  // The master goes away again: the reporter notices and keeps retrying.
  const auto failures = rep.connect_failures();
  ASSERT_TRUE(eventually([&] { return rep.connect_failures() > failures; }));
  rep.stop();
}

TEST(Reporter, ProbeRequestsReachTheHandler) {
  FakeMaster svc;
  svc.send_probe = true;
  Running m(svc);
  r::MasterReporter rep(options(m.port, "good-token"), identity());
  std::mutex mu;
  std::vector<r::ProbeRequestData> got;
  rep.on_probe([&](r::ProbeRequestData p) {
    std::lock_guard lock(mu);
    got.push_back(std::move(p));
  });
  rep.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !got.empty();
  }));
  rep.stop();
  EXPECT_EQ(got[0].request_id, "probe-7");
  EXPECT_EQ(got[0].addresses, std::vector<std::string>{"203.0.113.7"});
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A self-signed certificate for 127.0.0.1, made with the openssl command in a fresh directory.
struct SelfSigned {
  explicit SelfSigned(const std::string& dir) : cert(dir + "/cert.pem"), key(dir + "/key.pem") {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    ok = std::system(cmd.c_str()) == 0;
  }
  std::string cert, key;
  bool ok = false;
};

std::string temp_dir() {
  char tmpl[] = "/tmp/kf-reporter-XXXXXX";
  return ::mkdtemp(tmpl);
}

}  // namespace

TEST(Reporter, ReportsOverTlsWhenGivenTheMastersCa) {
  const std::string dir = temp_dir(), other_dir = temp_dir();
  SelfSigned pair(dir), other(other_dir);
  ASSERT_TRUE(pair.ok && other.ok) << "openssl failed";
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({slurp(pair.key), slurp(pair.cert)});
  FakeMaster svc;
  Running m(svc, "127.0.0.1:0", grpc::SslServerCredentials(ssl));
  // Trusting another CA: the handshake fails, nothing is reported.
  r::ReporterOptions wrong = options(m.port, "good-token");
  wrong.tls_ca = other.cert;
  wrong.initial_backoff = 20ms;
  wrong.rpc_deadline = 500ms;
  {
    r::MasterReporter rep(wrong, identity());
    rep.start();
    ASSERT_TRUE(eventually([&] { return rep.connect_failures() >= 1; }));
    EXPECT_EQ(rep.reports_sent(), 0u);
  }
  // Trusting the master's own certificate: reports arrive.
  r::ReporterOptions right = options(m.port, "good-token");
  right.tls_ca = pair.cert;
  r::MasterReporter rep(right, identity());
  rep.publish(data());
  rep.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(svc.mu);
    return !svc.reports.empty();
  }));
  EXPECT_EQ(rep.state(), r::MasterReporter::State::kStreaming);
  rep.stop();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other_dir);
}
