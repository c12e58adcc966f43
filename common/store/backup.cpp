#include "common/store/backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

namespace kaillera::store {

namespace {

namespace fs = std::filesystem;

// Closes a connection when it goes.
struct Connection {
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  void close() {
    if (db != nullptr) sqlite3_close_v2(db);
    db = nullptr;
  }
  sqlite3* db = nullptr;
};

std::string errmsg(sqlite3* db, int rc) {
  std::string m = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string generic = sqlite3_errstr(rc);
  if (m != generic) m += " (" + generic + ")";
  return m;
}

// Runs `sql`; "" or SQLite's message.
std::string exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  std::string m = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return m;
}

// The rows of a one-column query, at most `limit`; "" in `error` or SQLite's message.
std::vector<std::string> rows(sqlite3* db, const char* sql, std::size_t limit, std::string& error) {
  std::vector<std::string> out;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    error = errmsg(db, rc);
    return out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out.size() < limit) {
      const auto* text = sqlite3_column_text(st, 0);
      out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
  }
  if (rc != SQLITE_DONE) error = errmsg(db, rc);
  sqlite3_finalize(st);
  return out;
}

// fsync of the directory holding `path`, so that a rename into it lasts.
void sync_directory(const fs::path& path) {
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void remove_quietly(const std::string& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
  fs::remove(path + "-journal", ignored);
  fs::remove(path + "-wal", ignored);
  fs::remove(path + "-shm", ignored);
}

}  // namespace

BackupReport backup_database(const std::string& source, const std::string& out,
                             const BackupOptions& options) {
  BackupReport r;
  if (source.empty()) {
    r.error = "no source database named";
    return r;
  }
  if (out.empty()) {
    r.error = "no output file named";
    return r;
  }
  std::error_code ec;
  const auto src_status = fs::status(source, ec);
  if (!fs::exists(src_status)) {
    r.error = "source " + source + " does not exist";
    return r;
  }
  if (!fs::is_regular_file(src_status)) {
    r.error = "source " + source + " is not a regular file";
    return r;
  }
  const auto out_status = fs::status(out, ec);
  if (fs::exists(out_status)) {
    if (fs::equivalent(source, out, ec)) {
      r.error = out + " is the source database itself";
      return r;
    }
    if (fs::is_directory(out_status)) {
      r.error = out + " is a directory; name the file to write";
      return r;
    }
    if (!options.force) {
      r.error = out + " exists already; --force replaces it";
      return r;
    }
  }
  fs::path dir = fs::path(out).parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec)) {
    r.error = "directory " + dir.string() + " of " + out + " does not exist";
    return r;
  }

  // The source, read-only, in one read transaction: the copy is the database as of its first read.
  Connection src;
  int rc = sqlite3_open_v2(source.c_str(), &src.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    r.error = "cannot open " + source + ": " + errmsg(src.db, rc);
    return r;
  }
  sqlite3_busy_timeout(src.db, 5000);
  if (std::string e = exec(src.db, "BEGIN; SELECT count(*) FROM sqlite_master;"); !e.empty()) {
    r.error = "cannot read " + source + ": " + e;
    if (sqlite3_extended_errcode(src.db) == SQLITE_NOTADB) {
      r.error = "source " + source + " is not a SQLite database (" + e + ")";
    }
    return r;
  }

  const std::string tmp = out + ".partial-" + std::to_string(::getpid());
  remove_quietly(tmp);
  {
    Connection dst;
    rc = sqlite3_open_v2(tmp.c_str(), &dst.db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      r.error = "cannot create " + tmp + ": " + errmsg(dst.db, rc);
      dst.close();
      remove_quietly(tmp);
      return r;
    }
    sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (b == nullptr) {
      r.error = "cannot start the backup: " + std::string(sqlite3_errmsg(dst.db));
      dst.close();
      remove_quietly(tmp);
      return r;
    }
    const int step = options.pages_per_step > 0 ? options.pages_per_step : -1;
    int busy_rounds = 0, steps = 0;
    while (true) {
      rc = sqlite3_backup_step(b, step);
      if (rc == SQLITE_OK || rc == SQLITE_DONE) {
        if (options.progress) options.progress(sqlite3_backup_remaining(b), sqlite3_backup_pagecount(b));
        if (rc == SQLITE_DONE) break;
        // With the read transaction open the copy never starts over; should it, do not loop for ever.
        if (step > 0 && ++steps > 4 * (sqlite3_backup_pagecount(b) / step + 1) + 100) {
          r.error = "the source kept changing under the backup; try again";
          break;
        }
        continue;
      }
      // Only the destination can be busy here (the source's read transaction is open); wait a little.
      if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++busy_rounds < 100) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      break;
    }
    r.pages = sqlite3_backup_pagecount(b);
    rc = sqlite3_backup_finish(b);
    if (!r.error.empty()) {
      dst.close();
      remove_quietly(tmp);
      return r;
    }
    if (rc != SQLITE_OK) {
      r.error = "backup failed: " + errmsg(dst.db, rc);
      dst.close();
      remove_quietly(tmp);
      return r;
    }
    // The copy is a plain rollback-journal file (a server turns WAL on again when it opens it), then checked.
    std::string ignored, e;
    rows(dst.db, "PRAGMA journal_mode=DELETE", 1, ignored);
    const auto findings = rows(dst.db, "PRAGMA integrity_check", 20, e);
    if (!e.empty()) {
      r.integrity = "integrity_check could not run: " + e;
    } else {
      for (const auto& f : findings)
        r.integrity += (r.integrity.empty() ? "" : "; ") + f;
    }
  }
  exec(src.db, "COMMIT");

  fs::rename(tmp, out, ec);
  if (ec) {
    r.error = "cannot rename " + tmp + " to " + out + ": " + ec.message();
    remove_quietly(tmp);
    return r;
  }
  sync_directory(out);
  r.bytes = static_cast<std::int64_t>(fs::file_size(out, ec));
  return r;
}

int run_backup_command(const std::string& program, const std::string& source, const std::string& out,
                       bool force) {
  BackupOptions o;
  o.force = force;
  const BackupReport r = backup_database(source, out, o);
  if (!r.error.empty()) {
    std::fprintf(stderr, "%s: backup: %s\n", program.c_str(), r.error.c_str());
    return 1;
  }
  if (r.integrity != "ok") {
    std::fprintf(stderr, "%s: backup: the copy %s of %s failed PRAGMA integrity_check: %s\n", program.c_str(),
                 out.c_str(), source.c_str(), r.integrity.c_str());
    return 1;
  }
  std::printf("backup of %s to %s: %d pages, %lld bytes, integrity_check ok\n", source.c_str(), out.c_str(),
              r.pages, static_cast<long long>(r.bytes));
  return 0;
}

}  // namespace kaillera::store
