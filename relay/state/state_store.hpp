// The relay's state file (docs/OPERATING.md "The state file"): bans, silences and temporary grants in SQLite
// (WAL, synchronous=FULL, migrations in relay/state/migrations/). The core decides from its in-memory view
// and hands each change over as a value; submit() queues it and returns at once, a writer thread commits
// queued changes in batches (one transaction per batch, one savepoint per change, so a change that fails on
// its own, e.g. a duplicate id, is rolled back alone), and only after a batch's COMMIT is each change
// reported written: an acknowledged change survives a crash or kill -9.
//
// The core's times are steady-clock points; the file holds Unix milliseconds. Both conversions happen here,
// with the two clocks read at the same moment by the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "common/store/migrations.hpp"
#include "common/store/sqlite.hpp"
#include "relay/core/journal.hpp"

namespace kaillera::relay::state {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

// The migrations compiled into kaillera-relay (generated from relay/state/migrations/*.sql).
std::span<const store::Migration> embedded_migrations();

struct StoreCounters {
  std::atomic<std::uint64_t> written{0};  // changes committed
  std::atomic<std::uint64_t> failed{0};   // changes that could not be written (or queued)
  std::atomic<std::uint64_t> batches{0};  // transactions committed
  std::atomic<std::uint64_t> queued{0};   // changes waiting for the writer now (queue depth)
};

class StateStore {
 public:
  // Called once per submitted change, after the transaction holding it committed (ok) or failed (not ok), on
  // the writer thread (on stop()'s caller when the writer was never started). Must not throw; should not
  // block for long (it delays the next batch).
  using Written = std::function<void(std::uint64_t change_id, bool ok)>;
  static constexpr std::size_t kMaxQueue = 4096;

  // Opens (creates) and migrates the file: WAL, synchronous=FULL. Throws store::StoreError naming the
  // problem, e.g. a file whose schema is newer than this kaillera-relay, or one locked by another connection
  // for longer than `open_busy_timeout` (StoreError::locked(); the shell waits such a lock out).
  StateStore(const std::string& path, Written on_written,
             std::chrono::milliseconds open_busy_timeout = store::Db::kBusyTimeout);
  ~StateStore();  // stop()
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // What is active at `system_now` (not lifted, not expired), with wall times turned into steady points
  // (steady = steady_now + (unix_ms - system_now)), and the next unused id (above every id ever written).
  // Safe at any time, but changes still queued are not in it: call it before start() (or after a drain).
  // Throws store::StoreError.
  ModerationState load(SteadyTime steady_now, SystemTime system_now);
  // Starts the writer thread (once).
  void start();
  // Queues a change, turning its steady points into wall time now (unix_ms = system_now + (t - steady_now));
  // never waits on the disk. False (and counted failed, with no callback) when the queue is full or the store
  // is stopped: the change is not written.
  bool submit(const ModerationChange& c, SteadyTime steady_now, SystemTime system_now);
  // Writes everything queued (on the calling thread if start() was never called), then ends the writer
  // thread. Later submits fail. Idempotent.
  void stop();

  const StoreCounters& counters() const { return counters_; }
  const std::string& path() const { return path_; }

 private:
  // A change with its times already in Unix ms.
  struct Row {
    ModerationChange change;
    std::optional<std::int64_t> until_ms;  // sanction / grant
    std::int64_t at_ms = 0;                // when issued (or lifted)
  };
  void run();
  void write_batch(std::deque<Row>& batch);
  void write_row(const Row& r);
  void raise_next_id(std::uint64_t id);  // meta.next_id = max(next_id, id + 1)

  std::string path_;
  Written on_written_;
  std::mutex db_mutex_;  // db_: the writer thread and load()
  store::Db db_;
  std::mutex mutex_;  // queue_, stopping_
  std::condition_variable wake_;
  std::deque<Row> queue_;
  bool stopping_ = false;
  std::thread thread_;
  StoreCounters counters_;
};

}  // namespace kaillera::relay::state
