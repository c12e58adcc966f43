// The fair pick on the master (master/pick/picker.hpp) with a real Catalog on a real SQLite file: relays'
// reported measurements feed the pick, missing and stale pairs are probed through the relay that lacks them,
// probe results end the wait early, the deadline ends it otherwise, players' own measurements rank external
// servers, pick groups, and the HTTP routes (POST /api/v1/pick and the group routes) with their errors.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

#include "master/catalog.hpp"
#include "master/formats.hpp"
#include "master/http_routes.hpp"
#include "master/pick/picker.hpp"
#include "master/pick/render.hpp"
#include "master/store/migrations.hpp"
#include "master/tokens.hpp"
#include "tests/master/master_harness.hpp"

namespace kaillera::master::pick {
namespace {

using kf_master_test::TempDir;
using nlohmann::json;

constexpr UnixMillis kT0 = 1'700'000'000'000;
constexpr int kSourcePing = 1, kSourceLoginAck = 4, kSourceProbe = 5;

struct ProbeAsk {
  std::int64_t relay_id;
  std::string request_id;
  std::vector<std::string> addresses;
  std::uint32_t deadline_ms;
};

class MasterPicker : public ::testing::Test {
 protected:
  MasterPicker() {
    db_ = std::make_unique<store::Db>(dir_ / "m.db");
    store::migrate(*db_, store::embedded_migrations(), kT0);
    store_ = std::make_unique<store::Store>(*db_);
    CatalogSettings s;
    s.report_interval_ms = 60'000;
    s.group_ttl_ms = 3'600'000;
    catalog_ = std::make_unique<Catalog>(*store_, s, kT0);
  }
  ~MasterPicker() override {
    if (picker_) picker_->stop();
  }

  void make_picker(PickerSettings ps = {}, bool streams = true) {
    picker_ = std::make_unique<Picker>(
        *catalog_, ps, [this] { return now_.load(); },
        [this, streams](std::int64_t relay, const std::string& rid, const std::vector<std::string>& a,
                        std::uint32_t d) {
          std::lock_guard lock(mu_);
          if (!streams) return false;
          asks_.push_back({relay, rid, a, d});
          return true;
        });
  }

  std::int64_t add_relay(const std::string& label, int port, std::int64_t users = 0,
                         std::int64_t max_users = 16, std::string location = "Berlin",
                         std::string ip = "127.0.0.1") {
    const std::string token = new_token();
    store_->add_token_relay(label, sha256(token), kT0);
    RegisterInput in;
    in.token = token;
    in.observed_ip = std::move(ip);
    in.info.name = label;
    in.info.charset = "windows-1252";
    in.info.handshake_port = port;
    in.info.game_port_first = port + 1;
    in.info.game_port_last = port + 1;
    in.info.location = std::move(location);
    in.info.max_users = max_users;
    const auto reg = catalog_->register_relay(in, kT0);
    EXPECT_TRUE(reg.status.ok()) << reg.status.message;
    ReportInput r;
    r.users = users;
    EXPECT_TRUE(catalog_->apply_report(reg.relay_id, r, kT0).ok());
    return reg.relay_id;
  }

  static store::MeasurementRow m(std::string ip, int hops, int rtt, int source, UnixMillis at) {
    store::MeasurementRow row;
    row.player_address = std::move(ip);
    row.hops = hops;
    row.rtt_ms = rtt;
    row.source = source;
    row.measured_unix_ms = at;
    return row;
  }

  void measure(std::int64_t relay, std::vector<store::MeasurementRow> rows, UnixMillis at = kT0) {
    ASSERT_TRUE(catalog_->add_measurements(relay, rows, at).ok());
  }

  PickOutput run(PickInput in) {
    std::promise<PickOutput> done;
    auto f = done.get_future();
    picker_->pick(std::move(in), [&done](PickOutput out) { done.set_value(std::move(out)); });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    return f.get();
  }

  static PickInput players(std::vector<std::string> p, std::optional<Objective> o = std::nullopt) {
    PickInput in;
    in.players = std::move(p);
    in.objective = o;
    return in;
  }

  std::vector<ProbeAsk> asks() {
    std::lock_guard lock(mu_);
    return asks_;
  }

  TempDir dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Picker> picker_;
  std::atomic<UnixMillis> now_{kT0 + 1000};
  std::mutex mu_;
  std::vector<ProbeAsk> asks_;
};

TEST_F(MasterPicker, ReportedMeasurementsPickTheRelayWithTheSmallestLargestHopCount) {
  const auto a = add_relay("near-a", 27888);
  const auto b = add_relay("middle", 27890);
  measure(a, {m("10.0.0.1", 2, 20, kSourceLoginAck, kT0), m("10.0.0.2", 9, 90, kSourceLoginAck, kT0)});
  measure(b, {m("10.0.0.1", 5, 50, kSourceLoginAck, kT0), m("10.0.0.2", 5, 50, kSourceLoginAck, kT0)});
  make_picker();
  const PickOutput out = run(players({"10.0.0.1", "10.0.0.2"}));
  ASSERT_TRUE(out.status.ok()) << out.status.message;
  ASSERT_EQ(out.ranking.size(), 2u);
  EXPECT_EQ(out.ranking[0].server.relay_id, b);
  EXPECT_EQ(out.ranking[0].score.max_hops, 5);
  EXPECT_EQ(out.ranking[0].score.spread, 0);
  EXPECT_EQ(out.ranking[1].score.max_hops, 9);
  EXPECT_EQ(out.ranking[0].players[0].value.source, Source::kMeasured);
  EXPECT_TRUE(asks().empty()) << "every pair was fresh: nothing to probe";
  EXPECT_EQ(out.probes_requested, 0u);
  // The JSON names the relay, the numbers and each player's values.
  const json j = json::parse(to_json(out));
  EXPECT_EQ(j["best"]["relay"]["name"], "middle");
  EXPECT_EQ(j["best"]["relay"]["port"], 27890);
  EXPECT_EQ(j["best"]["relay"]["game_ports"], json::array({27891, 27891}));
  EXPECT_EQ(j["best"]["max_hops"], 5);
  EXPECT_EQ(j["best"]["max_rtt_ms"], 50);
  EXPECT_EQ(j["best"]["players"][1]["address"], "10.0.0.2");
  EXPECT_EQ(j["best"]["players"][1]["source"], "measured");
  // Frame delay at 50 ms for connection type 1 (LAN): floor(60 * 0.05 / 1) + 1 = 4; Good (3): 1 + 1 = 2.
  EXPECT_EQ(j["best"]["frame_delay"][0]["frame_delay"], 4);
  EXPECT_EQ(j["best"]["frame_delay"][2]["frame_delay"], 2);
  // The other objectives' picks are named: latency picks b too (50 < 90).
  EXPECT_EQ(j["alternatives"]["latency"]["relay"]["name"], "middle");
}

TEST_F(MasterPicker, ZeroHopsIsAMeasurementNotAGap) {
  const auto a = add_relay("lan", 27888);
  measure(a, {m("192.168.1.5", 0, 1, kSourceLoginAck, kT0)});
  make_picker();
  const PickOutput out = run(players({"192.168.1.5"}));
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].score.max_hops, 0);
  EXPECT_EQ(out.ranking[0].score.missing_hops, 0);
  // ... and survives a restart (SQLite keeps 0 apart from unknown).
  picker_->stop();
  picker_.reset();
  catalog_ = std::make_unique<Catalog>(*store_, CatalogSettings{60'000}, kT0 + 500);
  make_picker();
  const PickOutput again = run(players({"192.168.1.5"}));
  ASSERT_EQ(again.ranking.size(), 1u);
  EXPECT_EQ(again.ranking[0].score.max_hops, 0);
  EXPECT_EQ(again.ranking[0].players[0].value.rtt_ms, 1);
}

TEST_F(MasterPicker, MissingPairsAreProbedByTheRelayThatLacksThemAndTheAnswerWaitsForTheResults) {
  const auto a = add_relay("a", 27888);
  const auto b = add_relay("b", 27890);
  measure(a, {m("10.0.0.1", 3, 30, kSourceLoginAck, kT0), m("10.0.0.2", 3, 30, kSourceLoginAck, kT0)});
  measure(b, {m("10.0.0.1", 4, 40, kSourcePing, kT0)});  // hops only, and nothing for .2
  make_picker();
  std::promise<PickOutput> done;
  auto f = done.get_future();
  PickInput in = players({"10.0.0.1", "10.0.0.2"});
  in.deadline_ms = 10'000;
  picker_->pick(in, [&](PickOutput o) { done.set_value(std::move(o)); });
  // Only b was asked, and only for .2: a knows both players, b knows .1 (hops from a PING, RTT from the
  // same row) but nothing of .2.
  const auto got = asks();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].relay_id, b);
  EXPECT_EQ(got[0].addresses, (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(got[0].deadline_ms, 10'000u);
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "must wait for the probe";
  EXPECT_EQ(picker_->pending(), 1u);
  // The probe result arrives: b is 1 hop from .2 -> b's largest is 4, a's is 3 -> a still best on hops, and
  // b's .2 value is marked probed.
  measure(b, {m("10.0.0.2", 1, 8, kSourceProbe, kT0 + 1500)}, kT0 + 1500);
  picker_->on_probe_result(b, got[0].request_id, 1);
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const PickOutput out = f.get();
  EXPECT_EQ(out.probes_requested, 1u);
  EXPECT_EQ(out.probes_answered, 1u);
  ASSERT_EQ(out.ranking.size(), 2u);
  EXPECT_EQ(out.ranking[0].server.relay_id, a);
  EXPECT_EQ(out.ranking[1].players[1].value.source, Source::kProbed);
  EXPECT_EQ(out.ranking[1].players[1].value.hops, 1);
  EXPECT_EQ(picker_->pending(), 0u);
}

TEST_F(MasterPicker, TheDeadlineEndsTheWaitWithWhatIsKnown) {
  const auto a = add_relay("a", 27888);
  measure(a, {m("10.0.0.1", 3, 30, kSourceLoginAck, kT0)});
  make_picker();
  std::promise<PickOutput> done;
  auto f = done.get_future();
  PickInput in = players({"10.0.0.1", "10.0.0.9"});
  in.deadline_ms = 300;
  picker_->pick(in, [&](PickOutput o) { done.set_value(std::move(o)); });
  ASSERT_EQ(asks().size(), 1u);
  now_ += 300;  // the picker compares deadlines with its clock; real time passes too (it waits ~300 ms)
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const PickOutput out = f.get();
  EXPECT_EQ(out.probes_requested, 1u);
  EXPECT_EQ(out.probes_answered, 0u);
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].score.missing_hops, 1);
  EXPECT_EQ(out.ranking[0].players[1].value.source, Source::kMissing);
  // A late result for the finished pick is ignored.
  picker_->on_probe_result(a, asks()[0].request_id, 1);
  EXPECT_EQ(picker_->pending(), 0u);
}

TEST_F(MasterPicker, StaleValuesAreReprobedAndMarkedWhenNoFreshOneComes) {
  const auto a = add_relay("a", 27888);
  PickerSettings ps;
  ps.fresh_ms = 60'000;
  measure(a, {m("10.0.0.1", 3, 30, kSourceLoginAck, kT0 - 120'000)});
  make_picker(ps, /*streams=*/false);  // the relay has no stream: nothing can be asked
  const PickOutput out = run(players({"10.0.0.1"}));
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_TRUE(out.ranking[0].players[0].value.stale);
  EXPECT_EQ(out.ranking[0].players[0].value.hops, 3);
  EXPECT_GE(out.ranking[0].players[0].value.age_ms, 120'000);
  EXPECT_EQ(out.probes_requested, 0u);
}

TEST_F(MasterPicker, FullAndOfflineRelaysAreLeftOutAndNotProbed) {
  const auto full = add_relay("full", 27888, 16, 16);
  const auto ok = add_relay("ok", 27890);
  measure(full, {m("10.0.0.1", 1, 10, kSourceLoginAck, kT0)});
  measure(ok, {m("10.0.0.1", 6, 60, kSourceLoginAck, kT0)});
  make_picker();
  const PickOutput out = run(players({"10.0.0.1"}));
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].server.relay_id, ok);
  ASSERT_EQ(out.excluded.size(), 1u);
  EXPECT_EQ(out.excluded[0].second, "full");
  EXPECT_TRUE(asks().empty());
  // Three report intervals later without reports both are offline: nothing to pick, nothing to probe.
  now_ = kT0 + 4 * 60'000;
  const PickOutput later = run(players({"10.0.0.1"}));
  EXPECT_TRUE(later.ranking.empty());
  EXPECT_EQ(later.excluded.size(), 2u);
  EXPECT_TRUE(asks().empty());
}

// Issue 14: a relay that reports no headroom (refusing new load) is left out like a full one, and shown busy.
TEST_F(MasterPicker, ABusyRelayIsLeftOutWithTheReasonAndListedBusy) {
  const auto busy = add_relay("busy", 27888);
  const auto ok = add_relay("ok", 27890);
  ReportInput r;
  r.headroom = {true, "busy_loop", 930, 0};
  ASSERT_TRUE(catalog_->apply_report(busy, r, kT0).ok());
  measure(busy, {m("10.0.0.1", 1, 10, kSourceLoginAck, kT0)});  // the nearer one
  measure(ok, {m("10.0.0.1", 6, 60, kSourceLoginAck, kT0)});
  make_picker();
  const PickOutput out = run(players({"10.0.0.1"}));
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].server.relay_id, ok);
  ASSERT_EQ(out.excluded.size(), 1u);
  EXPECT_EQ(out.excluded[0].first.relay_id, busy);
  EXPECT_EQ(out.excluded[0].second, "busy");
  EXPECT_TRUE(asks().empty());
  const auto list = nlohmann::json::parse(render_api_relays(*catalog_->snapshot(kT0), {}));
  for (const auto& e : list["relays"]) {
    const bool is_busy = e["id"] == std::to_string(busy);
    EXPECT_EQ(e["busy"], is_busy) << e.dump();
    EXPECT_EQ(e["headroom"]["refusing"], is_busy) << e.dump();
    if (is_busy) {
      EXPECT_EQ(e["headroom"]["cause"], "busy_loop");
      EXPECT_DOUBLE_EQ(e["headroom"]["loop_busy"].get<double>(), 0.93);
    }
  }
  // Headroom again: picked again.
  r.headroom = {false, "", 400, 0};
  ASSERT_TRUE(catalog_->apply_report(busy, r, kT0 + 10).ok());
  // (The same time as the first pick's snapshot: a change of busy rebuilds the list at once.)
  const PickOutput again = run(players({"10.0.0.1"}));
  ASSERT_EQ(again.ranking.size(), 2u) << (again.excluded.empty() ? "" : again.excluded[0].second);
  EXPECT_EQ(again.ranking[0].server.relay_id, busy);
}

TEST_F(MasterPicker, ObjectivesDisagreeAndTheAnswerSaysWhatEachWouldPick) {
  const auto a = add_relay("few-hops", 27888);
  const auto b = add_relay("fast", 27890);
  measure(a, {m("10.0.0.1", 3, 120, kSourceLoginAck, kT0), m("10.0.0.2", 3, 110, kSourceLoginAck, kT0)});
  measure(b, {m("10.0.0.1", 4, 40, kSourceLoginAck, kT0), m("10.0.0.2", 4, 45, kSourceLoginAck, kT0)});
  make_picker();
  const PickOutput hops = run(players({"10.0.0.1", "10.0.0.2"}, Objective::kHops));
  const PickOutput bal = run(players({"10.0.0.1", "10.0.0.2"}, Objective::kBalanced));
  const PickOutput lat = run(players({"10.0.0.1", "10.0.0.2"}, Objective::kLatency));
  EXPECT_EQ(hops.ranking[0].server.relay_id, a);
  EXPECT_EQ(bal.ranking[0].server.relay_id, b);
  EXPECT_EQ(lat.ranking[0].server.relay_id, b);
  ASSERT_TRUE(hops.best_by[static_cast<int>(Objective::kBalanced)]);
  EXPECT_EQ(hops.best_by[static_cast<int>(Objective::kBalanced)]->server.relay_id, b);
  const json j = json::parse(to_json(hops));
  EXPECT_EQ(j["objective"], "hops");
  EXPECT_EQ(j["alternatives"]["balanced"]["relay"]["name"], "fast");
  EXPECT_EQ(j["alternatives"]["balanced"]["max_rtt_ms"], 45);
  EXPECT_FALSE(j["alternatives"].contains("hops"));
}

TEST_F(MasterPicker, TheRankingIsCutAtTheLimitButEveryObjectivesBestIsKept) {
  const auto a = add_relay("few-hops", 27888);
  const auto b = add_relay("fast", 27890);
  const auto c = add_relay("far", 27892);
  measure(a, {m("10.0.0.1", 3, 120, kSourceLoginAck, kT0)});
  measure(b, {m("10.0.0.1", 5, 40, kSourceLoginAck, kT0)});
  measure(c, {m("10.0.0.1", 9, 20, kSourceLoginAck, kT0)});
  make_picker();
  PickInput in = players({"10.0.0.1"}, Objective::kHops);
  in.limit = 1;
  const PickOutput out = run(in);
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].server.relay_id, a);
  ASSERT_TRUE(out.best_by[static_cast<int>(Objective::kLatency)]);
  EXPECT_EQ(out.best_by[static_cast<int>(Objective::kLatency)]->server.relay_id, c);
  in.limit = 0;
  EXPECT_EQ(run(in).status.code, Code::kInvalidArgument);
}

TEST_F(MasterPicker, OwnMeasurementsFillGapsAndAreMarkedReported) {
  const auto a = add_relay("a", 27888);
  make_picker({}, /*streams=*/false);
  PickInput in = players({"10.0.0.1"});
  in.own.push_back({"10.0.0.1", "127.0.0.1", 27888, 7, 70});
  in.own.push_back({"10.0.0.1", "127.0.0.1", 29999, 1, 5});  // no such server listed: ignored
  const PickOutput out = run(in);
  ASSERT_EQ(out.ranking.size(), 1u);
  EXPECT_EQ(out.ranking[0].server.relay_id, a);
  EXPECT_EQ(out.ranking[0].players[0].value.source, Source::kReported);
  EXPECT_EQ(out.ranking[0].players[0].value.hops, 7);
  EXPECT_EQ(out.ranking[0].players[0].value.rtt_ms, 70);
}

TEST_F(MasterPicker, AnExternalServerIsACandidateOnlyWithThePlayersOwnMeasurements) {
  const auto ours = add_relay("ours", 27888);
  measure(ours, {m("10.0.0.1", 6, 60, kSourceLoginAck, kT0)});
  // An EmuLinker-style server that touched this master (external: no relay measures for it).
  TouchInput t;
  t.protocol = std::string(store::kProtocolTouchList);
  t.address = {0xC6336414, 27888};  // 198.51.100.20
  t.name = "EmuLinker box";
  t.users = 1;
  t.max_users = 50;
  const auto touched = catalog_->touch(t, kT0);
  ASSERT_TRUE(touched.status.ok()) << touched.status.message;
  catalog_->touch_checked(t.address, true, kT0);
  make_picker({}, /*streams=*/false);
  const PickOutput without = run(players({"10.0.0.1"}, Objective::kHops));
  ASSERT_EQ(without.ranking.size(), 1u);
  EXPECT_EQ(without.ranking[0].server.relay_id, ours);
  PickInput with = players({"10.0.0.1"}, Objective::kHops);
  with.own.push_back({"10.0.0.1", "198.51.100.20", 27888, 2, 20});
  const PickOutput out = run(with);
  ASSERT_EQ(out.ranking.size(), 2u);
  EXPECT_TRUE(out.ranking[0].server.external);
  EXPECT_EQ(out.ranking[0].server.host, "198.51.100.20");
  EXPECT_EQ(out.ranking[0].players[0].value.source, Source::kReported);
  EXPECT_EQ(out.ranking[1].server.relay_id, ours);
}

TEST_F(MasterPicker, BadRequestsAreRefusedNamingTheField) {
  make_picker();
  EXPECT_EQ(run(players({})).status.code, Code::kInvalidArgument);
  const auto bad_ip = run(players({"10.0.0.1", "nonsense"}));
  EXPECT_EQ(bad_ip.status.code, Code::kInvalidArgument);
  EXPECT_NE(bad_ip.status.message.find("players[1]"), std::string::npos) << bad_ip.status.message;
  EXPECT_NE(run(players({"10.0.0.1", "10.0.0.1"})).status.message.find("twice"), std::string::npos);
  EXPECT_EQ(run(players({"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6", "1.1.1.7",
                         "1.1.1.8", "1.1.1.9"}))
                .status.code,
            Code::kInvalidArgument);
  PickInput own = players({"10.0.0.1"});
  own.own.push_back({"10.0.0.2", "h", 27888, 1, 1});
  const auto o = run(own);
  EXPECT_NE(o.status.message.find("own_measurements[0].player"), std::string::npos) << o.status.message;
}

TEST_F(MasterPicker, GroupsCollectVisitorsOnceUpToEightAndExpire) {
  ASSERT_TRUE(catalog_->create_group("abcd2345", kT0).ok());
  EXPECT_EQ(catalog_->create_group("abcd2345", kT0).code, Code::kFailedPrecondition);
  ASSERT_TRUE(catalog_->join_group("abcd2345", "10.0.0.1", kT0).ok());
  ASSERT_TRUE(catalog_->join_group("abcd2345", "10.0.0.2", kT0 + 1).ok());
  ASSERT_TRUE(catalog_->join_group("abcd2345", "10.0.0.1", kT0 + 2).ok());  // again: once
  EXPECT_EQ(*catalog_->group_members("abcd2345", kT0 + 3),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  for (int i = 3; i <= 8; ++i)
    ASSERT_TRUE(catalog_->join_group("abcd2345", "10.0.0." + std::to_string(i), kT0 + 10).ok());
  EXPECT_EQ(catalog_->join_group("abcd2345", "10.0.0.9", kT0 + 10).code, Code::kResourceExhausted);
  EXPECT_EQ(catalog_->join_group("nope1234", "10.0.0.1", kT0).code, Code::kNotFound);
  EXPECT_FALSE(catalog_->group_members("abcd2345", kT0 + 3'600'000).has_value()) << "expired after the TTL";
}

// Four relays on different addresses; player 10.0.0.2 has no value at C, the relay that is best for the
// group. Worked by hand (RTT in ms, hops in routers):
//
//   player 10.0.0.1:  A 45 / 5   B 45 / 5   C 22 / 3   D 70 / 6
//   player 10.0.0.2:  A 30 / 4   B 30 / 4   C  ?       D 15 / 3
//   relays to C:      A 10 / 2   B 50 / 5              D  5 / 2
//
// The 10.0.0.2-C estimate: via A |30 - 10| = 20 <= RTT <= 40, via B 20..80, via D 10..20: RTT in [20, 20],
// 20 ms +- 0. Hops via A |4 - 2| = 2..4 + 2 - 1 = 5, via B 1..8, via D 1..4: [2, 4], 3 +- 1.
// C's largest RTT is then 22 (upper end 22) against A's and B's 45 and D's 70: C, estimated. Without the
// estimate C would rank after every complete relay, and A (A and B tie; A's id is smaller) would be picked.
class EstimatedPick : public MasterPicker {
 protected:
  void SetUp() override {
    a_ = add_relay("a", 27888, 0, 16, "Berlin", "10.9.0.1");
    b_ = add_relay("b", 27890, 0, 16, "Berlin", "10.9.0.2");
    c_ = add_relay("c", 27892, 0, 16, "Berlin", "10.9.0.3");
    d_ = add_relay("d", 27894, 0, 16, "Berlin", "10.9.0.4");
    measure(a_, {m("10.0.0.1", 5, 45, kSourceLoginAck, kT0), m("10.0.0.2", 4, 30, kSourceLoginAck, kT0),
                 m("10.9.0.3", 2, 10, kSourceProbe, kT0)});
    measure(b_, {m("10.0.0.1", 5, 45, kSourceLoginAck, kT0), m("10.0.0.2", 4, 30, kSourceLoginAck, kT0)});
    // B's distance to C as C measured it: either direction serves.
    measure(c_, {m("10.0.0.1", 3, 22, kSourceLoginAck, kT0), m("10.9.0.2", 5, 50, kSourceProbe, kT0)});
    measure(d_, {m("10.0.0.1", 6, 70, kSourceLoginAck, kT0), m("10.0.0.2", 3, 15, kSourceLoginAck, kT0),
                 m("10.9.0.3", 2, 5, kSourceProbe, kT0)});
  }
  PickInput group() {
    PickInput in = players({"10.0.0.1", "10.0.0.2"});
    in.deadline_ms = 0;  // no probes: the pair stays missing
    return in;
  }
  std::int64_t a_ = 0, b_ = 0, c_ = 0, d_ = 0;
};

TEST_F(EstimatedPick, TheBestRelayLackingOnePlayersValueIsNamedWithTheEstimate) {
  make_picker();
  const PickOutput out = run(group());
  ASSERT_TRUE(out.status.ok()) << out.status.message;
  ASSERT_EQ(out.ranking.size(), 4u);
  EXPECT_EQ(out.ranking[0].server.relay_id, c_);
  EXPECT_EQ(out.ranking[0].score.max_rtt_ms, 22);
  EXPECT_EQ(out.ranking[0].score.estimated, 1);
  const PairValue& v = out.ranking[0].players[1].value;
  EXPECT_TRUE(v.estimated);
  EXPECT_EQ(v.source, Source::kEstimated);
  EXPECT_EQ(v.rtt_ms, 20);
  EXPECT_EQ(v.rtt_uncertainty_ms, 0);
  EXPECT_EQ(v.hops, 3);
  EXPECT_EQ(v.hops_uncertainty, 1);
  EXPECT_FALSE(out.ranking[0].players[0].value.estimated);
  EXPECT_EQ(out.estimated, 2u);  // the one pair's hops and RTT
  const json j = json::parse(to_json(out));
  EXPECT_EQ(j["best"]["relay"]["name"], "c");
  EXPECT_EQ(j["best"]["estimated"], 1);
  EXPECT_EQ(j["best"]["players"][1]["estimated"], true);
  EXPECT_EQ(j["best"]["players"][1]["source"], "estimated");
  EXPECT_EQ(j["best"]["players"][1]["rtt_ms"], 20);
  EXPECT_EQ(j["best"]["players"][1]["rtt_uncertainty_ms"], 0);
  EXPECT_EQ(j["best"]["players"][1]["hops_uncertainty"], 1);
  EXPECT_EQ(j["best"]["players"][0]["estimated"], false);
  EXPECT_TRUE(j["best"]["players"][0]["rtt_uncertainty_ms"].is_null());
  EXPECT_NE(j["summary"].get<std::string>().find("10.0.0.2 3 hops 20 ms +-0 ms (estimated)"),
            std::string::npos)
      << j["summary"];
  // gRPC carries the same marks.
  v1::PickResponse resp;
  to_proto(out, resp);
  EXPECT_EQ(resp.best().relay_id(), std::to_string(c_));
  EXPECT_EQ(resp.best().estimated(), 1u);
  EXPECT_TRUE(resp.best().players(1).estimated());
  EXPECT_EQ(resp.best().players(1).source(), "estimated");
  EXPECT_EQ(resp.best().players(1).hops_uncertainty(), 1);
  EXPECT_EQ(resp.best().players(0).rtt_uncertainty_ms(), -1);
  EXPECT_EQ(resp.estimated(), 2u);
}

TEST_F(EstimatedPick, WithoutEstimatesTheIncompleteRelayRanksLast) {
  PickerSettings ps;
  ps.estimate = false;
  make_picker(ps);
  const PickOutput out = run(group());
  ASSERT_EQ(out.ranking.size(), 4u);
  EXPECT_EQ(out.ranking[0].server.relay_id, a_);
  EXPECT_EQ(out.ranking[3].server.relay_id, c_);
  EXPECT_EQ(out.ranking[3].score.missing_rtt, 1);
  EXPECT_EQ(out.estimated, 0u);
}

TEST_F(EstimatedPick, EveryRelayIsAskedToProbeThePeersItHasNoFreshDistanceTo) {
  make_picker();
  // Fresh distances: A to C, C to B, D to C (kT0, now kT0 + 1 s). A relay's own address is never asked.
  EXPECT_EQ(picker_->probe_peers(now_.load()), 4u);
  std::map<std::int64_t, std::vector<std::string>> asked;
  for (const ProbeAsk& p : asks()) {
    EXPECT_EQ(p.request_id.rfind("peers-", 0), 0u) << p.request_id;
    asked[p.relay_id] = p.addresses;
  }
  EXPECT_EQ(asked[a_], (std::vector<std::string>{"10.9.0.2", "10.9.0.4"}));
  EXPECT_EQ(asked[b_], (std::vector<std::string>{"10.9.0.1", "10.9.0.3", "10.9.0.4"}));
  EXPECT_EQ(asked[c_], (std::vector<std::string>{"10.9.0.1", "10.9.0.4"}));
  EXPECT_EQ(asked[d_], (std::vector<std::string>{"10.9.0.1", "10.9.0.2"}));
}

TEST_F(EstimatedPick, TheStoreNamesBothRelaysOfEachDistance) {
  // migrations/0005_relay_distances.sql: the measurements of a relay's address, named by relay. A to C
  // 10 ms, C to B 50 ms, D to C 5 ms; the players' measurements are no relay's.
  auto q = db_->prepare(
      "SELECT relay_id, peer_relay_id, hops, rtt_ms FROM relay_distances ORDER BY relay_id, peer_relay_id");
  std::vector<std::vector<std::int64_t>> rows;
  while (q.step())
    rows.push_back({q.int64(0), q.int64(1), q.int64(2), q.int64(3)});
  EXPECT_EQ(rows, (std::vector<std::vector<std::int64_t>>{{a_, c_, 2, 10}, {c_, b_, 5, 50}, {d_, c_, 2, 5}}));
}

class PickRoutes : public MasterPicker {
 protected:
  HttpResponse call(std::string method, std::string target, std::string body = {},
                    std::uint32_t remote = 0x0A000001) {
    RouteContext ctx{*catalog_, [this] { return now_.load(); }, nullptr, nullptr, {}, nullptr};
    ctx.picker = picker_.get();
    HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.remote_ip = remote;
    HttpResponse r = route(ctx, req);
    if (!r.deferred) return r;
    std::promise<HttpResponse> p;
    auto f = p.get_future();
    r.deferred([&p](HttpResponse late) { p.set_value(std::move(late)); });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
};

TEST_F(PickRoutes, PostPickAnswersTheRankingAsJson) {
  const auto a = add_relay("a", 27888);
  measure(a, {m("203.0.113.7", 4, 44, kSourceLoginAck, kT0)});
  make_picker();
  const HttpResponse r =
      call("POST", "/api/v1/pick", R"({"players": ["203.0.113.7"], "objective": "latency"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.content_type.find("application/json"), std::string::npos);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["objective"], "latency");
  EXPECT_EQ(j["best"]["relay"]["host"], "127.0.0.1");
  EXPECT_EQ(j["ranking"][0]["players"][0]["hops"], 4);
  EXPECT_EQ(j["ranking"][0]["players"][0]["rtt_ms"], 44);
}

TEST_F(PickRoutes, BadPickBodiesGetA400NamingTheProblem) {
  make_picker();
  const auto check = [&](const std::string& body, const std::string& needle) {
    const HttpResponse r = call("POST", "/api/v1/pick", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find(needle), std::string::npos) << body << " -> " << r.body;
  };
  check("not json", "not valid JSON");
  check("[1]", "JSON object");
  check(R"({"players": "1.2.3.4"})", "players: must be an array");
  check(R"({"players": ["1.2.3.4"], "objective": "fastest"})", "objective: one of hops, latency, balanced");
  check(R"({"players": ["1.2.3.4"], "colour": 1})", "colour: unknown key");
  check(R"({"players": ["1.2.3.4"], "deadline_ms": -1})", "deadline_ms");
  check(R"({"players": ["999.2.3.4"]})", "players[0]");
  check(R"({"players": []})", "at least one player");
  check(R"({"players": ["1.2.3.4"], "limit": 0})", "limit: 1 to 10000");
  EXPECT_EQ(call("GET", "/api/v1/pick").status, 405);
}

TEST_F(PickRoutes, AGroupLinkCollectsEachVisitorAndPicksForThem) {
  const auto a = add_relay("a", 27888);
  measure(a, {m("10.0.0.1", 2, 20, kSourceLoginAck, kT0), m("10.0.0.2", 3, 30, kSourceLoginAck, kT0)});
  make_picker();
  const HttpResponse made = call("POST", "/api/v1/groups", "", 0x0A000001);
  ASSERT_EQ(made.status, 201) << made.body;
  const json g = json::parse(made.body);
  const std::string code = g["code"];
  EXPECT_EQ(g["members"], json::array({"10.0.0.1"}));
  EXPECT_EQ(g["link"], "/?group=" + code);
  const HttpResponse joined = call("POST", "/api/v1/groups/" + code + "/join", "", 0x0A000002);
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(json::parse(joined.body)["members"], json::array({"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(json::parse(joined.body)["you"], "10.0.0.2");
  const HttpResponse picked = call("GET", "/api/v1/groups/" + code + "/pick");
  ASSERT_EQ(picked.status, 200) << picked.body;
  const json p = json::parse(picked.body);
  EXPECT_EQ(p["players"], json::array({"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(p["best"]["max_hops"], 3);
  EXPECT_EQ(call("GET", "/api/v1/groups/zzzz9999").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/groups/Bad!Code").status, 400);
  // The same group through POST /api/v1/pick.
  const HttpResponse via_pick = call("POST", "/api/v1/pick", R"({"group": ")" + code + R"("})");
  ASSERT_EQ(via_pick.status, 200) << via_pick.body;
  EXPECT_EQ(json::parse(via_pick.body)["players"].size(), 2u);
}

}  // namespace
}  // namespace kaillera::master::pick

namespace kaillera::master::pick {
namespace {

// Whatever arrives as a pick body — every prefix of a valid one, and random bytes — gets an answer (accepted
// or refused with a message), never an exception or a crash.
TEST(PickJson, EveryPrefixAndRandomBodiesAreAnsweredWithoutThrowing) {
  const std::string valid =
      R"({"players": ["203.0.113.7", "198.51.100.2"], "objective": "balanced", "deadline_ms": 100, "limit": 3, )"
      R"("hop_slack": 2, "filter": {"location": "eu", "relay_ids": ["1"]}, "group": "abcd2345", )"
      R"("own_measurements": [{"player": "203.0.113.7", "host": "h", "port": 27888, "hops": 3, "rtt_ms": null}]})";
  PickInput full;
  ASSERT_TRUE(from_json(valid, full).ok());
  EXPECT_EQ(full.players.size(), 2u);
  EXPECT_EQ(full.limit, 3u);
  EXPECT_EQ(full.hop_slack, 2);
  ASSERT_EQ(full.own.size(), 1u);
  EXPECT_EQ(full.own[0].hops, 3);
  EXPECT_EQ(full.own[0].rtt_ms, -1);
  std::size_t refused = 0;
  for (std::size_t n = 0; n < valid.size(); ++n) {
    PickInput in;
    EXPECT_NO_THROW(refused += from_json(valid.substr(0, n), in).ok() ? 0 : 1) << n;
  }
  EXPECT_EQ(refused, valid.size()) << "every strict prefix is incomplete JSON";
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string body(rng() % 64, '\0');
    for (auto& c : body)
      c = "{}[]\":,0123456789 -players objective limit\x80\xff"[rng() % 45];
    PickInput in;
    EXPECT_NO_THROW((void)from_json(body, in));
    PickerSettings s;
    EXPECT_NO_THROW((void)validate(in, s));
  }
}

}  // namespace
}  // namespace kaillera::master::pick
