// The health endpoints (common/http/health.hpp): what /healthz and /readyz answer for each readiness, and the
// relay's metrics server (relay/shell/metrics.hpp) answering them on a real loopback socket before and after
// start-up is done: /readyz and /metrics 503 with the reason while not ready, 200 once ready; /healthz 200
// throughout.
#include <gtest/gtest.h>

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <atomic>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "common/http/health.hpp"
#include "relay/shell/metrics.hpp"
#include "tests/support/process.hpp"

namespace {

using kaillera::http::health_reply;
using kaillera::http::Readiness;

TEST(HealthReply, HealthzIsAliveWhateverTheReadiness) {
  for (const char* reason : {"", "opening the database x.db"}) {
    const auto r = health_reply("/healthz", reason);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
  }
}

TEST(HealthReply, ReadyzFollowsTheReadiness) {
  auto r = health_reply("/readyz", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready\n");
  r = health_reply("/readyz", "the state file s.db is locked by another connection");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "not ready: the state file s.db is locked by another connection\n");
}

TEST(HealthReply, OtherPathsAreNotHealthEndpoints) {
  for (const char* path : {"/", "/metrics", "/healthz/", "/readyzz", "/api/v1/readyz", ""})
    EXPECT_FALSE(health_reply(path, "")) << path;
}

TEST(Readiness, NotReadyUntilSetAndAgainWhenStopping) {
  Readiness r;
  EXPECT_EQ(r.not_ready(), "starting");
  r.set_not_ready("opening the database m.db");
  EXPECT_EQ(r.not_ready(), "opening the database m.db");
  std::thread t([&] { r.set_ready(); });  // set from another thread (the start-up code), read here
  t.join();
  EXPECT_EQ(r.not_ready(), "");
  r.set_not_ready("stopping");
  EXPECT_EQ(r.not_ready(), "stopping");
}

// The relay's metrics server on 127.0.0.1 with its io_context on a thread of its own.
class RelayMetricsHealth : public ::testing::Test {
 protected:
  RelayMetricsHealth() {
    server_ = std::make_unique<kaillera::relay::shell::MetricsServer>(
        io_, kaillera::net::Endpoint{0x7F000001, 0},
        [this] {
          ++renders_;
          return std::string("kaillera_relay_test 1\n");
        },
        [this] { return readiness_.not_ready(); });
    port_ = server_->local().port;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RelayMetricsHealth() override {
    boost::asio::post(io_, [this] {
      server_->stop();
      guard_.reset();
    });
    thread_.join();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  Readiness readiness_{"opening the state file /var/lib/kaillera/state.db"};
  std::atomic<int> renders_{0};
  std::unique_ptr<kaillera::relay::shell::MetricsServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(RelayMetricsHealth, AnswersBeforeAndAfterStartUp) {
  using kf_test::http_exchange;
  using kf_test::http_get;
  ASSERT_NE(port_, 0);

  auto r = http_get(port_, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  r = http_get(port_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: opening the state file /var/lib/kaillera/state.db\n");
  r = http_get(port_, "/metrics");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: opening the state file /var/lib/kaillera/state.db\n");
  EXPECT_EQ(renders_.load(), 0);  // nothing of the relay is read before it exists
  r = http_exchange(port_, "HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "");

  readiness_.set_ready();
  r = http_get(port_, "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
  r = http_get(port_, "/healthz?verbose=1");
  EXPECT_EQ(r.status, 200);
  r = http_get(port_, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "kaillera_relay_test 1\n");
  EXPECT_EQ(renders_.load(), 1);
  r = http_get(port_, "/livez");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "not found; try /metrics, /healthz, /readyz\n");

  readiness_.set_not_ready("stopping");
  r = http_get(port_, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: stopping\n");
  EXPECT_EQ(http_get(port_, "/healthz").status, 200);
}

}  // namespace
