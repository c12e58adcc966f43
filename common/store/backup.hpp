// An online, consistent copy of a SQLite file, shared by `kaillera-master backup` (the master's database) and
// `kaillera-relay backup` (the relay's state file). It uses SQLite's online backup API
// (sqlite3_backup_init/step/finish) from one read transaction on the source, so the copy is the database as
// it was when that transaction began (every transaction committed before it, none after) while other
// connections and processes go on writing: in WAL mode a reader blocks no writer. The copy is written to a
// temporary file beside OUT, checked with PRAGMA integrity_check and only then renamed to OUT, so OUT is
// never a half-written file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace kaillera::store {

struct BackupOptions {
  bool force = false;         // replace an existing OUT
  int pages_per_step = 1024;  // pages copied per sqlite3_backup_step
  // Called after each step with the pages left and the total (tests write to the source here).
  std::function<void(int remaining, int total)> progress;
};

struct BackupReport {
  std::string error;       // "" when the copy was made; else what went wrong (OUT is then unchanged)
  std::string integrity;   // PRAGMA integrity_check of the copy: "ok", or its findings joined by "; "
  int pages = 0;           // pages copied
  std::int64_t bytes = 0;  // size of OUT
  bool ok() const { return error.empty() && integrity == "ok"; }
};

// Copies the SQLite database `source` to `out`. Refuses (error, nothing written) a missing source, a source
// that is not a SQLite database, an existing `out` without `force`, and `out` naming the source itself. When
// the copy fails its integrity check it is still renamed to `out` (it is what the source holds) and
// `integrity` says what is wrong.
BackupReport backup_database(const std::string& source, const std::string& out,
                             const BackupOptions& options = {});

// The `backup` subcommand of both servers: runs backup_database, prints one line on stdout on success
// ("<program>: backup of SRC to OUT: N pages, B bytes, integrity_check ok") or the problem on stderr, and
// returns the exit code: 0, or 1 when no good copy was made.
int run_backup_command(const std::string& program, const std::string& source, const std::string& out,
                       bool force);

}  // namespace kaillera::store
