// The real kaillera-master mirroring lists that the test serves over real HTTP on loopback (list_server.hpp),
// in both formats of KAILLERA.md §7 and with odd content: bad lines, bytes that are invalid in the charset, a
// body over the size limit, a body that never ends, a list that never answers, an error page, a list that
// disappears. Good entries appear marked external with their source, bad ones are counted on /metrics, the
// master keeps serving, and a list that is gone keeps its entries for mirror_keep_s and then loses them. A
// Shift_JIS name keeps its bytes in the classic lists and is UTF-8 characters in JSON and gRPC. Every wait
// polls with a deadline; every process and thread is stopped by its RAII guard.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/list_server.hpp"
#include "tests/master/master_harness.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

// KAILLERA.md §8 vector 9 ("じょｎ") and vector 25 ("定員30名"): Shift_JIS bytes and the same text in UTF-8.
const std::string kJonSjis = "\x82\xb6\x82\xe5\x82\x8e";
const std::string kJonUtf8 = "\xE3\x81\x98\xE3\x82\x87\xEF\xBD\x8E";
const std::string kTeiinSjis = "\x92\xe8\x88\xf5\x33\x30\x96\xbc";
const std::string kTeiinUtf8 = "\xE5\xAE\x9A\xE5\x93\xA1\x33\x30\xE5\x90\x8D";
const std::string kReplacement = "\xEF\xBF\xBD";

class MasterMirror : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra) { master_ = std::make_unique<Master>(dir_, std::move(extra)); }
  HttpResponse get(const std::string& target) { return http_get(master_->http_port(), target); }

  json relays() {
    const auto r = get("/api/v1/relays");
    if (r.status != 200) return json::array();
    return json::parse(r.body, nullptr, false)["relays"];
  }
  static const json* find(const json& relays, const std::string& address) {
    for (const auto& r : relays)
      if (r["address"] == address) return &r;
    return nullptr;
  }
  // Polls the JSON API until `ok` holds.
  bool wait_relays(const std::function<bool(const json&)>& ok, std::chrono::milliseconds timeout = 10s) {
    return poll_until([&] { return ok(relays()); }, timeout, 20ms);
  }

  // The value of one /metrics sample (-1: absent).
  double metric(const std::string& sample) {
    const auto body = get("/metrics").body;
    const auto at = body.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::atof(body.c_str() + at + sample.size() + 2);
  }
  static std::string fetches(const std::string& url, const std::string& result) {
    return "kaillera_master_mirror_fetches_total{mirror=\"" + url + "\",result=\"" + result + "\"}";
  }

  void TearDown() override {
    if (master_) {
      const auto code = master_->stop();
      EXPECT_EQ(code, 0) << master_->log();
    }
  }

  TempDir dir_;
  std::unique_ptr<Master> master_;
};

TEST_F(MasterMirror, BothFormatsWithOddContent) {
  ListServer lists;
  // Two-line text (§7.1), windows-1252: one good server with "é", one whose name has 0x81 (not a character in
  // windows-1252), and three entries that do not fit (a bad port, users that are no number, an orphan name).
  lists.set("/server_list.php", {200, "text/plain",
                                 "Caf\xE9 Netplay\r\n10.0.0.1:27888;3/16;1;0.86;M\xFCnchen\r\n"
                                 "Bad Port\r\n10.0.0.2:65536;0/8;0;0.86;x\r\n"
                                 "Odd \x81 Byte\r\n10.0.0.3:27888;0/8;0;0.86;Wien\r\n"
                                 "Bad Users\r\n10.0.0.4:27888;lots/8;0;0.86;x\r\n"
                                 "Orphan\r\n"});
  // The waiting-games line of the same list (?wg=1): one game at a listed server, one bad (no players).
  lists.set("/raw_server_list2.php?version=0.9&wg=1",
            {200, "text/plain",
             "Street Fighter II|10.0.0.1:27888|ryu|MAME32k 0.64|1/2|Caf\xE9 Netplay|M\xFCnchen|"
             "Broken|10.0.0.1:27888|x|y|none|z|w|\n"});
  // JSON in both shapes (§7.2): {"data": [...]} with a good and a bad entry, and a bare array of games.
  lists.set(
      "/server_list.json",
      {200, "application/json",
       R"({"data":[{"serverName":"Json One","ipAddress":"192.168.1.9:27888","location":"LAN","numUsers":2,)"
       R"("numGames":0,"version":"ELK0.11","website":""},{"serverName":"no address"}]})"});
  lists.set("/game_list.json", {200, "application/json",
                                R"([{"gameName":"Tekken 3","emulatorName":"ePSXe","userName":"ann",)"
                                R"("playerCount":"1/2","serverName":"Json One","location":"LAN",)"
                                R"("ipAddress":"192.168.1.9:27888"}])"});
  const std::string text = lists.url("/server_list.php");
  const std::string wg = lists.url("/raw_server_list2.php?version=0.9&wg=1");
  const std::string js = lists.url("/server_list.json");
  const std::string jg = lists.url("/game_list.json");
  start({"--mirror", text, "--mirror", wg, "--mirror", js, "--mirror", jg, "--mirror-interval-s", "1",
         "--mirror-keep-s", "5"});

  ASSERT_TRUE(wait_relays([&](const json& r) {
    return r.size() == 3 && find(r, "10.0.0.1:27888") && (*find(r, "10.0.0.1:27888"))["waiting_games"] == 1 &&
           find(r, "192.168.1.9:27888") && (*find(r, "192.168.1.9:27888"))["waiting_games"] == 1;
  })) << relays().dump(2)
      << master_->log();
  const json r = relays();
  const json& cafe = *find(r, "10.0.0.1:27888");
  EXPECT_EQ(cafe["name"], "Caf\xC3\xA9 Netplay");
  EXPECT_EQ(cafe["location"], "M\xC3\xBCnchen");
  EXPECT_EQ(cafe["charset"], "windows-1252");
  EXPECT_EQ(cafe["external"], true);
  EXPECT_EQ(cafe["online"], true);
  EXPECT_EQ(cafe["source"], "mirror:" + text);
  EXPECT_EQ(cafe["users"], 3);
  EXPECT_EQ(cafe["max_users"], 16);
  const json* odd = find(r, "10.0.0.3:27888");
  ASSERT_NE(odd, nullptr);
  EXPECT_EQ((*odd)["name"], "Odd " + kReplacement + " Byte");  // replaced, not dropped
  const json& one = *find(r, "192.168.1.9:27888");
  EXPECT_EQ(one["name"], "Json One");
  EXPECT_EQ(one["source"], "mirror:" + js);
  EXPECT_EQ(one["external"], true);

  // The classic list serves the bytes as they came.
  const auto classic = get("/raw_server_list2.php").body;
  EXPECT_NE(classic.find("Caf\xE9 Netplay\r\n10.0.0.1:27888;3/16;1;0.86;M\xFCnchen\r\n"), std::string::npos)
      << classic;
  EXPECT_NE(classic.find("Odd \x81 Byte\r\n10.0.0.3:27888;0/8;0;0.86;Wien\r\n"), std::string::npos);
  const auto games = get("/game_list.php").body;
  EXPECT_NE(games.find("Street Fighter II|10.0.0.1:27888|ryu|MAME32k 0.64|1/2|Caf\xE9 Netplay|M\xFCnchen|"),
            std::string::npos)
      << games;
  EXPECT_NE(games.find("Tekken 3|192.168.1.9:27888|ann|ePSXe|1/2|Json One|LAN|"), std::string::npos);
  EXPECT_EQ(games.find("Broken"), std::string::npos);
  const auto server_json = json::parse(get("/server_list.json").body);
  EXPECT_EQ(server_json.size(), 3u);

  // /metrics: every list fetched fine, the bad entries counted (3 per fetch of the text list, 1 per fetch of
  // the games line and of the JSON list), the entries held.
  const double ok = metric(fetches(text, "ok"));
  EXPECT_GE(ok, 1);
  const double skipped = metric("kaillera_master_mirror_skipped_entries_total{mirror=\"" + text + "\"}");
  EXPECT_GE(skipped, 3);
  EXPECT_EQ(static_cast<long>(skipped) % 3, 0);
  EXPECT_GE(metric("kaillera_master_mirror_skipped_entries_total{mirror=\"" + wg + "\"}"), 1);
  EXPECT_GE(metric("kaillera_master_mirror_skipped_entries_total{mirror=\"" + js + "\"}"), 1);
  EXPECT_EQ(metric("kaillera_master_mirror_skipped_entries_total{mirror=\"" + jg + "\"}"), 0);
  EXPECT_EQ(metric("kaillera_master_mirror_servers{mirror=\"" + text + "\"}"), 2);
  EXPECT_EQ(metric("kaillera_master_mirror_games{mirror=\"" + jg + "\"}"), 1);
  EXPECT_EQ(metric(fetches(text, "parse_error")), 0);
}

TEST_F(MasterMirror, HugeEndlessSilentAndBrokenListsAreCutCountedAndHarmless) {
  ListServer lists;
  lists.set("/good.php", {200, "text/plain", "Good\r\n10.1.1.1:27888;0/8;0;0.86;x\r\n"});
  std::string big;
  while (big.size() < 8192)
    big += "Server\r\n10.2.2.2:27888;0/8;0;0.86;x\r\n";
  lists.set("/big.php", {200, "text/plain", big});  // over --mirror-max-bytes 4096
  lists.set("/endless.php", {200, "text/plain", "", ListServer::Mode::kEndless});
  lists.set("/silent.php", {200, "text/plain", "", ListServer::Mode::kSilent});
  lists.set("/error.php", {200, "text/html", "<html>\n<body>Service Unavailable</body>\n</html>\n"});
  const std::string good = lists.url("/good.php"), huge = lists.url("/big.php"),
                    endless = lists.url("/endless.php"), silent = lists.url("/silent.php"),
                    error = lists.url("/error.php"), missing = lists.url("/missing.php");
  start({"--mirror",
         good,
         "--mirror",
         huge,
         "--mirror",
         endless,
         "--mirror",
         silent,
         "--mirror",
         error,
         "--mirror",
         missing,
         "--mirror-interval-s",
         "1",
         "--mirror-keep-s",
         "5",
         "--mirror-timeout-ms",
         "800",
         "--mirror-max-bytes",
         "4096"});

  ASSERT_TRUE(poll_until(
      [&] {
        return metric(fetches(huge, "too_large")) >= 1 && metric(fetches(endless, "too_large")) >= 1 &&
               metric(fetches(silent, "timeout")) >= 1 && metric(fetches(error, "parse_error")) >= 1 &&
               metric(fetches(missing, "http_error")) >= 1 && metric(fetches(good, "ok")) >= 1;
      },
      15s, 50ms))
      << get("/metrics").body << master_->log();
  // Only the good list's entry is listed; nothing of the others.
  const json r = relays();
  ASSERT_EQ(r.size(), 1u) << r.dump(2);
  EXPECT_EQ(r[0]["address"], "10.1.1.1:27888");
  EXPECT_EQ(metric(fetches(huge, "ok")), 0);
  EXPECT_EQ(metric(fetches(endless, "ok")), 0);
  EXPECT_EQ(metric("kaillera_master_mirror_servers{mirror=\"" + huge + "\"}"), 0);
  EXPECT_FALSE(master_->process().poll_exit().has_value());  // still running
  EXPECT_EQ(get("/healthz").body, "ok\n");
}

TEST_F(MasterMirror, AListThatDisappearsKeepsItsEntriesForTheKeepTimeThenTheyGo) {
  auto lists = std::make_unique<ListServer>();
  lists->set("/server_list.php", {200, "text/plain", "Fading\r\n10.3.3.3:27888;1/8;0;0.86;x\r\n"});
  const std::string url = lists->url("/server_list.php");
  start({"--mirror", url, "--mirror-interval-s", "1", "--mirror-keep-s", "4", "--mirror-timeout-ms", "500"});
  ASSERT_TRUE(wait_relays([](const json& r) { return r.size() == 1; })) << master_->log();

  lists->stop();  // connections to its port are refused from now on
  const auto gone_at = Clock::now();
  // The next fetch fails, and the last good copy is still listed after it.
  ASSERT_TRUE(poll_until([&] { return metric(fetches(url, "connect_error")) >= 1; }, 10s, 20ms))
      << get("/metrics").body;
  EXPECT_EQ(relays().size(), 1u);
  EXPECT_NE(get("/server_list.php").body.find("Fading\r\n"), std::string::npos);
  // Once the keep time has run out since the last good fetch (at most one interval before the list went), the
  // entry goes.
  ASSERT_TRUE(wait_relays([](const json& r) { return r.empty(); }, 15s)) << master_->log();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - gone_at);
  EXPECT_GE(waited.count(), 4000 - 1000 - 100);  // keep - interval, less a fetch's duration
  EXPECT_EQ(get("/server_list.php").body, "");
  EXPECT_EQ(metric("kaillera_master_mirror_servers{mirror=\"" + url + "\"}"), 0);
}

TEST_F(MasterMirror, RegisteredRelaysAreShownOnceAsOurOwn) {
  // A relay of ours at 127.0.0.1:27888, which the mirrored list also names (as relays that announce
  // themselves to public lists are).
  const auto added =
      run_command(KF_MASTER_BIN, {"relay", "add", "ours", "--db", dir_ / "master.db"}, dir_ / "add.log");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const auto end = added.output.find_last_not_of('\n');
  const std::string token =
      added.output.substr(added.output.rfind('\n', end) + 1, end - added.output.rfind('\n', end));
  ListServer lists;
  lists.set("/server_list.php", {200, "text/plain",
                                 "Impostor\r\n127.0.0.1:27888;99/99;9;x;y\r\n"
                                 "Neighbour\r\n127.0.0.1:27999;1/8;0;0.86;z\r\n"});
  start({"--mirror", lists.url("/server_list.php"), "--mirror-interval-s", "1", "--mirror-keep-s", "5"});

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(master_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto registry = v1::RelayRegistry::NewStub(channel);
  v1::RegisterRequest req;
  req.set_token(token);
  req.mutable_info()->mutable_name()->set_raw("Our Relay");
  req.mutable_info()->set_charset("windows-1252");
  req.mutable_info()->set_public_host("127.0.0.1");
  req.mutable_info()->set_handshake_port(27888);
  req.mutable_info()->set_game_port_first(27889);
  req.mutable_info()->set_max_users(16);
  v1::RegisterResponse reg;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ASSERT_TRUE(registry->Register(&ctx, req, &reg).ok());
  }
  ASSERT_TRUE(wait_relays([](const json& r) { return r.size() == 2; })) << relays().dump(2);
  // Several fetches later it is still one entry, ours.
  const auto ok_before = metric(fetches(lists.url("/server_list.php"), "ok"));
  ASSERT_TRUE(poll_until(
      [&] { return metric(fetches(lists.url("/server_list.php"), "ok")) >= ok_before + 2; }, 10s, 50ms));
  const json r = relays();
  ASSERT_EQ(r.size(), 2u) << r.dump(2);
  const json* ours = find(r, "127.0.0.1:27888");
  ASSERT_NE(ours, nullptr);
  EXPECT_EQ((*ours)["name"], "Our Relay");
  EXPECT_EQ((*ours)["external"], false);
  EXPECT_EQ((*ours)["source"], "token");
  EXPECT_EQ((*find(r, "127.0.0.1:27999"))["external"], true);
  registry.reset();
  channel.reset();
}

TEST_F(MasterMirror, AShiftJisNameRoundTrips) {
  ListServer lists;
  // The list says its charset in its Content-Type.
  const std::string body = kJonSjis + "\r\n10.4.4.4:27888;1/8;0;0.86;" + kTeiinSjis + "\r\n";
  lists.set("/server_list.php", {200, "text/plain; charset=Shift_JIS", body});
  start({"--mirror", lists.url("/server_list.php"), "--mirror-interval-s", "1", "--mirror-keep-s", "5"});
  ASSERT_TRUE(wait_relays([](const json& r) { return r.size() == 1; })) << master_->log();

  // Raw bytes in the classic list, exactly as served.
  EXPECT_EQ(get("/raw_server_list2.php").body, body);
  // Characters in JSON ...
  const json r = relays();
  EXPECT_EQ(r[0]["name"], kJonUtf8);
  EXPECT_EQ(r[0]["location"], kTeiinUtf8);
  EXPECT_EQ(r[0]["charset"], "shift_jis");
  EXPECT_EQ(json::parse(get("/server_list.json").body)[0]["serverName"], kJonUtf8);
  // ... and in gRPC, with the raw bytes beside them.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(master_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto directory = v1::Directory::NewStub(channel);
  v1::ListRelaysResponse resp;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ASSERT_TRUE(directory->ListRelays(&ctx, v1::ListRelaysRequest{}, &resp).ok());
  }
  ASSERT_EQ(resp.relays_size(), 1);
  const auto& relay = resp.relays(0);
  EXPECT_TRUE(relay.external());
  EXPECT_EQ(relay.relay_id(), "ext:10.4.4.4:27888");
  EXPECT_EQ(relay.info().name().text(), kJonUtf8);
  EXPECT_EQ(relay.info().name().raw(), kJonSjis);
  EXPECT_EQ(relay.info().name().charset(), "shift_jis");
  EXPECT_EQ(relay.info().public_host(), "10.4.4.4");
  EXPECT_EQ(relay.info().handshake_port(), 27888u);
  directory.reset();
  channel.reset();
}

TEST_F(MasterMirror, HttpsIsRefusedAtStartUp) {
  const auto r = run_command(
      KF_MASTER_BIN,
      {"--db", dir_ / "m.db", "--mirror", "https://kaillerareborn.2manygames.fr/server_list.json"},
      dir_ / "https.log");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("https is not supported"), std::string::npos) << r.output;
}

}  // namespace
