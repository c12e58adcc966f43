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
#include "relay/probe/prober.hpp"
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
      if (m.has_probe_result()) probe_results.push_back(m.probe_result());
      if (send_probe && !probed) {
        v1::MasterMessage p;
        p.mutable_probe()->set_request_id(probe_id);
        p.mutable_probe()->add_addresses(probe_address);
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
  std::vector<v1::ProbeResult> probe_results;
  bool send_probe = false;
  std::string probe_id = "probe-7";
  std::string probe_address = "203.0.113.7";
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
  // The reporter marks itself streaming once its first Write has returned, which may be after the master
  // already holds the report.
  EXPECT_TRUE(eventually([&] { return rep.state() == r::MasterReporter::State::kStreaming; }));
  rep.stop();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other_dir);
}

namespace {

namespace probe = kaillera::relay::probe;

// What the relay's shell does with a probe request: hand it to the prober, send what was reached back.
void answer_probes(r::MasterReporter& rep, probe::Prober& prober) {
  rep.on_probe([&rep, &prober](r::ProbeRequestData req) {
    const std::string id = req.request_id;
    prober.submit(
        std::move(req.addresses), std::chrono::milliseconds(req.deadline_ms),
        [&rep, id](std::vector<probe::Result> results) {
          std::vector<r::ProbeMeasurement> out;
          for (const auto& x : results) {
            if (x.outcome != probe::Outcome::kReached) continue;
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(x.rtt).count();
            out.push_back(
                {x.address, x.hops, static_cast<std::uint32_t>(std::max<long long>(ms, 1)),
                 std::chrono::duration_cast<std::chrono::milliseconds>(x.measured.time_since_epoch())
                     .count()});
          }
          rep.send_probe_result(id, std::move(out));
        });
  });
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST(Reporter, AProbeRequestGetsAProbeResultBackOnTheStream) {
  FakeMaster svc;
  svc.send_probe = true;
  svc.probe_address = "127.0.0.1";
  Running m(svc);
  probe::Prober prober;  // ICMP echo when this process may, else UDP: either answers for loopback
  r::MasterReporter rep(options(m.port, "good-token"), identity());
  struct StopBoth {  // the reporter first (no more requests), then the prober (no more answers)
    r::MasterReporter& rep;
    probe::Prober& prober;
    ~StopBoth() {
      rep.stop();
      prober.stop();
    }
  } stop_both{rep, prober};
  answer_probes(rep, prober);
  const auto asked = now_unix_ms();
  rep.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(svc.mu);
    return !svc.probe_results.empty();
  }));
  std::lock_guard lock(svc.mu);
  ASSERT_EQ(svc.probe_results.size(), 1u);
  const auto& pr = svc.probe_results[0];
  EXPECT_EQ(pr.request_id(), "probe-7");
  ASSERT_EQ(pr.measurements_size(), 1);
  const auto& meas = pr.measurements(0);
  EXPECT_EQ(meas.address(), "127.0.0.1");
  EXPECT_EQ(meas.source(), v1::Measurement::SOURCE_PROBE);
  EXPECT_EQ(meas.hops(), 0u);
  EXPECT_GE(meas.rtt_ms(), 1u);     // known, if under a millisecond
  EXPECT_LE(meas.rtt_ms(), 3000u);  // within the request's deadline
  EXPECT_GE(meas.measured_unix_ms(), asked - 1000);
  EXPECT_LE(meas.measured_unix_ms(), now_unix_ms() + 1000);
  EXPECT_EQ(rep.probe_results_sent(), 1u);
  EXPECT_EQ(prober.counters().attempts[static_cast<std::size_t>(
                prober.icmp_available() == probe::Method::kNone ? probe::Method::kUdp : probe::Method::kIcmp)]
                                      [static_cast<std::size_t>(probe::Outcome::kReached)],
            1u);
}

TEST(Reporter, EachMasterGetsTheAnswerToItsOwnProbeRequest) {
  FakeMaster a, b;
  a.send_probe = b.send_probe = true;
  a.probe_id = "from-a";
  a.probe_address = "127.0.0.1";
  b.probe_id = "from-b";
  b.probe_address = "127.0.0.2";
  Running ma(a), mb(b);
  probe::Prober prober;
  r::MasterReporter rep_a(options(ma.port, "good-token"), identity());
  r::MasterReporter rep_b(options(mb.port, "good-token"), identity());
  struct StopAll {
    r::MasterReporter &a, &b;
    probe::Prober& prober;
    ~StopAll() {
      a.stop();
      b.stop();
      prober.stop();
    }
  } stop_all{rep_a, rep_b, prober};
  answer_probes(rep_a, prober);
  answer_probes(rep_b, prober);
  rep_a.start();
  rep_b.start();
  for (FakeMaster* svc : {&a, &b}) {
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(svc->mu);
      return !svc->probe_results.empty();
    }));
  }
  for (auto [svc, address] : {std::pair{&a, "127.0.0.1"}, std::pair{&b, "127.0.0.2"}}) {
    std::lock_guard lock(svc->mu);
    ASSERT_EQ(svc->probe_results.size(), 1u);
    EXPECT_EQ(svc->probe_results[0].request_id(), svc->probe_id);
    ASSERT_EQ(svc->probe_results[0].measurements_size(), 1);
    EXPECT_EQ(svc->probe_results[0].measurements(0).address(), address);
    EXPECT_EQ(svc->probe_results[0].measurements(0).source(), v1::Measurement::SOURCE_PROBE);
  }
}

TEST(Reporter, QueuedProbeResultsAreBounded) {
  FakeMaster svc;
  int port = 0;
  {
    Running gone(svc);
    port = gone.port;
  }  // nobody listens: nothing is written, results wait
  r::ReporterOptions o = options(port, "good-token");
  o.initial_backoff = 20ms;
  o.rpc_deadline = 200ms;
  r::MasterReporter rep(o, identity());
  rep.start();
  for (std::size_t i = 0; i < r::MasterReporter::kMaxQueuedProbeResults + 5; ++i)
    rep.send_probe_result("p" + std::to_string(i), {{"127.0.0.1", 0, 1, now_unix_ms()}});
  EXPECT_EQ(rep.probe_results_dropped(), 5u);
  EXPECT_EQ(rep.probe_results_sent(), 0u);
  rep.stop();
}
