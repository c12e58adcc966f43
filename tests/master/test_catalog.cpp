// The Catalog with a real SQLite file and time as an argument: token and open registration, reports, the
// 3-missed-reports rule, third-party touch servers and their TTL, restarts, and changes made by the operator
// subcommands while the master runs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "master/catalog.hpp"
#include "master/formats.hpp"
#include "master/store/migrations.hpp"
#include "master/tokens.hpp"
#include "tests/master/master_harness.hpp"

namespace kaillera::master {
namespace {

using kf_master_test::TempDir;
using nlohmann::json;

constexpr UnixMillis kT0 = 1'700'000'000'000;
constexpr std::uint32_t kLoopback = 0x7F000001;

class MasterCatalog : public ::testing::Test {
 protected:
  MasterCatalog() { open(); }

  void open() {
    catalog_.reset();
    store_.reset();
    db_ = std::make_unique<store::Db>(dir_ / "m.db");
    store::migrate(*db_, store::embedded_migrations(), kT0);
    store_ = std::make_unique<store::Store>(*db_);
    CatalogSettings s;
    s.report_interval_ms = 1000;
    s.open_registration = open_registration_;
    s.max_relays_per_ip = 2;
    s.touch_ttl_ms = 5000;
    catalog_ = std::make_unique<Catalog>(*store_, s, kT0);
  }

  std::string add_token(const std::string& label) {
    const std::string token = new_token();
    store_->add_token_relay(label, sha256(token), kT0);
    return token;
  }

  static RegisterInput relay_input(const std::string& token, std::string name = "Relay One",
                                   int port = 27888) {
    RegisterInput in;
    in.token = token;
    in.observed_ip = "127.0.0.1";
    in.info.name = std::move(name);
    in.info.charset = "windows-1252";
    in.info.handshake_port = port;
    in.info.game_port_first = port + 1;
    in.info.game_port_last = port + 1;
    in.info.location = "Berlin";
    in.info.version = "kf 0.1";
    in.info.max_users = 16;
    return in;
  }

  static ReportInput report(std::int64_t users, std::int64_t games,
                            std::vector<store::GameRow> waiting = {}) {
    ReportInput r;
    r.users = users;
    r.games = games;
    r.waiting = std::move(waiting);
    return r;
  }

  json api(UnixMillis now) { return json::parse(render_api_relays(*catalog_->snapshot(now))); }

  TempDir dir_;
  bool open_registration_ = false;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(MasterCatalog, TokenRelayRegistersReportsAndIsListedWithItsNumbers) {
  const std::string token = add_token("one");
  const auto reg = catalog_->register_relay(relay_input(token), kT0);
  ASSERT_TRUE(reg.status.ok()) << reg.status.message;
  EXPECT_TRUE(reg.listed);
  EXPECT_FALSE(reg.check.has_value());
  EXPECT_EQ(reg.session_key.size(), 64u);
  EXPECT_TRUE(catalog_->check_session(reg.relay_id, reg.session_key).ok());
  EXPECT_EQ(catalog_->check_session(reg.relay_id, "nope").code, Code::kUnauthenticated);

  // Registered but not yet reported: listed, not online, not in the classic list.
  EXPECT_EQ(render_server_list(*catalog_->snapshot(kT0)), "");
  ASSERT_TRUE(
      catalog_->apply_report(reg.relay_id, report(3, 2, {{7, "Tekken", "ann", "ePSXe", 1, 2}}), kT0 + 10)
          .ok());
  const auto snap = catalog_->snapshot(kT0 + 20);
  EXPECT_EQ(render_server_list(*snap), "Relay One\r\n127.0.0.1:27888;3/16;2;kf 0.1;Berlin\r\n");
  EXPECT_EQ(render_game_line(*snap), "Tekken|127.0.0.1:27888|ann|ePSXe|1/2|Relay One|Berlin|\n");
}

TEST_F(MasterCatalog, ARelayThatMissesThreeReportsGoesOffline) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0).ok());
  EXPECT_TRUE(api(kT0 + 3000)["relays"][0]["online"]);  // exactly 3 intervals: still online
  EXPECT_FALSE(api(kT0 + 3001)["relays"][0]["online"]);
  EXPECT_EQ(render_server_list(*catalog_->snapshot(kT0 + 3001)), "");
  EXPECT_EQ(catalog_->stats(kT0 + 3001).relays_online, 0u);
  // Reporting again brings it back.
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(2, 0), kT0 + 5000).ok());
  EXPECT_TRUE(api(kT0 + 5001)["relays"][0]["online"]);
}

TEST_F(MasterCatalog, WrongOrMissingTokensAreRefusedAndChangeNothing) {
  add_token("one");
  auto r = catalog_->register_relay(relay_input("kf_wrong"), kT0);
  EXPECT_EQ(r.status.code, Code::kUnauthenticated);
  EXPECT_EQ(r.status.message, "unknown or revoked token");
  r = catalog_->register_relay(relay_input(""), kT0);
  EXPECT_EQ(r.status.code, Code::kUnauthenticated);
  EXPECT_NE(r.status.message.find("does not allow open registration"), std::string::npos);
  EXPECT_TRUE(api(kT0)["relays"].empty());
  EXPECT_EQ(catalog_->stats(kT0).relays_listed, 0u);
}

TEST_F(MasterCatalog, OpenRegistrationIsListedOnlyAfterItsPong) {
  open_registration_ = true;
  open();
  const auto reg = catalog_->register_relay(relay_input(""), kT0);
  ASSERT_TRUE(reg.status.ok()) << reg.status.message;
  EXPECT_FALSE(reg.listed);
  ASSERT_TRUE(reg.check.has_value());
  EXPECT_EQ(net::to_string(*reg.check), "127.0.0.1:27888");
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0).ok());
  EXPECT_TRUE(api(kT0)["relays"].empty());
  EXPECT_EQ(catalog_->stats(kT0).relays_pending, 1u);

  catalog_->address_checked(reg.relay_id, *reg.check, false, kT0 + 1);  // no PONG
  EXPECT_TRUE(api(kT0 + 1)["relays"].empty());

  const auto again = catalog_->register_relay(relay_input(""), kT0 + 2);
  ASSERT_TRUE(again.check.has_value());
  EXPECT_EQ(again.relay_id, reg.relay_id);  // same address and port: the same relay
  catalog_->address_checked(again.relay_id, *again.check, true, kT0 + 3);
  ASSERT_TRUE(catalog_->apply_report(again.relay_id, report(1, 0), kT0 + 4).ok());
  const auto relays = api(kT0 + 5)["relays"];
  ASSERT_EQ(relays.size(), 1u);
  EXPECT_EQ(relays[0]["online"], true);
  EXPECT_EQ(relays[0]["source"], "open");

  // Registering again from the verified address keeps it listed without a new check.
  const auto third = catalog_->register_relay(relay_input(""), kT0 + 6);
  EXPECT_TRUE(third.listed);
  EXPECT_FALSE(third.check.has_value());
}

TEST_F(MasterCatalog, OpenRegistrationLimitsAndAddressRules) {
  open_registration_ = true;
  open();
  ASSERT_TRUE(catalog_->register_relay(relay_input("", "A", 1000), kT0).status.ok());
  ASSERT_TRUE(catalog_->register_relay(relay_input("", "B", 2000), kT0).status.ok());
  const auto third = catalog_->register_relay(relay_input("", "C", 3000), kT0);
  EXPECT_EQ(third.status.code, Code::kResourceExhausted);
  EXPECT_EQ(third.status.message, "at most 2 open registrations per IP address, and 127.0.0.1 has 2");
  // Re-registering an existing one is not a new one.
  EXPECT_TRUE(catalog_->register_relay(relay_input("", "A2", 1000), kT0).status.ok());

  auto elsewhere = relay_input("", "D", 4000);
  elsewhere.info.public_host = "198.51.100.1";
  const auto r = catalog_->register_relay(elsewhere, kT0);
  EXPECT_EQ(r.status.code, Code::kPermissionDenied);
  EXPECT_NE(r.status.message.find("differs from the address this request came from (127.0.0.1)"),
            std::string::npos);
}

TEST_F(MasterCatalog, EverythingSurvivesARestart) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ASSERT_TRUE(
      catalog_->apply_report(reg.relay_id, report(5, 1, {{3, "Kof", "x", "MAME", 1, 4}}), kT0 + 100).ok());
  TouchInput t;
  t.protocol = "touch_server";
  t.address = net::Endpoint{kLoopback, 30000};
  t.name = "Outside";
  const auto touch = catalog_->touch(t, kT0 + 100);
  catalog_->touch_checked(*touch.check, true, kT0 + 150);
  const std::string before = render_server_list(*catalog_->snapshot(kT0 + 200));

  open();  // a new Catalog on the same file, as after a restart
  const auto snap = catalog_->snapshot(kT0 + 200);
  EXPECT_EQ(render_server_list(*snap), before);
  EXPECT_EQ(render_game_line(*snap), "Kof|127.0.0.1:27888|x|MAME|1/4|Relay One|Berlin|\n");
  EXPECT_TRUE(catalog_->check_session(reg.relay_id, reg.session_key).ok());  // the stream may resume
}

// Issue 18: playing games with their lag, a mark each, the relay's worst mark, kept across a restart.
TEST_F(MasterCatalog, PlayingGamesCarryTheirLagMarkAndSurviveARestart) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ReportInput r = report(6, 3);
  r.playing_games = 3;
  // 0.3 s lost in 60 s (0.5 %): good; 2.4 s (4 %): some lag; 1 s in 5 s: too early for a mark.
  r.playing = {{11, "Street Fighter II", "MAME32k", 2, 60'000, 300, 200},
               {12, "Tekken 3", "ePSXe", 2, 60'000, 2'400, 2'000},
               {13, "Kof 98", "MAME32k", 2, 5'000, 1'000, 1'000}};
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, r, kT0 + 10).ok());
  for (int restart = 0; restart < 2; ++restart) {
    if (restart == 1) open();
    const auto snap = catalog_->snapshot(kT0 + 20);
    ASSERT_EQ(snap->playing.size(), 3u) << restart;
    EXPECT_EQ(snap->playing[0].rom.utf8, "Street Fighter II");
    EXPECT_EQ(snap->playing[0].lag, LagMark::kGood);
    EXPECT_EQ(snap->playing[1].lag, LagMark::kSomeLag);
    EXPECT_EQ(snap->playing[1].wait_ms, 2'400);
    EXPECT_EQ(snap->playing[1].worst_wait_ms, 2'000);
    EXPECT_EQ(snap->playing[2].lag, LagMark::kUnknown);
    ASSERT_EQ(snap->servers.size(), 1u);
    EXPECT_EQ(snap->servers[0].lag, LagMark::kSomeLag);  // the worst of its marks
  }
  // The next report replaces them; a relay that went offline shows none.
  r.playing = {{12, "Tekken 3", "ePSXe", 2, 60'000, 9'000, 9'000}};
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, r, kT0 + 1000).ok());
  auto snap = catalog_->snapshot(kT0 + 1500);  // past the 250 ms between rebuilds
  ASSERT_EQ(snap->playing.size(), 1u);
  EXPECT_EQ(snap->playing[0].lag, LagMark::kLaggy);
  snap = catalog_->snapshot(kT0 + 1000 + 3 * 1000 + 1);  // three report intervals without a report
  EXPECT_TRUE(snap->playing.empty());
}

TEST_F(MasterCatalog, TouchServersAreKeyedByIpAndPortCheckedAndExpire) {
  TouchInput a;
  a.protocol = "touch_server";
  a.address = net::Endpoint{kLoopback, 27888};
  a.name = "EmuLinker A";
  a.users = 2;
  a.max_users = 10;
  TouchInput b = a;
  b.address.port = 27999;
  b.name = "EmuLinker B";

  const auto ra = catalog_->touch(a, kT0);
  ASSERT_TRUE(ra.status.ok());
  EXPECT_FALSE(ra.listed);
  ASSERT_TRUE(ra.check.has_value());
  EXPECT_EQ(*ra.check, a.address);
  EXPECT_FALSE(catalog_->touch(a, kT0 + 1).check.has_value());  // one check at a time
  const auto rb = catalog_->touch(b, kT0 + 2);
  ASSERT_TRUE(rb.check.has_value());

  catalog_->touch_checked(a.address, true, kT0 + 10);
  catalog_->touch_checked(b.address, true, kT0 + 10);
  auto list = render_server_list(*catalog_->snapshot(kT0 + 20));
  EXPECT_NE(list.find("EmuLinker A\r\n127.0.0.1:27888;2/10;0;;\r\n"), std::string::npos) << list;
  EXPECT_NE(list.find("EmuLinker B\r\n127.0.0.1:27999;2/10;0;;\r\n"), std::string::npos) << list;
  const auto relays = api(kT0 + 20)["relays"];
  ASSERT_EQ(relays.size(), 2u);
  EXPECT_EQ(relays[0]["external"], true);

  // A touches again, B does not: after the TTL only A is listed.
  EXPECT_TRUE(catalog_->touch(a, kT0 + 4000).listed);
  list = render_server_list(*catalog_->snapshot(kT0 + 5500));
  EXPECT_NE(list.find("EmuLinker A"), std::string::npos);
  EXPECT_EQ(list.find("EmuLinker B"), std::string::npos);
  catalog_->maintain(kT0 + 5500);
  EXPECT_EQ(catalog_->stats(kT0 + 5500).third_party, 1u);
  EXPECT_EQ(store_->load_third_party().size(), 1u);
}

TEST_F(MasterCatalog, ATouchServerWhosePongNeverComesIsNotListed) {
  TouchInput a;
  a.protocol = "touch_list";
  a.address = net::Endpoint{kLoopback, 27888};
  a.name = "Silent";
  const auto r = catalog_->touch(a, kT0);
  catalog_->touch_checked(*r.check, false, kT0 + 3000);
  EXPECT_EQ(render_server_list(*catalog_->snapshot(kT0 + 3000)), "");
  EXPECT_TRUE(catalog_->touch(a, kT0 + 60'000).check.has_value());  // the next touch tries again
}

TEST_F(MasterCatalog, TouchServersPerIpAreLimited) {
  TouchInput a;
  a.protocol = "touch_server";
  a.name = "x";
  for (std::uint16_t port = 1; port <= 2; ++port) {
    a.address = net::Endpoint{kLoopback, port};
    ASSERT_TRUE(catalog_->touch(a, kT0).status.ok());
  }
  a.address = net::Endpoint{kLoopback, 3};
  const auto r = catalog_->touch(a, kT0);
  EXPECT_EQ(r.status.code, Code::kResourceExhausted);
  EXPECT_EQ(r.status.message, "at most 2 servers per IP address, and 127.0.0.1 has 2");
}

TEST_F(MasterCatalog, OperatorChangesFromAnotherProcessAreSeen) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0).ok());
  {
    store::Db other(dir_ / "m.db");  // what `kaillera-master relay remove one` does
    store::Store s(other);
    ASSERT_TRUE(s.remove_relay(*s.find_relay("one")));
  }
  EXPECT_NE(catalog_->maintain(kT0 + 1).find("reloaded"), std::string::npos);
  EXPECT_TRUE(api(kT0 + 1)["relays"].empty());
  EXPECT_EQ(catalog_->apply_report(reg.relay_id, report(1, 0), kT0 + 2).code, Code::kNotFound);

  // A token added meanwhile works without a restart.
  const std::string token = [&] {
    store::Db other(dir_ / "m.db");
    store::Store s(other);
    const std::string t = new_token();
    s.add_token_relay("two", sha256(t), kT0);
    return t;
  }();
  EXPECT_TRUE(catalog_->register_relay(relay_input(token, "Two"), kT0 + 3).status.ok());
}

TEST_F(MasterCatalog, ARelayThatAlsoTouchesIsListedOnce) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0).ok());
  TouchInput t;
  t.protocol = "touch_server";
  t.address = net::Endpoint{kLoopback, 27888};  // the relay's own handshake address
  t.name = "Relay One (announced)";
  catalog_->touch_checked(*catalog_->touch(t, kT0).check, true, kT0);
  EXPECT_EQ(render_server_list(*catalog_->snapshot(kT0 + 1)),
            "Relay One\r\n127.0.0.1:27888;1/16;0;kf 0.1;Berlin\r\n");
}

TEST_F(MasterCatalog, SnapshotsAreReusedUntilSomethingChanges) {
  const auto reg = catalog_->register_relay(relay_input(add_token("one")), kT0);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0).ok());
  const auto a = catalog_->snapshot(kT0 + 1);
  EXPECT_EQ(catalog_->snapshot(kT0 + 2), a);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(1, 0), kT0 + 3).ok());  // same numbers
  EXPECT_EQ(catalog_->snapshot(kT0 + 4), a);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(2, 0), kT0 + 5).ok());
  // New numbers of a listed relay wait for the next rebuild, at most 250 ms after the last one (kT0 + 1): a
  // thousand relays reporting would otherwise rebuild the lists a hundred times a second.
  EXPECT_EQ(catalog_->snapshot(kT0 + 6), a);
  const auto b = catalog_->snapshot(kT0 + 1 + 250);
  EXPECT_NE(b, a);
  EXPECT_EQ(api(kT0 + 1 + 250)["relays"][0]["users"], 2);
  EXPECT_NE(catalog_->snapshot(kT0 + 5 + 3001), b);  // the relay's window ran out
}

TEST_F(MasterCatalog, NamesAreServedAsUtf8AndClassicBytesPassThrough) {
  auto in = relay_input(add_token("one"), std::string("\x92\xe8\x88\xf5", 4));
  in.info.charset = "shift_jis";
  const auto reg = catalog_->register_relay(in, kT0);
  ASSERT_TRUE(catalog_->apply_report(reg.relay_id, report(0, 0), kT0).ok());
  const auto snap = catalog_->snapshot(kT0);
  EXPECT_EQ(api(kT0)["relays"][0]["name"], "\xE5\xAE\x9A\xE5\x93\xA1");
  EXPECT_EQ(render_server_list(*snap).substr(0, 6), std::string("\x92\xe8\x88\xf5\r\n", 6));
}

}  // namespace
}  // namespace kaillera::master
