// The relay's state file: what staff made survives closing and reopening byte for byte, lifted and expired
// entries stay as history but are not loaded, wall and steady time convert both ways whatever the steady
// clock's epoch, ids are never given twice, a change is reported written only once another connection can
// read it, a file from a newer relay is refused, and acknowledged changes survive a kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/store/sqlite.hpp"
#include "relay/state/state_store.hpp"
#include "tests/state/state_test_util.hpp"

namespace kaillera::relay::state {
namespace {

using namespace std::chrono_literals;
using kf_state_test::TempDir;
using Kind = ModerationChange::Kind;

// Synthetic clocks: the steady clock's epoch is arbitrary (boot time), the wall clock's is 1970.
const SteadyTime kSteady0 = SteadyTime(100h);
const SystemTime kWall0 = SystemTime(std::chrono::milliseconds(1'796'300'000'000));  // Dec 2026
const std::int64_t kWall0Ms = 1'796'300'000'000;

// Acknowledgements as the shell gets them, and a way to wait for them.
struct Acks {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::uint64_t, bool>> got;

  StateStore::Written callback() {
    return [this](std::uint64_t id, bool ok) {
      std::lock_guard lock(mutex);
      got.emplace_back(id, ok);
      cv.notify_all();
    };
  }
  // Waits (a generous deadline, so that a bug fails the test instead of hanging it) until `n` arrived.
  std::vector<std::pair<std::uint64_t, bool>> wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 30s, [&] { return got.size() >= n; });
    return got;
  }
};

std::uint32_t ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

ModerationChange sanction_change(Kind kind, std::uint64_t change_id, std::uint64_t id, AddressRange range,
                                 std::optional<SteadyTime> until, std::string reason = "spam") {
  ModerationChange c;
  c.kind = kind;
  c.change_id = change_id;
  c.sanction.id = id;
  c.sanction.range = range;
  c.sanction.until = until;
  c.sanction.reason = std::move(reason);
  c.sanction.issuer = "alice";
  c.sanction.issuer_ip = ip(203, 0, 113, 7);
  c.sanction.target_name = "bob";
  c.sanction.at = kSteady0;
  return c;
}

ModerationChange ban(std::uint64_t change_id, std::uint64_t id,
                     std::optional<SteadyTime> until = std::nullopt) {
  return sanction_change(Kind::kBan, change_id, id, {ip(198, 51, 100, 7), 32}, until);
}

ModerationChange grant(std::uint64_t change_id, std::uint64_t id, SteadyTime until,
                       Level level = Level::kAdmin) {
  ModerationChange c;
  c.kind = Kind::kGrant;
  c.change_id = change_id;
  c.grant.id = id;
  c.grant.ip = ip(192, 0, 2, 55);
  c.grant.level = level;
  c.grant.until = until;
  c.grant.issuer = "carol";
  c.grant.target_name = "dave";
  c.grant.at = kSteady0;
  return c;
}

ModerationChange lift(Kind kind, std::uint64_t change_id, std::uint64_t id, std::string by) {
  ModerationChange c;
  c.kind = kind;
  c.change_id = change_id;
  c.id = id;
  c.by = std::move(by);
  return c;
}

// Submits `changes` (before the writer starts, so they form one batch) and writes them with stop(): no
// thread, no waiting. Returns the acknowledgements in order.
std::vector<std::pair<std::uint64_t, bool>> write_all(const std::string& path,
                                                      const std::vector<ModerationChange>& changes,
                                                      SteadyTime steady_now = kSteady0,
                                                      SystemTime system_now = kWall0) {
  Acks acks;
  StateStore store(path, acks.callback());
  for (const auto& c : changes)
    EXPECT_TRUE(store.submit(c, steady_now, system_now));
  store.stop();
  return acks.got;
}

ModerationState load(const std::string& path, SteadyTime steady_now, SystemTime system_now) {
  StateStore store(path, nullptr);
  return store.load(steady_now, system_now);
}

std::int64_t count(store::Db& db, const std::string& sql) {
  auto s = db.prepare(sql);
  EXPECT_TRUE(s.step()) << sql;
  return s.int64(0);
}

TEST(StateStore, BansSilencesAndGrantsComeBackByteExactAfterReopening) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  // Reasons and names are raw charset bytes: Shift_JIS, a NUL, bytes that are not UTF-8.
  const std::string reason("\x82\xb6\x82\xe5\x82\x8e spam\0\xff\xfe", 14);
  const std::string issuer("\x83\x41\x83\x8a\x83\x58", 6);  // アリス in Shift_JIS
  const std::string target("bob\x80\x81", 5);

  auto b = sanction_change(Kind::kBan, 1, 7, {ip(198, 51, 100, 0), 24}, kSteady0 + 60min, reason);
  b.sanction.issuer = issuer;
  b.sanction.target_name = target;
  b.sanction.at = kSteady0 - 5s;
  auto s = sanction_change(Kind::kSilence, 2, 8, {ip(10, 1, 2, 3), 32}, std::nullopt, "");
  s.sanction.target_name = "";
  auto g = grant(3, 9, kSteady0 + 30min, Level::kModerator);
  g.grant.issuer = issuer;
  g.grant.target_name = target;

  const auto acks = write_all(path, {b, s, g});
  ASSERT_EQ(acks.size(), 3u);
  for (const auto& [id, ok] : acks)
    EXPECT_TRUE(ok) << "change " << id;

  const ModerationState state = load(path, kSteady0, kWall0);
  ASSERT_EQ(state.bans.size(), 1u);
  const Sanction& lb = state.bans[0];
  EXPECT_EQ(lb.id, 7u);
  EXPECT_EQ(lb.range, (AddressRange{ip(198, 51, 100, 0), 24}));
  ASSERT_TRUE(lb.until.has_value());
  EXPECT_EQ(*lb.until, kSteady0 + 60min);
  EXPECT_EQ(lb.reason, reason);
  EXPECT_EQ(lb.reason.size(), 14u);
  EXPECT_EQ(lb.issuer, issuer);
  EXPECT_EQ(lb.issuer_ip, ip(203, 0, 113, 7));
  EXPECT_EQ(lb.target_name, target);
  EXPECT_EQ(lb.at, kSteady0 - 5s);

  ASSERT_EQ(state.silences.size(), 1u);
  const Sanction& ls = state.silences[0];
  EXPECT_EQ(ls.id, 8u);
  EXPECT_EQ(ls.range, (AddressRange{ip(10, 1, 2, 3), 32}));
  EXPECT_FALSE(ls.until.has_value());  // permanent
  EXPECT_EQ(ls.reason, "");
  EXPECT_EQ(ls.target_name, "");

  ASSERT_EQ(state.grants.size(), 1u);
  const Grant& lg = state.grants[0];
  EXPECT_EQ(lg.id, 9u);
  EXPECT_EQ(lg.ip, ip(192, 0, 2, 55));
  EXPECT_EQ(lg.level, Level::kModerator);
  EXPECT_EQ(lg.until, kSteady0 + 30min);
  EXPECT_EQ(lg.issuer, issuer);
  EXPECT_EQ(lg.target_name, target);
  EXPECT_EQ(lg.at, kSteady0);
  EXPECT_EQ(state.next_id, 10u);

  // Stored as BLOBs, as the operator's sqlite3 sees them.
  store::Db db(path);
  EXPECT_EQ(count(db,
                  "SELECT count(*) FROM bans WHERE typeof(reason) = 'blob' AND typeof(issuer) = 'blob'"
                  " AND typeof(target_name) = 'blob'"),
            1);
  EXPECT_EQ(count(db, "SELECT length(reason) FROM bans WHERE id = 7"), 14);
  EXPECT_EQ(count(db, "SELECT until_unix_ms FROM bans WHERE id = 7"), kWall0Ms + 3'600'000);
  EXPECT_EQ(count(db, "SELECT until_unix_ms IS NULL FROM silences WHERE id = 8"), 1);
}

TEST(StateStore, ALiftedEntryIsNotLoadedButItsRowStays) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  ASSERT_EQ(
      write_all(path, {ban(1, 1), sanction_change(Kind::kSilence, 2, 2, {ip(10, 0, 0, 1), 32}, std::nullopt),
                       grant(3, 3, kSteady0 + 1h), ban(4, 4)})
          .size(),
      4u);
  // Lifted three minutes later (by a name in Shift_JIS).
  const std::string by("\x83\x41\x83\x8a\x83\x58", 6);
  const auto acks = write_all(
      path,
      {lift(Kind::kLiftBan, 5, 1, by), lift(Kind::kLiftSilence, 6, 2, by), lift(Kind::kLiftGrant, 7, 3, by)},
      kSteady0 + 3min, kWall0 + 3min);
  ASSERT_EQ(acks.size(), 3u);
  for (const auto& [id, ok] : acks)
    EXPECT_TRUE(ok) << "change " << id;

  const ModerationState state = load(path, kSteady0 + 4min, kWall0 + 4min);
  ASSERT_EQ(state.bans.size(), 1u);
  EXPECT_EQ(state.bans[0].id, 4u);  // the one not lifted
  EXPECT_TRUE(state.silences.empty());
  EXPECT_TRUE(state.grants.empty());
  EXPECT_EQ(state.next_id, 5u);

  store::Db db(path);
  for (const char* table : {"bans", "silences", "grants"}) {
    auto st = db.prepare(std::string("SELECT lifted_unix_ms, lifted_by FROM ") + table + " WHERE id = " +
                         (std::string(table) == "bans"       ? "1"
                          : std::string(table) == "silences" ? "2"
                                                             : "3"));
    ASSERT_TRUE(st.step()) << table;
    EXPECT_EQ(st.int64(0), kWall0Ms + 180'000) << table;
    EXPECT_EQ(st.text(1), by) << table;
  }
  EXPECT_EQ(count(db, "SELECT count(*) FROM bans"), 2);
  EXPECT_EQ(count(db, "SELECT lifted_unix_ms IS NULL FROM bans WHERE id = 4"), 1);
}

TEST(StateStore, ExpiredEntriesAreNotLoaded) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  ASSERT_EQ(write_all(path, {ban(1, 1, kSteady0 + 1min),
                             sanction_change(Kind::kSilence, 2, 2, {ip(10, 0, 0, 1), 32}, kSteady0 + 1min),
                             grant(3, 3, kSteady0 + 1min), ban(4, 4)})
                .size(),
            4u);
  // 30 s later everything is active; 2 min later only the permanent ban is.
  const ModerationState early = load(path, kSteady0 + 30s, kWall0 + 30s);
  EXPECT_EQ(early.bans.size(), 2u);
  EXPECT_EQ(early.silences.size(), 1u);
  EXPECT_EQ(early.grants.size(), 1u);

  const ModerationState late = load(path, kSteady0 + 2min, kWall0 + 2min);
  ASSERT_EQ(late.bans.size(), 1u);
  EXPECT_EQ(late.bans[0].id, 4u);
  EXPECT_TRUE(late.silences.empty());
  EXPECT_TRUE(late.grants.empty());
  EXPECT_EQ(late.next_id, 5u);

  store::Db db(path);  // history stays
  EXPECT_EQ(count(db, "SELECT count(*) FROM bans") + count(db, "SELECT count(*) FROM silences") +
                count(db, "SELECT count(*) FROM grants"),
            4);
}

TEST(StateStore, ExpiryKeepsItsWallTimeAcrossADifferentSteadyEpoch) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  // Issued at steady 100 h, submitted two minutes later (both clocks moved on): expires at wall + 10 min.
  ASSERT_EQ(write_all(path, {ban(1, 1, kSteady0 + 10min), grant(2, 2, kSteady0 + 10min)}, kSteady0 + 2min,
                      kWall0 + 2min)
                .size(),
            2u);
  {
    store::Db db(path);
    EXPECT_EQ(count(db, "SELECT until_unix_ms FROM bans WHERE id = 1"), kWall0Ms + 600'000);
    EXPECT_EQ(count(db, "SELECT at_unix_ms FROM bans WHERE id = 1"), kWall0Ms);
  }

  // After a reboot the steady clock starts again near zero: 7 h. Four minutes of wall time have passed.
  const SteadyTime reboot = SteadyTime(7h);
  const ModerationState state = load(path, reboot, kWall0 + 4min);
  ASSERT_EQ(state.bans.size(), 1u);
  ASSERT_TRUE(state.bans[0].until.has_value());
  EXPECT_EQ(*state.bans[0].until, reboot + 6min);  // still 10 min after it was issued, in wall time
  EXPECT_EQ(state.bans[0].at, reboot - 4min);
  ASSERT_EQ(state.grants.size(), 1u);
  EXPECT_EQ(state.grants[0].until, reboot + 6min);

  // One millisecond before the end it is there (with 1 ms left), at the end it is not.
  const ModerationState edge = load(path, reboot, kWall0 + 10min - 1ms);
  ASSERT_EQ(edge.bans.size(), 1u);
  EXPECT_EQ(*edge.bans[0].until, reboot + 1ms);
  EXPECT_TRUE(load(path, reboot, kWall0 + 10min).bans.empty());
  EXPECT_TRUE(load(path, reboot, kWall0 + 10min).grants.empty());
}

TEST(StateStore, IdsAreNeverReused) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  EXPECT_EQ(load(path, kSteady0, kWall0).next_id, 1u);  // a new file

  ASSERT_EQ(write_all(path, {ban(1, 1), ban(2, 2), grant(3, 5, kSteady0 + 1min)}).size(), 3u);
  ASSERT_EQ(
      write_all(path, {lift(Kind::kLiftGrant, 4, 5, "carol"), lift(Kind::kLiftBan, 5, 2, "carol")}).size(),
      2u);
  // Lifted (5, 2) and expired entries still count: one above the largest id, across the three tables.
  EXPECT_EQ(load(path, kSteady0 + 1h, kWall0 + 1h).next_id, 6u);

  // Even when an operator deletes every row by hand.
  {
    store::Db db(path);
    db.exec("DELETE FROM bans; DELETE FROM silences; DELETE FROM grants;");
  }
  const ModerationState state = load(path, kSteady0, kWall0);
  EXPECT_TRUE(state.bans.empty());
  EXPECT_EQ(state.next_id, 6u);
}

TEST(StateStore, AChangeIsReportedWrittenOnlyOnceAnotherConnectionSeesIt) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::uint64_t, std::int64_t>>
      seen;  // change id, rows with that id another reader sees
  StateStore store(path, [&](std::uint64_t change_id, bool ok) {
    std::int64_t rows = -1;
    if (ok) {
      store::Db reader(path);  // a second connection, as another process would open the file
      auto st = reader.prepare(
          "SELECT (SELECT count(*) FROM bans WHERE id = ?1) + "
          "(SELECT count(*) FROM grants WHERE id = ?1)");
      st.bind(1, static_cast<std::int64_t>(change_id));
      rows = st.step() ? st.int64(0) : -2;
    }
    std::lock_guard lock(mutex);
    seen.emplace_back(change_id, rows);
    cv.notify_all();
  });
  EXPECT_EQ(store.load(kSteady0, kWall0).next_id, 1u);
  store.start();
  // Change ids equal entry ids here, so the callback knows which row to look for.
  for (std::uint64_t id = 1; id <= 50; ++id) {
    ASSERT_TRUE(store.submit(id % 5 == 0 ? grant(id, id, kSteady0 + 1h) : ban(id, id), kSteady0, kWall0));
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return seen.size() == 50; }));
  }
  std::set<std::uint64_t> ids;
  for (const auto& [id, rows] : seen) {
    EXPECT_EQ(rows, 1) << "change " << id << " was reported before a reader could see it";
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(store.counters().written.load(), 50u);
  EXPECT_EQ(store.counters().failed.load(), 0u);
  EXPECT_GE(store.counters().batches.load(), 1u);
  EXPECT_EQ(store.counters().queued.load(), 0u);
}

TEST(StateStore, AChangeThatFailsFailsAloneAndIsReported) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  Acks acks;
  {
    StateStore store(path, acks.callback());
    ASSERT_TRUE(store.submit(ban(1, 1), kSteady0, kWall0));
    ASSERT_TRUE(store.submit(ban(2, 1), kSteady0, kWall0));  // id 1 again: a duplicate
    ASSERT_TRUE(store.submit(grant(3, 2, kSteady0 + 1h, Level::kNormal), kSteady0, kWall0));  // no such grant
    ASSERT_TRUE(store.submit(ban(4, 3), kSteady0, kWall0));
    store.stop();  // one batch, written here
    EXPECT_EQ(store.counters().written.load(), 2u);
    EXPECT_EQ(store.counters().failed.load(), 2u);
    EXPECT_EQ(store.counters().batches.load(), 1u);
  }
  const std::vector<std::pair<std::uint64_t, bool>> expected = {{1, true}, {2, false}, {3, false}, {4, true}};
  EXPECT_EQ(acks.got, expected);
  const ModerationState state = load(path, kSteady0, kWall0);
  ASSERT_EQ(state.bans.size(), 2u);
  EXPECT_EQ(state.bans[0].id, 1u);
  EXPECT_EQ(state.bans[1].id, 3u);
  EXPECT_TRUE(state.grants.empty());
}

TEST(StateStore, AFullQueueRefusesAtOnceAndTheQueuedAreStillWritten) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  Acks acks;
  StateStore store(path, acks.callback());
  // Not started: nothing drains the queue, so it fills deterministically.
  for (std::uint64_t id = 1; id <= StateStore::kMaxQueue; ++id)
    ASSERT_TRUE(store.submit(ban(id, id), kSteady0, kWall0));
  EXPECT_EQ(store.counters().queued.load(), StateStore::kMaxQueue);
  EXPECT_FALSE(store.submit(ban(99999, 99999), kSteady0, kWall0));
  EXPECT_EQ(store.counters().failed.load(), 1u);
  EXPECT_TRUE(acks.got.empty());  // a refused change gets no callback: submit's false is the answer

  store.start();
  const auto got = acks.wait_for(StateStore::kMaxQueue);
  ASSERT_EQ(got.size(), StateStore::kMaxQueue);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, i + 1);  // in submission order
    EXPECT_TRUE(got[i].second);
  }
  store.stop();
  EXPECT_EQ(store.counters().queued.load(), 0u);
  EXPECT_EQ(store.counters().written.load(), StateStore::kMaxQueue);
  EXPECT_FALSE(store.submit(ban(100000, 100000), kSteady0, kWall0));  // stopped
  EXPECT_EQ(load(path, kSteady0, kWall0).bans.size(), StateStore::kMaxQueue);
}

TEST(StateStore, StopWritesWhatIsQueued) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  Acks acks;
  {
    StateStore store(path, acks.callback());
    store.start();
    for (std::uint64_t id = 1; id <= 200; ++id)
      ASSERT_TRUE(store.submit(ban(id, id), kSteady0, kWall0));
  }  // the destructor stops: every queued change is written and reported before it returns
  ASSERT_EQ(acks.got.size(), 200u);
  for (const auto& [id, ok] : acks.got)
    EXPECT_TRUE(ok) << "change " << id;
  EXPECT_EQ(load(path, kSteady0, kWall0).bans.size(), 200u);
}

TEST(StateStore, TheFileIsWalAndMigrated) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  { StateStore store(path, nullptr); }
  store::Db db(path);
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.text(0), "wal");
  EXPECT_EQ(count(db, "SELECT max(version) FROM schema_migrations"),
            static_cast<std::int64_t>(embedded_migrations().back().version));
  EXPECT_EQ(count(db, "SELECT value FROM meta WHERE key = 'next_id'"), 1);
  // Opening again applies nothing twice.
  { StateStore again(path, nullptr); }
  EXPECT_EQ(count(db, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(embedded_migrations().size()));
}

TEST(StateStore, AFileFromANewerRelayIsRefused) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  ASSERT_EQ(write_all(path, {ban(1, 1)}).size(), 1u);
  {
    store::Db db(path);
    db.exec("INSERT INTO schema_migrations (version, name, applied_unix_ms) VALUES (9999, 'future', 0)");
  }
  try {
    StateStore store(path, nullptr);
    FAIL() << "a state file with migration 9999 was opened";
  } catch (const store::StoreError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("9999"), std::string::npos) << m;
    EXPECT_NE(m.find("newer kaillera-relay"), std::string::npos) << m;
  }
  store::Db db(path);  // untouched
  EXPECT_EQ(count(db, "SELECT count(*) FROM bans"), 1);
}

// --- kill -9
// ------------------------------------------------------------------------------------------------

// The child: opens the store and, from the next unused id on, submits bans without end (waiting for room
// when the queue is full), writing each acknowledged change id to `fd` from the writer thread, as the shell
// would tell the staff member.
[[noreturn]] void submit_bans_forever(const std::string& path, int fd) {
  try {
    std::mutex mutex;
    std::condition_variable cv;
    std::uint64_t acked = 0;
    StateStore store(path, [&](std::uint64_t change_id, bool ok) {
      if (!ok) ::_exit(4);
      const char* p = reinterpret_cast<const char*>(&change_id);
      std::size_t left = sizeof change_id;
      while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(5);
        p += n;
        left -= static_cast<std::size_t>(n);
      }
      std::lock_guard lock(mutex);
      ++acked;
      cv.notify_all();
    });
    const std::uint64_t first = store.load(kSteady0, kWall0).next_id;
    store.start();
    for (std::uint64_t id = first;; ++id) {
      auto c = ban(id, id);
      c.sanction.range = {static_cast<std::uint32_t>(id), 32};
      c.sanction.reason = "burst " + std::to_string(id);
      for (;;) {
        std::unique_lock lock(mutex);
        const std::uint64_t before = acked;
        lock.unlock();
        if (store.submit(c, kSteady0, kWall0)) break;
        lock.lock();  // full: wait for the writer to make room
        cv.wait(lock, [&] { return acked != before; });
      }
    }
  } catch (...) {
    ::_exit(6);
  }
}

// Forks the child, reads its acknowledgements until `kill_after` arrived, kills it with SIGKILL in the
// middle of its burst, then reads what it acknowledged before it died. Returns every acknowledged id.
std::vector<std::uint64_t> run_and_kill(const std::string& path, std::size_t kill_after) {
  std::vector<std::uint64_t> acked;
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  EXPECT_GE(pid, 0);
  if (pid < 0) return acked;
  if (pid == 0) {
    ::close(fds[0]);
    submit_bans_forever(path, fds[1]);
  }
  ::close(fds[1]);
  std::string buffer;
  auto read_some = [&]() -> bool {
    char chunk[4096];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    const std::size_t whole = buffer.size() / 8 * 8;
    for (std::size_t i = 0; i < whole; i += 8) {
      std::uint64_t id;
      std::memcpy(&id, buffer.data() + i, 8);
      acked.push_back(id);
    }
    buffer.erase(0, whole);
    return true;
  };
  bool alive = true;
  while (alive && acked.size() < kill_after)
    alive = read_some();
  EXPECT_TRUE(alive) << "the child ended before it was killed";
  EXPECT_EQ(::kill(pid, SIGKILL), 0);
  while (read_some()) {
  }  // EOF once it is gone
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_TRUE(buffer.empty());  // whole ids only (8-byte writes to a pipe are atomic)
  return acked;
}

TEST(StateStoreCrash, AcknowledgedBansSurviveKill9) {
  TempDir dir;
  const std::string path = dir / "relay.db";
  // Three crashes at different points of the burst; each new child goes on from the file the last one left.
  std::vector<std::uint64_t> acked;
  for (const std::size_t kill_after : {6000u, 2500u, 4500u}) {
    const auto round = run_and_kill(path, kill_after);
    ASSERT_GE(round.size(), kill_after);
    acked.insert(acked.end(), round.begin(), round.end());

    store::Db db(path);
    auto check = db.prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.step());
    EXPECT_EQ(check.text(0), "ok");
    std::set<std::uint64_t> stored;
    auto ids = db.prepare("SELECT id FROM bans");
    while (ids.step())
      stored.insert(static_cast<std::uint64_t>(ids.int64(0)));
    std::size_t missing = 0;
    for (const std::uint64_t id : acked) {
      if (stored.count(id) == 0) ++missing;
    }
    ASSERT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged bans, " << stored.size() << " stored";
    EXPECT_GE(stored.size(), acked.size());

    // The relay starts again on that file, above every id it gave.
    const ModerationState state = load(path, kSteady0, kWall0);
    EXPECT_EQ(state.bans.size(), stored.size());
    EXPECT_EQ(state.next_id, *stored.rbegin() + 1);
  }
}

}  // namespace
}  // namespace kaillera::relay::state
