#include "common/store/migrations.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace kaillera::store {

namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_unix_ms INTEGER NOT NULL)";

bool has_table(Db& db) {
  auto s = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  return s.step();
}

std::set<int> applied_versions(Db& db) {
  std::set<int> out;
  if (!has_table(db)) return out;
  auto s = db.prepare("SELECT version FROM schema_migrations");
  while (s.step())
    out.insert(static_cast<int>(s.int64(0)));
  return out;
}

std::string label(const Migration& m) {
  char v[16];
  std::snprintf(v, sizeof v, "%04d", m.version);
  return std::string(v) + "_" + std::string(m.name);
}

// Throws when the database has applied something this binary does not know.
void check_known(const std::set<int>& applied, std::span<const Migration> known, std::string_view program) {
  const int newest_known = known.empty() ? 0 : known.back().version;
  for (const int v : applied) {
    const bool found =
        std::any_of(known.begin(), known.end(), [v](const Migration& m) { return m.version == v; });
    if (!found) {
      const int newest_applied = *applied.rbegin();
      throw StoreError("the database has schema migration " + std::to_string(v) + " applied, which this " +
                       std::string(program) + " does not know (database at version " +
                       std::to_string(newest_applied) + ", this binary knows up to " +
                       std::to_string(newest_known) + "): use a newer " + std::string(program));
    }
  }
}

}  // namespace

int schema_version(Db& db) {
  const auto applied = applied_versions(db);
  return applied.empty() ? 0 : *applied.rbegin();
}

std::size_t pending_migrations(Db& db, std::span<const Migration> known, std::string_view program) {
  const auto applied = applied_versions(db);
  check_known(applied, known, program);
  return static_cast<std::size_t>(std::count_if(
      known.begin(), known.end(), [&](const Migration& m) { return applied.count(m.version) == 0; }));
}

MigrationResult migrate(Db& db, std::span<const Migration> known, std::int64_t now_unix_ms,
                        std::string_view program) {
  for (std::size_t i = 1; i < known.size(); ++i) {
    if (known[i].version <= known[i - 1].version) throw StoreError("embedded migrations are not ordered");
  }
  auto applied = applied_versions(db);
  check_known(applied, known, program);

  MigrationResult result;
  result.from_version = applied.empty() ? 0 : *applied.rbegin();
  for (const Migration& m : known) {
    if (applied.count(m.version) != 0) continue;
    try {
      Transaction tx(db);
      db.exec(kCreateTable);
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_unix_ms) VALUES (?1, ?2, ?3)")
          .bind(1, static_cast<std::int64_t>(m.version))
          .bind(2, m.name)
          .bind(3, now_unix_ms)
          .run();
      tx.commit();
    } catch (const StoreError& e) {
      throw StoreError("schema migration " + label(m) + " failed: " + e.what(), e.code());
    }
    applied.insert(m.version);
    result.applied.push_back(m.version);
  }
  if (!has_table(db)) db.exec(kCreateTable);  // nothing known at all: still mark the database as ours
  result.to_version = applied.empty() ? 0 : *applied.rbegin();
  return result;
}

}  // namespace kaillera::store
