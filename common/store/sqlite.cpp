#include "common/store/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace kaillera::store {

namespace {

std::string message(sqlite3* db, int rc) {
  std::string m = sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* detail = sqlite3_errmsg(db);
    if (detail != nullptr && m != detail) m = std::string(detail) + " (" + m + ")";
  }
  return m;
}

}  // namespace

bool StoreError::locked() const {
  const int primary = code_ & 0xFF;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// ---- Db
// -----------------------------------------------------------------------------------------------------

Db::Db(const std::string& path, std::chrono::milliseconds busy_timeout) : path_(path) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = "cannot open database " + path + ": " + message(db_, rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError(m, rc);
  }
  sqlite3_extended_result_codes(db_, 1);
  set_busy_timeout(busy_timeout);
  try {
    // journal_mode returns a row; a database on a file system without shared memory stays in "delete" mode.
    Stmt wal(db_, "PRAGMA journal_mode=WAL");
    wal.step();
    exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  } catch (const StoreError& e) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError("cannot open database " + path + ": " + e.what(), e.code());
  }
}

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Db::exec(std::string_view sql) {
  const std::string s(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw StoreError(m, sqlite3_extended_errcode(db_));
  }
}

Stmt Db::prepare(std::string_view sql) const {
  return Stmt(db_, sql);
}

std::int64_t Db::last_insert_id() const {
  return sqlite3_last_insert_rowid(db_);
}

int Db::changes() const {
  return sqlite3_changes(db_);
}

void Db::set_busy_timeout(std::chrono::milliseconds timeout) {
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

std::int64_t Db::data_version() {
  Stmt s(db_, "PRAGMA data_version");
  s.step();
  return s.int64(0);
}

// ---- Stmt
// ---------------------------------------------------------------------------------------------------

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    throw StoreError("cannot prepare \"" + std::string(sql.substr(0, 80)) + "\": " + message(db, rc), rc);
  }
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

void Stmt::fail(int rc, std::string_view what) const {
  const char* sql = sqlite3_sql(stmt_);
  std::string s = sql != nullptr ? std::string(sql).substr(0, 80) : std::string();
  throw StoreError(std::string(what) + " \"" + s + "\": " + message(db_, rc), rc);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (const int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) fail(rc, "cannot bind");
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
  if (const int rc = sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      rc != SQLITE_OK) {
    fail(rc, "cannot bind");
  }
  return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) {
  static const char kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();  // NULL data would bind SQL NULL
  if (const int rc = sqlite3_bind_blob64(stmt_, i, data, bytes.size(), SQLITE_TRANSIENT); rc != SQLITE_OK) {
    fail(rc, "cannot bind");
  }
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  if (const int rc = sqlite3_bind_null(stmt_, i); rc != SQLITE_OK) fail(rc, "cannot bind");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  fail(rc, "cannot run");
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::optional<std::int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

std::string Stmt::text(int col) const {
  const int type = sqlite3_column_type(stmt_, col);
  if (type == SQLITE_NULL) return {};
  const void* p = type == SQLITE_BLOB ? sqlite3_column_blob(stmt_, col)
                                      : static_cast<const void*>(sqlite3_column_text(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool Stmt::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// ---- Transaction
// --------------------------------------------------------------------------------------------

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (const StoreError&) {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace kaillera::store
