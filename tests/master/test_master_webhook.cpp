// Webhooks from the real kaillera-master (issue 17): fake relays report over real gRPC, the master announces
// their waiting games to receivers inside this test over HTTP and HTTPS (a CA made with `openssl` here, given
// to the master as ca_file). Checks: one Discord-shaped message per game with its name in UTF-8 (from a
// Shift_JIS relay too), SNI and host name verification, filters, 429 + Retry-After, a hanging receiver
// that delays neither another webhook nor the lists, the debounce, relays coming and going (JSON), and a bad
// [[webhook]] key at start-up.
// Every wait has a deadline; every process stops by its pid (Process guards).
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/master_harness.hpp"
#include "tests/master/webhook_receiver.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

// "ストリートファイター" in Shift_JIS and in UTF-8.
const std::string kSjisName =
    "\x83\x58\x83\x67\x83\x8A\x81\x5B\x83\x67\x83\x74\x83\x40\x83\x43\x83\x5E\x81\x5B";
const std::string kUtf8Name =
    "\xE3\x82\xB9\xE3\x83\x88\xE3\x83\xAA\xE3\x83\xBC\xE3\x83\x88\xE3\x83\x95\xE3\x82\xA1\xE3\x82\xA4\xE3\x82"
    "\xBF"
    "\xE3\x83\xBC";

struct FakeGame {
  std::uint32_t id;
  std::string rom;  // raw bytes in the relay's charset
  std::uint32_t players = 1, max_players = 2;
};

// A relay registered with a token that reports its waiting games every 100 ms from its own thread (the only
// writer of its stream) until destroyed.
class FakeRelay {
 public:
  FakeRelay(const std::string& grpc_address, const std::string& token, const std::string& name,
            const std::string& charset, const std::string& location, std::uint32_t port) {
    channel_ = grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials());
    stub_ = v1::RelayRegistry::NewStub(channel_);
    v1::RegisterRequest req;
    req.set_token(token);
    auto* info = req.mutable_info();
    info->mutable_name()->set_raw(name);
    info->set_charset(charset);
    info->set_public_host("127.0.0.1");
    info->set_handshake_port(port);
    info->set_game_port_first(port + 1);
    info->set_game_port_last(port + 1);
    info->mutable_location()->set_raw(location);
    info->set_max_users(16);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    const auto status = stub_->Register(&ctx, req, &reg_);
    if (!status.ok()) throw std::runtime_error("register: " + status.error_message());
    thread_ = std::thread([this] { run(); });
  }
  ~FakeRelay() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void set_games(std::vector<FakeGame> games, std::uint32_t playing = 0) {
    std::lock_guard lock(mu_);
    games_ = std::move(games);
    playing_ = playing;
  }
  int reports() const { return reports_.load(); }

 private:
  void run() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 120s);
    auto stream = stub_->Report(&ctx);
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(reg_.relay_id());
    hello.mutable_hello()->set_session_key(reg_.session_key());
    bool ok = stream->Write(hello);
    std::unique_lock lock(mu_);
    while (ok && !stop_) {
      v1::RelayMessage m;
      auto* r = m.mutable_report();
      r->set_users(2);
      r->set_games(static_cast<std::uint32_t>(games_.size()) + playing_);
      r->set_playing_games(playing_);
      for (const auto& g : games_) {
        auto* w = r->add_waiting();
        w->set_game_id(g.id);
        w->mutable_rom()->set_raw(g.rom);
        w->mutable_owner()->set_raw("ryu");
        w->mutable_emulator()->set_raw("MAME32k 0.64");
        w->set_players(g.players);
        w->set_max_players(g.max_players);
      }
      lock.unlock();
      ok = stream->Write(m);
      if (ok) ++reports_;
      lock.lock();
      cv_.wait_for(lock, 100ms, [&] { return stop_; });
    }
    lock.unlock();
    stream->WritesDone();
    stream->Finish();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RelayRegistry::Stub> stub_;
  v1::RegisterResponse reg_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<FakeGame> games_;
  std::uint32_t playing_ = 0;
  std::atomic<int> reports_{0};
  std::thread thread_;
};

class MasterWebhook : public ::testing::Test {
 protected:
  // Writes master.toml with `toml` and starts the master with it.
  void start(const std::string& toml) {
    const std::string path = dir_ / "master.toml";
    std::ofstream(path) << toml;
    master_ = std::make_unique<Master>(
        dir_, std::vector<std::string>{"--config", path, "--report-interval-ms", "1000"});
  }

  std::unique_ptr<FakeRelay> relay(const std::string& label, const std::string& name,
                                   const std::string& charset, const std::string& location,
                                   std::uint32_t port) {
    const auto r = run_command(KF_MASTER_BIN, {"relay", "add", label, "--db", dir_ / "master.db"},
                               dir_ / ("add-" + label + ".log"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string token = r.output.substr(r.output.rfind("kf_"));
    while (!token.empty() && token.back() == '\n')
      token.pop_back();
    return std::make_unique<FakeRelay>(master_->grpc_address(), token, name, charset, location, port);
  }

  HttpResponse get(const std::string& target) { return http_get(master_->http_port(), target); }

  // The value of one /metrics sample ("name{labels}"), -1 when absent.
  double metric(const std::string& sample) {
    const auto body = get("/metrics").body;
    const auto at = body.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::atof(body.c_str() + at + sample.size() + 2);
  }

  // Waits until /api/v1/games lists exactly `roms` (UTF-8), in any order.
  bool wait_for_games(std::set<std::string> roms, std::chrono::milliseconds timeout = 5s) {
    return poll_until(
        [&] {
          const json j = json::parse(get("/api/v1/games").body, nullptr, false);
          if (j.is_discarded()) return false;
          std::set<std::string> now;
          for (const auto& g : j["games"])
            now.insert(g["rom"].get<std::string>());
          return now == roms;
        },
        timeout, 20ms);
  }

  void TearDown() override {
    relays_.clear();
    if (master_) {
      const auto code = master_->stop();
      EXPECT_EQ(code, 0) << master_->log();
    }
  }

  TempDir dir_;
  std::unique_ptr<Master> master_;
  std::vector<std::unique_ptr<FakeRelay>> relays_;
};

std::string webhook(const std::string& name, const std::string& url, const std::string& more = "") {
  return "[[webhook]]\nname = \"" + name + "\"\nurl = \"" + url + "\"\n" + more + "\n";
}

// A CA and a server certificate for "localhost" only (no IP address), made with the openssl tool.
struct TestCa {
  explicit TestCa(const TempDir& dir) {
    ca = dir / "ca.pem";
    cert = dir / "server.pem";
    key = dir / "server.key";
    const std::string ca_key = dir / "ca.key", csr = dir / "server.csr", ext = dir / "ext.cnf";
    std::ofstream(ext) << "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n";
    const std::vector<std::vector<std::string>> steps = {
        {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         ca_key, "-out", ca, "-days", "2", "-subj", "/CN=Kaillera Federation test CA", "-addext",
         "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
        {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         csr, "-subj", "/CN=localhost"},
        {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days",
         "2", "-extfile", ext},
    };
    for (const auto& args : steps) {
      const auto r = run_command("/usr/bin/openssl", args, dir / "openssl.log");
      if (r.exit_code != 0) throw std::runtime_error("openssl " + args[0] + " failed:\n" + r.output);
    }
  }
  std::string ca, cert, key;
};

TEST_F(MasterWebhook, DiscordOverHttpsOnceInUtf8FilteredAndVerified) {
  TestCa tls(dir_);
  WebhookReceiver rx(tls.cert, tls.key);
  const std::string secret = "/api/webhooks/123/s3cret-token";
  start(webhook("discord", rx.url(secret, "localhost"),
                "format = \"discord\"\nrelays = [\"Relay Tokyo\"]\ndebounce_ms = 300\nca_file = \"" + tls.ca +
                    "\"") +
        // The same receiver without our CA, and by IP address (the certificate names localhost only): both
        // must fail their TLS handshake and never deliver.
        webhook("untrusted", rx.url(secret, "localhost"), "debounce_ms = 0\nmax_attempts = 1") +
        webhook("wrong-host", rx.url(secret, "127.0.0.1"),
                "debounce_ms = 0\nmax_attempts = 1\nca_file = \"" + tls.ca + "\""));
  relays_.push_back(relay("berlin", "Relay Berlin", "windows-1252", "Berlin", 27888));
  relays_.push_back(relay("tokyo", "Relay Tokyo", "shift_jis", "Tokyo", 27890));
  FakeRelay& berlin = *relays_[0];
  FakeRelay& tokyo = *relays_[1];

  berlin.set_games({{1, "Final Fight"}});  // another relay's game: the filter keeps it out
  ASSERT_TRUE(wait_for_games({"Final Fight"})) << master_->log();
  tokyo.set_games({{5, kSjisName}});
  ASSERT_TRUE(wait_for_games({"Final Fight", kUtf8Name})) << master_->log();
  ASSERT_TRUE(rx.wait_for(1, 10s)) << master_->log();
  // A later game of Tokyo as a marker: once its message came, every poll since the first message had its
  // chance to repeat the first game or let Berlin's through.
  tokyo.set_games({{5, kSjisName}, {6, "Marker"}});
  ASSERT_TRUE(rx.wait_for(2, 10s)) << master_->log();

  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u) << master_->log();
  const auto& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, secret);
  EXPECT_EQ(r.sni, "localhost");
  EXPECT_EQ(r.header("host"), "localhost:" + std::to_string(rx.port()));
  EXPECT_EQ(r.header("content-type"), "application/json");
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r.body;
  EXPECT_EQ(body["content"], "**" + kUtf8Name + "** \xE2\x80\x94 waiting for players on **Relay Tokyo**");
  ASSERT_EQ(body["embeds"].size(), 1u);
  EXPECT_EQ(body["embeds"][0]["title"], kUtf8Name);
  EXPECT_EQ(body["allowed_mentions"]["parse"], json::array());
  EXPECT_EQ(json::parse(reqs[1].body)["embeds"][0]["title"], "Marker");

  // The receiver records a request before it answers; the master counts it once the answer came.
  ASSERT_TRUE(poll_until(
      [&] {
        return metric("kaillera_master_webhook_messages_total{webhook=\"discord\",result=\"sent\"}") == 2;
      },
      5s))
      << get("/metrics").body;
  EXPECT_EQ(metric("kaillera_master_webhook_events_total{webhook=\"discord\",event=\"game_opened\"}"), 2);
  EXPECT_EQ(metric("kaillera_master_webhook_attempts_total{webhook=\"discord\",outcome=\"ok\"}"), 2);
  // Berlin's game and both Tokyo games went to the unfiltered webhooks, and every handshake failed.
  ASSERT_TRUE(poll_until(
      [&] {
        return metric("kaillera_master_webhook_messages_total{webhook=\"untrusted\",result=\"failed\"}") ==
                   3 &&
               metric("kaillera_master_webhook_messages_total{webhook=\"wrong-host\",result=\"failed\"}") ==
                   3;
      },
      10s))
      << get("/metrics").body;
  EXPECT_EQ(metric("kaillera_master_webhook_attempts_total{webhook=\"untrusted\",outcome=\"tls_error\"}"), 3);
  EXPECT_EQ(metric("kaillera_master_webhook_attempts_total{webhook=\"wrong-host\",outcome=\"tls_error\"}"),
            3);
  EXPECT_EQ(metric("kaillera_master_webhook_messages_total{webhook=\"untrusted\",result=\"sent\"}"), 0);
  EXPECT_EQ(rx.count(), 2u);  // nothing reached the receiver past a failed handshake
  EXPECT_EQ(master_->log().find("s3cret-token"), std::string::npos) << "the log shows the webhook's secret";
}

TEST_F(MasterWebhook, TooManyRequestsIsRetriedAfterRetryAfter) {
  WebhookReceiver rx;
  rx.script({{429, "Retry-After: 2\r\nContent-Type: application/json\r\n", R"({"retry_after": 2.0})"}});
  start(webhook("chat", rx.url("/hook"), "format = \"json\"\ndebounce_ms = 0\nretry_ms = 100"));
  relays_.push_back(relay("tokyo", "Relay Tokyo", "windows-1252", "Tokyo", 27888));
  relays_.front()->set_games({{5, "Street Fighter II"}});
  ASSERT_TRUE(rx.wait_for(2, 15s)) << master_->log();
  const auto reqs = rx.requests();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(reqs[1].at - reqs[0].at);
  // The 429 was answered after the first request had arrived, so the retry cannot come sooner than 2 s after
  // it (retry_ms = 100 would have come back after 100 ms).
  EXPECT_GE(waited.count(), 2000);
  EXPECT_LT(waited.count(), 6000);
  EXPECT_EQ(reqs[0].body, reqs[1].body);
  const json j = json::parse(reqs[1].body);
  EXPECT_EQ(j["event"], "game_opened");
  EXPECT_EQ(j["game"]["name"], "Street Fighter II");
  ASSERT_TRUE(poll_until(
      [&] { return metric("kaillera_master_webhook_messages_total{webhook=\"chat\",result=\"sent\"}") == 1; },
      5s));
  EXPECT_EQ(metric("kaillera_master_webhook_attempts_total{webhook=\"chat\",outcome=\"rate_limited\"}"), 1);
  EXPECT_EQ(metric("kaillera_master_webhook_attempts_total{webhook=\"chat\",outcome=\"ok\"}"), 1);
  EXPECT_EQ(rx.count(), 2u);
}

TEST_F(MasterWebhook, AHangingReceiverDelaysNeitherAnotherWebhookNorTheLists) {
  WebhookReceiver stuck, fine;
  stuck.script({}, WebhookReceiver::Answer{204, "", "", true});
  start(webhook("stuck", stuck.url("/hook"), "debounce_ms = 0\ntimeout_ms = 60000") +
        webhook("fine", fine.url("/hook"), "debounce_ms = 0"));
  relays_.push_back(relay("tokyo", "Relay Tokyo", "windows-1252", "Tokyo", 27888));
  relays_.front()->set_games({{5, "Street Fighter II"}});
  ASSERT_TRUE(poll_until([&] { return stuck.hanging() == 1; }, 10s)) << master_->log();

  // While that delivery hangs (its timeout is a minute away): the other webhook delivers a new game, the
  // lists answer at once, and reports keep being stored.
  relays_.front()->set_games({{5, "Street Fighter II"}, {6, "Final Fight"}});
  ASSERT_TRUE(fine.wait_for(2, 10s)) << master_->log();
  EXPECT_EQ(json::parse(fine.requests()[1].body)["game"]["name"], "Final Fight");
  for (const std::string target : {"/server_list.php", "/api/v1/games", "/game_list.php"}) {
    const auto t0 = Clock::now();
    const auto r = get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_LT(Clock::now() - t0, 1s) << target;
  }
  const double reports = metric("kaillera_master_reports_total{result=\"ok\"}");
  ASSERT_TRUE(
      poll_until([&] { return metric("kaillera_master_reports_total{result=\"ok\"}") >= reports + 5; }, 5s));
  EXPECT_EQ(stuck.hanging(), 1);  // still hanging: all of the above happened during it
  EXPECT_EQ(stuck.count(), 1u);
  EXPECT_EQ(metric("kaillera_master_webhook_queue{webhook=\"stuck\"}"), 2);  // in flight + Final Fight
  // Stopping the master does not wait for the hanging delivery (TearDown checks the exit code).
  relays_.clear();
  const auto t0 = Clock::now();
  EXPECT_EQ(master_->stop(), 0);
  EXPECT_LT(Clock::now() - t0, 5s);
  master_.reset();
}

TEST_F(MasterWebhook, AGameShorterThanTheDebounceIsNotAnnounced) {
  WebhookReceiver rx;
  start(webhook("chat", rx.url("/hook"), "format = \"slack\"\ndebounce_ms = 6000"));
  relays_.push_back(relay("tokyo", "Relay Tokyo", "windows-1252", "Tokyo", 27888));
  FakeRelay& tokyo = *relays_.front();
  const auto opened = Clock::now();
  tokyo.set_games({{5, "Short Lived"}});
  ASSERT_TRUE(wait_for_games({"Short Lived"}));
  tokyo.set_games({});
  ASSERT_TRUE(wait_for_games({}));
  // The master held it for less than this; far below the debounce, or the test proves nothing.
  ASSERT_LT(Clock::now() - opened, 4000ms);
  tokyo.set_games({{6, "Stays Open"}});
  ASSERT_TRUE(rx.wait_for(1, 15s)) << master_->log();
  // Had the short game been announced, its message (due 6 s after it opened) would have come first.
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const json j = json::parse(reqs[0].body);
  EXPECT_EQ(j["text"], "*Stays Open* \xE2\x80\x94 waiting for players on Relay Tokyo");
  EXPECT_EQ(metric("kaillera_master_webhook_events_total{webhook=\"chat\",event=\"game_opened\"}"), 1);
}

TEST_F(MasterWebhook, OperatorsHearOfRelaysComingAndGoing) {
  WebhookReceiver rx;
  start(webhook("ops", rx.url("/ops"),
                "events = [\"relay_online\", \"relay_offline\"]\nlocations = [\"tokyo\"]"));
  relays_.push_back(relay("berlin", "Relay Berlin", "windows-1252", "Berlin", 27888));  // filtered out
  relays_.push_back(relay("tokyo", "Relay Tokyo", "windows-1252", "Tokyo", 27890));
  ASSERT_TRUE(rx.wait_for(1, 10s)) << master_->log();
  json j = json::parse(rx.requests()[0].body);
  EXPECT_EQ(j["event"], "relay_online");
  EXPECT_EQ(j["relay"]["name"], "Relay Tokyo");
  EXPECT_EQ(j["relay"]["address"], "127.0.0.1:27890");
  EXPECT_EQ(j["text"], "Relay Tokyo is online");
  // Tokyo stops reporting: offline after 3 report intervals (1 s each here).
  relays_.pop_back();
  ASSERT_TRUE(rx.wait_for(2, 10s)) << master_->log();
  j = json::parse(rx.requests()[1].body);
  EXPECT_EQ(j["event"], "relay_offline");
  EXPECT_EQ(j["relay"]["name"], "Relay Tokyo");
  EXPECT_FALSE(j["relay"]["online"].get<bool>());
  EXPECT_EQ(rx.count(), 2u);
}

TEST_F(MasterWebhook, ThirdPartyServersOnlyWhenAskedFor) {
  WebhookReceiver all, own;
  start(webhook("all", all.url("/all"), "debounce_ms = 0\nexternal = true") +
        webhook("own", own.url("/own"), "debounce_ms = 0"));
  PongResponder emulinker;
  const auto r =
      http_get(master_->http_port(),
               "/touch_server.php?servername=EmuLinker%20A&port=" + std::to_string(emulinker.port()) +
                   "&nbusers=2&maxconn=10&version=elk&nbgames=1&location=Lyon&ip=&url=",
               "Kaillera-games: \r\nKaillera-wgames: 3|Tekken 3|bob|ePSXe|1|\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(all.wait_for(1, 10s)) << master_->log();
  EXPECT_EQ(json::parse(all.requests()[0].body)["game"]["name"], "Tekken 3");
  EXPECT_EQ(json::parse(all.requests()[0].body)["relay"]["external"], true);
  // A relay's game after it: once "own" has it, it would have had Tekken 3 before, had it passed.
  relays_.push_back(relay("tokyo", "Relay Tokyo", "windows-1252", "Tokyo", 27888));
  relays_.front()->set_games({{5, "Marker"}});
  ASSERT_TRUE(own.wait_for(1, 10s)) << master_->log();
  ASSERT_TRUE(all.wait_for(2, 10s)) << master_->log();
  EXPECT_EQ(own.count(), 1u);
  EXPECT_EQ(json::parse(own.requests()[0].body)["game"]["name"], "Marker");
}

TEST(MasterWebhookConfig, ABadKeyIsNamedAtStartUp) {
  TempDir dir;
  const std::string path = dir / "master.toml";
  std::ofstream(path)
      << "log_level = \"info\"\n[[webhook]]\nurl = \"http://127.0.0.1:9/\"\nformat = \"xml\"\n";
  const auto r = run_command(KF_MASTER_BIN, {"--config", path, "--db", dir / "m.db"}, dir / "out.log");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(
                "key 'webhook' entry 1, key 'format' (line 4): must be discord, slack or json (got 'xml')"),
            std::string::npos)
      << r.output;
}

}  // namespace
