// The audit log (docs/OPERATING.md "The audit log"): one JSON object per line, in UTF-8 whatever the relay's
// charset, appended by a writer thread so the core's thread never waits on the disk. reopen() (SIGHUP) makes
// the next line go to a new file at the same path, for logrotate; each batch of lines is one write(2) to a
// file opened O_APPEND (no user-space buffer), so tail -f, jq and fail2ban see them at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "relay/core/journal.hpp"

namespace kaillera::relay::state {

struct AuditCounters {
  std::atomic<std::uint64_t> lines{0};    // lines written (handed to the kernel)
  std::atomic<std::uint64_t> errors{0};   // lines that could not be written
  std::atomic<std::uint64_t> dropped{0};  // lines refused because the queue was full
  std::atomic<std::uint64_t> reopens{0};  // files opened again at the path by reopen()
};

// The JSON line for `e` at `when` (without the newline): {"ts":"2026-12-03T10:40:55.123Z","event":TYPE,...}.
// Text fields are decoded from `charset` to UTF-8.
std::string audit_line(const AuditEvent& e, std::chrono::system_clock::time_point when,
                       std::string_view charset);

class AuditLog {
 public:
  static constexpr std::size_t kMaxQueue = 65536;

  // Opens `path` for appending (created if missing, mode 0640) and starts the writer. Throws
  // std::runtime_error naming the path and the reason.
  AuditLog(std::string path, std::string charset);
  ~AuditLog();  // writes what is queued, then closes
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues one line; returns at once (counted dropped when the queue is full).
  void write(AuditEvent e, std::chrono::system_clock::time_point when);
  // The next batch goes to a freshly opened `path` (the old file may have been renamed away; a failed open
  // is logged and the old file kept). Returns at once.
  void reopen();
  // Waits until everything queued (and a reopen asked for) so far is done: for tests and shutdown.
  void drain();

  const AuditCounters& counters() const { return counters_; }
  const std::string& path() const { return path_; }

 private:
  struct Pending {
    AuditEvent event;
    std::chrono::system_clock::time_point when;
  };
  void run();

  std::string path_, charset_;
  int fd_ = -1;  // the writer's (and the destructor's)
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Pending> queue_;
  bool reopen_ = false, stopping_ = false, busy_ = false;
  std::thread thread_;
  AuditCounters counters_;
};

}  // namespace kaillera::relay::state
