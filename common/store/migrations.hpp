// The schema migration runner, shared by kaillera-master (migrations/*.sql) and kaillera-relay's state file
// (relay/state/migrations/*.sql). Migrations are NNNN_name.sql files embedded into the binary at build time
// (cmake/Embed.cmake). Each one runs in its own transaction together with its row in schema_migrations; a
// database whose newest applied migration this binary does not know is refused, so an old binary never writes
// into a newer schema.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/store/sqlite.hpp"

namespace kaillera::store {

struct Migration {
  int version = 0;        // NNNN
  std::string_view name;  // "init" for 0001_init.sql
  std::string_view sql;
};

struct MigrationResult {
  int from_version = 0;      // newest applied before (0 = empty database)
  int to_version = 0;        // newest applied after
  std::vector<int> applied;  // versions applied by this run
};

// The newest applied version (0 when schema_migrations is missing or empty).
int schema_version(Db& db);

// Brings the schema up to date. Throws StoreError naming the migration that failed (nothing of that migration
// stays applied), or when the database is newer than `known` or has applied a version `known` lacks.
// `program` names the binary in that message ("kaillera-master").
MigrationResult migrate(Db& db, std::span<const Migration> known, std::int64_t now_unix_ms,
                        std::string_view program = "kaillera-master");

// Only checks: throws the same "newer than this binary" error as migrate() and reports how many are pending.
std::size_t pending_migrations(Db& db, std::span<const Migration> known,
                               std::string_view program = "kaillera-master");

}  // namespace kaillera::store
