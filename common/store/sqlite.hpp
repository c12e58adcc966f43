// A thin RAII layer over the SQLite C API: a connection (Db), prepared statements (Stmt) and transactions
// (Transaction). Every failure throws StoreError with SQLite's message and the statement that failed; the
// store's callers turn that into a precise error for their client. Not thread-safe: one owner at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace kaillera::store {

class StoreError : public std::runtime_error {
 public:
  // `code`: SQLite's (extended) result code when SQLite reported the failure, 0 otherwise.
  explicit StoreError(const std::string& what, int code = 0) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  // SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock this one needed (past the busy timeout).
  // Waiting and trying again can succeed; any other failure stays a failure.
  bool locked() const;

 private:
  int code_ = 0;
};

class Stmt;

class Db {
 public:
  static constexpr std::chrono::milliseconds kBusyTimeout{5000};

  // Opens (creates) the file, turns on WAL, foreign keys and a busy timeout (how long a statement waits for
  // another connection's lock before failing with SQLITE_BUSY). Throws StoreError.
  explicit Db(const std::string& path, std::chrono::milliseconds busy_timeout = kBusyTimeout);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql) const;
  std::int64_t last_insert_id() const;
  int changes() const;
  // Changes whenever another connection commits (PRAGMA data_version).
  std::int64_t data_version();
  void set_busy_timeout(std::chrono::milliseconds timeout);
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind parameters are 1-based as in SQLite; columns are 0-based.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, std::string_view text);        // TEXT
  Stmt& bind_blob(int i, std::string_view bytes);  // BLOB (also for empty blobs)
  Stmt& bind_null(int i);
  Stmt& bind(int i, std::optional<std::int64_t> v) { return v ? bind(i, *v) : bind_null(i); }

  // Steps once: true while a row is available, false when done. Throws on error.
  bool step();
  // Steps to the end of a statement without results, then resets it.
  void run();
  void reset();

  std::int64_t int64(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::string text(int col) const;  // TEXT or BLOB bytes; "" for NULL
  bool is_null(int col) const;

 private:
  [[noreturn]] void fail(int rc, std::string_view what) const;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace kaillera::store
