// The SQLite store and its migration runner: migrations apply once, in order, in a transaction, and a
// database newer than the binary is refused; the repository round-trips every row kind.
#include <gtest/gtest.h>

#include <filesystem>

#include "master/store/migrations.hpp"
#include "master/store/store.hpp"
#include "master/tokens.hpp"
#include "tests/master/master_harness.hpp"

namespace kaillera::master::store {
namespace {

using kf_master_test::TempDir;

std::int64_t count(Db& db, const std::string& sql) {
  auto s = db.prepare(sql);
  s.step();
  return s.int64(0);
}

TEST(MasterMigrations, EmbeddedMigrationsAreOrderedAndStartWithInit) {
  const auto m = embedded_migrations();
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(m[0].name, "init");
  EXPECT_NE(m[0].sql.find("CREATE TABLE relays"), std::string_view::npos);
  for (std::size_t i = 1; i < m.size(); ++i)
    EXPECT_LT(m[i - 1].version, m[i].version);
}

TEST(MasterMigrations, ApplyOnceAndRecordEach) {
  TempDir dir;
  Db db(dir / "m.db");
  const auto first = migrate(db, embedded_migrations(), 1000);
  EXPECT_EQ(first.from_version, 0);
  EXPECT_EQ(first.to_version, embedded_migrations().back().version);
  EXPECT_EQ(first.applied.size(), embedded_migrations().size());
  EXPECT_EQ(count(db, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(embedded_migrations().size()));
  EXPECT_EQ(count(db, "SELECT applied_unix_ms FROM schema_migrations WHERE version = 1"), 1000);

  const auto second = migrate(db, embedded_migrations(), 2000);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.from_version, second.to_version);
  EXPECT_EQ(pending_migrations(db, embedded_migrations()), 0u);
}

TEST(MasterMigrations, WalAndForeignKeysAreOn) {
  TempDir dir;
  Db db(dir / "m.db");
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.text(0), "wal");
  EXPECT_EQ(count(db, "PRAGMA foreign_keys"), 1);
}

TEST(MasterMigrations, AppliesOnlyTheNewOnesInOrder) {
  TempDir dir;
  Db db(dir / "m.db");
  const Migration v1[] = {{1, "one", "CREATE TABLE a (x INTEGER);"}};
  const Migration v3[] = {{1, "one", "CREATE TABLE a (x INTEGER);"},
                          {2, "two", "CREATE TABLE b (y INTEGER);"},
                          {3, "three", "INSERT INTO b VALUES (7);"}};
  migrate(db, v1, 1);
  const auto r = migrate(db, v3, 2);
  EXPECT_EQ(r.from_version, 1);
  EXPECT_EQ(r.to_version, 3);
  EXPECT_EQ(r.applied, (std::vector<int>{2, 3}));
  EXPECT_EQ(count(db, "SELECT y FROM b"), 7);
}

TEST(MasterMigrations, AFailingMigrationLeavesNothingBehindAndNamesItself) {
  TempDir dir;
  Db db(dir / "m.db");
  const Migration ms[] = {{1, "one", "CREATE TABLE a (x INTEGER);"},
                          {2, "broken", "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);"}};
  try {
    migrate(db, ms, 1);
    FAIL() << "expected an error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("0002_broken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
  EXPECT_EQ(schema_version(db), 1);
  EXPECT_EQ(count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"), 0);  // rolled back
}

TEST(MasterMigrations, RefusesADatabaseNewerThanTheBinary) {
  TempDir dir;
  const Migration newer[] = {{1, "one", "CREATE TABLE a (x INTEGER);"},
                             {2, "two", "CREATE TABLE b (y INTEGER);"}};
  const Migration older[] = {{1, "one", "CREATE TABLE a (x INTEGER);"}};
  {
    Db db(dir / "m.db");
    migrate(db, newer, 1);
  }
  Db db(dir / "m.db");
  try {
    migrate(db, older, 2);
    FAIL() << "expected an error";
  } catch (const StoreError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("migration 2"), std::string::npos) << m;
    EXPECT_NE(m.find("newer kaillera-master"), std::string::npos) << m;
  }
  EXPECT_THROW(pending_migrations(db, older), StoreError);
  EXPECT_EQ(schema_version(db), 2);
}

class MasterStore : public ::testing::Test {
 protected:
  MasterStore() : db_(dir_ / "m.db") {
    migrate(db_, embedded_migrations(), 1);
    store_ = std::make_unique<Store>(db_);
  }
  TempDir dir_;
  Db db_;
  std::unique_ptr<Store> store_;
};

TEST_F(MasterStore, TokenRelaysStoreOnlyTheHash) {
  const std::string token = new_token();
  const std::int64_t id = store_->add_token_relay("alpha", sha256(token), 100);
  EXPECT_EQ(store_->relay_for_token(sha256(token)), id);
  EXPECT_EQ(store_->relay_for_token(sha256("wrong")), std::nullopt);
  EXPECT_EQ(count(db_, "SELECT count(*) FROM tokens WHERE token_hash = '" + token + "'"), 0);
  EXPECT_EQ(store_->find_relay("alpha"), id);
  EXPECT_EQ(store_->find_relay(std::to_string(id)), id);
  EXPECT_EQ(store_->find_relay("nobody"), std::nullopt);
  EXPECT_THROW(store_->add_token_relay("alpha", sha256("other"), 101), StoreError);  // label taken
  EXPECT_EQ(count(db_, "SELECT count(*) FROM relays"), 1);  // nothing of the failed add stayed
}

TEST_F(MasterStore, ReportsRoundTripAndReplaceTheGames) {
  const std::int64_t id = store_->add_token_relay("alpha", sha256("t"), 100);
  auto rec = *store_->load_relay(id);
  rec.relay.name = std::string("Caf\xE9", 4);
  rec.relay.charset = "windows-1252";
  rec.relay.public_host = "127.0.0.1";
  rec.relay.handshake_port = 27888;
  rec.relay.listed = true;
  store_->save_relay(rec.relay);

  store_->save_report(
      id, StatusRow{3, 2, 1, 500, {}},
      {GameRow{7, "Street Fighter", "ann", "MAME32k", 1, 2}, GameRow{9, "Tekken", "bob", "ePSXe", 1, 4}},
      {MeasurementRow{"10.0.0.1", 5, 30, 1, 400}}, 500);
  store_->save_report(id, StatusRow{4, 1, 0, 600, {}}, {GameRow{9, "Tekken", "bob", "ePSXe", 2, 4}}, {}, 600);

  const auto back = *store_->load_relay(id);
  EXPECT_EQ(back.relay.name, std::string("Caf\xE9", 4));
  EXPECT_EQ(back.relay.last_report_unix_ms, 600);
  ASSERT_TRUE(back.status);
  EXPECT_EQ(back.status->users, 4);
  EXPECT_EQ(back.status->games, 1);
  ASSERT_EQ(back.waiting.size(), 1u);
  EXPECT_EQ(back.waiting[0].players, 2);
  EXPECT_EQ(store_->count_measurements(), 1);
  EXPECT_EQ(store_->prune_measurements(1000), 1);
  EXPECT_EQ(store_->count_measurements(), 0);
}

TEST_F(MasterStore, AReportForAMissingRelayChangesNothing) {
  EXPECT_THROW(store_->save_report(42, StatusRow{1, 1, 0, 1, {}}, {GameRow{1, "x", "y", "z", 1, 2}}, {}, 1),
               StoreError);
  EXPECT_EQ(count(db_, "SELECT count(*) FROM waiting_games"), 0);
  EXPECT_EQ(count(db_, "SELECT count(*) FROM relay_status"), 0);
}

TEST_F(MasterStore, RemovingARelayRemovesEverythingOfIt) {
  const std::int64_t id = store_->add_token_relay("alpha", sha256("t"), 100);
  store_->save_report(id, StatusRow{1, 1, 0, 5, {}}, {GameRow{1, "x", "y", "z", 1, 2}},
                      {MeasurementRow{"10.0.0.1", 5, 30, 1, 4}}, 5);
  EXPECT_TRUE(store_->remove_relay(id));
  EXPECT_FALSE(store_->remove_relay(id));
  for (const char* table : {"relays", "tokens", "relay_status", "waiting_games", "measurements"}) {
    EXPECT_EQ(count(db_, std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
}

TEST_F(MasterStore, OpenRelaysAreFoundByAddress) {
  RelayRow r;
  r.source = std::string(kSourceOpen);
  r.public_host = "127.0.0.1";
  r.handshake_port = 27888;
  r.created_unix_ms = 1;
  const auto id = store_->insert_relay(r);
  EXPECT_EQ(store_->find_open_relay("127.0.0.1", 27888), id);
  EXPECT_EQ(store_->find_open_relay("127.0.0.1", 27999), std::nullopt);
  EXPECT_EQ(store_->count_open_relays("127.0.0.1"), 1);
  EXPECT_THROW(store_->insert_relay(r), StoreError);  // one open registration per address and port
}

TEST_F(MasterStore, ThirdPartyServersAreKeyedByIpAndPort) {
  ThirdPartyRow a;
  a.ip = "127.0.0.1";
  a.port = 27888;
  a.name = "A";
  a.charset = "windows-1252";
  a.first_seen_unix_ms = a.last_touch_unix_ms = 10;
  a.waiting = {GameRow{1, "rom", "own", "emu", 1, 0}};
  ThirdPartyRow b = a;
  b.port = 27999;
  b.name = "B";
  b.waiting.clear();
  b.last_touch_unix_ms = 50;
  store_->save_third_party(a);
  store_->save_third_party(b);
  a.users = 5;
  store_->save_third_party(a);  // update in place
  auto all = store_->load_third_party();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "A");
  EXPECT_EQ(all[0].users, 5);
  ASSERT_EQ(all[0].waiting.size(), 1u);
  EXPECT_EQ(all[1].name, "B");
  EXPECT_EQ(store_->prune_third_party(20), 1);  // A was touched at 10
  all = store_->load_third_party();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "B");
  EXPECT_EQ(count(db_, "SELECT count(*) FROM third_party_games"), 0);  // A's games went with it
}

TEST_F(MasterStore, MirrorsAreReplaced) {
  store_->set_mirrors({"http://a.example/list", "http://b.example/list"}, 1);
  store_->set_mirrors({"http://b.example/list"}, 2);
  EXPECT_EQ(store_->mirrors(), (std::vector<std::string>{"http://b.example/list"}));
  store_->set_mirrors({}, 3);
  EXPECT_TRUE(store_->mirrors().empty());
}

TEST_F(MasterStore, DataVersionSeesOtherConnections) {
  const auto before = db_.data_version();
  store_->add_token_relay("mine", sha256("a"), 1);  // our own commit does not count
  EXPECT_EQ(db_.data_version(), before);
  {
    Db other(dir_ / "m.db");
    Store s(other);
    s.add_token_relay("theirs", sha256("b"), 2);
  }
  EXPECT_NE(db_.data_version(), before);
}

}  // namespace
}  // namespace kaillera::master::store
