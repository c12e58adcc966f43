// The online backup of a SQLite file (common/store/backup.hpp), on real files: while other connections keep
// committing (between the backup's own steps, and from another thread), the copy passes PRAGMA
// integrity_check and holds exactly the rows committed before the backup began; the relay's state file
// copies while its StateStore writes bans; a missing source, a file that is not a database, an existing OUT
// without --force and other bad outputs are refused with a message naming them, and nothing is written.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/store/backup.hpp"
#include "common/store/sqlite.hpp"
#include "relay/state/state_store.hpp"
#include "tests/state/state_test_util.hpp"

namespace {

using namespace std::chrono_literals;
using kaillera::store::backup_database;
using kaillera::store::BackupOptions;
using kaillera::store::Db;
using kf_state_test::read_file;
using kf_state_test::TempDir;
namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A connection of the test's own (the raw C API, not the code under test), to read a copy independently.
class Reader {
 public:
  explicit Reader(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + path);
  }
  ~Reader() { sqlite3_close_v2(db_); }
  // Each row's columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* t = sqlite3_column_text(st, c);
        row += (c ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// items(id, payload, n) and tally(total = the number of items), always changed together in one transaction.
void create_items(Db& db, int rows) {
  db.exec(
      "CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB NOT NULL, n INTEGER NOT NULL);"
      "CREATE TABLE tally (total INTEGER NOT NULL); INSERT INTO tally VALUES (0);");
  for (int batch = 0; batch < rows / 100; ++batch) {
    kaillera::store::Transaction tx(db);
    auto ins = db.prepare("INSERT INTO items (payload, n) VALUES (randomblob(1000), ?1)");
    for (int i = 0; i < 100; ++i) {
      ins.bind(1, std::int64_t{batch * 100 + i});
      ins.run();
    }
    db.exec("UPDATE tally SET total = (SELECT count(*) FROM items)");
    tx.commit();
  }
}

// Every item as "id|hex(payload)|n", ordered by id.
std::vector<std::string> all_items(const std::string& path) {
  Reader r(path);
  return r.rows("SELECT id, hex(payload), n FROM items ORDER BY id");
}

// One transaction of another writer: deletes the oldest item, changes the next one, adds two, keeps tally.
void churn(Db& db, std::int64_t tag) {
  kaillera::store::Transaction tx(db);
  db.exec("DELETE FROM items WHERE id = (SELECT min(id) FROM items)");
  db.prepare("UPDATE items SET n = ?1 WHERE id = (SELECT min(id) FROM items)").bind(1, -tag).run();
  auto ins = db.prepare("INSERT INTO items (payload, n) VALUES (randomblob(1000), ?1)");
  ins.bind(1, 1'000'000 + tag).run();
  ins.bind(1, 2'000'000 + tag).run();
  db.exec("UPDATE tally SET total = (SELECT count(*) FROM items)");
  tx.commit();
}

TEST(SqliteBackup, HoldsExactlyTheRowsCommittedBeforeItBeganWhileOthersWrite) {
  TempDir dir;
  const std::string src = dir / "source.db", out = dir / "copy.db";
  Db db(src);
  create_items(db, 3000);  // about 3 MB: many backup steps of 32 pages
  const std::vector<std::string> before = all_items(src);
  ASSERT_EQ(before.size(), 3000u);

  // A writer thread that commits as fast as it can from the moment the backup starts until it ends.
  std::atomic<bool> backing_up{false}, done{false};
  std::atomic<int> thread_commits{0};
  std::string thread_error;
  std::thread writer([&] {
    try {
      Db w(src);
      while (!backing_up)
        std::this_thread::sleep_for(1ms);
      for (std::int64_t tag = 1; !done; ++tag) {
        churn(w, tag);
        ++thread_commits;
        std::this_thread::sleep_for(1ms);  // room for the other writer's transactions
      }
    } catch (const std::exception& e) {
      thread_error = e.what();
    }
  });

  // And commits of another connection between the backup's own steps: certainly during the copy.
  Db between(src);
  int steps = 0, commits_between = 0;
  std::string between_error;
  BackupOptions o;
  o.pages_per_step = 32;
  o.progress = [&](int remaining, int total) {
    ++steps;
    EXPECT_GT(total, 0);
    EXPECT_LE(remaining, total);
    if (remaining == 0) return;
    try {
      churn(between, 100'000 + steps);
      ++commits_between;
    } catch (const std::exception& e) {
      between_error = e.what();
    }
  };
  backing_up = true;
  const auto report = backup_database(src, out, o);
  done = true;
  writer.join();

  ASSERT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.integrity, "ok");
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.bytes, static_cast<std::int64_t>(fs::file_size(out)));
  EXPECT_TRUE(thread_error.empty()) << thread_error;
  EXPECT_TRUE(between_error.empty()) << "a write during the backup failed: " << between_error;
  EXPECT_GT(steps, 10);
  EXPECT_GT(commits_between, 5) << "the writes did not happen during the copy";

  // The copy, read by the test's own connection: intact, and the database as it was before the backup.
  Reader copy(out);
  EXPECT_EQ(copy.rows("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(all_items(out), before);
  EXPECT_EQ(copy.rows("SELECT total FROM tally"), std::vector<std::string>{"3000"});
  EXPECT_EQ(copy.rows("PRAGMA journal_mode"), std::vector<std::string>{"delete"});  // one self-contained file
  EXPECT_FALSE(fs::exists(out + "-wal"));

  // The source moved on meanwhile: the other writers' transactions are there, none of them in the copy.
  Reader now(src);
  const auto total = now.rows("SELECT count(*) FROM items");
  EXPECT_EQ(total, std::vector<std::string>{std::to_string(3000 + commits_between + thread_commits.load())});
  EXPECT_EQ(now.rows("SELECT count(*) FROM items WHERE id = 1"), std::vector<std::string>{"0"});  // deleted
  EXPECT_EQ(copy.rows("SELECT count(*) FROM items WHERE id = 1"), std::vector<std::string>{"1"});

  // No temporary file is left beside OUT.
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_FALSE(contains(e.path().filename().string(), ".partial")) << e.path();
}

TEST(SqliteBackup, AnExistingOutIsKeptUnlessForced) {
  TempDir dir;
  const std::string src = dir / "source.db", out = dir / "copy.db";
  {
    Db db(src);
    create_items(db, 200);
  }
  { std::ofstream(out) << "an older backup\n"; }
  auto r = backup_database(src, out);
  EXPECT_EQ(r.error, out + " exists already; --force replaces it");
  EXPECT_EQ(read_file(out), "an older backup\n");

  BackupOptions force;
  force.force = true;
  r = backup_database(src, out, force);
  ASSERT_TRUE(r.ok()) << r.error << " " << r.integrity;
  EXPECT_EQ(all_items(out), all_items(src));
}

TEST(SqliteBackup, BadSourcesAndOutputsAreNamedAndNothingIsWritten) {
  TempDir dir;
  const std::string src = dir / "source.db";
  {
    Db db(src);
    create_items(db, 100);
  }
  const std::string missing = dir / "missing.db";
  auto r = backup_database(missing, dir / "a.db");
  EXPECT_EQ(r.error, "source " + missing + " does not exist");
  EXPECT_FALSE(fs::exists(missing));  // not created by trying
  EXPECT_FALSE(fs::exists(dir / "a.db"));

  const std::string text = dir / "notes.txt";
  std::ofstream(text) << std::string(4096, 'x');
  r = backup_database(text, dir / "b.db");
  EXPECT_TRUE(contains(r.error, "source " + text + " is not a SQLite database")) << r.error;
  EXPECT_FALSE(fs::exists(dir / "b.db"));

  r = backup_database(src, src);
  EXPECT_EQ(r.error, src + " is the source database itself");
  r = backup_database(src, dir / "no-such-dir" / "c.db");
  EXPECT_EQ(r.error, "directory " + (dir / "no-such-dir").string() + " of " +
                         (dir / "no-such-dir" / "c.db").string() + " does not exist");
  fs::create_directory(dir / "sub");
  BackupOptions force;
  force.force = true;
  r = backup_database(src, dir / "sub", force);
  EXPECT_EQ(r.error, (dir / "sub").string() + " is a directory; name the file to write");
  r = backup_database(dir.path().string(), dir / "d.db");
  EXPECT_EQ(r.error, "source " + dir.path().string() + " is not a regular file");
  EXPECT_FALSE(r.ok());

  // The source is untouched by all of this.
  Reader check(src);
  EXPECT_EQ(check.rows("SELECT count(*) FROM items"), std::vector<std::string>{"100"});
}

// The relay's state file, copied while its StateStore commits bans on its writer thread: every ban that was
// acknowledged written before the backup began is in the copy.
TEST(SqliteBackup, TheRelayStateFileCopiesWhileItsStoreWritesBans) {
  using namespace kaillera::relay;
  TempDir dir;
  const std::string path = dir / "state.db", out = dir / "state-copy.db";
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::uint64_t> written;
  state::StateStore store(path, [&](std::uint64_t id, bool ok) {
    std::lock_guard lock(mu);
    if (ok) written.insert(id);
    cv.notify_all();
  });
  store.start();

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> submitted{0};
  const auto steady0 = std::chrono::steady_clock::now();
  const auto wall0 = std::chrono::system_clock::now();
  std::thread moderator([&] {
    for (std::uint64_t id = 1; !stop; ++id) {
      ModerationChange c;
      c.kind = ModerationChange::Kind::kBan;
      c.change_id = id;
      c.sanction.id = id;
      c.sanction.range = {0xC6336400u + static_cast<std::uint32_t>(id % 250), 32};  // 198.51.100.x
      c.sanction.reason = "spam " + std::to_string(id) + std::string(200, '.');
      c.sanction.issuer = "alice";
      c.sanction.target_name = "bob";
      c.sanction.at = steady0;
      if (store.submit(c, steady0, wall0)) ++submitted;
      if (id % 20 == 0) std::this_thread::sleep_for(1ms);  // leave the queue room
    }
  });

  std::set<std::uint64_t> acknowledged_before;
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return written.size() >= 500; }));
    acknowledged_before = written;
  }
  const auto report = backup_database(path, out);
  std::size_t acknowledged_after = 0;
  {
    std::unique_lock lock(mu);
    // The store went on writing during and after the copy.
    cv.wait_for(lock, 20s, [&] { return written.size() > acknowledged_before.size() + 100; });
    acknowledged_after = written.size();
  }
  stop = true;
  moderator.join();
  store.stop();

  ASSERT_TRUE(report.ok()) << report.error << " " << report.integrity;
  EXPECT_GT(acknowledged_after, acknowledged_before.size());
  Reader copy(out);
  EXPECT_EQ(copy.rows("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  std::set<std::uint64_t> in_copy;
  for (const auto& id : copy.rows("SELECT id FROM bans"))
    in_copy.insert(std::stoull(id));
  for (const auto id : acknowledged_before)
    EXPECT_TRUE(in_copy.count(id)) << "ban " << id << " was acknowledged before the backup but is not in it";
  EXPECT_GE(in_copy.size(), acknowledged_before.size());
  // And the copy is a state file the relay opens: its schema is there.
  EXPECT_EQ(copy.rows("SELECT max(version) FROM schema_migrations").size(), 1u);
}

}  // namespace
