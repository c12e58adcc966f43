#include "relay/state/state_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <vector>

namespace kaillera::relay::state {

namespace {

std::int64_t unix_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Steady point -> Unix ms, with both clocks read at one moment.
std::int64_t to_unix_ms(SteadyTime t, SteadyTime steady_now, SystemTime system_now) {
  return unix_ms(system_now) + std::chrono::duration_cast<std::chrono::milliseconds>(t - steady_now).count();
}

SteadyTime to_steady(std::int64_t ms, SteadyTime steady_now, SystemTime system_now) {
  return steady_now + std::chrono::milliseconds(ms - unix_ms(system_now));
}

std::uint64_t entry_id(const ModerationChange& c) {
  switch (c.kind) {
    case ModerationChange::Kind::kBan:
    case ModerationChange::Kind::kSilence:
      return c.sanction.id;
    case ModerationChange::Kind::kGrant:
      return c.grant.id;
    case ModerationChange::Kind::kLiftBan:
    case ModerationChange::Kind::kLiftSilence:
    case ModerationChange::Kind::kLiftGrant:
      return c.id;
  }
  return c.id;
}

const char* table(ModerationChange::Kind k) {
  switch (k) {
    case ModerationChange::Kind::kBan:
    case ModerationChange::Kind::kLiftBan:
      return "bans";
    case ModerationChange::Kind::kSilence:
    case ModerationChange::Kind::kLiftSilence:
      return "silences";
    case ModerationChange::Kind::kGrant:
    case ModerationChange::Kind::kLiftGrant:
      return "grants";
  }
  return "bans";
}

}  // namespace

StateStore::StateStore(const std::string& path, Written on_written,
                       std::chrono::milliseconds open_busy_timeout)
    : path_(path), on_written_(std::move(on_written)), db_(path, open_busy_timeout) {
  db_.exec("PRAGMA synchronous = FULL");  // a COMMIT returns once the WAL is on disk
  store::migrate(db_, embedded_migrations(), unix_ms(std::chrono::system_clock::now()), "kaillera-relay");
  db_.set_busy_timeout(store::Db::kBusyTimeout);
}

StateStore::~StateStore() {
  stop();
}

ModerationState StateStore::load(SteadyTime steady_now, SystemTime system_now) {
  std::lock_guard db_lock(db_mutex_);
  ModerationState state;
  const std::int64_t now_ms = unix_ms(system_now);
  for (const char* t : {"bans", "silences"}) {
    auto st = db_.prepare(std::string("SELECT id, network, prefix, until_unix_ms, reason, issuer, issuer_ip, "
                                      "target_name, at_unix_ms FROM ") +
                          t +
                          " WHERE lifted_unix_ms IS NULL AND (until_unix_ms IS NULL OR until_unix_ms > ?1)"
                          " ORDER BY id");
    st.bind(1, now_ms);
    while (st.step()) {
      Sanction s;
      s.id = static_cast<std::uint64_t>(st.int64(0));
      s.range = {static_cast<std::uint32_t>(st.int64(1)), static_cast<std::uint8_t>(st.int64(2))};
      if (auto until = st.opt_int64(3)) s.until = to_steady(*until, steady_now, system_now);
      s.reason = st.text(4);
      s.issuer = st.text(5);
      s.issuer_ip = static_cast<std::uint32_t>(st.int64(6));
      s.target_name = st.text(7);
      s.at = to_steady(st.int64(8), steady_now, system_now);
      (std::string_view(t) == "bans" ? state.bans : state.silences).push_back(std::move(s));
    }
  }
  auto g = db_.prepare(
      "SELECT id, ip, level, until_unix_ms, issuer, target_name, at_unix_ms FROM grants"
      " WHERE lifted_unix_ms IS NULL AND until_unix_ms > ?1 ORDER BY id");
  g.bind(1, now_ms);
  while (g.step()) {
    Grant x;
    x.id = static_cast<std::uint64_t>(g.int64(0));
    x.ip = static_cast<std::uint32_t>(g.int64(1));
    x.level = parse_level(g.text(2)).value_or(Level::kElevated);
    x.until = to_steady(g.int64(3), steady_now, system_now);
    x.issuer = g.text(4);
    x.target_name = g.text(5);
    x.at = to_steady(g.int64(6), steady_now, system_now);
    state.grants.push_back(std::move(x));
  }
  // Ids are never reused: above the largest ever written (lifted and expired rows included) and above meta's
  // next_id (which remembers ids whose rows an operator deleted).
  auto m = db_.prepare(
      "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'next_id'), 1),"
      " coalesce((SELECT max(id) FROM bans), 0) + 1, coalesce((SELECT max(id) FROM silences), 0) + 1,"
      " coalesce((SELECT max(id) FROM grants), 0) + 1)");
  state.next_id = m.step() ? static_cast<std::uint64_t>(std::max<std::int64_t>(m.int64(0), 1)) : 1;
  return state;
}

void StateStore::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

bool StateStore::submit(const ModerationChange& c, SteadyTime steady_now, SystemTime system_now) {
  Row r;
  r.change = c;
  switch (c.kind) {
    case ModerationChange::Kind::kBan:
    case ModerationChange::Kind::kSilence:
      if (c.sanction.until) r.until_ms = to_unix_ms(*c.sanction.until, steady_now, system_now);
      r.at_ms = to_unix_ms(c.sanction.at, steady_now, system_now);
      break;
    case ModerationChange::Kind::kGrant:
      r.until_ms = to_unix_ms(c.grant.until, steady_now, system_now);
      r.at_ms = to_unix_ms(c.grant.at, steady_now, system_now);
      break;
    case ModerationChange::Kind::kLiftBan:
    case ModerationChange::Kind::kLiftSilence:
    case ModerationChange::Kind::kLiftGrant:
      r.at_ms = unix_ms(system_now);
      break;
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= kMaxQueue) {
      ++counters_.failed;
      return false;
    }
    queue_.push_back(std::move(r));
    counters_.queued = queue_.size();
  }
  wake_.notify_one();
  return true;
}

void StateStore::stop() {
  std::thread writer;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    writer.swap(thread_);
  }
  wake_.notify_one();
  if (writer.joinable()) {
    writer.join();  // it writes what is queued before it ends
    return;
  }
  // Never started: write what was queued here.
  std::deque<Row> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(queue_);
    counters_.queued = 0;
  }
  if (!batch.empty()) write_batch(batch);
}

void StateStore::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, everything written
    std::deque<Row> batch;
    batch.swap(queue_);
    counters_.queued = 0;
    lock.unlock();
    write_batch(batch);
    lock.lock();
  }
}

void StateStore::write_batch(std::deque<Row>& batch) {
  std::vector<bool> row_ok(batch.size(), false);
  bool committed = false;
  {
    std::lock_guard db_lock(db_mutex_);
    try {
      store::Transaction tx(db_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        // A savepoint per change: one that fails on its own (a duplicate id, a CHECK) is undone alone.
        db_.exec("SAVEPOINT change");
        try {
          write_row(batch[i]);
          db_.exec("RELEASE change");
          row_ok[i] = true;
        } catch (const store::StoreError& e) {
          // Some errors (disk full, I/O) end the whole transaction: then nothing of the batch is written.
          if (sqlite3_get_autocommit(db_.handle()) != 0) throw;
          db_.exec("ROLLBACK TO change");
          db_.exec("RELEASE change");
          spdlog::error("state file {}: change {} (id {}) not written: {}", path_, batch[i].change.change_id,
                        entry_id(batch[i].change), e.what());
        }
      }
      tx.commit();
      committed = true;
      ++counters_.batches;
    } catch (const store::StoreError& e) {
      spdlog::error("state file {}: {} change(s) not written: {}", path_, batch.size(), e.what());
    }
  }
  std::uint64_t written = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (committed && row_ok[i]) ++written;
  }
  counters_.written += written;
  counters_.failed += batch.size() - written;
  if (on_written_) {
    for (std::size_t i = 0; i < batch.size(); ++i)
      on_written_(batch[i].change.change_id, committed && row_ok[i]);
  }
}

void StateStore::raise_next_id(std::uint64_t id) {
  db_.prepare("UPDATE meta SET value = max(value, ?1 + 1) WHERE key = 'next_id'")
      .bind(1, static_cast<std::int64_t>(id))
      .run();
}

void StateStore::write_row(const Row& r) {
  const ModerationChange& c = r.change;
  switch (c.kind) {
    case ModerationChange::Kind::kBan:
    case ModerationChange::Kind::kSilence: {
      const Sanction& s = c.sanction;
      db_.prepare(std::string("INSERT INTO ") + table(c.kind) +
                  " (id, network, prefix, until_unix_ms, reason, issuer, issuer_ip, target_name, at_unix_ms)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
          .bind(1, static_cast<std::int64_t>(s.id))
          .bind(2, static_cast<std::int64_t>(s.range.net))
          .bind(3, static_cast<std::int64_t>(s.range.prefix))
          .bind(4, r.until_ms)
          .bind_blob(5, s.reason)
          .bind_blob(6, s.issuer)
          .bind(7, static_cast<std::int64_t>(s.issuer_ip))
          .bind_blob(8, s.target_name)
          .bind(9, r.at_ms)
          .run();
      raise_next_id(s.id);
      return;
    }
    case ModerationChange::Kind::kGrant: {
      const Grant& g = c.grant;
      db_.prepare(
             "INSERT INTO grants (id, ip, level, until_unix_ms, issuer, target_name, at_unix_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
          .bind(1, static_cast<std::int64_t>(g.id))
          .bind(2, static_cast<std::int64_t>(g.ip))
          .bind(3, level_name(g.level))
          .bind(4, r.until_ms)
          .bind_blob(5, g.issuer)
          .bind_blob(6, g.target_name)
          .bind(7, r.at_ms)
          .run();
      raise_next_id(g.id);
      return;
    }
    case ModerationChange::Kind::kLiftBan:
    case ModerationChange::Kind::kLiftSilence:
    case ModerationChange::Kind::kLiftGrant:
      db_.prepare(std::string("UPDATE ") + table(c.kind) +
                  " SET lifted_unix_ms = ?1, lifted_by = ?2 WHERE id = ?3 AND lifted_unix_ms IS NULL")
          .bind(1, r.at_ms)
          .bind_blob(2, c.by)
          .bind(3, static_cast<std::int64_t>(c.id))
          .run();
      return;
  }
}

}  // namespace kaillera::relay::state
