// The web page as a person sees it: the real kaillera-master with one relay (registered and reporting over
// gRPC) and a waiting game, opened in headless Chromium. The rendered DOM must show the relay's name (as
// UTF-8), its users/max and the waiting game. A phone-sized screenshot is written for a person to look at
// ($KF_WEB_SCREENSHOT_DIR keeps it).
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/list_server.hpp"
#include "tests/master/master_harness.hpp"

namespace {

using namespace kf_master_test;
namespace v1 = kaillera::directory::v1;

const char* chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return nullptr;
}

std::vector<std::string> chromium_args(const TempDir& dir, const std::string& profile) {
  return {"--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-dev-shm-usage",
          "--user-data-dir=" + (dir / profile).string(),
          "--virtual-time-budget=5000"};
}

class MasterWeb : public ::testing::Test {
 protected:
  void SetUp() override {
    if (chromium() == nullptr) {
      GTEST_SKIP() << "chromium is not installed (KF_WITH_BROWSER=1 bash deploy/install-deps.sh)";
    }
    master_ = std::make_unique<Master>(dir_, std::vector<std::string>{});
    // One relay, reporting 3 of 16 users and a waiting game.
    const auto added =
        run_command(KF_MASTER_BIN, {"relay", "add", "web", "--db", dir_ / "master.db"}, dir_ / "add.log");
    ASSERT_EQ(added.exit_code, 0) << added.output;
    const auto end = added.output.find_last_not_of('\n');
    const std::string token =
        added.output.substr(added.output.rfind('\n', end) + 1, end - added.output.rfind('\n', end));

    auto channel = grpc::CreateChannel(master_->grpc_address(), grpc::InsecureChannelCredentials());
    auto stub = v1::RelayRegistry::NewStub(channel);
    v1::RegisterRequest req;
    req.set_token(token);
    auto* info = req.mutable_info();
    info->mutable_name()->set_raw("Caf\xE9 Netplay");  // windows-1252
    info->set_charset("windows-1252");
    info->set_public_host("127.0.0.1");
    info->set_handshake_port(27888);
    info->set_game_port_first(27889);
    info->mutable_location()->set_raw("M\xFCnchen");
    info->set_version("kf 0.1.0");
    info->set_max_users(16);
    v1::RegisterResponse reg;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      const auto s = stub->Register(&ctx, req, &reg);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    auto rw = stub->Report(&ctx);
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(reg.relay_id());
    hello.mutable_hello()->set_session_key(reg.session_key());
    ASSERT_TRUE(rw->Write(hello));
    v1::RelayMessage report;
    auto* r = report.mutable_report();
    r->set_users(3);
    r->set_games(3);
    r->set_playing_games(2);
    // Two games being played (issue 18): 4 s lost in the last 60 s (laggy), 0.2 s (good).
    for (const auto& [id, rom, wait] :
         {std::tuple{2u, "Tekken 3", 4000u}, std::tuple{3u, "Mario Kart 64", 200u}}) {
      auto* p = r->add_playing();
      p->set_game_id(id);
      p->mutable_rom()->set_raw(rom);
      p->mutable_emulator()->set_raw("Project64k");
      p->set_players(2);
      p->set_window_ms(60'000);
      p->set_wait_ms(wait);
      p->set_worst_player_wait_ms(wait);
    }
    auto* w = r->add_waiting();
    w->set_game_id(1);
    w->mutable_rom()->set_raw("Street Fighter II' - Champion Edition");
    w->mutable_owner()->set_raw("ryu");
    w->mutable_emulator()->set_raw("MAME32k 0.64");
    w->set_players(1);
    w->set_max_players(2);
    // The relay measured a player on 127.0.0.1: 3 hops, 25 ms (the group test below visits from there).
    auto* m = r->add_measurements();
    m->set_address("127.0.0.1");
    m->set_hops(3);
    m->set_rtt_ms(25);
    m->set_source(v1::Measurement::SOURCE_LOGIN_ACK);
    ASSERT_TRUE(rw->Write(report));
    rw->WritesDone();
    ASSERT_TRUE(rw->Finish().ok());
    ASSERT_TRUE(
        poll_until([&] { return !http_get(master_->http_port(), "/server_list.php").body.empty(); }, 5s));
  }

  TempDir dir_;
  std::unique_ptr<Master> master_;
};

TEST_F(MasterWeb, ThePageShowsTheRelayAndItsWaitingGame) {
  const std::string url = "http://127.0.0.1:" + std::to_string(master_->http_port()) + "/";
  auto args = chromium_args(dir_, "profile-dom");
  args.push_back("--dump-dom");
  args.push_back(url);
  Process browser(chromium(), args, dir_ / "dom.html");
  ASSERT_EQ(browser.wait_exit(90s), 0) << browser.log().substr(0, 4000);
  const std::string dom = browser.log();
  EXPECT_NE(dom.find("Caf\xC3\xA9 Netplay"), std::string::npos) << dom.substr(0, 6000);
  EXPECT_NE(dom.find("M\xC3\xBCnchen"), std::string::npos);
  EXPECT_NE(dom.find(">3/16<"), std::string::npos);
  EXPECT_NE(dom.find("Street Fighter II' - Champion Edition"), std::string::npos);
  EXPECT_NE(dom.find(">online<"), std::string::npos);
  EXPECT_NE(dom.find("1 server online, 3 users, 1 waiting game"), std::string::npos);
  // The games being played, each with its lag mark in its own row; the relay with its worst.
  const auto row_of = [&](const std::string& text) {
    const auto at = dom.find(text);
    if (at == std::string::npos) return std::string();
    const auto begin = dom.rfind("<tr", at);
    return dom.substr(begin, dom.find("</tr>", at) - begin);
  };
  EXPECT_NE(row_of("Tekken 3").find("class=\"lag laggy\">laggy<"), std::string::npos) << row_of("Tekken 3");
  EXPECT_NE(row_of("Mario Kart 64").find("class=\"lag good\">good<"), std::string::npos)
      << row_of("Mario Kart 64");
  EXPECT_NE(row_of("Caf\xC3\xA9 Netplay").find("3 (1 waiting) <span class=\"lag laggy\">laggy<"),
            std::string::npos)
      << row_of("Caf\xC3\xA9 Netplay");
}

// A Japanese browser (its Accept-Language says ja) gets the page in Japanese, with the switch set to it.
TEST_F(MasterWeb, ThePageSpeaksJapaneseToAJapaneseBrowser) {
  const std::string url = "http://127.0.0.1:" + std::to_string(master_->http_port()) + "/";
  auto args = chromium_args(dir_, "profile-ja");
  args.push_back("--lang=ja");
  args.push_back("--accept-lang=ja");
  args.push_back("--dump-dom");
  args.push_back(url);
  Process browser(chromium(), args, dir_ / "dom-ja.html");
  ASSERT_EQ(browser.wait_exit(90s), 0) << browser.log().substr(0, 4000);
  const std::string dom = browser.log();
  EXPECT_NE(dom.find("<html lang=\"ja\">"), std::string::npos) << dom.substr(0, 3000);
  // "Kaillera servers", "Waiting games", "online" and the summary line, as master/web/texts/ja.json has them.
  EXPECT_NE(dom.find("<h1>Kaillera\xE3\x82\xB5\xE3\x83\xBC\xE3\x83\x90\xE3\x83\xBC</h1>"), std::string::npos);
  EXPECT_NE(
      dom.find("\xE5\xBE\x85\xE6\xA9\x9F\xE4\xB8\xAD\xE3\x81\xAE\xE3\x82\xB2\xE3\x83\xBC\xE3\x83\xA0</h2>"),
      std::string::npos);  // 待機中のゲーム
  EXPECT_NE(dom.find(">\xE3\x82\xAA\xE3\x83\xB3\xE3\x83\xA9\xE3\x82\xA4\xE3\x83\xB3<"),
            std::string::npos);  // オンライン
  // オンラインのサーバー 1 台、ユーザー 3 人、待機中のゲーム 1 件
  EXPECT_NE(
      dom.find(
          "\xE3\x82\xAA\xE3\x83\xB3\xE3\x83\xA9\xE3\x82\xA4\xE3\x83\xB3\xE3\x81\xAE\xE3\x82\xB5\xE3\x83\xBC"
          "\xE3\x83\x90\xE3\x83\xBC 1 "
          "\xE5\x8F\xB0\xE3\x80\x81\xE3\x83\xA6\xE3\x83\xBC\xE3\x82\xB6\xE3\x83\xBC 3 "
          "\xE4\xBA\xBA\xE3\x80\x81\xE5\xBE\x85\xE6\xA9\x9F\xE4\xB8\xAD\xE3\x81\xAE\xE3\x82\xB2\xE3\x83\xBC"
          "\xE3\x83\xA0 1 "
          "\xE4\xBB\xB6"),
      std::string::npos);
  // The lag mark of the laggy room: ラグあり.
  const auto tekken = dom.find("Tekken 3");
  ASSERT_NE(tekken, std::string::npos);
  const auto row = dom.substr(tekken, dom.find("</tr>", tekken) - tekken);
  EXPECT_NE(row.find("class=\"lag laggy\">\xE3\x83\xA9\xE3\x82\xB0\xE3\x81\x82\xE3\x82\x8A<"),
            std::string::npos)
      << row;
  // No English text of the page is left.
  for (const char* english : {"Waiting games", "Games being played", ">online<", "Show offline servers",
                              "Make a group link", "server online"})
    EXPECT_EQ(dom.find(english), std::string::npos) << english;
}

// The language from Accept-Language, ?lang= over it, and English for languages the page does not have.
TEST_F(MasterWeb, TheServerPicksTheLanguage) {
  const auto get = [&](const std::string& target, const std::string& accept) {
    return http_get(master_->http_port(), target,
                    accept.empty() ? "" : "Accept-Language: " + accept + "\r\n");
  };
  const auto pt = get("/", "pt-PT,pt;q=0.9,en;q=0.8");
  EXPECT_EQ(pt.header("content-language"), "pt-BR");
  EXPECT_NE(pt.body.find("<html lang=\"pt-BR\">"), std::string::npos);
  EXPECT_NE(pt.body.find("<h2 id=\"games-title\">Jogos esperando</h2>"), std::string::npos);
  const auto ko = get("/?group=x&lang=ko", "pt-PT");
  EXPECT_EQ(ko.header("content-language"), "ko");
  EXPECT_NE(ko.body.find("<html lang=\"ko\">"), std::string::npos);
  const auto fr = get("/", "fr-FR,fr;q=0.9");
  EXPECT_EQ(fr.header("content-language"), "en");
  EXPECT_NE(fr.body.find("<h2 id=\"games-title\">Waiting games</h2>"), std::string::npos);
  EXPECT_EQ(get("/", "").header("content-language"), "en");
}

// A group link: made over the API, opened in the browser (the visit joins, from 127.0.0.1), and the page
// shows the fair pick for the group's players with each one's numbers.
TEST_F(MasterWeb, AGroupLinkShowsTheFairRelayForItsVisitors) {
  const auto made = http_exchange(master_->http_port(),
                                  "POST /api/v1/groups HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string code = nlohmann::json::parse(made.body).at("code");
  const std::string url = "http://127.0.0.1:" + std::to_string(master_->http_port()) + "/?group=" + code;
  auto args = chromium_args(dir_, "profile-group");
  args.push_back("--dump-dom");
  args.push_back(url);
  Process browser(chromium(), args, dir_ / "group.html");
  ASSERT_EQ(browser.wait_exit(90s), 0) << browser.log().substr(0, 4000);
  const std::string dom = browser.log();
  EXPECT_NE(
      dom.find("Best relay: Caf\xC3\xA9 Netplay (127.0.0.1:27888), 3 hops at most, worst round trip 25 ms."),
      std::string::npos)
      << dom.substr(0, 12000);
  EXPECT_NE(dom.find("127.0.0.1: 3 hops, 25 ms (measured)"), std::string::npos);
  EXPECT_NE(dom.find("In this group: 1 player (you are 127.0.0.1)."), std::string::npos);
  EXPECT_NE(dom.find("?group=" + code), std::string::npos) << "the link to share";
}

// Screenshots at a phone's and a desktop's size, for a person to look at.
void screenshot(const TempDir& dir, std::uint16_t port, const std::string& size, const std::string& name) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const char* keep = std::getenv("KF_WEB_SCREENSHOT_DIR");
  const std::string png = keep && *keep ? std::string(keep) + "/" + name : (dir / name).string();
  auto args = chromium_args(dir, "profile-" + name);
  args.push_back("--window-size=" + size);
  args.push_back("--hide-scrollbars");
  args.push_back("--screenshot=" + png);
  args.push_back(url);
  Process browser(chromium(), args, dir / (name + ".log"));
  ASSERT_EQ(browser.wait_exit(90s), 0) << browser.log().substr(0, 4000);
  const std::string bytes = read_file(png);
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(MasterWeb, ScreenshotsAtPhoneAndDesktopSizes) {
  screenshot(dir_, master_->http_port(), "390,844", "master-phone.png");
  screenshot(dir_, master_->http_port(), "1280,720", "master-desktop.png");
}

// A Japanese relay (its name in Shift_JIS, reported over gRPC) and a server mirrored from a Shift_JIS list
// that the test serves (`#charset=shift_jis`): the page shows both names as the right characters, and the
// mirrored one marked external. Names are KAILLERA.md §8 vectors 25 ("定員30名") and 9 ("じょｎ").
TEST(MasterWebMirror, ThePageShowsShiftJisNamesAndAMirroredServerMarkedExternal) {
  if (chromium() == nullptr) GTEST_SKIP() << "chromium is not installed";
  TempDir dir;
  ListServer lists;
  lists.set("/server_list.php",
            {200, "text/plain", "\x82\xb6\x82\xe5\x82\x8e\r\n10.9.9.9:27888;5/20;0;0.86;Osaka\r\n"});
  Master master(dir, {"--mirror", lists.url("/server_list.php") + "#charset=shift_jis", "--mirror-interval-s",
                      "1", "--mirror-keep-s", "60"});
  const auto added =
      run_command(KF_MASTER_BIN, {"relay", "add", "jp", "--db", dir / "master.db"}, dir / "add.log");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const auto end = added.output.find_last_not_of('\n');
  const std::string token =
      added.output.substr(added.output.rfind('\n', end) + 1, end - added.output.rfind('\n', end));
  {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(master.grpc_port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::RelayRegistry::NewStub(channel);
    v1::RegisterRequest req;
    req.set_token(token);
    req.mutable_info()->mutable_name()->set_raw("\x92\xe8\x88\xf5\x33\x30\x96\xbc");
    req.mutable_info()->set_charset("shift_jis");
    req.mutable_info()->set_public_host("127.0.0.1");
    req.mutable_info()->set_handshake_port(27888);
    req.mutable_info()->set_game_port_first(27889);
    req.mutable_info()->set_max_users(8);
    v1::RegisterResponse reg;
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 5s);
      ASSERT_TRUE(stub->Register(&ctx, req, &reg).ok());
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    auto rw = stub->Report(&ctx);
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(reg.relay_id());
    hello.mutable_hello()->set_session_key(reg.session_key());
    ASSERT_TRUE(rw->Write(hello));
    v1::RelayMessage report;
    report.mutable_report()->set_users(1);
    // Issue 14: it refuses new load; the page shows it busy.
    report.mutable_report()->mutable_headroom()->set_refusing(true);
    report.mutable_report()->mutable_headroom()->set_cause("busy_loop");
    report.mutable_report()->mutable_headroom()->set_loop_busy(0.92f);
    ASSERT_TRUE(rw->Write(report));
    rw->WritesDone();
    ASSERT_TRUE(rw->Finish().ok());
  }
  // Both listed (the relay online, the mirrored server fetched).
  ASSERT_TRUE(poll_until(
      [&] {
        const std::string list = http_get(master.http_port(), "/server_list.php").body;
        return list.find("127.0.0.1:27888") != std::string::npos &&
               list.find("10.9.9.9:27888") != std::string::npos;
      },
      10s, 20ms))
      << master.log();

  auto args = chromium_args(dir, "profile-mirror");
  args.push_back("--dump-dom");
  args.push_back("http://127.0.0.1:" + std::to_string(master.http_port()) + "/");
  Process browser(chromium(), args, dir / "dom.html");
  ASSERT_EQ(browser.wait_exit(90s), 0) << browser.log().substr(0, 4000);
  const std::string dom = browser.log();
  const std::string jon = "\xE3\x81\x98\xE3\x82\x87\xEF\xBD\x8E";  // じょｎ
  const auto mirrored = dom.find(jon);
  ASSERT_NE(mirrored, std::string::npos) << dom.substr(0, 6000);
  // The "external" tag sits in the same name cell, right after the name.
  const auto cell_end = dom.find("</td>", mirrored);
  const auto tag = dom.find(">external<", mirrored);
  EXPECT_NE(tag, std::string::npos);
  EXPECT_LT(tag, cell_end);
  const auto relay = dom.find("\xE5\xAE\x9A\xE5\x93\xA1\x33\x30\xE5\x90\x8D");  // 定員30名
  ASSERT_NE(relay, std::string::npos);
  // Our own relay is not marked external.
  const auto relay_cell_end = dom.find("</td>", relay);
  const auto relay_tag = dom.find(">external<", relay);
  EXPECT_TRUE(relay_tag == std::string::npos || relay_tag > relay_cell_end);
  // Busy, in its own row; the mirrored server is online.
  const auto row_end = dom.find("</tr>", relay);
  const auto busy = dom.find("class=\"badge busy\"", relay);
  EXPECT_LT(busy, row_end) << dom.substr(relay, row_end - relay);
  EXPECT_LT(dom.find(">busy<", relay), row_end);
  EXPECT_NE(dom.find("class=\"badge on\">online<", mirrored), std::string::npos);
  EXPECT_EQ(master.stop(), 0);
}

}  // namespace
