// Operating the real kaillera-master (docs/OPERATING.md "Health checks, logs and backups"): /healthz and
// /readyz while its database is locked by another connection and once it serves (every other path 503 until
// then); SIGTERM while it waits; --log-file reopened by SIGHUP after a rename; SIGHUP reloading the mirrored
// lists from master.toml and naming the keys that need a restart; `kaillera-master backup` of the database
// while a relay reports over gRPC. Every process is started and stopped by its pid.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "kaillera/directory/v1/directory.grpc.pb.h"
#include "tests/master/list_server.hpp"
#include "tests/master/master_harness.hpp"
#include "tests/support/ops.hpp"

namespace {

using namespace kf_master_test;
using kf_test::port_after;
using kf_test::wait_for_text;
using kf_test::write_file;
using kf_test::WriteLock;
namespace fs = std::filesystem;
namespace v1 = kaillera::directory::v1;
using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One-column rows of `sql` on the SQLite file `path`, read by the test's own connection.
std::vector<std::string> query(const std::string& path, const std::string& sql) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class MasterOps : public ::testing::Test {
 protected:
  std::unique_ptr<Process> launch(std::vector<std::string> extra, const std::string& tag = "master") {
    std::vector<std::string> args = {
        "--db",         db_,           "--grpc",       "127.0.0.1:0",  "--http", "127.0.0.1:0",
        "--check-bind", "127.0.0.1:0", "--ready-file", ready_path(tag)};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(KF_MASTER_BIN, args, dir_ / (tag + ".out"));
  }
  std::string ready_path(const std::string& tag) const { return dir_ / (tag + ".ready.json"); }
  json ready(const std::string& tag = "master") {
    json j;
    poll_until(
        [&] {
          const std::string text = read_file(ready_path(tag));
          if (text.empty() || text.back() != '\n') return false;
          j = json::parse(text, nullptr, false);
          return !j.is_discarded();
        },
        15s);
    return j;
  }
  // The HTTP port from the master's early log line (written before the database is open), or 0.
  static std::uint16_t http_port(Process& p, const std::function<std::string()>& log) {
    const std::string marker = "HTTP on http://127.0.0.1:";
    poll_until([&] { return contains(log(), marker) || p.poll_exit().has_value(); }, 15s);
    return port_after(log(), marker);
  }

  TempDir dir_;
  std::string db_ = dir_ / "master.db";
};

TEST_F(MasterOps, ReadyzWaitsForALockedDatabaseThenTheMasterServes) {
  WriteLock lock(db_);  // another connection holds the write lock while this master must migrate
  auto master = launch({});
  const auto log = [&] { return master->log(); };
  const std::uint16_t port = http_port(*master, log);
  ASSERT_NE(port, 0) << log();

  auto r = http_get(port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  ASSERT_TRUE(poll_until(
      [&] { return contains(http_get(port, "/readyz").body, "locked by another connection"); }, 10s))
      << http_get(port, "/readyz").body << log();
  r = http_get(port, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.rfind("not ready: the database " + db_ + " is locked by another connection", 0), 0u)
      << r.body;
  r = http_get(port, "/server_list.php");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(r.body.rfind("error: the master is starting: the database " + db_, 0), 0u) << r.body;
  EXPECT_EQ(http_get(port, "/api/v1/relays").status, 503);
  EXPECT_FALSE(fs::exists(ready_path("master")));
  EXPECT_TRUE(master->running());

  lock.release();
  ASSERT_TRUE(poll_until([&] { return http_get(port, "/readyz").status == 200; }, 10s)) << log();
  EXPECT_EQ(http_get(port, "/readyz").body, "ready\n");
  EXPECT_EQ(http_get(port, "/server_list.php").status, 200);
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  const json j = ready();
  EXPECT_EQ(j.value("http_port", 0), port);
  // Migrated once the lock was gone.
  EXPECT_EQ(query(db_, "SELECT count(*) FROM sqlite_master WHERE name = 'relays'"),
            std::vector<std::string>{"1"});
  master->signal(SIGTERM);
  EXPECT_EQ(master->wait_exit(10s), 0) << log();
}

TEST_F(MasterOps, SigtermWhileWaitingForTheDatabaseStopsCleanly) {
  WriteLock lock(db_);
  auto master = launch({});
  const auto log = [&] { return master->log(); };
  ASSERT_NE(http_port(*master, log), 0) << log();
  ASSERT_TRUE(wait_for_text(log, "locked by another connection; waiting")) << log();
  master->signal(SIGTERM);
  EXPECT_EQ(master->wait_exit(10s), 0) << log();
  EXPECT_TRUE(contains(log(), "stopped before the database was open")) << log();
}

TEST_F(MasterOps, TheLogFileIsReopenedOnSighupAfterARename) {
  const std::string file = dir_ / "master.log";
  auto master = launch({"--log-file", file});
  ASSERT_FALSE(ready().is_discarded()) << read_file(file);
  const auto current = [&] { return read_file(file); };
  ASSERT_TRUE(wait_for_text(current, "serving:")) << current();
  EXPECT_EQ(master->log(), "");  // nothing on stdout or stderr

  fs::rename(file, file + ".1");
  master->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(current, "SIGHUP: log file " + file + " reopened")) << read_file(file + ".1");
  EXPECT_TRUE(wait_for_text(current, "reload: no config file (--config)")) << current();
  EXPECT_TRUE(contains(read_file(file + ".1"), "serving:"));
  EXPECT_FALSE(contains(read_file(file + ".1"), "reopened"));

  master->signal(SIGTERM);
  EXPECT_EQ(master->wait_exit(10s), 0);
  EXPECT_TRUE(contains(current(), "stopped")) << current();
}

TEST_F(MasterOps, ALogFileThatCannotBeOpenedStopsTheStart) {
  const std::string file = dir_ / "missing-dir" / "master.log";
  auto master = launch({"--log-file", file});
  EXPECT_EQ(master->wait_exit(10s), 1);
  EXPECT_TRUE(contains(master->log(), "kaillera-master: cannot open the log file " + file)) << master->log();
}

// SIGHUP with a changed master.toml: the mirrored lists change at once (the dropped list's servers leave the
// list, the new list is fetched), a key that needs a restart is named and keeps its value.
TEST_F(MasterOps, SighupReloadsTheMirroredLists) {
  ListServer lists;
  lists.set("/a/server_list.php", {200, "text/plain", "List A Server\r\n10.0.0.1:27888;1/8;0;0.86;A\r\n"});
  lists.set("/b/server_list.php", {200, "text/plain", "List B Server\r\n10.0.0.2:27888;2/8;0;0.86;B\r\n"});
  const std::string a = lists.url("/a/server_list.php"), b = lists.url("/b/server_list.php");
  const auto config = dir_ / "master.toml";
  write_file(config, "mirror_interval_s = 1\nreport_interval_ms = 5000\nmirrors = [\"" + a + "\"]\n");
  auto master = launch({"--config", config.string()});
  const auto log = [&] { return master->log(); };
  const json j = ready();
  ASSERT_FALSE(j.is_discarded()) << log();
  const std::uint16_t port = j.value("http_port", 0);
  const auto relays = [&] { return http_get(port, "/api/v1/relays").body; };
  ASSERT_TRUE(wait_for_text(relays, "10.0.0.1:27888")) << relays() << log();

  write_file(config, "mirror_interval_s = 1\nreport_interval_ms = 9000\nmirrors = [\"" + b + "\"]\n");
  master->signal(SIGHUP);
  ASSERT_TRUE(wait_for_text(log, "reload: mirrors: [" + a + "] -> [" + b + "]")) << log();
  EXPECT_TRUE(wait_for_text(log, "reload: report_interval_ms changed in " + config.string() +
                                     " but takes effect only after a restart"))
      << log();
  const int a_after = lists.requests("/a/server_list.php");
  ASSERT_TRUE(poll_until(
      [&] {
        const std::string body = relays();
        return contains(body, "10.0.0.2:27888") && !contains(body, "10.0.0.1:27888");
      },
      10s))
      << relays() << log();
  ASSERT_TRUE(poll_until([&] { return lists.requests("/b/server_list.php") >= 2; }, 10s)) << log();
  EXPECT_EQ(lists.requests("/a/server_list.php"), a_after);  // the old list is no longer fetched
  const auto metrics = http_get(port, "/metrics").body;
  EXPECT_TRUE(contains(metrics, "mirror=\"" + b + "\"")) << metrics;
  EXPECT_FALSE(contains(metrics, "mirror=\"" + a + "\"")) << metrics;
  EXPECT_EQ(query(db_, "SELECT url FROM mirrors"), std::vector<std::string>{b});

  // Another SIGHUP: the mirrors are as in the file now, but the restart is still pending and named again.
  const auto count = [&](const std::string& part) {
    const std::string text = log();
    int n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
      ++n;
    return n;
  };
  ASSERT_EQ(count("reload: report_interval_ms changed"), 1);
  master->signal(SIGHUP);
  ASSERT_TRUE(poll_until([&] { return count("reload: report_interval_ms changed") == 2; }, 10s)) << log();
  EXPECT_EQ(count("reload: mirrors:"), 1);
  EXPECT_FALSE(contains(log(), "reload: nothing changed")) << log();
  master->signal(SIGTERM);
  EXPECT_EQ(master->wait_exit(10s), 0) << log();
}

// `kaillera-master backup` while a relay reports over gRPC (every report writes its measurements): the copy
// passes PRAGMA integrity_check and holds every measurement committed before the backup began.
TEST_F(MasterOps, BackupWhileARelayReports) {
  auto master = launch({});
  const json j = ready();
  ASSERT_FALSE(j.is_discarded()) << master->log();
  const auto add = run_command(KF_MASTER_BIN, {"relay", "add", "busy", "--db", db_}, dir_ / "add.out");
  ASSERT_EQ(add.exit_code, 0) << add.output;
  ASSERT_NE(add.output.rfind("kf_"), std::string::npos) << add.output;
  std::string token = add.output.substr(add.output.rfind("kf_"));  // the last line: the token
  while (!token.empty() && token.back() == '\n')
    token.pop_back();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(j.value("grpc_port", 0)),
                                     grpc::InsecureChannelCredentials());
  auto registry = v1::RelayRegistry::NewStub(channel);
  v1::RegisterRequest req;
  req.set_token(token);
  req.mutable_info()->mutable_name()->set_raw("Busy Relay");
  req.mutable_info()->set_public_host("127.0.0.1");
  req.mutable_info()->set_handshake_port(27888);
  req.mutable_info()->set_game_port_first(27889);
  req.mutable_info()->set_game_port_last(27889);
  req.mutable_info()->set_max_users(8);
  v1::RegisterResponse reg;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    const auto status = registry->Register(&ctx, req, &reg);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::atomic<bool> stop{false};
  std::atomic<int> reports{0};
  std::thread relay([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    auto stream = registry->Report(&ctx);
    v1::RelayMessage hello;
    hello.mutable_hello()->set_relay_id(reg.relay_id());
    hello.mutable_hello()->set_session_key(reg.session_key());
    stream->Write(hello);
    for (int n = 0; !stop; ++n) {
      v1::RelayMessage m;
      auto* report = m.mutable_report();
      report->set_users(static_cast<std::uint32_t>(n % 8));
      for (int k = 0; k < 5; ++k) {
        auto* meas = report->add_measurements();
        const int player = n * 5 + k;
        meas->set_address("10." + std::to_string(player / 65536 % 256) + "." +
                          std::to_string(player / 256 % 256) + "." + std::to_string(player % 256));
        meas->set_hops(static_cast<std::uint32_t>(1 + k));
        meas->set_source(v1::Measurement::SOURCE_PING);
      }
      if (!stream->Write(m)) break;
      ++reports;
      std::this_thread::sleep_for(2ms);
    }
    stream->WritesDone();
    stream->Finish();
  });

  // The measurements committed before the backup begins (read from the file by another connection).
  std::vector<std::string> before;
  ASSERT_TRUE(poll_until(
      [&] {
        before = query(db_, "SELECT player_address FROM measurements");
        return before.size() >= 300;
      },
      20s))
      << master->log();
  const int reports_at_start = reports.load();
  const std::string out = dir_ / "master-backup.db";
  const auto backup = run_command(KF_MASTER_BIN, {"backup", out, "--db", db_}, dir_ / "backup.out");
  ASSERT_TRUE(poll_until([&] { return reports.load() > reports_at_start + 20; }, 10s));  // still reporting
  stop = true;
  relay.join();

  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  EXPECT_TRUE(contains(backup.output, "backup of " + db_ + " to " + out + ": ")) << backup.output;
  EXPECT_TRUE(contains(backup.output, "integrity_check ok")) << backup.output;
  EXPECT_EQ(query(out, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  const auto copied_list = query(out, "SELECT player_address FROM measurements");
  const std::set<std::string> copied(copied_list.begin(), copied_list.end());
  for (const auto& address : before)
    ASSERT_TRUE(copied.count(address)) << address << " was committed before the backup began";
  EXPECT_EQ(query(out, "SELECT label FROM relays"), std::vector<std::string>{"busy"});
  // The master went on writing during and after the copy.
  EXPECT_GT(std::stoul(query(db_, "SELECT count(*) FROM measurements").at(0)), copied.size());

  master->signal(SIGTERM);
  EXPECT_EQ(master->wait_exit(10s), 0) << master->log();
}

TEST_F(MasterOps, BackupRefusesToOverwriteAndNamesAMissingDatabase) {
  const std::string missing = dir_ / "missing.db";
  auto r = run_command(KF_MASTER_BIN, {"backup", dir_ / "copy.db", "--db", missing}, dir_ / "1.out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "kaillera-master: backup: source " + missing + " does not exist"))
      << r.output;
  EXPECT_FALSE(fs::exists(missing));  // unlike the other subcommands, backup never creates the database

  ASSERT_EQ(run_command(KF_MASTER_BIN, {"migrate", "--db", db_}, dir_ / "2.out").exit_code, 0);
  const std::string out = dir_ / "copy.db";
  write_file(out, "keep me\n");
  r = run_command(KF_MASTER_BIN, {"--db", db_, "backup", out}, dir_ / "3.out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, out + " exists already; --force replaces it")) << r.output;
  EXPECT_EQ(read_file(out), "keep me\n");
  r = run_command(KF_MASTER_BIN, {"--db", db_, "backup", "--force", out}, dir_ / "4.out");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(query(out, "SELECT count(*) FROM sqlite_master WHERE name = 'relays'"),
            std::vector<std::string>{"1"});
}

}  // namespace
