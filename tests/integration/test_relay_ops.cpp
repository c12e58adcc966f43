// Operating the real kaillera-relay (docs/OPERATING.md "Health checks, logs and backups"): /healthz and
// /readyz on the metrics address while the state file is locked by another connection and once the relay
// serves; SIGTERM while it waits; --log-file reopened by SIGHUP after a rename (log rotation); SIGHUP
// reloading the announcements from relay.toml and naming the keys that need a restart; `kaillera-relay
// backup` copying a state file that a StateStore keeps writing. Every process is started and stopped by its
// pid.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "relay/state/state_store.hpp"
#include "tests/integration/servers.hpp"
#include "tests/master/list_server.hpp"
#include "tests/support/ops.hpp"

namespace {

using namespace kf_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RelayOps : public ::testing::Test {
 protected:
  // The relay on ephemeral loopback ports, not waiting for it to be ready.
  std::unique_ptr<Process> launch(std::vector<std::string> extra, const std::string& tag = "relay") {
    std::vector<std::string> args = {"--listen",  "127.0.0.1:0", "--game-ports", "0",
                                     "--metrics", "127.0.0.1:0", "--ready-file", ready_path(tag)};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(KF_RELAY_BIN, args, dir_ / (tag + ".out"));
  }
  std::string ready_path(const std::string& tag) const { return dir_ / (tag + ".ready.json"); }

  // The metrics port from the relay's early log line (written before it is ready), or 0.
  static std::uint16_t metrics_port(Process& p, const std::function<std::string()>& log) {
    const std::string marker = "metrics on http://127.0.0.1:";
    poll_until([&] { return contains(log(), marker) || p.poll_exit().has_value(); }, 10s);
    return port_after(log(), marker);
  }

  TempDir dir_;
};

TEST_F(RelayOps, ReadyzWaitsForALockedStateFileThenTheRelayServes) {
  const std::string state = dir_ / "state.db";
  WriteLock lock(state);  // another process holds the state file's write lock while the relay must migrate it
  auto relay = launch({"--state-db", state, "--log-level", "debug"});
  const auto log = [&] { return relay->log(); };
  const std::uint16_t port = metrics_port(*relay, log);
  ASSERT_NE(port, 0) << log();

  auto healthz = http_get(port, "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");
  // Not ready, and after the first failed attempt /readyz says why.
  ASSERT_TRUE(poll_until(
      [&] { return contains(http_get(port, "/readyz").body, "locked by another connection"); }, 10s))
      << http_get(port, "/readyz").body << log();
  auto readyz = http_get(port, "/readyz");
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(readyz.body.rfind("not ready: the state file " + state + " is locked by another connection", 0),
            0u)
      << readyz.body;
  EXPECT_EQ(http_get(port, "/metrics").status, 503);
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  EXPECT_FALSE(fs::exists(ready_path("relay")));
  EXPECT_TRUE(relay->running());
  EXPECT_TRUE(contains(log(), "state file " + state + ": locked by another connection; waiting")) << log();

  lock.release();
  ASSERT_TRUE(poll_until([&] { return http_get(port, "/readyz").status == 200; }, 10s)) << log();
  EXPECT_EQ(http_get(port, "/readyz").body, "ready\n");
  EXPECT_TRUE(poll_until([&] { return fs::exists(ready_path("relay")); }, 5s));
  EXPECT_EQ(http_get(port, "/metrics").status, 200);
  EXPECT_TRUE(contains(log(), "listening:")) << log();
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait_exit(10s), 0) << log();
}

TEST_F(RelayOps, SigtermWhileWaitingForTheStateFileStopsCleanly) {
  const std::string state = dir_ / "state.db";
  WriteLock lock(state);
  auto relay = launch({"--state-db", state});
  const auto log = [&] { return relay->log(); };
  const std::uint16_t port = metrics_port(*relay, log);
  ASSERT_NE(port, 0) << log();
  ASSERT_TRUE(wait_for_text(log, "locked by another connection")) << log();
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait_exit(10s), 0) << log();
  EXPECT_TRUE(contains(log(), "SIGTERM during start-up: stopping")) << log();
  EXPECT_TRUE(contains(log(), "stopped during start-up")) << log();
  EXPECT_FALSE(contains(log(), " error ")) << log();  // the lock it gave up on is no error
  EXPECT_FALSE(contains(log(), "listening:")) << log();
}

TEST_F(RelayOps, TheLogFileIsReopenedOnSighupAfterARename) {
  const std::string file = dir_ / "relay.log";
  auto relay = launch({"--log-file", file, "--log-level", "info"});
  ASSERT_TRUE(poll_until([&] { return fs::exists(ready_path("relay")); }, 10s)) << read_file(file);
  const auto current = [&] { return read_file(file); };
  EXPECT_TRUE(contains(current(), "listening:")) << current();
  EXPECT_EQ(relay->log(), "");  // nothing on stdout or stderr

  // What logrotate does: rename, then SIGHUP.
  fs::rename(file, file + ".1");
  relay->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(current, "SIGHUP: log file " + file + " reopened")) << read_file(file + ".1");
  EXPECT_TRUE(wait_for_text(current, "reload: no config file (--config)")) << current();
  const std::string rotated = read_file(file + ".1");
  EXPECT_TRUE(contains(rotated, "listening:"));
  EXPECT_FALSE(contains(rotated, "reopened")) << rotated;

  // A second rotation; the stop lines land in the newest file.
  fs::rename(file, file + ".2");
  relay->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(current, "reopened")) << read_file(file + ".2");
  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait_exit(10s), 0);
  EXPECT_TRUE(contains(current(), "stopped")) << current();
  EXPECT_FALSE(contains(read_file(file + ".2"), "stopped"));
}

TEST_F(RelayOps, ALogFileThatCannotBeOpenedStopsTheStart) {
  const std::string file = dir_ / "missing-dir" / "relay.log";
  auto relay = launch({"--log-file", file});
  EXPECT_EQ(relay->wait_exit(10s), 1);
  EXPECT_TRUE(contains(relay->log(), "kaillera-relay: cannot open the log file " + file)) << relay->log();
}

// SIGHUP with a changed relay.toml: the announcements move to the new list at once, a key that needs a
// restart is named and keeps its value, a broken file changes nothing.
TEST_F(RelayOps, SighupReloadsTheAnnouncementsAndNamesWhatNeedsARestart) {
  kf_master_test::ListServer lists;
  const std::string a = lists.url("/a/touch_list.php"), b = lists.url("/b/touch_list.php");
  const auto config = dir_ / "relay.toml";
  const std::string common = "announce_first_s = 0\nannounce_interval_s = 1\nmax_users = 10\n";
  write_file(config, common + "announce = \"" + a + "\"\n");
  auto relay = launch({"--config", config.string()});
  const auto log = [&] { return relay->log(); };
  ASSERT_TRUE(poll_until([&] { return lists.requests_starting("/a/touch_list.php?") >= 1; }, 10s)) << log();

  relay->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(log, "reload: nothing changed in " + config.string())) << log();

  write_file(config,
             "announce_first_s = 0\nannounce_interval_s = 1\nmax_users = 12\nannounce = \"" + b + "\"\n");
  relay->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(log, "reload: announce: [" + a + "] -> [" + b + "]")) << log();
  EXPECT_TRUE(wait_for_text(
      log, "reload: max_users changed in " + config.string() + " but takes effect only after a restart"))
      << log();
  // The old announcer is stopped by the time the line is logged: list A hears nothing more while B gets
  // touches.
  const int a_after = lists.requests_starting("/a/touch_list.php?");
  ASSERT_TRUE(poll_until([&] { return lists.requests_starting("/b/touch_list.php?") >= 2; }, 10s)) << log();
  EXPECT_EQ(lists.requests_starting("/a/touch_list.php?"), a_after);

  // A broken file: named, and nothing changes (B keeps getting touches).
  write_file(config, "announce = \"" + a + "\"\ncolour = \"red\"\n");
  relay->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(log, "reload: " + config.string() +
                                     ": unknown key 'colour' (line 2); every setting "
                                     "keeps its value"))
      << log();
  const int b_now = lists.requests_starting("/b/touch_list.php?");
  ASSERT_TRUE(poll_until([&] { return lists.requests_starting("/b/touch_list.php?") > b_now; }, 10s))
      << log();
  EXPECT_EQ(lists.requests_starting("/a/touch_list.php?"), a_after);

  relay->signal(SIGTERM);
  EXPECT_EQ(relay->wait_exit(10s), 0) << log();
}

// `kaillera-relay backup` on a state file that a StateStore (another thread) keeps writing bans to: the copy
// passes PRAGMA integrity_check and holds every ban acknowledged before the backup began.
TEST_F(RelayOps, BackupCopiesAStateFileWhileItIsWritten) {
  using namespace kaillera::relay;
  const std::string state = dir_ / "state.db", out = dir_ / "state-backup.db";
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::uint64_t> written;
  state::StateStore store(state, [&](std::uint64_t id, bool ok) {
    std::lock_guard l(mu);
    if (ok) written.insert(id);
    cv.notify_all();
  });
  store.start();
  std::atomic<bool> stop{false};
  std::thread moderator([&] {
    const auto steady = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now();
    for (std::uint64_t id = 1; !stop; ++id) {
      ModerationChange c;
      c.kind = ModerationChange::Kind::kBan;
      c.change_id = id;
      c.sanction.id = id;
      c.sanction.range = {0x0A000000u + static_cast<std::uint32_t>(id), 32};
      c.sanction.reason = "flood";
      c.sanction.issuer = "owner";
      c.sanction.at = steady;
      store.submit(c, steady, wall);
      std::this_thread::sleep_for(200us);
    }
  });
  std::set<std::uint64_t> before;
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 20s, [&] { return written.size() >= 300; }));
    before = written;
  }
  const auto r = run_command(KF_RELAY_BIN, {"backup", out, "--state-db", state}, dir_ / "backup.out");
  stop = true;
  moderator.join();
  store.stop();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "backup of " + state + " to " + out + ": ")) << r.output;
  EXPECT_TRUE(contains(r.output, "integrity_check ok")) << r.output;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(out.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::set<std::uint64_t> copied;
  std::string integrity;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW)
    integrity += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "SELECT id FROM bans", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW)
    copied.insert(static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(integrity, "ok");
  for (const auto id : before)
    ASSERT_TRUE(copied.count(id)) << "ban " << id << " was written before the backup began";

  // The same again refuses to overwrite the copy; --force replaces it.
  auto again = run_command(KF_RELAY_BIN, {"backup", out, "--state-db", state}, dir_ / "again.out");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(
      contains(again.output, "kaillera-relay: backup: " + out + " exists already; --force replaces it"))
      << again.output;
  again = run_command(KF_RELAY_BIN, {"backup", "--force", out, "--state-db", state}, dir_ / "force.out");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

TEST_F(RelayOps, BackupErrorsNameTheProblem) {
  const std::string missing = dir_ / "nope.db";
  auto r = run_command(KF_RELAY_BIN, {"backup", dir_ / "x.db", "--state-db", missing}, dir_ / "1.out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "kaillera-relay: backup: source " + missing + " does not exist"))
      << r.output;
  EXPECT_FALSE(fs::exists(missing));
  r = run_command(KF_RELAY_BIN, {"backup", dir_ / "x.db"}, dir_ / "2.out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "no state file to copy")) << r.output;
}

}  // namespace
