// The master's store uses the shared SQLite layer (common/store/sqlite.hpp) under its own namespace.
#pragma once

#include "common/store/sqlite.hpp"

namespace kaillera::master::store {
using kaillera::store::Db;
using kaillera::store::Stmt;
using kaillera::store::StoreError;
using kaillera::store::Transaction;
}  // namespace kaillera::master::store
