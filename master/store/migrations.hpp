// The master's schema migrations: migrations/NNNN_name.sql, embedded at build time, run by the shared runner
// (common/store/migrations.hpp).
#pragma once

#include <span>

#include "common/store/migrations.hpp"
#include "master/store/sqlite.hpp"

namespace kaillera::master::store {
using kaillera::store::migrate;
using kaillera::store::Migration;
using kaillera::store::MigrationResult;
using kaillera::store::pending_migrations;
using kaillera::store::schema_version;

// The migrations compiled into kaillera-master, ordered by version (generated from migrations/*.sql).
std::span<const Migration> embedded_migrations();
}  // namespace kaillera::master::store
