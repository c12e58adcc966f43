// Shared by the operations tests of the real servers (tests/integration/test_relay_ops.cpp,
// tests/master/test_master_ops.cpp): a SQLite write lock held by the test (another process's migration or
// long transaction, as the server sees it), a port read from a log line, and waiting for log text. Needs
// SQLite::SQLite3.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/support/process.hpp"

namespace kf_test {

// Opens `path` (creating it, in WAL mode like the servers' files) and holds its write lock (BEGIN IMMEDIATE)
// until release() or the end of the object.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
    char* err = nullptr;
    if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE;", nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string m = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("cannot lock " + path + ": " + m);
    }
  }
  ~WriteLock() { release(); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  void release() {
    if (db_ == nullptr) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Waits until `text` (read again at each poll) contains `part`.
inline bool wait_for_text(const std::function<std::string()>& text, const std::string& part,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return poll_until([&] { return text().find(part) != std::string::npos; }, timeout,
                    std::chrono::milliseconds(10));
}

// The port after the first `prefix` in `text` ("... http://127.0.0.1:" followed by digits), or 0.
inline std::uint16_t port_after(const std::string& text, const std::string& prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::atoi(text.c_str() + at + prefix.size()));
}

// Writes `text` to `path` through a temporary file and a rename, so a server never reads half of it.
inline void write_file(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace kf_test
